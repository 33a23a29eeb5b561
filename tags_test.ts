// Tags from outside: what invalidateTags and expireTags remove or shorten,
// read back with raw commands, an entry's other tags and reverse index
// included; bad tags write nothing; the bookkeeping stays bounded after a
// churn of expiring entries; a tagged store is one script, and untagged
// stores and deletes send exactly the commands they did; and another
// process's L1 never serves an invalidated value once it has heard the
// invalidation resolved.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Cache } from "./mod.ts";
import { engineOf } from "./_engine/handle.ts";
import { runChild, testdataCommand } from "./_testing/child.ts";
import { recordFigures } from "./_testing/figures.ts";
import { redisForThisFile } from "./_testing/redis_server.ts";
import { runtime } from "./_testing/runtime.ts";
import { waitFor } from "./_testing/wait.ts";
import { startCountingProxy } from "./_testing/counting_proxy.ts";

const { server, raw } = await redisForThisFile();

async function connect(
  namespace: string,
  options: Parameters<typeof Cache.connect>[0] = {},
): Promise<Cache> {
  const cache = await Cache.connect({
    url: server.url(),
    namespace,
    ...options,
  });
  after(() => cache.close());
  return cache;
}

async function keysOf(namespace: string): Promise<string[]> {
  const keys = (await raw.send("KEYS", `${namespace}:*`)) as Uint8Array[];
  return keys.map(String).sort();
}

async function bookkeeping(namespace: string): Promise<string[]> {
  return (await keysOf(namespace)).filter((key) =>
    key.startsWith(`${namespace}:__tag:`)
  );
}

test("invalidateTags removes every entry with any of the tags, from every write method, and says how many", async () => {
  const cache = await connect("inv");
  const a = await cache.store("a", { tags: ["red"] });
  const b = await cache.storeJson({ b: 1 }, { tags: ["red", "blue"] });
  const many = await cache.storeMany(["m1", "m2", 3], {
    tags: ["blue"],
    ttl: 60_000,
  });
  await cache.getOrStore("page", () => "p", { tags: ["green"] });
  await cache.getOrStoreJson("user", () => ({ id: 1 }), { tags: ["green"] });
  const untagged = await cache.store("plain");
  const other = await cache.store("other", { tags: ["yellow"] });
  // A ttl of its own on the many keeps their expiry.
  assert.ok(Number(await raw.send("PTTL", `inv:${many[0]}`)) > 59_000);

  assert.equal(await cache.invalidateTags("red", "blue"), 5);
  for (const key of [a, b, ...many]) {
    assert.equal(await raw.send("EXISTS", `inv:${key}`), 0, key);
  }
  assert.equal(await cache.invalidateTags("green"), 2);
  assert.equal(await raw.send("EXISTS", "inv:page"), 0);
  assert.equal(await raw.send("EXISTS", "inv:user"), 0);
  assert.equal(await cache.getStr(untagged), "plain");
  assert.equal(await cache.getStr(other), "other");
  // Nothing is left pointing at what was removed: the one live entry's
  // index and reverse index remain.
  assert.deepEqual(await bookkeeping("inv"), [
    "inv:__tag:i:yellow",
    `inv:__tag:k:${other}`,
  ]);
  assert.equal(await cache.invalidateTags("red"), 0);
  assert.equal(await cache.invalidateTags(), 0);
  // A getOrStore after the invalidation loads again.
  let loads = 0;
  await cache.getOrStore("page", () => `p${++loads}`, { tags: ["green"] });
  assert.equal(loads, 1);
});

test("a bad tag is a TypeError or RangeError and writes nothing, from every method", async () => {
  const cache = await connect("bad", { history: false });
  let loads = 0;
  const load = () => `v${++loads}`;
  const cases: [unknown, typeof TypeError | typeof RangeError][] = [
    ["red", TypeError],
    [[1], TypeError],
    [["ok", null], TypeError],
    [[""], RangeError],
    [["x".repeat(1025)], RangeError],
    [["\ud800"], TypeError],
  ];
  for (const [tags, error] of cases) {
    const options = { tags } as { tags: string[] };
    const name = JSON.stringify(tags);
    await assert.rejects(cache.store("v", options), error, name);
    await assert.rejects(cache.storeJson({ v: 1 }, options), error, name);
    await assert.rejects(cache.storeMany(["a", "b"], options), error, name);
    await assert.rejects(cache.getOrStore("k", load, options), error, name);
    await assert.rejects(cache.getOrStoreJson("j", load, options), error, name);
  }
  await assert.rejects(cache.invalidateTags(1 as never), TypeError);
  await assert.rejects(cache.invalidateTags("ok", ""), RangeError);
  await assert.rejects(cache.expireTags(null as never), TypeError);
  // The bookkeeping's names are refused as keys, like getOrStore's locks.
  await assert.rejects(cache.get("__tag:i:red"), RangeError);
  await assert.rejects(cache.delete("__tag:i:red"), RangeError);
  assert.equal(loads, 0);
  assert.deepEqual(await keysOf("bad"), []);
  // The history records a bad call, as Python's does, and nothing else.
  const recorded = await connect("bad-history");
  await assert.rejects(recorded.store("v", { tags: [""] }), RangeError);
  assert.deepEqual(await keysOf("bad-history"), [
    "bad-history:Cache.store",
    "bad-history:Cache.store:inputs",
  ]);
});

test("tags are namespaced like keys, and clear() removes their bookkeeping", async () => {
  const one = await connect("ns-one");
  const two = await connect("ns-two");
  const a = await one.store("a", { tags: ["shared"] });
  const b = await two.store("b", { tags: ["shared"] });
  assert.equal(await one.invalidateTags("shared"), 1);
  assert.equal(await one.has(a), false);
  assert.equal(await two.getStr(b), "b");
  await two.clear();
  assert.deepEqual(await keysOf("ns-two"), []);
  // After a clear, tags start afresh.
  const c = await two.store("c", { tags: ["shared"] });
  assert.equal(await two.invalidateTags("shared"), 1);
  assert.equal(await two.has(c), false);
});

test("expireTags removes entries that have no grace, and leaves the others alone", async () => {
  const cache = await connect("soft");
  const [a, b] = await cache.storeMany(["a", "b"], {
    tags: ["soft"],
    ttl: 60_000,
  });
  await cache.getOrStore("page", () => "p", { tags: ["soft", "page"] });
  const kept = await cache.store("kept", { tags: ["hard"] });
  assert.equal(await cache.expireTags("soft"), 3);
  for (const key of [a, b, "page"]) {
    assert.equal(await cache.has(key), false, key);
  }
  assert.equal(await cache.getStr(kept), "kept");
  assert.equal(await cache.expireTags("soft", "page"), 0);
  // What expireTags removed is no longer in any index.
  assert.deepEqual(await bookkeeping("soft"), [
    "soft:__tag:i:hard",
    `soft:__tag:k:${kept}`,
  ]);
});

// The members of a sorted set or hash, sorted.
async function members(key: string): Promise<string[]> {
  const type = String(await raw.send("TYPE", key));
  const command = type === "hash" ? "HKEYS" : type === "zset" ? "ZRANGE" : "";
  if (command === "") return [];
  const args = command === "ZRANGE" ? [key, "0", "-1"] : [key];
  return ((await raw.send(command, ...args)) as unknown[]).map(String).sort();
}

test("an entry with two tags, removed by invalidating one, leaves no trace in the other's index, grace hash or its own reverse index", async () => {
  const cache = await connect("two-tags", { history: false });
  const options = { ttl: 60_000, grace: 30_000 };
  const plain = await cache.store("plain", { tags: ["a", "b"] });
  await cache.getOrStore("page", () => "p", { ...options, tags: ["a", "b"] });
  await cache.getOrStore("kept", () => "k", { ...options, tags: ["b"] });
  assert.deepEqual(
    await members("two-tags:__tag:i:b"),
    [
      "two-tags:kept",
      "two-tags:page",
      `two-tags:${plain}`,
    ].sort(),
  );
  assert.deepEqual(await members("two-tags:__tag:g:b"), [
    "two-tags:kept",
    "two-tags:page",
  ]);
  assert.equal(await cache.invalidateTags("a"), 2);
  assert.deepEqual(await members("two-tags:__tag:i:b"), ["two-tags:kept"]);
  assert.deepEqual(await members("two-tags:__tag:g:b"), ["two-tags:kept"]);
  assert.deepEqual(await bookkeeping("two-tags"), [
    "two-tags:__tag:g:b",
    "two-tags:__tag:i:b",
    "two-tags:__tag:k:kept",
  ]);
  assert.equal(await cache.invalidateTags("b"), 1);
  assert.deepEqual(await keysOf("two-tags"), []);
});

test("expireTags deleting an entry without grace takes it out of its other tags too", async () => {
  const cache = await connect("expire-two", { history: false });
  const doomed = await cache.store("doomed", { tags: ["a", "b"], ttl: 60_000 });
  const kept = await cache.store("kept", { tags: ["b"], ttl: 60_000 });
  assert.equal(await cache.expireTags("a"), 1);
  assert.equal(await cache.has(doomed), false);
  assert.deepEqual(await members("expire-two:__tag:i:b"), [
    `expire-two:${kept}`,
  ]);
  assert.deepEqual(await bookkeeping("expire-two"), [
    "expire-two:__tag:i:b",
    `expire-two:__tag:k:${kept}`,
  ]);
  assert.equal(await cache.invalidateTags("b"), 1);
  assert.deepEqual(await keysOf("expire-two"), []);
});

test("an entry may carry thousands of tags, and leaves them all when one is invalidated", async () => {
  const cache = await connect("many-tags-one", { history: false });
  const tags = Array.from({ length: 9_000 }, (_, i) => `t${i}`);
  const key = await cache.store("v", { tags });
  assert.equal(
    await raw.send("SCARD", `many-tags-one:__tag:k:${key}`),
    tags.length,
  );
  assert.equal(await cache.invalidateTags("t4500"), 1);
  assert.deepEqual(await keysOf("many-tags-one"), []);
});

test("a tagged overwrite with other tags leaves the tags it no longer has: a refresh whose loader sets new ones", async () => {
  const cache = await connect("retag");
  let loads = 0;
  const loader = (ctx: { setTags(tags: readonly string[]): void }) => {
    loads++;
    ctx.setTags(loads === 1 ? ["old", "both"] : ["new", "both"]);
    return `v${loads}`;
  };
  const options = { ttl: 60_000, grace: 30_000 };
  await cache.getOrStore("item", loader, options);
  // Stale now: the next read serves v1 and refreshes it in the background.
  assert.equal(await cache.expireTags("old"), 1);
  await cache.getOrStore("item", loader, options);
  await waitFor(
    async () => String(await raw.send("GET", "retag:item")) === "v2",
    5_000,
    "the refresh did not store its value",
  );
  assert.deepEqual(await members("retag:__tag:i:old"), []);
  assert.deepEqual(
    ((await raw.send("SMEMBERS", "retag:__tag:k:item")) as unknown[])
      .map(String).sort(),
    ["both", "new"],
  );
  // The reverse index expires with its entry.
  const left = Number(await raw.send("PTTL", "retag:__tag:k:item"));
  assert.ok(left > 60_000, `reverse index PTTL ${left}`);
  assert.equal(await cache.invalidateTags("old"), 0);
  assert.equal(await cache.getStr("item"), "v2");
  assert.equal(await cache.invalidateTags("new"), 1);
  assert.equal(await cache.has("item"), false);
  assert.deepEqual(await keysOf("retag"), []);
});

test("a key loaded again after it expired is in all its tags again, with its reverse index", async () => {
  const cache = await connect("again", { history: false });
  const options = { ttl: 50, tags: ["a", "b"] };
  // Keeps the indexes alive past the page's first expiry.
  const kept = await cache.store("kept", { tags: ["a", "b"], ttl: 60_000 });
  await cache.getOrStore("page", () => "one", options);
  await waitFor(
    async () => await raw.send("EXISTS", "again:page") === 0,
    5_000,
    "the entry did not expire",
  );
  // Its old memberships have expired; this write's pruning drops them, and
  // must not take the new ones with them.
  await cache.getOrStore("page", () => "two", { ...options, ttl: 60_000 });
  for (const tag of ["a", "b"]) {
    assert.deepEqual(
      await members(`again:__tag:i:${tag}`),
      ["again:page", `again:${kept}`].sort(),
    );
  }
  assert.deepEqual(
    ((await raw.send("SMEMBERS", "again:__tag:k:page")) as unknown[])
      .map(String).sort(),
    ["a", "b"],
  );
  assert.equal(await cache.invalidateTags("b"), 2);
  assert.deepEqual(await keysOf("again"), []);
});

test("a key loaded again with other tags after it expired is still found by its new tag once its old tag's index is pruned", async () => {
  const cache = await connect("moved", { history: false });
  // Keeps team:A's index alive past the user's first expiry.
  const kept = await cache.store("kept", { tags: ["team:A"], ttl: 60_000 });
  await cache.getOrStore("user:1", () => "in A", {
    ttl: 50,
    tags: ["team:A"],
  });
  await waitFor(
    async () => await raw.send("EXISTS", "moved:user:1") === 0,
    5_000,
    "the entry did not expire",
  );
  // The user moved team: loaded again, now in team:B only.
  await cache.getOrStore("user:1", () => "in B", {
    ttl: 60_000,
    tags: ["team:B"],
  });
  // A tagged write to team:A prunes the user's expired membership there,
  // and must leave its new one in team:B alone.
  await cache.store("another", { tags: ["team:A"], ttl: 60_000 });
  assert.deepEqual(await members("moved:__tag:i:team:B"), ["moved:user:1"]);
  assert.ok(!(await members("moved:__tag:i:team:A")).includes("moved:user:1"));
  assert.equal(await cache.invalidateTags("team:B"), 1);
  assert.equal(await cache.get("user:1"), null);
  assert.notEqual(await cache.get(kept), null);
});

test(
  "bookkeeping stays bounded: after 10 000 expiring tagged entries, only live ones are indexed, and nothing is left once they expire",
  { timeout: 120_000 },
  async () => {
    const cache = await connect("churn", { history: false });
    const ttl = 50;
    const index = "churn:__tag:i:churn";
    const written: number[] = [];
    let mostMembers = 0;
    let mostLive = 0;
    for (let i = 0; i < 10_000; i++) {
      const started = Date.now();
      await cache.store(i, { tags: ["churn", `group:${i % 10}`], ttl });
      written.push(Date.now());
      if (i % 500 === 499) {
        // The last write pruned what had expired when it started, so every
        // member left was written since then, less the ttl (1 ms for rounding).
        const members = Number(await raw.send("ZCARD", index));
        // KEYS leaves out keys past their expiry: the reverse indexes
        // expire with their entries.
        const reverse = (await keysOf("churn:__tag:k")).length;
        const live = written.filter((at) => at > started - ttl - 1).length;
        assert.ok(members <= live, `${members} members, ${live} live at most`);
        assert.ok(reverse <= live, `${reverse} reverse, ${live} live at most`);
        mostMembers = Math.max(mostMembers, members);
        mostLive = Math.max(mostLive, live);
      }
    }
    await waitFor(
      async () => (await keysOf("churn")).length === 0,
      5_000,
      `bookkeeping left after the churn: ${
        (await bookkeeping("churn")).length
      } keys`,
    );
    // Deleted entries are cleaned up too: each tagged write checks two members.
    for (let i = 0; i < 2_000; i++) {
      await cache.delete(await cache.store(i, { tags: ["deleted"] }));
    }
    const deletedMembers = Number(
      await raw.send("ZCARD", "churn:__tag:i:deleted"),
    );
    assert.ok(deletedMembers <= 2, `${deletedMembers} members left`);
    // delete() leaves the reverse index; dropping the member drops it.
    assert.equal(
      (await keysOf("churn:__tag:k")).length,
      deletedMembers,
      "reverse indexes of deleted entries left",
    );
    recordFigures("tags_bookkeeping", {
      entries: 10_000,
      ttlMs: ttl,
      mostMembers,
      mostLive,
      keysAfter: 0,
      deletedEntries: 2_000,
      deletedMembersLeft: deletedMembers,
    });
  },
);

test("a get of a tagged entry sends what a get of an untagged one does: one GET", async () => {
  const cache = await connect("read-cost", { history: false });
  const tagged = await cache.store("t", { tags: ["read"] });
  const untagged = await cache.store("u");
  const before = await commandCalls();
  for (let i = 0; i < 50; i++) {
    assert.equal(await cache.getStr(tagged), "t");
    assert.equal(await cache.getStr(untagged), "u");
  }
  const after = await commandCalls();
  const sent = [...after].filter(([command, calls]) =>
    calls !== (before.get(command) ?? 0) && command !== "info"
  ).map(([command, calls]) => [command, calls - (before.get(command) ?? 0)]);
  assert.deepEqual(sent, [["get", 100]]);
});

test("a tagged store is one command: its value, memberships and reverse index in one script", async () => {
  await using proxy = await startCountingProxy(server.port);
  const cache = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
    namespace: "one-script",
    history: false,
  });
  after(() => cache.close());
  await cache.store("first", { tags: ["x"] });
  proxy.reset();
  const key = await cache.store("v", { tags: ["x", "y"], ttl: 60_000 });
  assert.deepEqual(proxy.commands().map(({ name }) => name), ["EVALSHA"]);
  assert.deepEqual(
    ((await raw.send("SMEMBERS", `one-script:__tag:k:${key}`)) as unknown[])
      .map(String).sort(),
    ["x", "y"],
  );
  // Untagged writes and deletes send what they did, tags or not.
  proxy.reset();
  const plain = await cache.store("plain", { ttl: 60_000 });
  await cache.delete(plain);
  await cache.delete(key);
  const sent = proxy.commands();
  assert.deepEqual(sent.map(({ name }) => name), [
    "SET",
    ...["UNLINK", "UNLINK", "UNLINK", "UNLINK"], // each key, its __miss: entry
  ]);
  assert.deepEqual(sent.filter(({ key }) => key.includes("__tag:")), []);
});

async function commandCalls(): Promise<Map<string, number>> {
  const info = String(await raw.send("INFO", "commandstats"));
  const calls = new Map<string, number>();
  for (
    const [, command, count] of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)
  ) {
    calls.set(command, Number(count));
  }
  return calls;
}

test(
  "two processes: once the reader hears invalidateTags resolved in the other, its L1 never returns an invalidated entry",
  {
    timeout: 60_000,
  },
  async () => {
    const namespace = "l1";
    const cache = await connect(namespace, {
      flush: false,
      l1: { maxEntries: 1_000 },
    });
    const doomed = await cache.storeMany(
      Array.from({ length: 200 }, (_, i) => `doomed ${i}`),
      { tags: ["doomed"] },
    );
    const kept = await cache.storeMany(
      Array.from({ length: 200 }, (_, i) => `kept ${i}`),
      { tags: ["kept"] },
    );
    for (const key of [...doomed, ...kept]) await cache.get(key);
    // Held in memory now: the reads below come from the L1.
    const hitsBefore = cache.stats().l1!.hits;
    for (const key of doomed) assert.notEqual(await cache.get(key), null);
    assert.equal(cache.stats().l1!.hits - hitsBefore, doomed.length);

    const [command, args] = testdataCommand("tags_invalidator");
    const child = runChild(command, [
      ...args,
      server.url(),
      namespace,
      "doomed",
      "l1-test",
    ], 30_000);
    let exited = false;
    child.then(() => exited = true);
    const send = (...args: string[]) => engineOf(cache).send(args);
    await waitFor(
      async () => await send("LPOP", "l1-test:ready") !== null,
      20_000,
      "the invalidator did not start",
      () => exited,
    );
    await send("RPUSH", "l1-test:go", "go");
    // Reads race the invalidation until the reader hears, over its own
    // connection (the one Redis pushes invalidations on), that it resolved.
    let heard: string | null = null;
    let racingReads = 0;
    // When each read that returned an invalidated value started, on the
    // wall clock both processes share (whole ms).
    const staleReads: number[] = [];
    const giveUpAt = Date.now() + 20_000;
    while (heard === null) {
      assert.ok(
        Date.now() < giveUpAt,
        "the invalidator never said it was done",
      );
      for (const key of doomed) {
        const started = Date.now();
        if (await cache.get(key) !== null) staleReads.push(started);
      }
      racingReads += doomed.length;
      // Had it exited before this LPOP, its word would be on the list.
      const stopped = exited;
      heard = await send("LPOP", "l1-test:done") as string | null;
      if (heard === null && stopped) {
        assert.fail(`the invalidator stopped: ${(await child).output}`);
      }
    }
    const [removed, resolvedAt] = heard.split(" ").map(Number);
    assert.equal(removed, doomed.length);
    const hitsAfter = cache.stats().l1!.hits;
    for (let round = 0; round < 5; round++) {
      for (const key of doomed) assert.equal(await cache.get(key), null, key);
      for (const key of kept) assert.notEqual(await cache.get(key), null, key);
    }
    // The kept entries still came from memory.
    assert.ok(cache.stats().l1!.hits - hitsAfter >= 5 * kept.length);
    assert.equal((await child).code, 0, (await child).output);
    // Not asserted (it is a time): how long after invalidateTags resolved in
    // the other process a read here still returned an invalidated value.
    const late = staleReads.filter((started) => started >= resolvedAt);
    const figures = {
      entries: doomed.length,
      racingReads,
      staleReadsAfter: late.length,
      staleAfterMs: Math.max(0, ...late.map((started) => started - resolvedAt)),
    };
    console.log(`tags l1 (${runtime}): ${JSON.stringify(figures)}`);
    recordFigures("tags_l1", figures);
  },
);

test("in the invalidating process, a get right after invalidateTags resolves misses its L1", async () => {
  const cache = await connect("l1-local", { l1: { maxEntries: 100 } });
  const key = await cache.store("v", { tags: ["local"] });
  await cache.get(key);
  assert.equal(await cache.getStr(key), "v");
  assert.equal(cache.stats().l1!.hits, 1);
  assert.equal(await cache.invalidateTags("local"), 1);
  assert.equal(await cache.get(key), null);
});

test("a tagged store keeps the Python call history, in order with untagged ones", async () => {
  const cache = await connect("history");
  const first = await cache.store("a");
  const [second, third] = await Promise.all([
    cache.store("b", { tags: ["h"] }),
    cache.store("c"),
  ]);
  const list = async (name: string) =>
    ((await raw.send(
      "LRANGE",
      `history:Cache.store:${name}`,
      "0",
      "-1",
    )) as Uint8Array[]).map(String);
  assert.deepEqual(await list("outputs"), [first, second, third]);
  assert.equal((await list("inputs")).length, 3);
  assert.equal(String(await raw.send("GET", "history:Cache.store")), "3");
  assert.equal(await cache.invalidateTags("h"), 1);
  assert.equal(await cache.has(first), true);
});

test("after expireTags, getOrStore serves the stale value within grace while one refresh runs, and the refreshed value carries its tags again", async () => {
  const cache = await connect("soft");
  let loads = 0;
  let release: () => void = () => {};
  const loader = async () => {
    loads++;
    if (loads > 1) await new Promise<void>((resolve) => release = resolve);
    return `v${loads}`;
  };
  const options = { ttl: 60_000, grace: 30_000, tags: ["pages"] };
  const text = (bytes: Uint8Array | null) => new TextDecoder().decode(bytes!);
  assert.equal(text(await cache.getOrStore("home", loader, options)), "v1");
  assert.equal(await cache.expireTags("pages"), 1);
  const left = Number(await raw.send("PTTL", "soft:home"));
  assert.ok(left > 0 && left <= 30_000, `PTTL after expireTags: ${left}`);
  // Stale now: each caller gets v1 at once, and one refresh runs.
  const served = await Promise.all(
    [1, 2, 3].map(() => cache.getOrStore("home", loader, options)),
  );
  assert.deepEqual(served.map(text), ["v1", "v1", "v1"]);
  await waitFor(() => loads === 2, 5_000, "no refresh started");
  assert.equal(text(await cache.getOrStore("home", loader, options)), "v1");
  assert.equal(loads, 2, "a second refresh ran while one was running");
  release();
  await waitFor(
    async () => String(await raw.send("GET", "soft:home")) === "v2",
    5_000,
    "the refresh did not store its value",
  );
  // The refreshed entry is in its tag again: invalidating it removes it.
  assert.equal(await cache.invalidateTags("pages"), 1);
  assert.equal(await raw.send("EXISTS", "soft:home"), 0);
});

test("a loader's setTags replaces the call's tags; a bad one fails the load and stores nothing", async () => {
  const cache = await connect("settags");
  await cache.getOrStore("user:7", (ctx) => {
    ctx.setTags(["user:7", "team:3"]);
    return "Ada";
  }, { ttl: 60_000, tags: ["ignored"] });
  assert.equal(await cache.invalidateTags("ignored"), 0);
  assert.equal(await cache.invalidateTags("team:3"), 1);
  await assert.rejects(
    cache.getOrStore("user:8", (ctx) => {
      ctx.setTags([""]);
      return "Bob";
    }),
    RangeError,
  );
  // user:7 went with team:3; the failed load stored no value.
  assert.deepEqual(
    (await keysOf("settags")).filter((key) => !key.includes(":__tag:")),
    [],
  );
});

test("getOrStoreMany stores what it loads with the call's tags", async () => {
  const cache = await connect("many-tags");
  await cache.store("kept", { tags: ["other"] });
  const values = await cache.getOrStoreMany(
    ["a", "b", "c"],
    (missing) => missing.map((key) => `value of ${key}`),
    { ttl: 60_000, tags: ["batch"] },
  );
  assert.equal(values.length, 3);
  assert.equal(await cache.invalidateTags("batch"), 3);
  for (const key of ["a", "b", "c"]) {
    assert.equal(await raw.send("EXISTS", `many-tags:${key}`), 0);
  }
  await assert.rejects(
    cache.getOrStoreMany(["d"], () => ["x"], { tags: [""] }),
    RangeError,
  );
  assert.equal(await raw.send("EXISTS", "many-tags:d"), 0);
});

// Redis's clock, in ms: the one every expiry and index score is on.
async function serverNow(): Promise<number> {
  const [seconds, micros] = (await raw.send("TIME") as unknown[]).map(Number);
  return seconds * 1000 + Math.floor(micros / 1000);
}

const pttl = async (key: string) => Number(await raw.send("PTTL", key));

// Where a key's bookkeeping says it expires, and where Redis has it expire.
async function scoresAndExpiry(namespace: string, key: string, tags: string[]) {
  const expiry = Number(await raw.send("PEXPIRETIME", `${namespace}:${key}`));
  const scores: number[] = [];
  for (const tag of tags) {
    scores.push(
      Number(
        await raw.send(
          "ZSCORE",
          `${namespace}:__tag:i:${tag}`,
          `${namespace}:${key}`,
        ),
      ),
    );
  }
  return { expiry, scores };
}

for (
  const [how, extend] of [
    ["expire", (cache: Cache, key: string) => cache.expire(key, 10_000)],
    [
      "a get with touch",
      async (cache: Cache, key: string) =>
        (await cache.getStr(key, { touch: 10_000 })) === "v",
    ],
  ] as const
) {
  test(`${how} extends a tagged entry's tags with it: it outlives its old expiry, and invalidateTags still removes it`, async () => {
    const namespace = `extend-${how.replaceAll(" ", "-")}`;
    const cache = await connect(namespace);
    // Long enough for the extension to land on a loaded machine; the wait
    // for it to pass below is on the server's clock.
    const key = await cache.store("v", { tags: ["a", "b"], ttl: 1_500 });
    const oldExpiry = Number(
      await raw.send("PEXPIRETIME", `${namespace}:${key}`),
    );
    assert.equal(await extend(cache, key), true);

    // Each index scores it where Redis has it expire, and it, its grace
    // hash and the reverse index live as long.
    const { expiry, scores } = await scoresAndExpiry(namespace, key, [
      "a",
      "b",
    ]);
    assert.ok(expiry > oldExpiry + 7_000, `expiry ${expiry}`);
    for (const score of scores) {
      assert.ok(Math.abs(score - expiry) <= 5, `score ${score} ≠ ${expiry}`);
    }
    for (const name of ["__tag:i:a", "__tag:i:b", `__tag:k:${key}`]) {
      const left = await pttl(`${namespace}:${name}`);
      assert.ok(left > 8_000 && left <= 10_000, `${name}: PTTL ${left}`);
    }

    await waitFor(
      async () => await serverNow() > oldExpiry + 100,
      5_000,
      "the entry's old expiry did not pass",
    );
    // A tagged write to "a" prunes its index of what has expired by score.
    const other = await cache.store("o", { tags: ["a"], ttl: 60_000 });
    assert.equal(await cache.getStr(key), "v");
    assert.equal(await cache.invalidateTags("b"), 1);
    assert.equal(await cache.getStr(key), null);
    // It left "a" too, which keeps only the other entry.
    assert.deepEqual(
      (await raw.send(
        "ZRANGE",
        `${namespace}:__tag:i:a`,
        "0",
        "-1",
      ) as unknown[])
        .map(String),
      [`${namespace}:${other}`],
    );
    assert.deepEqual(await bookkeeping(namespace), [
      `${namespace}:__tag:i:a`,
      `${namespace}:__tag:k:${other}`,
    ]);
  });
}

test("expire to a shorter ttl brings a tagged entry's scores and its bookkeeping's expiry down with it", async () => {
  const cache = await connect("shorten");
  const key = await cache.store("v", { tags: ["a", "b"], ttl: 60_000 });
  const kept = await cache.store("k", { tags: ["b"], ttl: 60_000 });
  assert.equal(await cache.expire(key, 1_500), true);
  const { expiry, scores } = await scoresAndExpiry("shorten", key, ["a", "b"]);
  for (const score of scores) {
    assert.ok(Math.abs(score - expiry) <= 5, `score ${score} ≠ ${expiry}`);
  }
  const index = await pttl("shorten:__tag:i:a");
  const reverse = await pttl(`shorten:__tag:k:${key}`);
  assert.ok(index > 0 && index <= 1_500, `index PTTL ${index}`);
  assert.ok(reverse > 0 && reverse <= 1_500, `reverse index PTTL ${reverse}`);
  // Index b keeps the entry that lives longer.
  assert.ok(await pttl("shorten:__tag:i:b") > 50_000);
  await waitFor(
    async () => (await bookkeeping("shorten")).length === 2,
    5_000,
    "the shortened entry's bookkeeping outlived it",
  );
  assert.deepEqual(await bookkeeping("shorten"), [
    "shorten:__tag:i:b",
    `shorten:__tag:k:${kept}`,
  ]);
  assert.equal(await raw.send("EXISTS", `shorten:${key}`), 0);
  assert.equal(await cache.invalidateTags("b"), 1);
});

test("a user who may run scripts but not reach a tagged entry's bookkeeping gets NOPERM from expire and touch, never a bare command that would leave the bookkeeping behind", async () => {
  const writer = await connect("outside", { history: false });
  await writer.getOrStore("page", () => "v", { tags: ["t"], ttl: 60_000 });
  await raw.send(
    "ACL",
    "SETUSER",
    "pagesonly",
    "on",
    ">pagesonly-Pa55",
    "resetkeys",
    "~outside:page*",
    "+@all",
  );
  const cache = await connect("outside", {
    url: `redis://pagesonly:pagesonly-Pa55@127.0.0.1:${server.port}`,
    history: false,
    flush: false,
  });
  const before = await scoresAndExpiry("outside", "page", ["t"]);
  for (let call = 0; call < 2; call++) {
    for (
      const attempt of [
        cache.expire("page", 1_000),
        cache.getStr("page", { touch: 1_000 }),
      ]
    ) {
      await assert.rejects(attempt, (error: Error & { code?: string }) => {
        assert.equal(error.code, "NOPERM", String(error));
        return true;
      });
    }
  }
  assert.deepEqual(await scoresAndExpiry("outside", "page", ["t"]), before);
  assert.equal(await writer.invalidateTags("t"), 1);
});

test("expire and touch of an untagged key do what they did, with one EXISTS more in their script; of a missing key, nothing", async () => {
  const cache = await connect("untagged-expiry", { history: false });
  const key = await cache.store("u", { ttl: 1_000 });
  const before = await commandCalls();
  assert.equal(await cache.expire(key, 30_000), true);
  assert.ok(await pttl(`untagged-expiry:${key}`) > 25_000);
  assert.equal(await cache.getStr(key, { touch: 40_000 }), "u");
  assert.ok(await pttl(`untagged-expiry:${key}`) > 35_000);
  assert.equal(await cache.expire("missing", 30_000), false);
  assert.equal(await cache.getStr("missing", { touch: 30_000 }), null);
  const after = await commandCalls();
  const sent = Object.fromEntries(
    [...after].filter(([command, calls]) =>
      calls !== (before.get(command) ?? 0) &&
      !["info", "pttl"].includes(command)
    ).map(([command, calls]) => [command, calls - (before.get(command) ?? 0)]),
  );
  // Bun's client reads the value with a GET of its own, beside a script
  // whose GETEX sets the expiry. The first call of each script is EVAL,
  // which sends the script.
  const read = runtime === "bun"
    ? { get: 2, getex: 2, pexpire: 2, eval: 2, evalsha: 2 }
    : { getex: 2, pexpire: 2, eval: 2, evalsha: 2 };
  // A key's reverse index is looked for only when the key exists.
  assert.deepEqual(sent, { ...read, exists: 2 });
  assert.deepEqual(await keysOf("untagged-expiry"), [`untagged-expiry:${key}`]);
});
