// Gathers reads issued in the same tick into one batch: a hundred concurrent
// get() calls become one command instead of a hundred, which is the costly
// part for both the server and the client.

/** One result of a batch: the value, or the error for that key alone. */
export type BatchResult<V> = V | Error;

/**
 * Collects keys until the current microtasks have run, then fetches them
 * with one `fetchMany` call and hands each caller its own result.
 */
export class Coalescer<V> {
  readonly #fetchMany: (keys: string[]) => Promise<BatchResult<V>[]>;
  readonly #fetchOne: (key: string) => Promise<V>;
  #keys: string[] = [];
  #waiters: { resolve(value: V): void; reject(error: unknown): void }[] = [];

  /**
   * @param fetchMany Fetches a batch, one result per key.
   * @param fetchOne Fetches a batch of one key, the common case of a lone
   * read, without the batch's arrays and promise layers.
   */
  constructor(
    fetchMany: (keys: string[]) => Promise<BatchResult<V>[]>,
    fetchOne: (key: string) => Promise<V>,
  ) {
    this.#fetchMany = fetchMany;
    this.#fetchOne = fetchOne;
  }

  /** The value for `key`, fetched with the other keys asked for in this tick. */
  get(key: string): Promise<V> {
    if (this.#keys.length === 0) queueMicrotask(() => this.#flush());
    this.#keys.push(key);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  #flush(): void {
    const keys = this.#keys;
    const waiters = this.#waiters;
    this.#keys = [];
    this.#waiters = [];
    if (keys.length === 1) {
      this.#fetchOne(keys[0]).then(waiters[0].resolve, waiters[0].reject);
      return;
    }
    this.#fetchMany(keys).then(
      (results) =>
        waiters.forEach((waiter, i) => {
          const result = results[i];
          if (result instanceof Error) waiter.reject(result);
          else waiter.resolve(result);
        }),
      (error) => waiters.forEach((waiter) => waiter.reject(error)),
    );
  }
}
