// Negative caching: a loader's "there is no such value" remembered for
// `negativeTtl` ms as a marker key beside the value's, `__miss:<key>` (in
// the namespace), holding an empty string. The value's own key stays
// absent, so a plain `get` and redis-py still see no value; `checkKey`
// refuses keys with the prefix, so no value can pose as a marker.

import { NEGATIVE_PREFIX } from "./validate.ts";

/** The marker key of `redisKey` (which starts with `prefix`). */
export function negativeKey(prefix: string, redisKey: string): string {
  return `${prefix}${NEGATIVE_PREFIX}${redisKey.slice(prefix.length)}`;
}

/** The command that remembers a miss of `redisKey` for `ttl` ms. */
export function negativeCommand(markerKey: string, ttl: number): string[] {
  return ["SET", markerKey, "", "PX", String(ttl)];
}

/** Whether a loader's result means "no such value". */
export function isNegative(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}
