// Commands and reply parsing that several adapters share: the batched GET
// of many keys with each key's own error.

import { CommandError } from "../errors.ts";
import { asByteList } from "./bytes.ts";

/**
 * GET of many keys in one command. MGET alone reads a key that holds another
 * type as missing; this checks the type of each key MGET found nothing for,
 * so such a key gives the WRONGTYPE error GET gives. `no-writes` lets it run
 * on replicas and when memory is full. At most {@linkcode GET_EACH_MAX} keys
 * per call (Lua's unpack limit).
 */
export const GET_EACH = `#!lua flags=no-writes
local values = redis.call("MGET", unpack(KEYS))
local errors = {}
for i = 1, #KEYS do
  if not values[i] and redis.call("TYPE", KEYS[i]).ok ~= "none" then
    errors[#errors + 1] = i
    errors[#errors + 1] = "WRONGTYPE Operation against a key holding the wrong kind of value"
  end
end
return {values, errors}`;

/** Most keys one {@linkcode GET_EACH} call takes. */
export const GET_EACH_MAX = 1_000;

/** The command that runs {@linkcode GET_EACH} on `keys`. */
export function getEachCommand(keys: readonly string[]): string[] {
  return ["EVAL", GET_EACH, String(keys.length), ...keys];
}

/**
 * GET of each key, the cheap way: `mget` and `exists` of the same keys, sent
 * together. MGET reads a key that holds another type as missing; when
 * EXISTS counts other than the keys MGET found, one of them does (or a key
 * changed between the two), and `script`, the {@linkcode GET_EACH} script
 * that checks each key, answers instead. Redis runs MGET and EXISTS of a
 * hundred keys in about a quarter of the script's time. The two are not
 * atomic: a key that changes type between them reads as the one or the
 * other state, as a GET just before or after the change would (with reads
 * from replicas, the two may also reach different replicas).
 *
 * With `hitsLikely` (the caller's last batches found every key), MGET goes
 * alone, and EXISTS follows, of the keys MGET found nothing for, only when
 * there are some: a batch of hits costs the client one command instead of
 * two, and a batch with a miss one more round trip.
 */
export async function getEachViaMget(
  keys: readonly string[],
  hitsLikely: boolean,
  mget: () => Promise<(Uint8Array | null)[]>,
  exists: (keys: readonly string[]) => Promise<unknown>,
  script: () => Promise<(Uint8Array | null | Error)[]>,
): Promise<(Uint8Array | null | Error)[]> {
  if (hitsLikely) {
    const values = await mget();
    const missing = missingKeys(keys, values);
    if (missing.length === 0) return values;
    return Number(await exists(missing)) === 0 ? values : await script();
  }
  const [values, existing] = await Promise.all([mget(), exists(keys)]);
  let found = 0;
  for (const value of values) if (value !== null) found++;
  return found === Number(existing) ? values : await script();
}

/**
 * The keys whose value in `values` (one per key, in order) is missing:
 * `null`, or `undefined` as some clients give a nil.
 */
export function missingKeys(
  keys: readonly string[],
  values: readonly unknown[],
): string[] {
  const missing: string[] = [];
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) missing.push(keys[i]);
  }
  return missing;
}

/** Turns the reply of {@linkcode GET_EACH} into one result per key. */
export function parseGetEach(reply: unknown): (Uint8Array | null | Error)[] {
  const [values, errors] = reply as [(Uint8Array | null)[], unknown[]];
  const results: (Uint8Array | null | Error)[] = asByteList(values);
  for (let i = 0; i < errors.length; i += 2) {
    const message = errors[i + 1];
    results[Number(errors[i]) - 1] = new CommandError(
      "GET",
      typeof message === "string"
        ? message
        : new TextDecoder().decode(message as Uint8Array),
    );
  }
  return results;
}
