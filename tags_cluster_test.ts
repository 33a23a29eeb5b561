// Tags on a real Redis Cluster (3 primaries, 3 replicas, on loopback): the
// entries of one tag, spread over thousands of slots, are all invalidated,
// and what it costs is counted on the primaries.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Cache } from "./mod.ts";
import { startCluster } from "./_testing/cluster.ts";
import { keySlot } from "./_drivers/key_slot.ts";
import { engineOf } from "./_engine/handle.ts";
import { openEngine } from "./_engine/engine.ts";
import { taggingFor } from "./_engine/tags.ts";
import { recordFigures } from "./_testing/figures.ts";
import { connectRaw, type RawClient } from "./_testing/raw_client.ts";
import { waitFor } from "./_testing/wait.ts";

const cluster = await startCluster();
const rootNodes = cluster.rootNodes.map(({ url }) => url);
const admin: RawClient[] = [];
after(async () => {
  for (const client of admin) await client[Symbol.asyncDispose]();
  await cluster.stop();
});

async function primaries(): Promise<RawClient[]> {
  const found: RawClient[] = [];
  for (const server of cluster.nodes.filter((server) => server.running)) {
    const raw = await connectRaw(server.url());
    admin.push(raw);
    const [role] = await raw.send("ROLE") as unknown[];
    if (String(role) === "master") found.push(raw);
  }
  return found;
}

async function connect(namespace: string): Promise<Cache> {
  const cache = await Cache.connect({
    cluster: { rootNodes },
    namespace,
    flush: false,
    timeout: 10_000,
  });
  after(() => cache.close());
  return cache;
}

// A namespace's tag indexes, grace hashes and reverse indexes on every
// primary (the registries of slots, `__tag:s:`, left out).
async function bookkeeping(
  nodes: RawClient[],
  namespace: string,
): Promise<string[]> {
  return (await bookkeepingByNode(nodes, namespace)).map(([, key]) => key)
    .sort();
}

async function bookkeepingByNode(
  nodes: RawClient[],
  namespace: string,
): Promise<[RawClient, string][]> {
  const found: [RawClient, string][] = [];
  for (const node of nodes) {
    const keys = await node.send("KEYS", `${namespace}:__tag:*`) as unknown[];
    for (const key of keys.map(String)) {
      if (!key.includes(":__tag:s:")) found.push([node, key]);
    }
  }
  return found;
}

// Calls of each command on every primary, summed.
async function calls(nodes: RawClient[]): Promise<Map<string, number>> {
  const total = new Map<string, number>();
  for (const node of nodes) {
    const info = String(await node.send("INFO", "commandstats"));
    for (
      const [, command, count] of info.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)
    ) {
      total.set(command, (total.get(command) ?? 0) + Number(count));
    }
  }
  return total;
}

test(
  "invalidateTags removes a tag's 10 000 entries across thousands of slots: one registry read, then one script per slot, all at once",
  {
    timeout: 120_000,
  },
  async () => {
    const nodes = await primaries();
    assert.equal(nodes.length, 3);
    const cache = await connect("tc");
    const many = await cache.storeMany(
      Array.from({ length: 9_500 }, (_, i) => `v${i}`),
      { tags: ["big"], ttl: 600_000 },
    );
    const single: string[] = [];
    for (let i = 0; i < 500; i++) {
      single.push(await cache.store(`s${i}`, { tags: ["big", "also"] }));
    }
    const read = await cache.getOrStore("page", () => "p", { tags: ["big"] });
    assert.equal(String(read), "112");
    const kept = await cache.storeMany(["k1", "k2", "k3"], { tags: ["other"] });
    const keys = [...many, ...single, "page"];
    const slots = new Set(keys.map((key) => keySlot(`tc:${key}`))).size;
    assert.ok(slots > 5_000, `only ${slots} slots`);

    const before = await calls(nodes);
    const started = performance.now();
    assert.equal(await cache.invalidateTags("big"), keys.length);
    const elapsedMs = performance.now() - started;
    const afterCalls = await calls(nodes);
    const delta = (command: string) =>
      (afterCalls.get(command) ?? 0) - (before.get(command) ?? 0);
    // The registry read, then one script per slot (EVAL only where a node
    // had not seen the script yet). Redis also counts the ZRANGE each script
    // runs inside, one per slot.
    // The first invalidation of this process loads its script on each primary.
    assert.equal(delta("zrange") - slots, 1);
    assert.equal(delta("evalsha"), slots);
    assert.equal(delta("eval"), 0);
    assert.equal(delta("script|load"), 3);

    const found = await cache.getMany(keys);
    assert.equal(found.filter((value) => value !== null).length, 0);
    assert.deepEqual(
      (await cache.getMany(kept)).map(String),
      ["107,49", "107,50", "107,51"],
    );
    // Nothing points at what was removed: only the tags' registries of slots,
    // and the kept entries' indexes and reverse indexes, remain.
    const left = await bookkeeping(nodes, "tc");
    const reverse = left.filter((key) => key.startsWith("tc:__tag:k:"));
    assert.equal(reverse.length, kept.length, reverse.join());
    assert.ok(
      left.every((key) => key.endsWith(":other") || reverse.includes(key)),
      left.join(),
    );
    assert.equal(await cache.invalidateTags("also"), 0);
    assert.equal(await cache.invalidateTags("other"), 3);
    recordFigures("tags_cluster", {
      entries: keys.length,
      slots,
      commands: 1 + slots,
      stages: 2,
      elapsedMs: Math.round(elapsedMs),
    });
  },
);

test(
  "expireTags in a cluster removes entries without grace across slots, and their memberships of other tags",
  {
    timeout: 60_000,
  },
  async () => {
    const nodes = await primaries();
    const cache = await connect("tc-soft");
    const keys = await cache.storeMany(
      Array.from({ length: 300 }, (_, i) => i),
      { tags: ["soft", "other"], ttl: 600_000 },
    );
    assert.ok((await bookkeeping(nodes, "tc-soft")).length > 300);
    assert.equal(await cache.expireTags("soft"), keys.length);
    const found = await cache.getMany(keys);
    assert.equal(found.filter((value) => value !== null).length, 0);
    assert.deepEqual(await bookkeeping(nodes, "tc-soft"), []);
    assert.equal(await cache.invalidateTags("other"), 0);
  },
);

test(
  "in a cluster, an entry with two tags removed by invalidating one leaves nothing in the other's indexes and grace hashes, and no reverse index, on any node",
  {
    timeout: 60_000,
  },
  async () => {
    const nodes = await primaries();
    const cache = await connect("tc-two");
    const options = { ttl: 600_000, grace: 60_000 };
    const doomed = await cache.storeMany(
      Array.from({ length: 300 }, (_, i) => i),
      { tags: ["a", "b"], ttl: 600_000 },
    );
    for (let i = 0; i < 30; i++) {
      await cache.getOrStore(`page ${i}`, () => "p", {
        ...options,
        tags: ["a", "b"],
      });
    }
    const kept: string[] = [];
    for (let i = 0; i < 30; i++) {
      kept.push(`kept ${i}`);
      await cache.getOrStore(`kept ${i}`, () => "k", {
        ...options,
        tags: ["b"],
      });
    }
    assert.equal(await cache.invalidateTags("a"), doomed.length + 30);
    // Every index and grace hash of b holds only kept entries, and only the
    // kept entries have reverse indexes.
    let indexed = 0;
    let graced = 0;
    let reverse = 0;
    for (const [node, key] of await bookkeepingByNode(nodes, "tc-two")) {
      if (key.includes(":__tag:k:")) {
        reverse++;
        continue;
      }
      const members = (key.includes(":__tag:i:")
        ? await node.send("ZRANGE", key, "0", "-1")
        : await node.send("HKEYS", key)) as unknown[];
      for (const member of members.map(String)) {
        assert.ok(kept.includes(member.slice("tc-two:".length)), member);
      }
      if (key.includes(":__tag:i:")) {
        indexed += members.length;
      } else graced += members.length;
    }
    assert.equal(indexed, kept.length);
    assert.equal(graced, kept.length);
    assert.equal(reverse, kept.length);
    assert.equal(await cache.invalidateTags("b"), kept.length);
    assert.deepEqual(await bookkeeping(nodes, "tc-two"), []);
  },
);

test(
  "in a cluster, a tagged overwrite with other tags leaves the tags it no longer has",
  {
    timeout: 60_000,
  },
  async () => {
    const nodes = await primaries();
    const cache = await connect("tc-retag");
    // Each item's first load is tagged old, its later ones new.
    const loads = new Map<string, number>();
    const loaderOf =
      (item: string) => (ctx: { setTags(tags: readonly string[]): void }) => {
        const load = (loads.get(item) ?? 0) + 1;
        loads.set(item, load);
        ctx.setTags(load === 1 ? ["old", "both"] : ["new", "both"]);
        return `v${load}`;
      };
    const options = { ttl: 600_000, grace: 60_000 };
    const items = Array.from({ length: 20 }, (_, i) => `item ${i}`);
    for (const item of items) {
      await cache.getOrStore(item, loaderOf(item), options);
    }
    assert.equal(await cache.expireTags("old"), items.length);
    // Stale now: each read serves its old value and refreshes it.
    for (const item of items) {
      await cache.getOrStore(item, loaderOf(item), options);
    }
    await waitFor(
      async () =>
        (await cache.getMany(items)).every((value) =>
          String(value) === "118,50"
        ),
      10_000,
      "the refreshes did not store their values",
    );
    assert.ok([...loads.values()].every((load) => load === 2));
    const left = await bookkeeping(nodes, "tc-retag");
    assert.ok(!left.some((key) => key.endsWith(":old")), left.join());
    assert.equal(await cache.invalidateTags("old"), 0);
    assert.equal(
      (await cache.getMany(items)).filter((value) => value !== null).length,
      items.length,
    );
    assert.equal(await cache.invalidateTags("new"), items.length);
    assert.deepEqual(await bookkeeping(nodes, "tc-retag"), []);
  },
);

test(
  "in a cluster, 300 tagged stores of one tick with mixed tags go in one registry write per tag, then one script per slot; each tag's indexes hold exactly its keys and its registry exactly their slots",
  { timeout: 60_000 },
  async () => {
    const nodes = await primaries();
    const cache = await connect("tc-tick");
    // Loads the scripts on every primary.
    await cache.storeMany(["warm"], { tags: ["warm"] });
    assert.equal(await cache.invalidateTags("warm"), 1);
    const tagsOf = (i: number) =>
      i % 10 === 0 ? [`seven:${i % 7}`] : [
        `seven:${i % 7}`,
        i % 2 ? "odd" : "even",
      ];
    const before = await calls(nodes);
    const keys = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        cache.store(`v${i}`, {
          tags: tagsOf(i),
          ...(i % 3 === 0 ? { ttl: 600_000 } : {}),
        })),
    );
    const afterCalls = await calls(nodes);
    const delta = (command: string) =>
      (afterCalls.get(command) ?? 0) - (before.get(command) ?? 0);
    const expected = new Map<string, Set<string>>();
    keys.forEach((key, i) => {
      for (const tag of tagsOf(i)) {
        expected.set(
          tag,
          (expected.get(tag) ?? new Set()).add(`tc-tick:${key}`),
        );
      }
    });
    const slots = new Set(keys.map((key) => keySlot(`tc-tick:${key}`))).size;
    assert.equal(delta("evalsha"), expected.size + slots);
    assert.equal(delta("eval"), 0);
    for (const [i, key] of keys.entries()) {
      assert.equal(await cache.getStr(key), `v${i}`);
    }
    // Each tag's indexes, over all nodes: exactly its keys, in the slots
    // its registry names.
    const found = new Map<
      string,
      { members: Set<string>; names: Set<string> }
    >();
    for (const [node, key] of await bookkeepingByNode(nodes, "tc-tick")) {
      const index = /^tc-tick:__tag:i:\{(\w+)\}:(.+)$/.exec(key);
      if (index === null) continue;
      const [, name, tag] = index;
      const entry = found.get(tag) ?? { members: new Set(), names: new Set() };
      found.set(tag, entry);
      entry.names.add(name);
      const members = await node.send("ZRANGE", key, "0", "-1") as unknown[];
      for (const member of members.map(String)) {
        assert.equal(keySlot(member), keySlot(key), `${member} in ${key}`);
        entry.members.add(member);
      }
    }
    assert.deepEqual([...found.keys()].sort(), [...expected.keys()].sort());
    for (const [tag, members] of expected) {
      assert.deepEqual(
        [...found.get(tag)!.members].sort(),
        [...members].sort(),
      );
      const registry = await engineOf(cache).send([
        "ZRANGE",
        `tc-tick:__tag:s:${tag}`,
        "0",
        "-1",
      ]) as unknown[];
      assert.deepEqual(
        registry.map(String).sort(),
        [...found.get(tag)!.names].sort(),
        tag,
      );
    }
    assert.equal(await cache.invalidateTags("odd"), expected.get("odd")!.size);
    assert.equal(
      await cache.invalidateTags(...expected.keys()),
      300 - expected.get("odd")!.size,
    );
    assert.deepEqual(await bookkeeping(nodes, "tc-tick"), []);
  },
);

test(
  "a tagged write that fails in one slot fails only its callers: a tick's writes in other slots are written and their callers told so",
  { timeout: 60_000 },
  async () => {
    const nodes = await primaries();
    const engine = await openEngine({
      cluster: { rootNodes },
      namespace: "tc-slots",
      flush: false,
      timeout: 10_000,
      history: false,
    });
    after(() => engine.close());
    const tagging = taggingFor({ tags: ["t"] });
    const write = (key: string) =>
      engine.writes.write(
        `tc-slots:${key}`,
        key,
        undefined,
        0,
        {},
        undefined,
        tagging,
      );
    assert.notEqual(keySlot("tc-slots:bad"), keySlot("tc-slots:good"));
    // The bad key's reverse index, planted as a string where its set goes.
    await write("bad");
    const [[node, reverse]] = (await bookkeepingByNode(nodes, "tc-slots"))
      .filter(([, key]) => key.includes(":__tag:k:"));
    await node.send("SET", reverse, "not a set");
    const [good, bad] = await Promise.allSettled([write("good"), write("bad")]);
    assert.equal(good.status, "fulfilled");
    assert.equal(bad.status, "rejected");
    assert.equal(
      ((bad as PromiseRejectedResult).reason as { code: string }).code,
      "WRONGTYPE",
    );
    const driver = engine.runner.driver!;
    assert.equal(String(await driver.send(["GET", "tc-slots:good"])), "good");
    const indexed: string[] = [];
    for (const [node, key] of await bookkeepingByNode(nodes, "tc-slots")) {
      if (!key.includes(":__tag:i:")) continue;
      const members = await node.send("ZRANGE", key, "0", "-1") as unknown[];
      indexed.push(...members.map(String));
    }
    assert.deepEqual(indexed.sort(), ["tc-slots:bad", "tc-slots:good"]);
  },
);

test(
  "invalidateTags and expireTags called in the tick of a tagged store go after it, though its script waits for the tag's registry",
  { timeout: 60_000 },
  async () => {
    // Without the call history, whose INCR a store awaits before its write
    // (as before tagged writes were batched), a tagged store is batched.
    const cache = await Cache.connect({
      cluster: { rootNodes },
      namespace: "tc-after",
      flush: false,
      timeout: 10_000,
      history: false,
    });
    after(() => cache.close());
    // Two stores share a batch; the next one goes alone.
    const stored = [
      cache.store("v", { tags: ["t"] }),
      cache.store("v2", { tags: ["t"] }),
    ];
    assert.equal(await cache.invalidateTags("t"), 2);
    for (const key of await Promise.all(stored)) {
      assert.equal(await cache.getStr(key), null);
    }
    const again = cache.store("w", { tags: ["u"] });
    assert.equal(await cache.expireTags("u"), 1);
    assert.equal(await cache.getStr(await again), null);
  },
);

test(
  "in a cluster, expire and a touch move a tagged entry's bookkeeping in its slot and its tags' registries: it outlives its old expiry, and invalidateTags still removes it",
  { timeout: 60_000 },
  async () => {
    const nodes = await primaries();
    const cache = await connect("tc-extend");
    const send = (args: string[]) => engineOf(cache).send(args);
    // Long enough for expire and the touch to land on a loaded machine;
    // the wait for it to pass below is on the server's clock.
    const extended = await cache.store("e", { tags: ["t", "u"], ttl: 1_500 });
    const touched = await cache.store("o", { tags: ["t"], ttl: 1_500 });
    const [seconds, micros] = (await send(["TIME"]) as unknown[]).map(Number);
    const writtenAt = seconds * 1000 + micros / 1000;
    assert.equal(await cache.expire(extended, 600_000), true);
    assert.equal(await cache.getStr(touched, { touch: 600_000 }), "o");
    // Every index and reverse index follows; each tag's registry keeps
    // its slots as long.
    const kept = await bookkeepingByNode(nodes, "tc-extend");
    assert.equal(kept.length, 5, kept.map(([, key]) => key).join());
    for (const [node, key] of kept) {
      const left = Number(await node.send("PTTL", key));
      assert.ok(left > 590_000, `${key}: PTTL ${left}`);
    }
    for (const tag of ["t", "u"]) {
      const registry = `tc-extend:__tag:s:${tag}`;
      assert.ok(Number(await send(["ZCARD", registry])) > 0, tag);
      const short = await send([
        "ZCOUNT",
        registry,
        "-inf",
        String(writtenAt + 600_000),
      ]);
      assert.equal(Number(short), 0, `${tag}: slots that expire too soon`);
    }
    await waitFor(
      async () => {
        const [now, nowMicros] = (await send(["TIME"]) as unknown[]).map(
          Number,
        );
        return now * 1000 + nowMicros / 1000 > writtenAt + 1_600;
      },
      5_000,
      "the entries' old expiry did not pass",
    );
    assert.equal(await cache.invalidateTags("t"), 2);
    assert.deepEqual(await cache.getMany([extended, touched]), [null, null]);
    assert.deepEqual(await bookkeeping(nodes, "tc-extend"), []);
  },
);
