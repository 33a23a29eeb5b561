// One bound for every wait on Redis, whatever the driver offers itself, and
// cancellation by an AbortSignal.
//
// A timer per command costs more than the command itself at a hundred
// thousand commands a second, so waits with the same bound share one queue
// and one timer: entries expire in the order they were added, and the timer
// only ever waits for the oldest one still pending.

/**
 * A wait in a queue: what the queue needs of it. `expire` is called at most
 * once, at the deadline, unless the wait was settled first.
 */
export interface Waiter {
  expiresAt: number;
  settled: boolean;
  expire(): void;
}

class DeadlineQueue {
  readonly #ms: number;
  // Entries before #head are cleared to undefined: a passed waiter left in
  // the (long-lived) array outlives the scavenges that should free it, and on
  // Node 20 that made a getMany of 1 000 keys spend a fifth of its time in GC.
  #waiters: (Waiter | undefined)[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /** Puts `waiter` in the queue, due `ms` after `now`. */
  add(waiter: Waiter, now: number): void {
    waiter.expiresAt = now + this.#ms;
    // Most commands settle in the order they were sent, long before the
    // timer fires: dropping them here keeps the queue to what is in flight,
    // where waiting for the sweep would keep seconds of them (and their
    // closures) alive, and the collector busy.
    const waiters = this.#waiters;
    while (this.#head < waiters.length && waiters[this.#head]!.settled) {
      waiters[this.#head++] = undefined;
    }
    this.#compact();
    this.#waiters.push(waiter);
    if (this.#timer === undefined) this.#arm(this.#ms);
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(
      () => this.#sweep(),
      Math.max(0, Math.ceil(delay)),
    );
    unref(this.#timer);
  }

  // Drops what was passed once it is most of the array, so it stays small.
  #compact(): void {
    if (this.#head > 1_024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head);
      this.#head = 0;
    }
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = performance.now();
    const waiters = this.#waiters;
    const due: Waiter[] = [];
    while (this.#head < waiters.length) {
      const waiter = waiters[this.#head]!;
      if (!waiter.settled && waiter.expiresAt > now) break;
      waiters[this.#head++] = undefined;
      if (!waiter.settled) {
        waiter.settled = true;
        due.push(waiter);
      }
    }
    this.#compact();
    if (this.#head < this.#waiters.length) {
      this.#arm(this.#waiters[this.#head]!.expiresAt - now);
    } else {
      queues.delete(this.#ms);
    }
    // Expired only once the queue is in order again: an expiry reaches the
    // user (onError), who may make a call that adds to this very queue.
    // One that throws must not keep the others from expiring.
    let failure: { error: unknown } | undefined;
    for (const waiter of due) {
      try {
        waiter.expire();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}

// Pending commands keep their sockets, and so the process, alive; the
// timer that bounds them must not keep it alive after they are done.
function unref(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno
      ?.unrefTimer(timer);
  } else {
    (timer as { unref?: () => void }).unref?.();
  }
}

const queues = new Map<number, DeadlineQueue>();

/**
 * Puts `waiter` in the queue of waits bounded by `ms`: its `expire` is
 * called `ms` after `now` (`performance.now()`, which a caller that has read
 * the clock already passes) unless it is `settled` by then. The caller
 * settles it (sets `settled`) when its own outcome comes first.
 */
export function expireAfter(
  ms: number,
  waiter: Waiter,
  now: number = performance.now(),
): void {
  let queue = queues.get(ms);
  if (queue === undefined) queues.set(ms, queue = new DeadlineQueue(ms));
  queue.add(waiter, now);
}

// One deadline() call: settles its promise once, from whichever comes first.
// A class, not closures: on the hot path one object is cheaper than four.
class Bounded<T> implements Waiter {
  expiresAt = 0;
  settled = false;
  // Dropped once settled: they hold the caller's promise, and so the reply,
  // which the queue must not keep alive until its next sweep.
  #resolve: ((value: T) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  readonly #onTimeout: () => Error;
  readonly #signal: AbortSignal | undefined;

  constructor(
    resolve: (value: T) => void,
    reject: (error: unknown) => void,
    onTimeout: () => Error,
    signal: AbortSignal | undefined,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#onTimeout = onTimeout;
    this.#signal = signal;
    signal?.addEventListener("abort", this, { once: true });
  }

  expire(): void {
    this.#finish(undefined, this.#onTimeout(), false);
  }

  /** The signal's abort (an EventListener object, so no closure). */
  handleEvent(): void {
    if (this.settled) return;
    this.settled = true;
    this.#finish(undefined, this.#signal!.reason, false);
  }

  value(value: T): void {
    if (this.settled) return;
    this.settled = true;
    this.#finish(value, undefined, true);
  }

  error(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#finish(undefined, error, false);
  }

  #finish(value: T | undefined, error: unknown, ok: boolean): void {
    const resolve = this.#resolve!;
    const reject = this.#reject!;
    this.#resolve = this.#reject = undefined;
    this.#signal?.removeEventListener("abort", this);
    if (ok) resolve(value as T);
    else reject(error);
  }
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` once `ms` have
 * passed, or with `signal.reason` as soon as `signal` aborts.
 */
export function deadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const bounded = new Bounded(resolve, reject, onTimeout, signal);
    expireAfter(ms, bounded);
    promise.then(
      (value) => bounded.value(value),
      (error) => bounded.error(error),
    );
  });
}
