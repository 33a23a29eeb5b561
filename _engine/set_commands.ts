// The commands that write values without tags: one SET, or many values
// with one expiry in one script.

import type { RedisArgument } from "../redis_client.ts";

/** Stores many values with one expiry atomically, in one command. */
export const STORE_MANY_WITH_TTL = `for i = 1, #KEYS do
  redis.call("SET", KEYS[i], ARGV[i], "PX", ARGV[#ARGV])
end
return #KEYS`;

/** `SET key value`, with `PX ttl` when there is an expiry. */
export function setCommand(
  redisKey: string,
  value: RedisArgument,
  ttl: number | undefined,
): RedisArgument[] {
  return ttl === undefined
    ? ["SET", redisKey, value]
    : ["SET", redisKey, value, "PX", String(ttl)];
}
