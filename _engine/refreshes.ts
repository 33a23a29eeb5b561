// The background refreshes of one cache: loads that outlive the call that
// started them (stale-while-revalidate, refresh-ahead, a loader past its
// soft timeout). They are capped in number, one per key, owned here so that
// close() aborts them and waits for them (bounded), and a key whose refresh
// failed is left alone for its backoff so a broken loader is not hammered.

/** Most refreshes that may run at once; beyond it a stale value is served without one. */
export const MAX_REFRESHES = 64;
/** Most keys remembered as in backoff; the oldest are forgotten first. */
const MAX_BACKOFFS = 10_000;
/** How long close() waits for running refreshes once they are aborted, in ms. */
const CLOSE_WAIT = 1_000;

/** One cache's running refreshes and the keys in backoff. */
export class Refreshes {
  readonly #running = new Map<string, Promise<unknown>>();
  readonly #failedUntil = new Map<string, number>();
  readonly #closing = new AbortController();
  readonly #max: number;

  constructor(max = MAX_REFRESHES) {
    this.#max = max;
  }

  /** Aborted when the cache closes: every loader's signal follows it. */
  get closing(): AbortSignal {
    return this.#closing.signal;
  }

  /** How many run now. */
  get size(): number {
    return this.#running.size;
  }

  /** The refresh of `key` running now, if any. */
  running<T>(key: string): Promise<T> | undefined {
    return this.#running.get(key) as Promise<T> | undefined;
  }

  /**
   * Starts `task` as the refresh of `key`, unless one runs for it, the cap
   * is reached or the cache is closing; returns its promise, or `undefined`
   * when it was not started. A failure puts the key in backoff for
   * `backoff` ms; the promise still rejects for whoever awaits it.
   */
  start<T>(
    key: string,
    backoff: number,
    task: () => Promise<T>,
  ): Promise<T> | undefined {
    if (
      this.#closing.signal.aborted || this.#running.has(key) ||
      this.#running.size >= this.#max
    ) {
      return undefined;
    }
    const promise = task().then((value) => {
      this.#failedUntil.delete(key);
      return value;
    }, (error) => {
      this.#failedUntil.delete(key);
      this.#failedUntil.set(key, Date.now() + backoff);
      if (this.#failedUntil.size > MAX_BACKOFFS) {
        this.#failedUntil.delete(this.#failedUntil.keys().next().value!);
      }
      throw error;
    }).finally(() => this.#running.delete(key));
    // Whoever started it may stop waiting; an unheard failure is not an
    // unhandled rejection (it is counted by the caller's own handler).
    promise.catch(() => {});
    this.#running.set(key, promise);
    return promise;
  }

  /** Whether `key`'s last refresh failed less than its backoff ago. */
  inBackoff(key: string): boolean {
    const until = this.#failedUntil.get(key);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.#failedUntil.delete(key);
    return false;
  }

  /**
   * Aborts every loader's signal and waits for the running refreshes, at
   * most {@linkcode CLOSE_WAIT} ms: a loader that ignores its signal is
   * abandoned, and whatever it returns is no longer stored.
   */
  async close(): Promise<void> {
    this.#closing.abort(new DOMException("the cache closed", "AbortError"));
    if (this.#running.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#running.values()]),
      new Promise((resolve) => timer = setTimeout(resolve, CLOSE_WAIT)),
    ]);
    clearTimeout(timer);
  }
}
