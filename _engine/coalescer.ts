// Gathers calls made in the same tick into one batch: a hundred concurrent
// get() or store() calls become one command instead of a hundred, which is
// the costly part for both the server and the client.

/** One result of a batch: the value, or the error for that item alone. */
export type BatchResult<V> = V | Error;

/**
 * Collects items until the current microtasks have run, then handles them
 * with one `runMany` call and hands each caller its own result.
 */
export class Coalescer<I, V> {
  readonly #runMany: (items: I[]) => Promise<BatchResult<V>[]>;
  readonly #runOne: (item: I) => Promise<V>;
  #items: I[] = [];
  #waiters: { resolve(value: V): void; reject(error: unknown): void }[] = [];

  /**
   * @param runMany Handles a batch, one result per item.
   * @param runOne Handles a batch of one item, the common case of a lone
   * call, without the batch's arrays and promise layers.
   */
  constructor(
    runMany: (items: I[]) => Promise<BatchResult<V>[]>,
    runOne: (item: I) => Promise<V>,
  ) {
    this.#runMany = runMany;
    this.#runOne = runOne;
  }

  /** The result for `item`, handled with the other items added in this tick. */
  add(item: I): Promise<V> {
    if (this.#items.length === 0) queueMicrotask(() => this.#flush());
    this.#items.push(item);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  /**
   * Sends what was added so far now instead of at the end of the tick, so a
   * call that cannot wait for the batch does not overtake it.
   */
  flush(): void {
    if (this.#items.length > 0) this.#flush();
  }

  #flush(): void {
    if (this.#items.length === 0) return;
    const items = this.#items;
    const waiters = this.#waiters;
    this.#items = [];
    this.#waiters = [];
    // A handler that throws instead of rejecting must still settle every
    // caller: thrown inside a microtask, the error would reach no one.
    let sent;
    try {
      if (items.length === 1) {
        sent = this.#runOne(items[0]);
        sent.then(waiters[0].resolve, waiters[0].reject);
        return;
      }
      sent = this.#runMany(items);
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    sent.then(
      (results) => {
        waiters.forEach((waiter, i) => {
          const result = results[i];
          if (result instanceof Error) waiter.reject(result);
          else waiter.resolve(result);
        });
      },
      (error) => {
        waiters.forEach((waiter) => waiter.reject(error));
      },
    );
  }
}
