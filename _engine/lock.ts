// A short Redis lock: taken with SET NX PX, released only by its holder
// (compare the token, then delete, atomically in a script), and expiring by
// itself if the holder dies.

import type { RedisArgument } from "../redis_client.ts";

type Send = (args: readonly RedisArgument[]) => Promise<unknown>;

const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`;

/** Tries once to take the lock; returns its token, or `undefined` if it is held. */
export async function tryLock(
  send: Send,
  key: string,
  ttl: number,
): Promise<string | undefined> {
  const token = crypto.randomUUID();
  const reply = await send(["SET", key, token, "NX", "PX", String(ttl)]);
  return reply === "OK" ? token : undefined;
}

/** Releases the lock if `token` still holds it; a lock that expired is left alone. */
export async function unlock(
  send: Send,
  key: string,
  token: string,
): Promise<void> {
  await send(["EVAL", RELEASE, "1", key, token]);
}
