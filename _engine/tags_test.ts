// Soft expiry through the engine, with the grace a read-through write
// records (getOrStore's `grace` option comes with serve-stale): expireTags
// lowers each entry's Redis expiry to its own grace, once, and the entry
// stays invalidatable; an entry without grace is removed.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createClient } from "redis";
import { CommandClientDriver } from "../_drivers/command_client.ts";
import type { Driver } from "../_drivers/driver.ts";
import { redisForThisFile } from "../_testing/redis_server.ts";
import { waitFor } from "../_testing/wait.ts";
import { type Engine, openEngine } from "./engine.ts";
import { checkTags, type TaggedWrite, taggingFor } from "./tags.ts";

const { server, raw } = await redisForThisFile();

async function engine(namespace: string): Promise<Engine> {
  const opened = await openEngine({
    url: server.url(),
    namespace,
    history: false,
  });
  after(() => opened.close());
  return opened;
}

// What a read-through write of `value` with `ttl` and `grace` stores: the
// bytes with Redis expiry ttl + grace, and the grace in the tags' bookkeeping.
function writeWithGrace(
  cache: Engine,
  key: string,
  value: string,
  ttl: number,
  grace: number,
  tags: string[],
): Promise<unknown> {
  return cache.writes.write(
    cache.prefix + key,
    value,
    ttl + grace,
    0,
    {},
    undefined,
    taggingFor({ tags }, grace),
  );
}

const pttl = async (key: string) => Number(await raw.send("PTTL", key));

test("expireTags leaves each entry its own grace, once; a plain get still reads it until then", async () => {
  const cache = await engine("grace");
  await writeWithGrace(cache, "long", "L", 60_000, 3_000, ["soft"]);
  await writeWithGrace(cache, "short", "S", 60_000, 1_000, ["soft", "other"]);
  await writeWithGrace(cache, "none", "N", 60_000, 0, ["soft"]);
  // Already within its grace: nothing to make stale.
  await writeWithGrace(cache, "stale", "X", 1, 30_000, ["soft"]);
  await waitFor(
    async () => await pttl("grace:stale") <= 30_000,
    5_000,
    "the stale entry's fresh part did not pass",
  );
  assert.ok(await pttl("grace:long") > 60_000);

  assert.equal(await cache.tags.expire(["soft"]), 3);
  const long = await pttl("grace:long");
  const short = await pttl("grace:short");
  assert.ok(long > 0 && long <= 3_000, `long: ${long}`);
  assert.ok(short > 0 && short <= 1_000, `short: ${short}`);
  // A stale entry keeps its tags; its reverse index expires with it.
  const reverse = await pttl("grace:__tag:k:long");
  assert.ok(reverse > 0 && reverse <= 3_000, `reverse index: ${reverse}`);
  assert.equal(await raw.send("EXISTS", "grace:none"), 0);
  assert.ok(await pttl("grace:stale") > 3_000);
  assert.equal(String(await cache.reads.get("long", undefined, {})), "76");

  // A second expiry changes nothing; the entries stay in their tags.
  assert.equal(await cache.tags.expire(["soft", "other"]), 0);
  assert.ok(await pttl("grace:long") <= long);
  assert.equal(await cache.tags.invalidate(["other"]), 1);
  assert.equal(await raw.send("EXISTS", "grace:short"), 0);
  assert.equal(await cache.tags.invalidate(["soft"]), 2);
  assert.deepEqual(await raw.send("KEYS", "grace:*"), []);
});

test("once an expired entry's grace ends, it is gone, and getOrStore loads it again", async () => {
  const cache = await engine("reload");
  await writeWithGrace(cache, "page", "old", 60_000, 200, ["pages"]);
  assert.equal(await cache.tags.expire(["pages"]), 1);
  assert.equal(
    String(await cache.reads.get("page", undefined, {})),
    "111,108,100",
  );
  await waitFor(
    async () => await raw.send("EXISTS", "reload:page") === 0,
    5_000,
    "the entry outlived its grace",
  );
  let loads = 0;
  const bytes = await cache.readThrough.load(
    "page",
    () => `new ${++loads}`,
    String,
    () => null,
    { tags: ["pages"] },
  );
  assert.equal(new TextDecoder().decode(bytes!), "new 1");
  assert.equal(loads, 1);
  // Its bookkeeping went with it, but for the new entry.
  assert.deepEqual(
    (await raw.send("KEYS", "reload:__tag:*") as unknown[]).map(String).sort(),
    ["reload:__tag:i:pages", "reload:__tag:k:page"],
  );
});

test("a tagged overwrite takes the key out of the tags it no longer has, and its reverse index takes the new expiry", async () => {
  const cache = await engine("overwrite");
  const write = (ttl: number | undefined, tags: string[]) =>
    cache.writes.write(
      "overwrite:k",
      tags.join(),
      ttl,
      0,
      {},
      undefined,
      taggingFor({ tags }),
    );
  const tagsOf = async () =>
    ((await raw.send("SMEMBERS", "overwrite:__tag:k:k")) as unknown[])
      .map(String).sort();
  await write(60_000, ["old", "both"]);
  assert.ok(await pttl("overwrite:__tag:k:k") > 59_000);
  await write(undefined, ["new", "both"]);
  assert.deepEqual(await tagsOf(), ["both", "new"]);
  // No expiry for the value, none for its reverse index.
  assert.equal(await pttl("overwrite:__tag:k:k"), -1);
  assert.equal(await raw.send("EXISTS", "overwrite:__tag:i:old"), 0);
  assert.equal(await cache.tags.invalidate(["old"]), 0);
  assert.equal(String(await raw.send("GET", "overwrite:k")), "new,both");
  await write(30_000, ["both"]);
  assert.deepEqual(await tagsOf(), ["both"]);
  const left = await pttl("overwrite:__tag:k:k");
  assert.ok(left > 29_000 && left <= 30_000, `reverse index PTTL ${left}`);
  assert.equal(await cache.tags.invalidate(["new"]), 0);
  assert.equal(await cache.tags.invalidate(["both"]), 1);
  assert.deepEqual(await raw.send("KEYS", "overwrite:*"), []);
});

// A sorted set's or hash's members, or a set's, sorted; [] when it is gone.
async function membersOf(key: string): Promise<string[]> {
  const command = {
    zset: ["ZRANGE", key, "0", "-1"],
    hash: ["HKEYS", key],
    set: ["SMEMBERS", key],
  }[String(await raw.send("TYPE", key))];
  if (command === undefined) return [];
  return ((await raw.send(...command)) as unknown[]).map(String).sort();
}

test("one tags' script writes entries each with its own tags, expiry and grace, and a key given twice ends as its last entry says, as one write after the other would", async () => {
  const cache = await engine("one-call");
  const driver = cache.runner.driver!;
  const entry = (
    key: string,
    value: string,
    ttl: number | undefined,
    tags: string[],
    grace = 0,
  ): TaggedWrite => ({
    redisKey: `one-call:${key}`,
    value,
    ttl,
    tagging: { tags, grace },
  });
  await cache.tags.write(driver, [
    entry("old", "o1", undefined, ["gone", "kept"], 1_000),
  ]);
  await cache.tags.write(driver, [
    entry("a", "A", 60_000, ["x"]),
    entry("b", "B", undefined, ["x", "y"], 5_000),
    entry("old", "o2", 30_000, ["kept", "y"]),
    entry("twice", "first", undefined, ["x", "first"], 2_000),
    entry("twice", "last", 60_000, ["y"]),
  ]);
  const values = await Promise.all(
    ["a", "b", "old", "twice"].map((key) => raw.send("GET", `one-call:${key}`)),
  );
  assert.deepEqual(values.map(String), ["A", "B", "o2", "last"]);
  const tag = (kind: string, name: string) => `one-call:__tag:${kind}:${name}`;
  const key = (name: string) => `one-call:${name}`;
  // Each index holds exactly its keys; the tags no entry has now are gone.
  assert.deepEqual(await membersOf(tag("i", "x")), [key("a"), key("b")]);
  assert.deepEqual(
    await membersOf(tag("i", "y")),
    [key("b"), key("old"), key("twice")],
  );
  assert.deepEqual(await membersOf(tag("i", "kept")), [key("old")]);
  for (const gone of ["gone", "first"]) {
    assert.equal(await raw.send("EXISTS", tag("i", gone), tag("g", gone)), 0);
  }
  // Graces: b's in both its tags; old's went with its new grace of 0.
  assert.deepEqual(await membersOf(tag("g", "x")), [key("b")]);
  assert.deepEqual(await membersOf(tag("g", "y")), [key("b")]);
  assert.equal(String(await raw.send("HGET", tag("g", "y"), key("b"))), "5000");
  assert.equal(await raw.send("EXISTS", tag("g", "kept")), 0);
  // Reverse indexes: each key's tags, expiring with it.
  assert.deepEqual(await membersOf(tag("k", "a")), ["x"]);
  assert.deepEqual(await membersOf(tag("k", "b")), ["x", "y"]);
  assert.deepEqual(await membersOf(tag("k", "old")), ["kept", "y"]);
  assert.deepEqual(await membersOf(tag("k", "twice")), ["y"]);
  assert.equal(await pttl(tag("k", "b")), -1);
  const old = await pttl(tag("k", "old"));
  assert.ok(old > 29_000 && old <= 30_000, `old's reverse index: ${old}`);
  assert.ok(await pttl(key("twice")) > 59_000);
  assert.ok(await pttl(tag("k", "twice")) > 59_000);
  // Scores: each member's own expiry, +inf for none (RESP2 says "inf").
  const score = async (member: string) => {
    const reply = String(await raw.send("ZSCORE", tag("i", "y"), key(member)));
    return reply === "inf" ? Infinity : Number(reply);
  };
  assert.equal(await score("b"), Infinity);
  const twice = await score("twice");
  assert.ok(twice - Date.now() > 59_000, `twice's score: ${twice}`);

  assert.equal(await cache.tags.invalidate(["x"]), 2);
  assert.deepEqual(
    await membersOf(tag("i", "y")),
    [key("old"), key("twice")],
  );
  assert.equal(await cache.tags.invalidate(["y"]), 2);
  assert.deepEqual(await raw.send("KEYS", "one-call:*"), []);
});

test("a key written twice in one tick ends as its last write says, tagged or not, as one write after the other would leave it", async () => {
  const cache = await engine("twice");
  const write = (key: string, value: string, tags?: string[]) =>
    cache.writes.write(
      `twice:${key}`,
      value,
      undefined,
      0,
      {},
      undefined,
      tags === undefined ? undefined : taggingFor({ tags }),
    );
  await Promise.all([
    write("retagged", "first", ["a", "first"]),
    write("retagged", "last", ["b"]),
    write("untagged last", "tagged", ["a"]),
    write("untagged last", "plain"),
    write("tagged last", "plain"),
    write("tagged last", "tagged", ["b"]),
  ]);
  const get = async (key: string) => String(await raw.send("GET", key));
  assert.equal(await get("twice:retagged"), "last");
  assert.equal(await get("twice:untagged last"), "plain");
  assert.equal(await get("twice:tagged last"), "tagged");
  assert.deepEqual(await membersOf("twice:__tag:k:retagged"), ["b"]);
  assert.deepEqual(await membersOf("twice:__tag:k:tagged last"), ["b"]);
  assert.equal(await raw.send("EXISTS", "twice:__tag:i:first"), 0);
  assert.deepEqual(await membersOf("twice:__tag:i:b"), [
    "twice:retagged",
    "twice:tagged last",
  ]);
  // An untagged write leaves a key's memberships, as it always has.
  assert.deepEqual(await membersOf("twice:__tag:i:a"), ["twice:untagged last"]);
});

test("tags are checked like keys: strings of 1 to 1 024 characters, well formed; repeats count once", () => {
  assert.deepEqual(checkTags(["a", "b", "a"]), ["a", "b"]);
  assert.equal(taggingFor({}), undefined);
  assert.equal(taggingFor({ tags: [] }), undefined);
  assert.deepEqual(taggingFor({ tags: ["a", "a"] }, 5), {
    tags: ["a"],
    grace: 5,
  });
  assert.throws(() => taggingFor({ tags: "a" }), TypeError);
  assert.throws(() => checkTags([""]), RangeError);
  assert.throws(() => checkTags(["x".repeat(1_025)]), RangeError);
  assert.ok(checkTags(["x".repeat(1_024)]));
  assert.throws(() => checkTags(["\udc00"]), TypeError);
  assert.throws(() => checkTags([7]), TypeError);
});

test("invalidateTags and expireTags called in the tick of a tagged write go after it, as when each write went alone", async () => {
  const cache = await engine("overtake");
  const tagging = taggingFor({ tags: ["t"] });
  const written = cache.writes.write(
    "overtake:a",
    "A",
    undefined,
    0,
    {},
    undefined,
    tagging,
  );
  assert.equal(await cache.tags.invalidate(["t"]), 1);
  await written;
  assert.equal(await raw.send("EXISTS", "overtake:a"), 0);
  const again = cache.writes.write(
    "overtake:b",
    "B",
    undefined,
    0,
    {},
    undefined,
    tagging,
  );
  assert.equal(await cache.tags.expire(["t"]), 1);
  await again;
  assert.equal(await raw.send("EXISTS", "overtake:b"), 0);
});

test("a writeEach or writeTagged of a key in the tick of its batched tagged write goes after it: the last value wins", async () => {
  const cache = await engine("after-batch");
  const tagging = taggingFor({ tags: ["t"] });
  const first = cache.writes.write(
    "after-batch:a",
    "first",
    undefined,
    0,
    {},
    undefined,
    tagging,
  );
  await Promise.all([
    first,
    cache.writes.writeEach([["SET", "after-batch:a", "second"]], 1, {}),
  ]);
  assert.equal(String(await raw.send("GET", "after-batch:a")), "second");
  const batched = cache.writes.write(
    "after-batch:b",
    "first",
    undefined,
    0,
    {},
    undefined,
    tagging,
  );
  await Promise.all([
    batched,
    cache.writes.writeTagged(
      ["after-batch:b"],
      ["second"],
      undefined,
      tagging!,
      0,
      {},
    ),
  ]);
  assert.equal(String(await raw.send("GET", "after-batch:b")), "second");
});

test("a tags' script reads every reverse index before it writes: one of the wrong type fails it with none of its entries written", async () => {
  const cache = await engine("typed");
  await raw.send("SET", "typed:__tag:k:bad", "not a set");
  const tagging = { tags: ["t"], grace: 0 };
  await assert.rejects(
    cache.tags.write(cache.runner.driver!, [
      { redisKey: "typed:a", value: "A", ttl: 60_000, tagging },
      { redisKey: "typed:b", value: "B", ttl: undefined, tagging },
      { redisKey: "typed:bad", value: "X", ttl: undefined, tagging },
    ]),
    (error: Error & { code?: string }) => error.code === "WRONGTYPE",
  );
  assert.deepEqual(
    (await raw.send("KEYS", "typed:*") as unknown[]).map(String),
    ["typed:__tag:k:bad"],
  );
});

test("a tagged write of the wrong type in a tick's batch fails only its own caller: the others are written whole", async () => {
  const cache = await engine("one-bad");
  await raw.send("SET", "one-bad:__tag:k:bad", "not a set");
  const tagging = taggingFor({ tags: ["t"] });
  const write = (key: string, ttl: number | undefined) =>
    cache.writes.write(`one-bad:${key}`, key, ttl, 0, {}, undefined, tagging);
  const outcomes = await Promise.allSettled([
    write("a", 60_000),
    write("b", undefined),
    write("bad", undefined),
    write("c", undefined),
  ]);
  assert.deepEqual(outcomes.map(({ status }) => status), [
    "fulfilled",
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  assert.equal(
    ((outcomes[2] as PromiseRejectedResult).reason as { code: string }).code,
    "WRONGTYPE",
  );
  assert.deepEqual(await membersOf("one-bad:__tag:i:t"), [
    "one-bad:a",
    "one-bad:b",
    "one-bad:c",
  ]);
  assert.equal(String(await raw.send("GET", "one-bad:b")), "b");
  assert.equal(await raw.send("EXISTS", "one-bad:bad"), 0);
  assert.ok(await pttl("one-bad:__tag:k:a") > 59_000);
  assert.equal(await cache.tags.invalidate(["t"]), 3);
});

test("expire sets a graced tagged entry's whole Redis expiry, grace included: its grace stays recorded, and expireTags later still leaves it its grace", async () => {
  const cache = await engine("grace-expire");
  await writeWithGrace(cache, "page", "P", 200, 1_000, ["pages"]);
  const oldExpiry = Number(await raw.send("PEXPIRETIME", "grace-expire:page"));
  // Fresh for 60 s more, then stale for its grace, as a write with that
  // ttl and grace would store it.
  assert.equal(await cache.keyspace.expire("page", 61_000), true);
  const left = await pttl("grace-expire:page");
  assert.ok(left > 60_000 && left <= 61_000, `PTTL ${left}`);
  assert.equal(
    String(
      await raw.send("HGET", "grace-expire:__tag:g:pages", "grace-expire:page"),
    ),
    "1000",
  );
  for (const name of ["i:pages", "g:pages", "k:page"]) {
    const own = await pttl(`grace-expire:__tag:${name}`);
    assert.ok(own > 60_000 && own <= 61_000, `${name}: PTTL ${own}`);
  }
  await waitFor(
    async () => {
      const [seconds, micros] = (await raw.send("TIME") as unknown[]).map(
        Number,
      );
      return seconds * 1000 + micros / 1000 > oldExpiry + 100;
    },
    5_000,
    "the entry's old expiry did not pass",
  );
  assert.equal(await cache.tags.expire(["pages"]), 1);
  const stale = await pttl("grace-expire:page");
  assert.ok(stale > 0 && stale <= 1_000, `stale PTTL ${stale}`);
  assert.equal(await cache.tags.invalidate(["pages"]), 1);
  assert.deepEqual(await raw.send("KEYS", "grace-expire:*"), []);
});

test("a touch refuses a value reply that is not bytes, never an empty value; a sendCommand client answering text gets its text's bytes", async () => {
  const cache = await engine("text-touch");
  await raw.send("SET", "text-touch:k", "value");
  const client = createClient({ url: server.url() });
  client.on("error", () => {});
  await client.connect();
  after(() => client.destroy());
  // A user's sendCommand as node-redis answers by default: text.
  const plain = new CommandClientDriver({
    sendCommand: (args) => client.sendCommand(args.map((arg) => arg as string)),
  });
  assert.deepEqual(
    await cache.tags.touch(plain, "text-touch:k", 60_000),
    new TextEncoder().encode("value"),
  );
  // A client asked for bytes that answers text anyway, as @db/redis does
  // without returnUint8Arrays: its getBytes refuses it, and so must a touch.
  const answeringText: Driver = {
    send: (args) => plain.send(args),
    sendBytes: (args) => plain.send(args),
    getBytes: (key) => plain.getBytes(key),
    getManyBytes: (keys) => plain.getManyBytes(keys),
    connected: true,
    close: () => Promise.resolve(),
  };
  await assert.rejects(
    cache.tags.touch(answeringText, "text-touch:k", 30_000),
    (error: Error) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, /GETEX: the client answered string/);
      return true;
    },
  );
  assert.equal(
    await cache.tags.touch(answeringText, "text-touch:missing", 30_000),
    null,
  );
});
