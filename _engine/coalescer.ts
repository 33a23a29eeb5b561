// Gathers calls made in the same tick into one batch: a hundred concurrent
// get() or store() calls become one command instead of a hundred, which is
// the costly part for both the server and the client.

// Its then() schedules the flush: a plain microtask, where Node's
// queueMicrotask wraps each callback in an async resource first.
const RESOLVED = Promise.resolve();

/** One result of a batch: the value, or the error for that item alone. */
export type BatchResult<V> = V | Error;

/**
 * Collects items until the current microtasks have run, then handles them
 * with one `runMany` call and hands each caller its own result.
 */
export class Coalescer<I, V> {
  readonly #runMany: (items: I[]) => Promise<BatchResult<V>[]>;
  readonly #runOne: RunOne<I, V>;
  #count = 0;
  // The first item of a tick and its caller live in fields, the rest in
  // arrays made once a second one comes: most ticks of a lone caller hold
  // one item, and three arrays a tick were most of what it allocated.
  #first: I | undefined;
  #firstResolve: ((value: V) => void) | undefined;
  #firstReject: ((error: unknown) => void) | undefined;
  #items: I[] = [];
  #resolves: ((value: V) => void)[] = [];
  #rejects: ((error: unknown) => void)[] = [];
  // Made once: a closure per tick is an allocation per lone call.
  readonly #flushLater = () => this.#flush();

  /**
   * @param runMany Handles a batch, one result per item.
   * @param runOne Handles a batch of one item, the common case of a lone
   * call, without the batch's arrays and promise layers: it settles the
   * caller's promise itself.
   */
  constructor(
    runMany: (items: I[]) => Promise<BatchResult<V>[]>,
    runOne: RunOne<I, V>,
  ) {
    this.#runMany = runMany;
    this.#runOne = runOne;
  }

  /** The result for `item`, handled with the other items added in this tick. */
  add(item: I): Promise<V> {
    return new Promise((resolve, reject) => {
      if (this.#count++ === 0) {
        RESOLVED.then(this.#flushLater);
        this.#first = item;
        this.#firstResolve = resolve;
        this.#firstReject = reject;
        return;
      }
      this.#items.push(item);
      this.#resolves.push(resolve);
      this.#rejects.push(reject);
    });
  }

  /**
   * Whether items wait for the end of this tick: the connection was up when
   * the first came, so a caller need not ask the driver again (a getter
   * chain down to the client's, a tenth of what a batched get costs the
   * cache over a client that answers at once).
   */
  get pending(): boolean {
    return this.#count > 0;
  }

  /**
   * Sends what was added so far now instead of at the end of the tick, so a
   * call that cannot wait for the batch does not overtake it.
   */
  flush(): void {
    if (this.#count > 0) this.#flush();
  }

  #flush(): void {
    if (this.#count === 0) return;
    const lone = this.#count === 1;
    this.#count = 0;
    const first = this.#first as I;
    const firstResolve = this.#firstResolve!;
    const firstReject = this.#firstReject!;
    this.#first = this.#firstResolve = this.#firstReject = undefined;
    // A handler that throws instead of rejecting must still settle every
    // caller: thrown inside a microtask, the error would reach no one.
    if (lone) {
      try {
        this.#runOne(first, firstResolve, firstReject);
      } catch (error) {
        firstReject(error);
      }
      return;
    }
    const items = this.#items;
    const resolves = this.#resolves;
    const rejects = this.#rejects;
    this.#items = [];
    this.#resolves = [];
    this.#rejects = [];
    items.unshift(first);
    resolves.unshift(firstResolve);
    rejects.unshift(firstReject);
    let sent;
    try {
      sent = this.#runMany(items);
    } catch (error) {
      for (const reject of rejects) reject(error);
      return;
    }
    sent.then(
      (results) => {
        for (let i = 0; i < resolves.length; i++) {
          const result = results[i];
          if (result instanceof Error) rejects[i](result);
          else resolves[i](result);
        }
      },
      (error) => {
        for (const reject of rejects) reject(error);
      },
    );
  }
}

/** Handles a lone item: settles its caller through `resolve` or `reject`. */
export type RunOne<I, V> = (
  item: I,
  resolve: (value: V) => void,
  reject: (error: unknown) => void,
) => void;
