// Tags: groups of entries removed (or made stale) at once, in every process.
// A tagged write adds its key to each tag's index in the same script as the
// value (one atomic step per slot); invalidateTags deletes the keys an index
// names and the index, in one script per slot. Reads consult nothing: an
// invalidated entry is gone from Redis, and Redis's tracking pushes drop it
// from every process's L1, so an untagged or tagged get costs what it did.
//
// An index is a sorted set of keys scored by when each expires in Redis
// (+inf for never), so every tagged write first drops the members that have
// expired, checks two others at random for a delete, and sets the index to
// expire with its last member. In a cluster there is one index per (tag,
// slot), named with a hash tag that maps to the slot, and a registry per tag
// of the slots it has indexes in, written before the value: a registry entry
// for a slot with nothing left is harmless, one missing would lose entries.
//
// Each tagged key also has a reverse index, a set of its tags, in its own
// slot and expiring with it, so whatever removes an entry (or a tagged
// write that changes its tags) takes it out of its other tags' indexes too.

import { createHash } from "node:crypto";
import type { Driver } from "../_drivers/driver.ts";
import { groupBySlot, keySlot } from "../_drivers/key_slot.ts";
import type { L1 } from "../_l1/l1.ts";
import { CommandError } from "../errors.ts";
import type { RedisArgument } from "../redis_client.ts";
import type { Runner } from "./runner.ts";
import { MAX_KEY_LENGTH, TAG_PREFIX } from "./validate.ts";

const SLOTS = 16_384;
/**
 * How much longer than its entries a registry entry lives, in ms: it is
 * written on another node, before the value, and node clocks may differ.
 */
const REGISTRY_MARGIN = 60_000;

/** How a write is tagged: its tags, and its grace in ms (0 for none). */
export interface Tagging {
  readonly tags: readonly string[];
  /** Of the key's Redis expiry, the part after it is fresh: what `expireTags` leaves it. */
  readonly grace: number;
}

/** A write's `tags` option, checked: `undefined` when there are none. */
export function taggingFor(
  call: { tags?: unknown },
  grace = 0,
): Tagging | undefined {
  const { tags } = call;
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags)) {
    throw new TypeError("tags must be an array of strings");
  }
  const checked = checkTags(tags);
  return checked.length === 0 ? undefined : { tags: checked, grace };
}

/** Tags as given to invalidateTags and expireTags: each a string of 1 to 1 024 characters. */
export function checkTags(tags: readonly unknown[]): string[] {
  for (const tag of tags) {
    if (typeof tag !== "string") {
      throw new TypeError("each tag must be a string");
    }
    if (tag.length === 0 || tag.length > MAX_KEY_LENGTH) {
      throw new RangeError(
        `a tag must be 1 to ${MAX_KEY_LENGTH} characters long, got ${tag.length}`,
      );
    }
    if (!tag.isWellFormed()) {
      throw new TypeError("a tag must not contain lone surrogates");
    }
  }
  return [...new Set(tags as string[])];
}

// The server's clock in ms: every expiry the scripts compare is Redis's own.
const NOW = `local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;

// Lets a sorted set (and its companion hash, if given) expire with its
// last member.
const EXPIRE_WITH_LAST = `local function expireWithLast(set, companion)
  local last = redis.call("ZRANGE", set, -1, -1, "WITHSCORES")
  local keys = {set, companion}
  for _, key in ipairs(keys) do
    if last[2] == nil then
      redis.call("UNLINK", key)
    elseif last[2] == "inf" then
      redis.call("PERSIST", key)
    else
      redis.call("PEXPIREAT", key, last[2])
    end
  end
end
`;

// The names of one slot's bookkeeping, built here from the namespace
// (ARGV) and the slot's hash tag (`{name}:` in a cluster, else empty):
// an entry's other tags are known only once its reverse index is read,
// inside the script, so their keys cannot be passed as KEYS. Every name
// carries the slot's hash tag, so all stay in the script's one slot.
// `forget` takes a member out of every tag its reverse index lists and
// drops the reverse index: for entries that are gone.
const NAMES = `local function names(prefix, at)
  local function index(tag) return prefix .. "${TAG_PREFIX}i:" .. at .. tag end
  local function graces(tag) return prefix .. "${TAG_PREFIX}g:" .. at .. tag end
  local function reverse(member)
    return prefix .. "${TAG_PREFIX}k:" .. at .. string.sub(member, #prefix + 1)
  end
  local function forget(member)
    local reversed = reverse(member)
    for _, tag in ipairs(redis.call("SMEMBERS", reversed)) do
      redis.call("ZREM", index(tag), member)
      redis.call("HDEL", graces(tag), member)
    end
    redis.call("UNLINK", reversed)
  end
  return index, graces, reverse, forget
end
`;

// Removes an index's members that are gone: expired (at most 1 000 a write,
// to bound the script's time; the index expires with its last member
// anyway), and two sampled that were deleted. Together they keep an index
// near its live entries; each goes from its other tags too.
const PRUNE = `local function prune(index, graces, forget)
  local expired = redis.call("ZRANGE", index, "-inf", now, "BYSCORE", "LIMIT", 0, 1000)
  for _, member in ipairs(expired) do
    redis.call("ZREM", index, member)
    redis.call("HDEL", graces, member)
    -- Only if gone: a key written again since, with other tags, has a
    -- reverse index of its new tags, which this old membership must not
    -- take it out of.
    if redis.call("EXISTS", member) == 0 then forget(member) end
  end
  for _, member in ipairs(redis.call("ZRANDMEMBER", index, 2)) do
    if redis.call("EXISTS", member) == 0 then
      redis.call("ZREM", index, member)
      redis.call("HDEL", graces, member)
      forget(member)
    end
  end
end
`;

/**
 * Writes values and their tag memberships in one step. KEYS: the n value
 * keys, their n reverse indexes, then an index and its grace hash per tag.
 * ARGV: n, the Redis expiry in ms (0 for none), the grace in ms, the
 * namespace's prefix, the slot's hash tag, the number of tags m, the m
 * tags, the values. Pruning comes first, before any value or reverse index
 * of this write exists to be taken for gone; an overwritten key leaves the
 * tags it no longer has.
 */
const WRITE = `${NOW}${EXPIRE_WITH_LAST}${NAMES}${PRUNE}
local n = tonumber(ARGV[1])
local px = tonumber(ARGV[2])
local grace = tonumber(ARGV[3])
local index, graces, reverse, forget = names(ARGV[4], ARGV[5])
local m = tonumber(ARGV[6])
local tagged = {}
for t = 7, 6 + m do tagged[ARGV[t]] = true end
local score = "+inf"
if px > 0 then score = now + px end
for j = 2 * n + 1, #KEYS, 2 do
  prune(KEYS[j], KEYS[j + 1], forget)
end
for i = 1, n do
  local key, reversed = KEYS[i], KEYS[n + i]
  for _, tag in ipairs(redis.call("SMEMBERS", reversed)) do
    if not tagged[tag] then
      redis.call("ZREM", index(tag), key)
      redis.call("HDEL", graces(tag), key)
    end
  end
  redis.call("DEL", reversed)
  -- In slices: unpack has a limit (about 8 000) on what it returns.
  for t = 7, 6 + m, 1000 do
    redis.call("SADD", reversed, unpack(ARGV, t, math.min(t + 999, 6 + m)))
  end
  if px > 0 then
    redis.call("SET", key, ARGV[6 + m + i], "PX", px)
    redis.call("PEXPIRE", reversed, px)
  else
    redis.call("SET", key, ARGV[6 + m + i])
  end
end
for j = 2 * n + 1, #KEYS, 2 do
  for i = 1, n do
    redis.call("ZADD", KEYS[j], score, KEYS[i])
    if grace > 0 then
      redis.call("HSET", KEYS[j + 1], KEYS[i], grace)
    else
      redis.call("HDEL", KEYS[j + 1], KEYS[i])
    end
  end
  expireWithLast(KEYS[j], KEYS[j + 1])
end
return n`;

/**
 * Deletes every key the indexes name, takes each out of its other tags,
 * then deletes the indexes. KEYS: an index and its grace hash per tag.
 * ARGV: "1" to return the keys, the namespace's prefix, the slot's hash
 * tag. Returns how many keys existed, then (if asked) the keys.
 */
const INVALIDATE = `${NAMES}
local index, graces, reverse, forget = names(ARGV[2], ARGV[3])
local removed = 0
local reply = {0}
for j = 1, #KEYS, 2 do
  local members = redis.call("ZRANGE", KEYS[j], 0, -1)
  for i = 1, #members, 1000 do
    removed = removed + redis.call("UNLINK", unpack(members, i, math.min(i + 999, #members)))
  end
  for _, member in ipairs(members) do forget(member) end
  if ARGV[1] == "1" then
    for _, member in ipairs(members) do reply[#reply + 1] = member end
  end
  redis.call("UNLINK", KEYS[j], KEYS[j + 1])
end
reply[1] = removed
return reply`;

/**
 * Makes every entry the indexes name stale: its Redis expiry becomes its
 * grace, or it is deleted when it has none. KEYS and ARGV as INVALIDATE's.
 * An entry deleted, or found gone, leaves its other tags too; one made
 * stale keeps them (it still exists), and its reverse index's expiry is
 * lowered with its own, so it never outlives the entry. Returns how many
 * entries it made stale or deleted (entries already in their grace are left
 * as they are), then (if asked) their keys.
 */
const EXPIRE = `${NOW}${EXPIRE_WITH_LAST}${NAMES}
local _, _, reverse, forget = names(ARGV[2], ARGV[3])
local changed = 0
local reply = {0}
for j = 1, #KEYS, 2 do
  local index, graces = KEYS[j], KEYS[j + 1]
  for _, member in ipairs(redis.call("ZRANGE", index, 0, -1)) do
    local grace = tonumber(redis.call("HGET", graces, member)) or 0
    local left = redis.call("PTTL", member)
    local touched = false
    if left == -2 then
      redis.call("ZREM", index, member)
      redis.call("HDEL", graces, member)
      forget(member)
    elseif grace == 0 then
      redis.call("UNLINK", member)
      redis.call("ZREM", index, member)
      redis.call("HDEL", graces, member)
      forget(member)
      touched = true
    elseif left == -1 or left > grace then
      redis.call("PEXPIRE", member, grace)
      redis.call("PEXPIRE", reverse(member), grace)
      redis.call("ZADD", index, now + grace, member)
      touched = true
    end
    if touched then
      changed = changed + 1
      if ARGV[1] == "1" then reply[#reply + 1] = member end
    end
  end
  expireWithLast(index, graces)
end
reply[1] = changed
return reply`;

/**
 * Notes that a tag has indexes in some slots of a cluster. KEYS[1]: the
 * tag's registry. ARGV: the entries' Redis expiry in ms (0 for none), then
 * the slots' names.
 */
const REGISTER = `${NOW}${EXPIRE_WITH_LAST}
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
local px = tonumber(ARGV[1])
local score = "+inf"
if px > 0 then score = now + px + ${REGISTRY_MARGIN} end
for i = 2, #ARGV do
  redis.call("ZADD", KEYS[1], "GT", score, ARGV[i])
end
expireWithLast(KEYS[1])
return 1`;

/**
 * A script sent by its SHA1 once the server has it: the first use loads it
 * (EVAL, or SCRIPT LOAD on every primary of a cluster, before a burst of one
 * script per slot), and a server that lost it gets it again (NOSCRIPT).
 */
class Script {
  readonly #body: string;
  readonly #sha: string;
  #loaded = false;

  constructor(body: string) {
    this.#body = body;
    this.#sha = createHash("sha1").update(body).digest("hex");
  }

  /** Loads the script on every primary of a cluster, once per cache. */
  async prepare(driver: Driver): Promise<void> {
    if (this.#loaded || driver.cluster === undefined) return;
    const nodes = await driver.cluster.primaries();
    await Promise.all(
      nodes.map((node) => node.send(["SCRIPT", "LOAD", this.#body])),
    );
    this.#loaded = true;
  }

  async send(
    driver: Driver,
    keys: readonly string[],
    args: readonly RedisArgument[],
  ): Promise<unknown> {
    const rest = [String(keys.length), ...keys, ...args];
    if (!this.#loaded) {
      const reply = await driver.send(["EVAL", this.#body, ...rest]);
      this.#loaded = true;
      return reply;
    }
    try {
      return await driver.send(["EVALSHA", this.#sha, ...rest]);
    } catch (error) {
      if (!(error instanceof CommandError && error.code === "NOSCRIPT")) {
        throw error;
      }
      return await driver.send(["EVAL", this.#body, ...rest]);
    }
  }
}

/** One cache's tags. */
export class Tags {
  readonly #runner: Runner;
  readonly #l1: L1 | undefined;
  readonly #prefix: string;
  #slotNames: string[] | undefined;
  // Per cache, since whether a server has a script is per server.
  readonly #write = new Script(WRITE);
  readonly #invalidate = new Script(INVALIDATE);
  readonly #expire = new Script(EXPIRE);
  readonly #register = new Script(REGISTER);

  constructor(prefix: string, runner: Runner, l1: L1 | undefined) {
    this.#prefix = prefix;
    this.#runner = runner;
    this.#l1 = l1;
  }

  /**
   * Writes values under `redisKeys` with one Redis expiry `ttl` (ms, or
   * undefined for none) and their tag memberships: one script (one per slot
   * in a cluster, after the tags' registries).
   */
  async write(
    driver: Driver,
    redisKeys: readonly string[],
    values: readonly RedisArgument[],
    ttl: number | undefined,
    tagging: Tagging,
  ): Promise<void> {
    const px = String(ttl ?? 0);
    const send = (positions: readonly number[], slot: string | undefined) =>
      this.#write.send(driver, [
        ...positions.map((i) => redisKeys[i]),
        ...positions.map((i) => this.#reverseKey(redisKeys[i], slot)),
        ...this.#indexKeys(tagging.tags, slot),
      ], [
        String(positions.length),
        px,
        String(tagging.grace),
        ...this.#names(slot),
        String(tagging.tags.length),
        ...tagging.tags,
        ...positions.map((i) => values[i]),
      ]);
    if (driver.cluster === undefined) {
      await send(redisKeys.map((_, i) => i), undefined);
      return;
    }
    const groups = groupBySlot(redisKeys);
    const slots = groups.map((group) => keySlot(redisKeys[group[0]]));
    const names = slots.map((slot) => this.#slotName(slot));
    for (const [i, slot] of slots.entries()) {
      const index = this.#indexKeys(tagging.tags.slice(0, 1), names[i])[0];
      const reverse = this.#reverseKey(redisKeys[groups[i][0]], names[i]);
      if (keySlot(index) !== slot || keySlot(reverse) !== slot) {
        throw new RangeError(
          "tags in a cluster need a namespace without an empty hash tag ({})",
        );
      }
    }
    await Promise.all([
      this.#register.prepare(driver),
      this.#write.prepare(driver),
    ]);
    await Promise.all(
      tagging.tags.map((tag) =>
        this.#register.send(driver, [this.#registryKey(tag)], [px, ...names])
      ),
    );
    await Promise.all(groups.map((group, i) => send(group, names[i])));
  }

  /** `Cache.invalidateTags`: deletes every entry with any of `tags`; how many there were. */
  async invalidate(tags: readonly unknown[]): Promise<number> {
    return await this.#run(this.#invalidate, checkTags(tags));
  }

  /** `Cache.expireTags`: makes every entry with any of `tags` stale; how many it changed. */
  async expire(tags: readonly unknown[]): Promise<number> {
    return await this.#run(this.#expire, checkTags(tags));
  }

  // One script over the tags' indexes: at once, or in a cluster once per
  // slot the registries name, all sent together. The keys come back when
  // there is an L1, which drops them at once (other processes' are told by
  // Redis).
  async #run(script: Script, tags: readonly string[]): Promise<number> {
    if (tags.length === 0) return 0;
    const wantKeys = this.#l1 === undefined ? "0" : "1";
    const replies = await this.#runner.run("EVALSHA", async (driver) => {
      if (driver.cluster === undefined) {
        return [
          await script.send(driver, this.#indexKeys(tags, undefined), [
            wantKeys,
            ...this.#names(undefined),
          ]),
        ];
      }
      const registries = await Promise.all(
        tags.map((tag) =>
          driver.send(["ZRANGE", this.#registryKey(tag), "0", "-1"])
        ),
      );
      const names = new Set(
        registries.flatMap((names) => (names as unknown[]).map(String)),
      );
      await script.prepare(driver);
      return Promise.all(
        [...names].map((name) =>
          script.send(driver, this.#indexKeys(tags, name), [
            wantKeys,
            ...this.#names(name),
          ])
        ),
      );
    });
    let count = 0;
    for (const reply of replies as unknown[][]) {
      count += Number(reply[0]);
      for (let i = 1; i < reply.length; i++) {
        this.#l1?.invalidate(String(reply[i]));
      }
    }
    return count;
  }

  // Each tag's index and grace hash: in a cluster, those of the slot named
  // `slot`, whose hash tag maps to it.
  #indexKeys(tags: readonly string[], slot: string | undefined): string[] {
    const [, at] = this.#names(slot);
    return tags.flatMap((tag) => [
      `${this.#prefix}${TAG_PREFIX}i:${at}${tag}`,
      `${this.#prefix}${TAG_PREFIX}g:${at}${tag}`,
    ]);
  }

  // What the scripts build the slot's other names from (NAMES): the
  // namespace's prefix and the slot's hash tag.
  #names(slot: string | undefined): [string, string] {
    return [this.#prefix, slot === undefined ? "" : `{${slot}}:`];
  }

  // A key's reverse index (its tags), in the key's slot: the same name the
  // scripts build.
  #reverseKey(redisKey: string, slot: string | undefined): string {
    const [prefix, at] = this.#names(slot);
    return `${prefix}${TAG_PREFIX}k:${at}${redisKey.slice(prefix.length)}`;
  }

  #registryKey(tag: string): string {
    return `${this.#prefix}${TAG_PREFIX}s:${tag}`;
  }

  // A short name whose hash tag maps to `slot`, found once per cache by
  // trying base-36 numbers in order (about 170 000 tries cover all slots).
  #slotName(slot: number): string {
    if (this.#slotNames === undefined) {
      const names: string[] = new Array(SLOTS);
      let found = 0;
      const base = `${this.#prefix}${TAG_PREFIX}i:`;
      // A namespace with a hash tag of its own puts every key in one slot.
      const fixed = keySlot(`${base}{0}`) === keySlot(`${base}{1}`) &&
        keySlot(`${base}{0}`) === keySlot(`${base}{2}`);
      for (let n = 0; found < SLOTS && (!fixed || found === 0); n++) {
        const name = n.toString(36);
        const at = keySlot(`${base}{${name}}`);
        if (names[at] === undefined) {
          names[at] = name;
          found++;
        }
      }
      this.#slotNames = names;
    }
    return this.#slotNames[slot] ?? "0";
  }
}
