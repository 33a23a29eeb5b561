// Tags: groups of entries removed (or made stale) at once, in every process.
// A tagged write adds its key to each tag's index in the same script as the
// value (one atomic step per slot), and the tagged writes of a tick share
// that script, whatever their tags (`writes.ts`); invalidateTags deletes the
// keys an index names and the index, in one script per slot. Reads consult nothing: an
// invalidated entry is gone from Redis, and Redis's tracking pushes drop it
// from every process's L1, so an untagged or tagged get costs what it did.
//
// An index is a sorted set of keys scored by when each expires in Redis
// (+inf for never), so every tags' script first drops the members that have
// expired, checks two others at random for a delete, and sets the index to
// expire with its last member. In a cluster there is one index per (tag,
// slot), named with a hash tag that maps to the slot, and a registry per tag
// of the slots it has indexes in, written before the value: a registry entry
// for a slot with nothing left is harmless, one missing would lose entries.
//
// Each tagged key also has a reverse index, a set of its tags, in its own
// slot and expiring with it, so whatever removes an entry (or a tagged
// write that changes its tags) takes it out of its other tags' indexes too.
//
// What changes a key's expiry without writing it, `expire` and a get's
// `touch`, goes through here too, as one script in the key's slot that
// moves a tagged key's scores and its bookkeeping's expiry with it: an
// index pruned of an entry, or gone before it, would let an invalidation
// miss it. An untagged key costs the script one EXISTS (of its reverse
// index) more than the bare command.

import type { Driver } from "../_drivers/driver.ts";
import { groupBySlot, keySlot } from "../_drivers/key_slot.ts";
import type { L1 } from "../_l1/l1.ts";
import { CacheError, CommandError } from "../errors.ts";
import type { RedisArgument } from "../redis_client.ts";
import type { Runner } from "./runner.ts";
import { asUint8Array } from "../_drivers/bytes.ts";
import { refusesScripts } from "../_history/recorded_store.ts";
import {
  EXPIRE,
  INVALIDATE,
  REGISTER,
  Script,
  SET_EXPIRY,
  TOUCH,
  TOUCH_EXPIRY,
  WRITE,
} from "./tag_scripts.ts";
import { TagKeys } from "./tag_keys.ts";
import { MAX_KEY_LENGTH } from "./validate.ts";

// Errors Redis gives a script it refused to run (or that did not reach it):
// sending its writes again one by one would fail each the same way.
const REFUSED = new Set([
  "NOSCRIPT",
  "NOPERM",
  "NOAUTH",
  "OOM",
  "BUSY",
  "LOADING",
  "READONLY",
  "MASTERDOWN",
  "MISCONF",
  "MOVED",
  "ASK",
  "TRYAGAIN",
  "CLUSTERDOWN",
  "CROSSSLOT",
]);

// Whether a script failed while running: a reply of Redis's, not a refusal.
const failedRunning = (error: unknown) =>
  error instanceof CommandError && !REFUSED.has(error.code);

const asError = (error: unknown) =>
  error instanceof Error ? error : new CacheError(String(error));

/** How a write is tagged: its tags, and its grace in ms (0 for none). */
export interface Tagging {
  readonly tags: readonly string[];
  /** Of the key's Redis expiry, the part after it is fresh: what `expireTags` leaves it. */
  readonly grace: number;
}

/** A value to write with its tags. */
export interface TaggedWrite {
  readonly redisKey: string;
  readonly value: RedisArgument;
  /** Its Redis expiry in ms, `undefined` for none. */
  readonly ttl: number | undefined;
  readonly tagging: Tagging;
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

/** One cache's tags. */
export class Tags {
  readonly #runner: Runner;
  readonly #l1: L1 | undefined;
  readonly #keys: TagKeys;
  // Per cache, since whether a server has a script is per server.
  readonly #write = new Script(WRITE);
  readonly #invalidate = new Script(INVALIDATE);
  readonly #expire = new Script(EXPIRE);
  readonly #register = new Script(REGISTER);
  readonly #touch = new Script(TOUCH);
  readonly #setExpiry = new Script(SET_EXPIRY);
  readonly #touchExpiry = new Script(TOUCH_EXPIRY);
  // Set once Redis refuses this user scripts: see #refused.
  #scriptsRefused = false;
  #earlierWrites: () => Promise<unknown> | undefined = () => undefined;

  constructor(prefix: string, runner: Runner, l1: L1 | undefined) {
    this.#keys = new TagKeys(prefix);
    this.#runner = runner;
    this.#l1 = l1;
  }

  /**
   * Has invalidateTags and expireTags first send the writes made before
   * them (`Writes`' batch) and wait for those not yet sent in full.
   */
  waitFor(earlierWrites: () => Promise<unknown> | undefined): void {
    this.#earlierWrites = earlierWrites;
  }

  /**
   * Writes values with their tag memberships, each with its own tags and
   * expiry: one script for them all (in a cluster one per slot, after the
   * tags' registries). Entries with different tags share a call rather than
   * one a tagging: it pays for each tag's pruning and expiry once, and the
   * call's own cost (most of a lone write's server time) once.
   */
  async write(
    driver: Driver,
    writes: readonly TaggedWrite[],
  ): Promise<void> {
    if (driver.cluster === undefined) {
      await this.#send(driver, writes, undefined);
      return;
    }
    const { groups, names } = await this.#registerSlots(driver, writes);
    await Promise.all(
      groups.map((group, i) =>
        this.#send(driver, group.map((position) => writes[position]), names[i])
      ),
    );
  }

  /**
   * As {@linkcode write}, for writes of different callers: each write's
   * outcome, `undefined` when written. A script that fails while running
   * (a reverse index of the wrong type) is sent again one write a script,
   * so that only the bad write fails (the script's steps are idempotent);
   * in a cluster each slot's writes fail or not on their own.
   */
  async writeSettled(
    driver: Driver,
    writes: readonly TaggedWrite[],
  ): Promise<(Error | undefined)[]> {
    const outcomes: (Error | undefined)[] = new Array(writes.length);
    let groups: number[][] = [writes.map((_, i) => i)];
    let names: (string | undefined)[] = [undefined];
    try {
      if (driver.cluster !== undefined) {
        ({ groups, names } = await this.#registerSlots(driver, writes));
      }
    } catch (error) {
      return outcomes.fill(asError(error));
    }
    await Promise.all(groups.map(async (group, i) => {
      const own = group.map((position) => writes[position]);
      try {
        await this.#send(driver, own, names[i]);
        return;
      } catch (error) {
        if (own.length === 1 || !failedRunning(error)) {
          for (const position of group) outcomes[position] = asError(error);
          return;
        }
      }
      // In order, on one connection: a key given twice ends as its last.
      await Promise.all(
        group.map((position) =>
          this.#send(driver, [writes[position]], names[i]).then(
            () => {},
            (error) => outcomes[position] = asError(error),
          )
        ),
      );
    }));
    return outcomes;
  }

  // In a cluster: the writes' slot groups and their slots' names, once each
  // tag's registry names those slots.
  async #registerSlots(
    driver: Driver,
    writes: readonly TaggedWrite[],
  ): Promise<{ groups: number[][]; names: string[] }> {
    const groups = groupBySlot(writes.map((write) => write.redisKey));
    const names = groups.map((group) => {
      const first = writes[group[0]];
      const slot = keySlot(first.redisKey);
      const name = this.#keys.slotName(slot);
      const index = this.#keys.index(first.tagging.tags.slice(0, 1), name)[0];
      const reverse = this.#keys.reverse(first.redisKey, name);
      if (keySlot(index) !== slot || keySlot(reverse) !== slot) {
        throw new RangeError(
          "tags in a cluster need a namespace without an empty hash tag ({})",
        );
      }
      return name;
    });
    // Each tag's registry names the slots it has entries in, and lives as
    // long as the longest-lived of them (0: one that never expires).
    const registries = new Map<string, { px: number; names: Set<string> }>();
    groups.forEach((group, i) => {
      for (const position of group) {
        const { ttl, tagging } = writes[position];
        const px = ttl ?? 0;
        for (const tag of tagging.tags) {
          const registry = registries.get(tag);
          if (registry === undefined) {
            registries.set(tag, { px, names: new Set([names[i]]) });
            continue;
          }
          if (registry.px !== 0 && (px === 0 || px > registry.px)) {
            registry.px = px;
          }
          registry.names.add(names[i]);
        }
      }
    });
    await Promise.all([
      this.#register.prepare(driver),
      this.#write.prepare(driver),
    ]);
    await Promise.all(
      [...registries].map(([tag, { px, names }]) =>
        this.#register.send(driver, [this.#keys.registry(tag)], [
          String(px),
          ...names,
        ])
      ),
    );
    return { groups, names };
  }

  // One WRITE script: its tags each once, and each entry's tags as their
  // positions among them. Entries of one tagging (a storeMany) share one
  // list of positions.
  #send(
    driver: Driver,
    writes: readonly TaggedWrite[],
    slot: string | undefined,
  ): Promise<unknown> {
    const tags: string[] = [];
    const positions = new Map<string, string>();
    const entries: RedisArgument[] = [];
    let last: Tagging | undefined;
    let lastPositions: string[] = [];
    for (const { value, ttl, tagging } of writes) {
      if (tagging !== last) {
        last = tagging;
        lastPositions = tagging.tags.map((tag) => {
          let position = positions.get(tag);
          if (position === undefined) {
            tags.push(tag);
            positions.set(tag, position = String(tags.length));
          }
          return position;
        });
      }
      entries.push(
        value,
        String(ttl ?? 0),
        String(tagging.grace),
        String(lastPositions.length),
      );
      // Not spread into push: an entry may have more tags than a call takes
      // arguments.
      for (const position of lastPositions) entries.push(position);
    }
    const keys = writes.map((write) => write.redisKey);
    for (const write of writes) {
      keys.push(this.#keys.reverse(write.redisKey, slot));
    }
    return this.#write.send(driver, [
      ...keys,
      ...this.#keys.index(tags, slot),
    ], [
      String(writes.length),
      ...this.#keys.names(slot),
      String(tags.length),
      ...tags,
      ...entries,
    ]);
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
    const earlier = this.#earlierWrites();
    if (earlier !== undefined) await earlier;
    const wantKeys = this.#l1 === undefined ? "0" : "1";
    const replies = await this.#runner.run("EVALSHA", async (driver) => {
      if (driver.cluster === undefined) {
        return [
          await script.send(driver, this.#keys.index(tags, undefined), [
            wantKeys,
            ...this.#keys.names(undefined),
          ]),
        ];
      }
      const registries = await Promise.all(
        tags.map((tag) =>
          driver.send(["ZRANGE", this.#keys.registry(tag), "0", "-1"])
        ),
      );
      const names = new Set(
        registries.flatMap((names) => (names as unknown[]).map(String)),
      );
      await script.prepare(driver);
      return Promise.all(
        [...names].map((name) =>
          script.send(driver, this.#keys.index(tags, name), [
            wantKeys,
            ...this.#keys.names(name),
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

  /**
   * A get with `touch`: the value under `redisKey`, its expiry reset to
   * `ms` and a tagged entry's bookkeeping moved with it, in one script. On
   * a client without `sendBytes` (Bun's, whose one binary-safe read is
   * getBuffer) a GET goes with TOUCH_EXPIRY's script, in the same round
   * trip.
   */
  touch(
    driver: Driver,
    redisKey: string,
    ms: number,
  ): Promise<Uint8Array | null> {
    if (driver.sendBytes === undefined) {
      return this.#touchApart(driver, redisKey, ms);
    }
    return this.#kept(this.#touch, driver, redisKey, ms).then(asValue);
  }

  // Bun's touch: the GET and the expiry's script sent together, both
  // awaited. The script's error comes first: it is the touch's own
  // (GETEX's WRONGTYPE), where the GET's names a command the caller did
  // not ask for.
  async #touchApart(
    driver: Driver,
    redisKey: string,
    ms: number,
  ): Promise<Uint8Array | null> {
    const [value, expiry] = await Promise.allSettled([
      driver.getBytes(redisKey),
      this.#kept(this.#touchExpiry, driver, redisKey, ms),
    ]);
    if (expiry.status === "rejected") throw expiry.reason;
    if (value.status === "rejected") throw asOwn(value.reason, "GETEX");
    return value.value;
  }

  /**
   * `Cache.expire`: whether the key existed and now expires in `ms`, its
   * tags' bookkeeping moved with it. `ms` is the key's whole Redis expiry,
   * as `ttl()` reads it and as Redis and redis-py see it: for an entry
   * written with grace G, its last G ms are its stale part (a write stores
   * ttl + G), so `expire(key, ttl + G)` gives it what a write with `ttl`
   * would. A grace is not kept beside an untagged entry, so a `ms` meaning
   * the fresh part only would make expire mean one thing for tagged entries
   * and another for the rest; the grace hash is left as it is, and
   * expireTags still leaves the entry its grace (or less, if less is left).
   */
  async setExpiry(
    driver: Driver,
    redisKey: string,
    ms: number,
  ): Promise<boolean> {
    return Number(
      await this.#kept(this.#setExpiry, driver, redisKey, ms),
    ) === 1;
  }

  // TOUCH, TOUCH_EXPIRY or SET_EXPIRY on a key and its reverse index; in a
  // cluster, then the registries of the tags it returns, which must not
  // expire before the key: a failure there fails the call, the key's own
  // expiry already set (its registries' old expiry, a minute past the
  // key's old one, still covers the key that long). For a user who may not
  // run scripts, the bare command.
  #kept(
    script: Script,
    driver: Driver,
    redisKey: string,
    ms: number,
  ): Promise<unknown> {
    const px = String(ms);
    if (this.#scriptsRefused) return this.#bare(script, driver, redisKey, px);
    const refused = (error: unknown) =>
      this.#refused(error, script, driver, redisKey, px);
    const asBytes = script === this.#touch;
    if (driver.cluster === undefined) {
      return script.send(
        driver,
        [
          redisKey,
          this.#keys.reverse(redisKey, undefined),
        ],
        [px, ...this.#keys.names(undefined), "0"],
        asBytes,
      ).then(undefined, refused);
    }
    const slot = keySlot(redisKey);
    const name = this.#keys.slotName(slot);
    const reverse = this.#keys.reverse(redisKey, name);
    if (keySlot(reverse) !== slot) {
      // A namespace with an empty hash tag has no tags in a cluster
      // (writes refuse them), and its reverse index would be in another slot.
      return this.#bare(script, driver, redisKey, px);
    }
    return script.send(driver, [redisKey, reverse], [
      px,
      ...this.#keys.names(name),
      "1",
    ], asBytes).then(async (reply) => {
      const [result, ...tags] = reply as unknown[];
      if (tags.length > 0) {
        await this.#register.prepare(driver);
        await Promise.all(
          tags.map((tag) =>
            this.#register.send(driver, [this.#keys.registry(asText(tag))], [
              px,
              name,
            ])
          ),
        );
      }
      return result;
    }, refused);
  }

  // A failed expiry script. Refused because this user may not run scripts
  // (an ACL without @scripting): the bare command, now and from now on, as
  // before tags followed expiries. Such a user cannot have written tagged
  // entries (tag writes are scripts), so there is nothing of theirs to keep
  // in step. Any other refusal stays an error: a NOPERM for a key out of
  // the user's patterns (the reverse index, say) must not let an entry's
  // expiry move without its bookkeeping. The key's own command's error,
  // returned by the script as Redis sent it, is that command's.
  #refused(
    error: unknown,
    script: Script,
    driver: Driver,
    redisKey: string,
    px: string,
  ): Promise<unknown> {
    if (refusesScripts(error)) {
      this.#scriptsRefused = true;
      return this.#bare(script, driver, redisKey, px);
    }
    throw asOwn(error, script === this.#setExpiry ? "PEXPIRE" : "GETEX");
  }

  // The command an expiry script wraps, sent alone: GETEX for TOUCH, else
  // PEXPIRE (TOUCH_EXPIRY's value is read by the GET beside it).
  #bare(
    script: Script,
    driver: Driver,
    redisKey: string,
    px: string,
  ): Promise<unknown> {
    return script === this.#touch
      ? driver.sendBytes!(["GETEX", redisKey, "PX", px])
      : driver.send(["PEXPIRE", redisKey, px]);
  }
}

// A touch's value reply: a client's bytes (a Buffer, say) as a plain
// Uint8Array, or null. Anything else (text, from a client that answered
// text where bytes were asked for) is refused, as getBytes refuses it:
// never an empty or re-encoded value.
function asValue(reply: unknown): Uint8Array | null {
  if (reply === null || reply === undefined) return null;
  if (reply instanceof Uint8Array) return asUint8Array(reply);
  throw new TypeError(
    `GETEX: the client answered ${typeof reply} where bytes were asked for`,
  );
}

// An expiry script's error that is its key's own command's, which the
// script returned as Redis sent it (no script's name or line in it, and
// not a refusal of the script), named after that command; anything else
// as it is.
function asOwn(error: unknown, command: string): unknown {
  if (
    !(error instanceof CommandError) || REFUSED.has(error.code) ||
    /script/i.test(error.message)
  ) {
    return error;
  }
  const reply = error.message.slice(error.message.indexOf(": ") + 2);
  return new CommandError(command, reply, { cause: error });
}

const decoder = new TextDecoder();

// A tag from a script's reply, read as bytes or as text.
function asText(reply: unknown): string {
  return reply instanceof Uint8Array ? decoder.decode(reply) : String(reply);
}
