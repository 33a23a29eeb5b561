// Walks the keys matching a pattern with SCAN, a batch at a time, so that
// clearing a namespace never blocks the server the way KEYS would.

import type { RedisArgument } from "../redis_client.ts";

const SCAN_COUNT = 1_000;

/** Each batch of keys SCAN MATCH `pattern` returns, until the cursor is back at 0. */
export async function* scanKeys(
  send: (args: readonly RedisArgument[]) => Promise<unknown>,
  pattern: string,
): AsyncGenerator<string[]> {
  let cursor = "0";
  do {
    const [next, keys] = await send([
      "SCAN",
      cursor,
      "MATCH",
      pattern,
      "COUNT",
      String(SCAN_COUNT),
    ]) as [string, string[]];
    if (keys.length > 0) yield keys;
    cursor = String(next);
  } while (cursor !== "0");
}
