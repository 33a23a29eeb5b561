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

import type { Driver } from "../_drivers/driver.ts";

const SLAB_SIZE = 64 * 1024;
const SLAB_COPIES = "Deno" in globalThis;

interface Entry {
  readonly bytes: Uint8Array;
  /** `performance.now()` after which Redis has expired the key; Infinity for none. */
  readonly expiresAt: number;
  /** Read since it last came up for eviction (a second chance, as in CLOCK). */
  used: boolean;
}

/** Counters of {@linkcode L1}. */
export interface L1Stats {
  /** Reads answered from process memory. */
  hits: number;
  /** Values held now. */
  entries: number;
  /** Bytes of the values held now. */
  bytes: number;
}

/**
 * A bounded, invalidation-driven cache of byte values. Eviction is CLOCK, an
 * approximation of least-recently-used: a hit only marks its entry, where
 * moving it to the back of the map would cost two more hash lookups on
 * every hit; an entry up for eviction that was read since gets a second
 * chance at the back instead.
 */
export class L1 {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  // Map order is the clock's order: oldest chance first.
  readonly #entries = new Map<string, Entry>();
  readonly #tickets = new Map<string, number>();
  #nextTicket = 0;
  #bytes = 0;
  #hits = 0;
  #slab = new Uint8Array(SLAB_SIZE);
  #slabUsed = 0;

  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  /** Drops each key `driver`'s connection hears has changed, and everything when told to. */
  follow(driver: Driver): void {
    driver.watchInvalidations?.((key) => this.invalidate(key));
  }

  /**
   * A copy of the value held for `key`, so the caller cannot change what
   * the next caller gets; `undefined` when none is held.
   */
  get(key: string): Uint8Array | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (
      entry.expiresAt !== Infinity && performance.now() >= entry.expiresAt
    ) {
      this.#remove(key);
      return undefined;
    }
    entry.used = true;
    this.#hits++;
    return this.#copy(entry.bytes);
  }

  // On Deno, copies of small values are carved out of a shared slab, as
  // Node's Buffer pool does: there a slice() of 16 bytes, which allocates
  // an ArrayBuffer, took ten times as long as the slab's view and copy. On
  // Node and Bun the slice() was the quicker of the two, and keeps no slab
  // alive for as long as one copy from it is.
  #copy(bytes: Uint8Array): Uint8Array {
    if (!SLAB_COPIES || bytes.length > SLAB_SIZE / 8) return bytes.slice();
    if (this.#slabUsed + bytes.length > SLAB_SIZE) {
      this.#slab = new Uint8Array(SLAB_SIZE);
      this.#slabUsed = 0;
    }
    const start = this.#slabUsed;
    this.#slabUsed += bytes.length;
    const copy = this.#slab.subarray(start, this.#slabUsed);
    copy.set(bytes);
    return copy;
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
      used: false,
    });
    this.#bytes += bytes.length;
    while (
      this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes
    ) {
      const [oldest, entry] = this.#entries.entries().next().value!;
      this.#entries.delete(oldest);
      // The value being filled is the most recently used: when the clock
      // comes round to it, every older one has had its chance, and one of
      // them goes instead.
      if (entry.used || oldest === key) {
        entry.used = false;
        this.#entries.set(oldest, entry);
      } else {
        this.#bytes -= entry.bytes.length;
      }
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
  stats(): L1Stats {
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
