// One bound for every wait on Redis, whatever the driver offers itself, and
// cancellation by an AbortSignal.
//
// A timer per command costs more than the command itself at a hundred
// thousand commands a second, so waits with the same bound share one queue
// and one timer: entries expire in the order they were added, and the timer
// only ever waits for the oldest one still pending.

interface Waiter {
  readonly expiresAt: number;
  settled: boolean;
  /**
   * Dropped once settled: its closure holds the command's promise, and so
   * its reply, which the queue must not keep alive until the next sweep.
   */
  expire: (() => void) | undefined;
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

  add(expire: () => void): Waiter {
    const waiter = {
      expiresAt: performance.now() + this.#ms,
      settled: false,
      expire,
    };
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
    return waiter;
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
    while (this.#head < waiters.length) {
      const waiter = waiters[this.#head]!;
      if (!waiter.settled && waiter.expiresAt > now) break;
      waiters[this.#head++] = undefined;
      if (!waiter.settled) {
        waiter.settled = true;
        waiter.expire!();
      }
    }
    this.#compact();
    if (this.#head < this.#waiters.length) {
      this.#arm(this.#waiters[this.#head]!.expiresAt - now);
    } else {
      queues.delete(this.#ms);
    }
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
 * Settles like `promise`, or rejects with `onTimeout()` once `ms` have
 * passed, or with `signal.reason` as soon as `signal` aborts.
 */
export function deadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
  signal?: AbortSignal,
): Promise<T> {
  let queue = queues.get(ms);
  if (queue === undefined) queues.set(ms, queue = new DeadlineQueue(ms));
  const bounded = queue;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => finish(() => reject(signal!.reason));
    const waiter = bounded.add(() => {
      signal?.removeEventListener("abort", onAbort);
      reject(onTimeout());
    });
    const finish = (settle: () => void) => {
      if (waiter.settled) return;
      waiter.settled = true;
      waiter.expire = undefined;
      signal?.removeEventListener("abort", onAbort);
      settle();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => finish(() => resolve(value)),
      (error) => finish(() => reject(error)),
    );
  });
}
