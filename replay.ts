/**
 * {@linkcode replay}: print the call history that the `countCalls` and
 * `callHistory` decorators keep in Redis, exactly as the Python original's
 * `replay` prints it.
 *
 * @module
 */

import { engineOf } from "./_engine/handle.ts";
import { recordedName } from "./_history/call_history.ts";
import type { Cache } from "./cache.ts";

/** Options for {@linkcode replay}. */
export interface ReplayOptions {
  /**
   * Where each line goes.
   *
   * @default {console.log}
   */
  log?: (line: string) => void;
}

/**
 * Reads the counter and the input and output lists of `cache`'s method and
 * prints them as the Python original does:
 *
 * ```text
 * Cache.store was called 3 times:
 * Cache.store(*('foo',)) -> 13bf32a9-a249-4664-95fc-b1062db2038f
 * ```
 *
 * The count comes from the counter (0 when there is none), the lines from
 * the two lists paired in order, as many as the shorter list has. All three
 * are read in one round trip.
 *
 * @example
 * ```ts
 * import { Cache, replay } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * await using cache = await Cache.connect({ namespace: "doc-replay" });
 * const key = await cache.store("foo");
 * const lines = await replay(cache);
 * assert.deepEqual(lines, [
 *   "Cache.store was called 1 times:",
 *   `Cache.store(*('foo',)) -> ${key}`,
 * ]);
 * ```
 *
 * @param cache The cache whose history to read.
 * @param method The method's name (`"store"`) or qualified name (`"Cache.store"`).
 * @param options Where to print.
 * @returns The printed lines.
 */
export async function replay(
  cache: Cache,
  method = "store",
  options: ReplayOptions = {},
): Promise<string[]> {
  if (typeof method !== "string" || method === "") {
    throw new TypeError("method must be a non-empty string");
  }
  const log = options.log ?? console.log;
  if (typeof log !== "function") throw new TypeError("log must be a function");
  const engine = engineOf(cache);
  const name = recordedName(cache, method);
  const key = engine.prefix + name;
  const [count, inputs, outputs] = await Promise.all([
    engine.send(["GET", key]),
    engine.send(["LRANGE", `${key}:inputs`, "0", "-1"]),
    engine.send(["LRANGE", `${key}:outputs`, "0", "-1"]),
  ]) as [string | null, string[], string[]];
  const lines = [`${name} was called ${count ?? 0} times:`];
  const pairs = Math.min(inputs.length, outputs.length);
  for (let i = 0; i < pairs; i++) {
    lines.push(`${name}(*${inputs[i]}) -> ${outputs[i]}`);
  }
  for (const line of lines) log(line);
  return lines;
}
