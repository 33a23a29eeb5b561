// The tags' Lua scripts (see `tags.ts` for the design they keep), and how
// they are sent: by SHA1 once the server has them. Each runs in one slot:
// the names of an entry's other tags' indexes are built inside it, with the
// slot's hash tag, from what its reverse index holds.

import { createHash } from "node:crypto";
import type { Driver } from "../_drivers/driver.ts";
import { CommandError } from "../errors.ts";
import type { RedisArgument } from "../redis_client.ts";
import { TAG_PREFIX } from "./validate.ts";

/**
 * How much longer than its entries a registry entry lives, in ms: it is
 * written on another node, before the value, and node clocks may differ.
 */
const REGISTRY_MARGIN = 60_000;

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

// Removes an index's members that are gone: expired (at most 1 000 a call,
// to bound the script's time, as many as a coalesced call adds; the index
// expires with its last member anyway), and of `samples` checked, those
// that were deleted. Two checks for each entry a call adds keep an index
// near its live entries however many a call writes (with fewer than one, a
// tag whose entries are deleted would grow without bound); each member
// dropped goes from its other tags too. The members checked are a run of
// them from a random rank (the server clock's microseconds: Lua's random
// numbers repeat each script before Redis 7), which finds as many deleted
// ones on average as random members would, for a ninth of ZRANDMEMBER's
// time at 200; one EXISTS of them all tells whether any is gone, the rare
// case, which checks each.
const PRUNE = `local function prune(index, graces, forget, samples)
  local expired = redis.call("ZRANGE", index, "-inf", now, "BYSCORE", "LIMIT", 0, 1000)
  for _, member in ipairs(expired) do
    redis.call("ZREM", index, member)
    redis.call("HDEL", graces, member)
    -- Only if gone: a key written again since, with other tags, has a
    -- reverse index of its new tags, which this old membership must not
    -- take it out of.
    if redis.call("EXISTS", member) == 0 then forget(member) end
  end
  local size = redis.call("ZCARD", index)
  local count = math.min(samples, size, 2000)
  if count == 0 then return end
  local micros = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
  local start = micros % (size - count + 1)
  local checked = redis.call("ZRANGE", index, start, start + count - 1)
  local existing = 0
  for s = 1, #checked, 1000 do
    existing = existing + redis.call("EXISTS", unpack(checked, s, math.min(s + 999, #checked)))
  end
  if existing == #checked then return end
  for _, member in ipairs(checked) do
    if redis.call("EXISTS", member) == 0 then
      redis.call("ZREM", index, member)
      redis.call("HDEL", graces, member)
      forget(member)
    end
  end
end
`;

/**
 * Writes values and their tag memberships in one step, each entry with its
 * own tags, expiry and grace, so that the tagged writes of a tick share one
 * call. KEYS: the n value keys, their n reverse indexes, then an index and
 * its grace hash per tag (m tags, each once). ARGV: n, the namespace's
 * prefix, the slot's hash tag, m, the m tags, then per entry its value, its
 * Redis expiry in ms (0 for none), its grace in ms (0 for none), its number
 * of tags k and their k positions among the m (from 1).
 *
 * Pruning comes first, before any value or reverse index of this write
 * exists to be taken for gone; an overwritten key leaves the tags it no
 * longer has. A key given twice is written as its last entry says, as if
 * the entries had gone one by one: the earlier one would be overwritten
 * whole. Most of a tagged write's server time is Redis's cost per command a
 * script calls (more than the commands' own work), so the commands are
 * shared: one ZADD, HSET and HDEL per tag and one MSET of the values
 * without expiry for all the entries, and a reverse index found empty (a
 * new key) is not deleted. Per entry, that leaves reading and writing its
 * reverse index, and a SET and PEXPIRE when it expires.
 */
export const WRITE = `${NOW}${EXPIRE_WITH_LAST}${NAMES}${PRUNE}
local n = tonumber(ARGV[1])
local index, graces, reverse, forget = names(ARGV[2], ARGV[3])
local m = tonumber(ARGV[4])
-- In slices: unpack has a limit (about 8 000) on what it returns.
local function inSlices(command, key, args)
  for s = 1, #args, 1000 do
    local last = math.min(s + 999, #args)
    if key then
      redis.call(command, key, unpack(args, s, last))
    else
      redis.call(command, unpack(args, s, last))
    end
  end
end
-- How many of the entries carry each tag: two samples each.
local carrying = {}
for p = 1, m do carrying[p] = 0 end
local at = 5 + m
for i = 1, n do
  local k = tonumber(ARGV[at + 3])
  for t = at + 4, at + 3 + k do
    local p = tonumber(ARGV[t])
    carrying[p] = carrying[p] + 1
  end
  at = at + 4 + k
end
-- Every reverse index is read before anything is written, so that one of
-- the wrong type fails the call with nothing of its entries written. Read
-- before pruning, one may name a tag pruning then takes the key out of:
-- taking it out again does nothing.
local final, olds = {}, {}
for i = 1, n do final[KEYS[i]] = i end
for i = 1, n do
  if final[KEYS[i]] == i then olds[i] = redis.call("SMEMBERS", KEYS[n + i]) end
end
for p = 1, m do
  local j = 2 * n + 2 * p - 1
  prune(KEYS[j], KEYS[j + 1], forget, 2 * carrying[p])
end
local members, graced, ungraced, unexpiring = {}, {}, {}, {}
for p = 1, m do members[p], graced[p], ungraced[p] = {}, {}, {} end
at = 5 + m
for i = 1, n do
  local key, reversed = KEYS[i], KEYS[n + i]
  local value, px, grace = ARGV[at], tonumber(ARGV[at + 1]), ARGV[at + 2]
  local k = tonumber(ARGV[at + 3])
  local first = at + 4
  at = first + k
  if final[key] == i then
    local tags, tagged = {}, {}
    for t = 1, k do
      tags[t] = ARGV[4 + tonumber(ARGV[first + t - 1])]
      tagged[tags[t]] = true
    end
    local old = olds[i]
    for _, tag in ipairs(old) do
      if not tagged[tag] then
        redis.call("ZREM", index(tag), key)
        redis.call("HDEL", graces(tag), key)
      end
    end
    if #old > 0 then redis.call("DEL", reversed) end
    inSlices("SADD", reversed, tags)
    local score = "+inf"
    if px > 0 then
      redis.call("SET", key, value, "PX", px)
      redis.call("PEXPIRE", reversed, px)
      score = now + px
    else
      unexpiring[#unexpiring + 1] = key
      unexpiring[#unexpiring + 1] = value
    end
    for t = first, first + k - 1 do
      local p = tonumber(ARGV[t])
      local set = members[p]
      set[#set + 1] = score
      set[#set + 1] = key
      if grace ~= "0" then
        graced[p][#graced[p] + 1] = key
        graced[p][#graced[p] + 1] = grace
      else
        ungraced[p][#ungraced[p] + 1] = key
      end
    end
  end
end
inSlices("MSET", nil, unexpiring)
for p = 1, m do
  local j = 2 * n + 2 * p - 1
  inSlices("ZADD", KEYS[j], members[p])
  inSlices("HSET", KEYS[j + 1], graced[p])
  inSlices("HDEL", KEYS[j + 1], ungraced[p])
  expireWithLast(KEYS[j], KEYS[j + 1])
end
return n`;

/**
 * Deletes every key the indexes name, takes each out of its other tags,
 * then deletes the indexes. KEYS: an index and its grace hash per tag.
 * ARGV: "1" to return the keys, the namespace's prefix, the slot's hash
 * tag. Returns how many keys existed, then (if asked) the keys.
 */
export const INVALIDATE = `${NAMES}
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
export const EXPIRE = `${NOW}${EXPIRE_WITH_LAST}${NAMES}
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

// Moves a tagged entry's bookkeeping to the expiry its key was just given,
// `px` ms from now (Redis's clock, as WRITE scores it): its reverse index
// expires with it, its score in each of its tags' indexes becomes that
// expiry, and each index and grace hash expires with its last member. XX:
// a membership a rewrite with other tags took away stays away. The grace
// hash is left alone: an entry's grace is what expireTags leaves it, the
// last part of whatever expiry it has. Returns the tags, for a cluster's
// registries.
const FOLLOW = `local function follow(key, reversed, px, index, graces)
  ${NOW}
  redis.call("PEXPIRE", reversed, px)
  local tags = redis.call("SMEMBERS", reversed)
  for _, tag in ipairs(tags) do
    local set = index(tag)
    redis.call("ZADD", set, "XX", now + px, key)
    expireWithLast(set, graces(tag))
  end
  return tags
end
`;

// The key's own command, through pcall: an error of its (WRONGTYPE, say)
// is returned as Redis sent it, before anything else is done, without the
// script's name and line that an error raised inside a script carries (or,
// before Redis 7, in place of its code), so that the caller can report it
// as the command's own (\`Tags\` does).
const OWN = (command: string) =>
  `local own = redis.pcall(${command})
if type(own) == "table" and own.err then return own end
`;

// The part of TOUCH, TOUCH_EXPIRY and SET_EXPIRY after the key's own
// command: only a key with a reverse index (a tagged one) costs more than
// one EXISTS, and the clock is read only then. \`result\` is the reply, or
// with ARGV[4] "1" (in a cluster) the reply followed by the key's tags.
const KEPT_IN_STEP = `local tags = {}
if result and result ~= 0 and redis.call("EXISTS", KEYS[2]) == 1 then
  local index, graces = names(ARGV[2], ARGV[3])
  tags = follow(KEYS[1], KEYS[2], tonumber(ARGV[1]), index, graces)
end
if ARGV[4] ~= "1" then return result end
table.insert(tags, 1, result)
return tags`;

/**
 * A get that resets its key's expiry (\`GETEX … PX\`), keeping a tagged
 * entry's bookkeeping in step (FOLLOW). KEYS: the key and its reverse
 * index. ARGV: the expiry in ms, the namespace's prefix, the slot's hash
 * tag, "1" to have the key's tags returned. Returns the value (nil when
 * missing), or with "1" an array of it and the tags; GETEX's own error
 * reply as it is.
 */
export const TOUCH = `${EXPIRE_WITH_LAST}${NAMES}${FOLLOW}
${OWN(`"GETEX", KEYS[1], "PX", ARGV[1]`)}local result = own
${KEPT_IN_STEP}`;

/**
 * The expiry part of a touch on a client that reads the value with a GET
 * of its own (Bun's getBuffer), sent with it: GETEX, whose value stays
 * here, so that a key of another type fails as a touch does, its expiry
 * untouched (a PEXPIRE would set it). KEYS and ARGV as TOUCH's. Returns 1
 * when the key existed, else 0, or with "1" an array of that and the tags;
 * GETEX's own error reply as it is.
 */
export const TOUCH_EXPIRY = `${EXPIRE_WITH_LAST}${NAMES}${FOLLOW}
${OWN(`"GETEX", KEYS[1], "PX", ARGV[1]`)}local result = own and 1 or 0
${KEPT_IN_STEP}`;

/**
 * \`Cache.expire\`: PEXPIRE, keeping a tagged entry's bookkeeping in step.
 * KEYS and ARGV as TOUCH's. Returns 1 when the key existed, else 0, or
 * with "1" an array of that and the tags; PEXPIRE's own error reply as it
 * is.
 */
export const SET_EXPIRY = `${EXPIRE_WITH_LAST}${NAMES}${FOLLOW}
${OWN(`"PEXPIRE", KEYS[1], ARGV[1]`)}local result = own
${KEPT_IN_STEP}`;

/**
 * Notes that a tag has indexes in some slots of a cluster. KEYS[1]: the
 * tag's registry. ARGV: the entries' Redis expiry in ms (0 for none), then
 * the slots' names.
 */
export const REGISTER = `${NOW}${EXPIRE_WITH_LAST}
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
export class Script {
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

  /**
   * Runs the script on `keys` with `args`. With `asBytes` its bulk
   * strings come back as bytes (`Driver.sendBytes`, which the driver must
   * have), else as text.
   */
  async send(
    driver: Driver,
    keys: readonly string[],
    args: readonly RedisArgument[],
    asBytes = false,
  ): Promise<unknown> {
    const send = (command: RedisArgument[]) =>
      asBytes ? driver.sendBytes!(command) : driver.send(command);
    const rest = [String(keys.length), ...keys, ...args];
    if (!this.#loaded) {
      const reply = await send(["EVAL", this.#body, ...rest]);
      this.#loaded = true;
      return reply;
    }
    try {
      return await send(["EVALSHA", this.#sha, ...rest]);
    } catch (error) {
      if (!(error instanceof CommandError && error.code === "NOSCRIPT")) {
        throw error;
      }
      return await send(["EVAL", this.#body, ...rest]);
    }
  }
}
