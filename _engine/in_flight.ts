// Writes sent but not yet sent in full: a tick's batch with tagged writes
// (whose WRITE in a cluster waits for the tags' registries) or cut in parts
// sent in turn, or a lone tagged write. Until they are answered, a call
// that would send a command about their keys at once waits for them.

const noop = () => {};

/** The writes still on their way, as one promise that never rejects. */
export class InFlight {
  #sending: Promise<void> | undefined;

  /** Adds `sent`, until it settles. */
  track(sent: Promise<unknown>): void {
    const previous = this.#sending;
    const settled = previous === undefined
      ? sent.then(noop, noop)
      : Promise.all([previous, sent.then(noop, noop)]).then(noop);
    this.#sending = settled;
    settled.then(() => {
      if (this.#sending === settled) this.#sending = undefined;
    });
  }

  /** Settles when all tracked so far have; `undefined` when none is left. */
  get pending(): Promise<void> | undefined {
    return this.#sending;
  }
}
