// Exact bytes from replies a client gave as text. Bun's RedisClient decodes
// every bulk string of `send` as UTF-8, with U+FFFD in place of invalid bytes;
// only its `getBuffer` keeps bytes, one GET per key. A text without U+FFFD
// decoded losslessly (valid UTF-8, a leading BOM kept as U+FEFF), so encoding
// it again gives back the stored bytes; one with U+FFFD cannot tell invalid
// bytes from a real EF BF BD, and its key is read again as bytes.

const encoder = new TextEncoder();

// Where the text path stops paying, measured on Bun 1.4 against pipelined
// getBuffer calls, client CPU per value: decoding and encoding again cost
// less up to about 1.5 KiB of ASCII, and up to about 128 bytes of text with
// any other character (its decoding and encoding leave the fast path); a
// value read again costs both ways and a second round trip.
const MEAN_COST_LIMIT = 1024;
const NON_ASCII_COST = 8;
const MOST_READ_AGAIN = 1 / 8;
// After a batch the text path did not pay for, that many batches (doubling
// while it keeps not paying) go as getBuffer calls before the next try, so
// values that changed kind are noticed at a cost of about 1% (a try costs
// about three batches).
const MOST_BATCHES_SKIPPED = 256;

/**
 * Turns batches of text replies into bytes, and keeps track of whether that
 * pays for the values this connection reads: binary or large values are
 * cheaper as one `getBuffer` each than as text, read twice or slowly.
 */
export class TextReplies {
  #skip = 0;
  #backoff = 1;

  /** Whether to read the next batch as text; else as bytes, then {@linkcode bytesRead}. */
  next(): boolean {
    if (this.#skip === 0) return true;
    this.#skip--;
    return false;
  }

  /**
   * Records a batch read as bytes: while the values are too large for text
   * to pay whatever they hold, the next batch is read as bytes too.
   */
  bytesRead(values: readonly unknown[]): void {
    let found = 0;
    let bytes = 0;
    for (const value of values) {
      if (value instanceof Uint8Array) {
        found++;
        bytes += value.byteLength;
      }
    }
    if (bytes > found * MEAN_COST_LIMIT) this.#skip = Math.max(this.#skip, 1);
  }

  /**
   * The exact bytes of each of `texts`, the values of one MGET as text;
   * `null` stays `null`. A text that cannot tell its bytes, and with
   * `readMissing` a missing value too, is replaced by what `readAgain(i)`
   * gives for its index: a later read of that key, still a value the key
   * held while the call ran. Those reads go out together, in one round trip.
   */
  toBytes<E>(
    texts: readonly unknown[],
    readAgain: (index: number) => Promise<Uint8Array | null | E>,
    readMissing = false,
  ): (Uint8Array | null | E)[] | Promise<(Uint8Array | null | E)[]> {
    const values: (Uint8Array | null | E)[] = new Array(texts.length);
    const again: Promise<void>[] = [];
    const reread = (i: number) => {
      again.push(
        readAgain(i).then((value) => {
          values[i] = value;
        }),
      );
    };
    let found = 0;
    let ambiguous = 0;
    let cost = 0;
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i];
      if (text === null || text === undefined) {
        values[i] = null;
        if (readMissing) reread(i);
        continue;
      }
      found++;
      if (typeof text !== "string") {
        // A client that gave this value as bytes after all.
        const bytes = new Uint8Array(text as Uint8Array);
        values[i] = bytes;
        cost += bytes.byteLength;
      } else if (text.includes("\uFFFD")) {
        ambiguous++;
        cost += text.length * NON_ASCII_COST;
        reread(i);
      } else {
        const bytes = encoder.encode(text);
        values[i] = bytes;
        cost += bytes.byteLength === text.length
          ? bytes.byteLength
          : bytes.byteLength * NON_ASCII_COST;
      }
    }
    this.#judge(found, ambiguous, cost);
    return again.length === 0 ? values : Promise.all(again).then(() => values);
  }

  #judge(found: number, ambiguous: number, cost: number): void {
    if (found === 0) return;
    if (
      ambiguous <= found * MOST_READ_AGAIN && cost <= found * MEAN_COST_LIMIT
    ) {
      this.#backoff = 1;
    } else {
      this.#skip = this.#backoff;
      this.#backoff = Math.min(this.#backoff * 2, MOST_BATCHES_SKIPPED);
    }
  }
}
