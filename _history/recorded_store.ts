// `store` with its Python call history in one command: the count, the input,
// the value and the output written by one script instead of four commands
// over two round trips. Python's order and outcome are kept: the call is
// counted and its input recorded first, and an output is recorded only for
// a value Redis accepted.

import { createHash } from "node:crypto";
import { CommandError } from "../errors.ts";
import type { RedisArgument } from "../redis_client.ts";

/** The keys of a store's call history: `Cache.store` and its two lists. */
export interface StoreHistoryKeys {
  readonly count: string;
  readonly inputs: string;
  readonly outputs: string;
}

/** What the call history records of one store. */
export interface StoreRecord {
  /** Python's `str()` of the call's arguments. */
  readonly input: RedisArgument;
  /** The key `store` returns. */
  readonly output: string;
}

/** A store and what its call history records. */
export interface RecordedWrite {
  readonly redisKey: string;
  readonly value: RedisArgument;
  readonly ttl: number | undefined;
  readonly record: StoreRecord;
}

/** Most stores one script call takes (Lua's `unpack` limit). */
export const RECORDED_STORE_MAX = 1_000;

/**
 * Values larger than this (in bytes, or characters of a string) go as a
 * plain SET with the history beside it: the script would copy each into Lua
 * before Redis copies it again.
 */
export const RECORDED_VALUE_LIMIT = 64 * 1024;

// KEYS: the counter, the inputs list, the outputs list, then n value keys.
// ARGV: n values, n inputs, n outputs, n expiries in ms ("" for none).
// The values without an expiry go in one MSET. Redis checks a script's keys
// against the user's ACL before it runs, and memory and replica state at its
// first write, the INCRBY: a failure there leaves nothing written, as in
// Python, where the INCR comes first.
const RECORDED_STORE = `local n = #KEYS - 3
redis.call("INCRBY", KEYS[1], n)
redis.call("RPUSH", KEYS[2], unpack(ARGV, n + 1, 2 * n))
local plain = {}
for i = 1, n do
  local ttl = ARGV[3 * n + i]
  if ttl == "" then
    plain[#plain + 1] = KEYS[3 + i]
    plain[#plain + 1] = ARGV[i]
  else
    redis.call("SET", KEYS[3 + i], ARGV[i], "PX", ttl)
  end
end
if #plain > 0 then
  redis.call("MSET", unpack(plain))
end
redis.call("RPUSH", KEYS[3], unpack(ARGV, 2 * n + 1, 3 * n))
return n`;

// Sent by its SHA1: the script's text is most of a small store's command,
// and Redis would hash it again on every EVAL.
const RECORDED_STORE_SHA = createHash("sha1").update(RECORDED_STORE).digest(
  "hex",
);

/**
 * The command that stores `writes` (at most {@linkcode RECORDED_STORE_MAX})
 * and records their history: EVALSHA, or with `loading` the EVAL that loads
 * the script into a server that answered NOSCRIPT.
 */
export function recordedStoreCommand(
  keys: StoreHistoryKeys,
  writes: readonly RecordedWrite[],
  loading = false,
): RedisArgument[] {
  const command: RedisArgument[] = [
    loading ? "EVAL" : "EVALSHA",
    loading ? RECORDED_STORE : RECORDED_STORE_SHA,
    String(writes.length + 3),
    keys.count,
    keys.inputs,
    keys.outputs,
  ];
  for (const write of writes) command.push(write.redisKey);
  for (const write of writes) command.push(write.value);
  for (const write of writes) command.push(write.record.input);
  for (const write of writes) command.push(write.record.output);
  for (const write of writes) {
    command.push(write.ttl === undefined ? "" : String(write.ttl));
  }
  return command;
}

/**
 * Whether `error` is an ACL refusal of the script as a whole (scripting not
 * allowed, or a key it names out of bounds), checked before it runs: then
 * nothing was written, and the stores may go again as separate commands.
 */
export function refusedBeforeRunning(error: unknown): boolean {
  return error instanceof CommandError && error.code === "NOPERM";
}

/** Whether `error` says this user may not run scripts at all. */
export function refusesScripts(error: unknown): boolean {
  return refusedBeforeRunning(error) &&
    /'eval(sha)?' command/i.test((error as Error).message);
}

/** Whether `error` says the server does not have the script yet. */
export function lacksScript(error: unknown): boolean {
  return error instanceof CommandError && error.code === "NOSCRIPT";
}
