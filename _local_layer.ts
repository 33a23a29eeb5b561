// The in-process layer in front of Redis (`l1`): a bounded LRU of values
// read from Redis, kept coherent by Redis's client-side caching. Redis tells
// the connection that read a key when the key changes, expires or is
// evicted; the entry is dropped then, and everything is dropped when the
// connection is lost, since invalidations may have been missed meanwhile.
//
// A read that misses takes a fill ticket before asking Redis. An
// invalidation of the key (or of everything) voids the ticket, so a reply
// that was already on its way with the old value is not kept: the
// invalidation push is handled as soon as it is parsed, while the reply
// resumes the reader only a microtask later.

interface Entry {
  readonly bytes: Uint8Array;
  /** `performance.now()` after which Redis has expired the key; Infinity for none. */
  readonly expiresAt: number;
}

/** Counters of {@linkcode LocalLayer}. */
export interface LocalLayerStats {
  /** Reads answered from process memory. */
  hits: number;
  /** Values held now. */
  entries: number;
  /** Bytes of the values held now. */
  bytes: number;
}

/** A bounded, invalidation-driven LRU of byte values. */
export class LocalLayer {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  // Map order is recency order: a hit moves its entry to the end.
  readonly #entries = new Map<string, Entry>();
  readonly #tickets = new Map<string, number>();
  #nextTicket = 0;
  #bytes = 0;
  #hits = 0;

  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  /**
   * A copy of the value held for `key`, so the caller cannot change what
   * the next caller gets; `undefined` when none is held.
   */
  get(key: string): Uint8Array | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (performance.now() >= entry.expiresAt) {
      this.#bytes -= entry.bytes.length;
      return undefined;
    }
    this.#entries.set(key, entry);
    this.#hits++;
    return entry.bytes.slice();
  }

  /** A ticket for filling `key` from a read that is about to be sent. */
  ticket(key: string): number {
    const ticket = ++this.#nextTicket;
    this.#tickets.set(key, ticket);
    return ticket;
  }

  /**
   * Keeps a copy of `bytes` for `key`, unless the key was invalidated since
   * `ticket` was taken or the value is larger than the whole layer.
   * `ttl` is the key's remaining time in ms, or undefined for none.
   */
  fill(
    key: string,
    ticket: number,
    bytes: Uint8Array,
    ttl: number | undefined,
  ): void {
    if (this.#tickets.get(key) !== ticket) return;
    this.#tickets.delete(key);
    if (bytes.length > this.#maxBytes) return;
    this.#remove(key);
    this.#entries.set(key, {
      bytes: bytes.slice(),
      expiresAt: ttl === undefined ? Infinity : performance.now() + ttl,
    });
    this.#bytes += bytes.length;
    for (const [oldest] of this.#entries) {
      if (
        this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes
      ) break;
      this.#remove(oldest);
    }
  }

  /** Drops `key`, or everything for `null`, and voids tickets taken before. */
  invalidate(key: string | null): void {
    if (key === null) {
      this.#entries.clear();
      this.#tickets.clear();
      this.#bytes = 0;
      return;
    }
    this.#tickets.delete(key);
    this.#remove(key);
  }

  /** A snapshot of the counters. */
  stats(): LocalLayerStats {
    return {
      hits: this.#hits,
      entries: this.#entries.size,
      bytes: this.#bytes,
    };
  }

  /** Sets the hit counter back to zero. */
  resetStats(): void {
    this.#hits = 0;
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes.length;
  }
}
