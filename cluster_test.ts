// The cache on a real Redis Cluster: 3 primaries and 3 replicas of the
// test's own on loopback. Batches work across slots, `clear` reaches every
// primary, the Python original's history keys keep their names, replicas
// can serve reads and acknowledge writes, and the cache follows a failover.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Cache, ReplicationError } from "./mod.ts";
import { startCluster } from "./_testing/cluster.ts";
import { recordFigures } from "./_testing/figures.ts";
import { connectRaw, type RawClient } from "./_testing/raw_client.ts";
import type { RedisServer } from "./_testing/redis_server.ts";
import { runtime } from "./_testing/runtime.ts";
import { waitFor } from "./_testing/wait.ts";
import { checkFailover, failoverFigures } from "./_testing/failover.ts";
import { keySlot } from "./_drivers/key_slot.ts";

const cluster = await startCluster();
const rootNodes = cluster.rootNodes.map(({ url }) => url);
const admin = new Map<number, RawClient>();
after(async () => {
  for (const client of admin.values()) await client[Symbol.asyncDispose]();
  await cluster.stop();
});

// A plain connection to one node, to check from outside what is where.
async function node(port: number): Promise<RawClient> {
  let client = admin.get(port);
  if (client === undefined) {
    client = await connectRaw(`redis://127.0.0.1:${port}`);
    admin.set(port, client);
  }
  return client;
}

async function keysOnPrimaries(pattern: string): Promise<number[]> {
  const counts: number[] = [];
  for (const server of cluster.nodes.filter((server) => server.running)) {
    const raw = await node(server.port);
    const [role] = await raw.send("ROLE") as string[];
    if (String(role) !== "master") continue;
    const keys = await raw.send("KEYS", pattern) as unknown[];
    counts.push(keys.length);
  }
  return counts;
}

async function connect(options: Parameters<typeof Cache.connect>[0] = {}) {
  const cache = await Cache.connect({
    cluster: { rootNodes },
    flush: false,
    timeout: 2_000,
    ...options,
  });
  after(() => cache.close());
  return cache;
}

const bytesOf = (i: number) =>
  Uint8Array.from({ length: 64 }, (_, j) => (i * 31 + j) % 256);

test("store, get, getMany, delete and clear work across slots and primaries", async () => {
  const cache = await connect({ namespace: "slots" });
  const values = Array.from({ length: 300 }, (_, i) => bytesOf(i));
  const plain = await cache.storeMany(values);
  const expiring = await cache.storeMany(values, { ttl: 60_000 });
  const one = await cache.store(bytesOf(7));
  const counts = await keysOnPrimaries("slots:*");
  assert.equal(counts.length, 3);
  assert.ok(
    counts.every((count) => count > 100),
    `keys per primary: ${counts}`,
  );
  assert.deepEqual(await cache.getMany(plain), values);
  assert.deepEqual(await cache.getMany([...expiring, "missing"]), [
    ...values,
    null,
  ]);
  // Concurrent gets are coalesced, then split per slot.
  assert.deepEqual(
    await Promise.all(plain.map((key) => cache.get(key))),
    values,
  );
  assert.deepEqual(await cache.get(one), bytesOf(7));
  const ttl = await cache.ttl(expiring[0]);
  assert.ok(ttl !== null && ttl > 50_000 && ttl <= 60_000);
  assert.equal(await cache.delete(...plain.slice(0, 100), "missing"), 100);
  assert.equal(await cache.has(plain[0]), false);
  assert.equal(await cache.has(plain[100]), true);
  const other = await connect({ namespace: "kept" });
  const kept = await other.store("stays");
  await cache.clear();
  assert.deepEqual(await keysOnPrimaries("slots:*"), [0, 0, 0]);
  assert.equal(await other.getStr(kept), "stays");
});

test("the Python original's call count and history keep their exact names on a cluster", async () => {
  const cache = await connect({ namespace: undefined, flush: true });
  await cache.store("a");
  await cache.store(2);
  const count = await cluster.primaryFor("Cache.store");
  assert.equal(
    new TextDecoder().decode(
      (await (await node(count.port)).getBytes("Cache.store"))!,
    ),
    "2",
  );
  const inputs = await cluster.primaryFor("Cache.store:inputs");
  assert.deepEqual(
    (await (await node(inputs.port)).send(
      "LRANGE",
      "Cache.store:inputs",
      "0",
      "-1",
    ) as Uint8Array[])
      .map((bytes) => new TextDecoder().decode(bytes)),
    ["('a',)", "(2,)"],
  );
});

test("flush on connect empties every primary", async () => {
  const cache = await connect({ namespace: "flushed" });
  await cache.storeMany(Array.from({ length: 50 }, (_, i) => i));
  await connect({ flush: true });
  assert.deepEqual(await keysOnPrimaries("*"), [0, 0, 0]);
});

test("waitReplicas: a store resolves once a replica has it, and says so when too few do", async () => {
  const cache = await connect({ namespace: "wait", waitReplicas: 1 });
  const key = await cache.store("durable");
  const keys = await cache.storeMany(["a", "b", "c"], { ttl: 60_000 });
  assert.deepEqual(await cache.getMany(keys, (b) => b.length), [1, 1, 1]);
  await assert.rejects(
    cache.store("needs two", { waitReplicas: 2, timeout: 400 }),
    (error: unknown) =>
      error instanceof ReplicationError && error.acknowledged === 1 &&
      error.required === 2,
  );
  assert.equal(await cache.getStr(key), "durable");
});

// Each primary with the WAITs it ran since `resetWaits`, by port.
async function primaries(): Promise<{ port: number; raw: RawClient }[]> {
  const found = [];
  for (const server of cluster.nodes.filter((server) => server.running)) {
    const raw = await node(server.port);
    const [role] = await raw.send("ROLE") as unknown[];
    if (String(role) === "master") found.push({ port: server.port, raw });
  }
  return found;
}

async function resetWaits(): Promise<void> {
  for (const { raw } of await primaries()) {
    await raw.send("CONFIG", "RESETSTAT");
  }
}

async function waitsPerPrimary(): Promise<Map<number, number>> {
  const waits = new Map<number, number>();
  for (const { port, raw } of await primaries()) {
    const stats = String(await raw.send("INFO", "commandstats"));
    waits.set(port, Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0));
  }
  return waits;
}

test("waitReplicas: the writes of one tick to many slots of a primary share one WAIT on it, and none goes to another", async () => {
  const cache = await connect({ namespace: "pernode", waitReplicas: 1 });
  await resetWaits();
  const keys = await Promise.all(
    Array.from({ length: 60 }, (_, i) => cache.store(bytesOf(i))),
  );
  const slots = new Set(keys.map((key) => keySlot(`pernode:${key}`)));
  const counts = await keysOnPrimaries("pernode:*");
  assert.ok(
    slots.size > 50 && counts.every((count) => count > 5),
    `slots ${slots.size}, keys per primary: ${counts}`,
  );
  assert.deepEqual([...(await waitsPerPrimary()).values()], [1, 1, 1]);
  // A storeMany: node-redis splits the MSET per slot itself.
  await resetWaits();
  const many = await cache.storeMany(
    Array.from({ length: 60 }, (_, i) => bytesOf(i)),
  );
  assert.deepEqual([...(await waitsPerPrimary()).values()], [1, 1, 1]);
  assert.deepEqual(await cache.getMany([...keys, ...many]), [
    ...Array.from({ length: 60 }, (_, i) => bytesOf(i)),
    ...Array.from({ length: 60 }, (_, i) => bytesOf(i)),
  ]);
});

// The replica of the primary on `port`, and whether that primary serves a key.
async function replicaOf(primary: RedisServer) {
  const served = await cluster.slotsServedBy(primary);
  for (const server of cluster.nodes.filter((server) => server.running)) {
    const role = await (await node(server.port)).send("ROLE") as unknown[];
    if (String(role[0]) === "slave" && Number(role[2]) === primary.port) {
      return {
        replica: server,
        serves: (key: string) =>
          served.some(([first, last]) =>
            first <= keySlot(key) && keySlot(key) <= last
          ),
      };
    }
  }
  throw new Error(`no replica of port ${primary.port}`);
}

test("waitReplicas: with one primary's replica paused, that primary's writes of a tick are refused after one WAIT, the others' confirmed", async () => {
  const cache = await connect({
    namespace: "paused",
    waitReplicas: 1,
    timeout: 1_000,
  });
  const primary = await cluster.primaryFor("k0");
  const { replica, serves } = await replicaOf(primary);
  await resetWaits();
  // Shorter than the cluster's node timeout, so that no node marks it failed.
  replica.pause();
  let outcomes;
  try {
    outcomes = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => cache.store(bytesOf(i))),
    );
  } finally {
    replica.resume();
  }
  const refused = outcomes.filter((outcome) => outcome.status === "rejected");
  const kept = outcomes.flatMap((outcome) =>
    outcome.status === "fulfilled" ? [outcome.value] : []
  );
  assert.ok(refused.length > 5, `${refused.length} refused`);
  for (const { reason } of refused) {
    assert.ok(
      reason instanceof ReplicationError && reason.acknowledged === 0,
      `refused with ${reason}`,
    );
  }
  assert.ok(kept.length > 10, `${kept.length} confirmed`);
  assert.deepEqual(kept.filter((key) => serves(`paused:${key}`)), []);
  // The primary has the refused writes, every one of them (keys are UUIDs;
  // the call history has keys of its own).
  assert.equal(
    (await (await node(primary.port)).send(
      "KEYS",
      "paused:????????-*",
    ) as unknown[]).length,
    refused.length,
  );
  assert.deepEqual([...(await waitsPerPrimary()).values()], [1, 1, 1]);
  await cluster.waitUntilHealthy();
});

test("waitReplicas: a tagged write, whose script goes a round trip after the call, is refused when its primary's replica is paused", async () => {
  // A WAIT sent along with the call would go ahead of the script (sent once
  // the tags' registry has answered), cover none of it, and count the
  // replica that had the earlier writes. The registry lives elsewhere and
  // there is no call history, so that no write of theirs ahead of the WAIT
  // makes it wait by chance.
  const cache = await connect({
    namespace: "tagged",
    waitReplicas: 1,
    timeout: 600,
    history: false,
  });
  const tags = { tags: ["t"] };
  await cache.storeMany(["loads", "the", "scripts"], tags);
  const registry = await cluster.primaryFor("tagged:__tag:s:t");
  const primary = (await primaries()).find(({ port }) =>
    port !== registry.port
  )!;
  const { replica, serves } = await replicaOf(
    cluster.nodes.find(({ port }) => port === primary.port)!,
  );
  // Writes the replica has, on each node's connection, before it stops.
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => cache.store(bytesOf(i), tags)),
  );
  replica.pause();
  let outcomes;
  try {
    outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => cache.store(bytesOf(i), tags)),
    );
  } finally {
    replica.resume();
  }
  const confirmed = outcomes.flatMap((outcome) =>
    outcome.status === "fulfilled" ? [outcome.value] : []
  );
  assert.ok(confirmed.length < 20, "every tagged write was confirmed");
  assert.deepEqual(confirmed.filter((key) => serves(`tagged:${key}`)), []);
  for (const outcome of outcomes) {
    if (outcome.status === "fulfilled") continue;
    assert.ok(
      outcome.reason instanceof ReplicationError,
      `refused with ${outcome.reason}`,
    );
  }
  await cluster.waitUntilHealthy();
});

test("waitReplicas: a write an ASK sent to the importing node is refused, not confirmed by the migrating node's replicas", async () => {
  // Every key of the namespace is in the slot of "mig". While it migrates
  // from A to B, A takes writes of keys it holds and sends the others to B
  // with an ASK, and node-redis follows it without a new slot table.
  const cache = await connect({
    namespace: "{mig}",
    waitReplicas: 1,
    timeout: 600,
    history: false,
  });
  const slot = String(keySlot("mig"));
  const source = await cluster.primaryFor("mig");
  const { port, raw: b } = (await primaries()).find(({ port }) =>
    port !== source.port
  )!;
  const target = cluster.nodes.find((server) => server.port === port)!;
  const a = await node(source.port);
  const [aId, bId] = [
    String(await a.send("CLUSTER", "MYID")),
    String(await b.send("CLUSTER", "MYID")),
  ];
  // A normal batch, one write in the slot, the others across slots, is
  // confirmed, with the check of each slot in it.
  const other = await connect({ namespace: "normal", waitReplicas: 1 });
  const before = await Promise.all([
    cache.store("before"),
    ...Array.from({ length: 20 }, (_, i) => other.store(bytesOf(i))),
  ]);
  assert.equal(before.length, 21);
  const { replica } = await replicaOf(target);
  let outcome;
  let taken;
  await b.send("CLUSTER", "SETSLOT", slot, "IMPORTING", aId);
  try {
    await a.send("CLUSTER", "SETSLOT", slot, "MIGRATING", bId);
    // Shorter than the cluster's node timeout, so that no node marks it failed.
    replica.pause();
    try {
      outcome = await Promise.allSettled([cache.store("x")]);
    } finally {
      replica.resume();
    }
  } finally {
    // The write B took in a slot it will not own: gone before B gives the
    // slot up (ASKING lets B answer for it once).
    taken = await b.send("KEYS", "{mig}:*") as unknown[];
    for (const key of taken) {
      await b.send("ASKING");
      await b.send("DEL", String(key));
    }
    await a.send("CLUSTER", "SETSLOT", slot, "STABLE");
    await b.send("CLUSTER", "SETSLOT", slot, "STABLE");
  }
  assert.equal(taken.length, 1, "the write did not go to B");
  const [result] = outcome!;
  assert.equal(result.status, "rejected", "the write B took was confirmed");
  assert.ok(
    result.reason instanceof ReplicationError &&
      result.reason.acknowledged === 0 &&
      /ASK/.test(String((result.reason.cause as Error)?.message)),
    `refused with ${result.reason} (${result.reason?.cause})`,
  );
  // The slot is A's again: the cache writes there and is confirmed.
  assert.equal(await cache.getStr(await cache.store("after")), "after");
  assert.equal(await cache.getStr(before[0]), "before");
  await cluster.waitUntilHealthy();
});

test("readFromReplicas: gets are served by replicas", async () => {
  const writer = await connect({ namespace: "replicas", waitReplicas: 1 });
  const reader = await connect({
    namespace: "replicas",
    cluster: { rootNodes, readFromReplicas: true },
  });
  const keys = await Promise.all(
    Array.from({ length: 30 }, (_, i) => writer.store(bytesOf(i))),
  );
  const before = await replicaGets();
  for (const [i, key] of keys.entries()) {
    assert.deepEqual(await reader.get(key), bytesOf(i));
  }
  assert.ok(await replicaGets() - before >= 10, "no get reached a replica");
});

async function replicaGets(): Promise<number> {
  let total = 0;
  for (const server of cluster.nodes.filter((server) => server.running)) {
    const raw = await node(server.port);
    const [role] = await raw.send("ROLE") as unknown[];
    if (String(role) !== "slave") continue;
    const stats = String(await raw.send("INFO", "commandstats"));
    total += Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  }
  return total;
}

test("l1 on a cluster: a write through another connection evicts the local copy", async () => {
  const cache = await connect({ namespace: "l1", l1: {} });
  const keys = await cache.storeMany(["a", "b", "c", "d"]);
  for (const key of [...keys, ...keys]) await cache.getStr(key);
  assert.equal(cache.stats().l1?.hits, 4);
  for (const key of keys) {
    const primary = await cluster.primaryFor(`l1:${key}`);
    await (await node(primary.port)).send("SET", `l1:${key}`, "new");
  }
  await waitFor(
    async () =>
      (await Promise.all(keys.map((key) => cache.getStr(key)))).every((v) =>
        v === "new"
      ),
    5_000,
    "a local copy outlived a write on its node",
  );
});

test(
  "read-through on a cluster: getOrStoreMany across slots loads once, grace serves stale, negative entries live on their own slot",
  {
    timeout: 30_000,
  },
  async () => {
    const cache = await connect({ namespace: "grace" });
    const keys = Array.from({ length: 60 }, (_, i) => `row-${i}`);
    const many = { ttl: 60_000, grace: 30_000, negativeTtl: 60_000 };
    const asked: string[][] = [];
    const values = await cache.getOrStoreMany(keys, (missing) => {
      asked.push(missing);
      return missing.map((key) => key === "row-7" ? null : `value ${key}`);
    }, many);
    assert.equal(asked.length, 1);
    assert.deepEqual(asked[0], keys);
    assert.equal(values[7], null);
    assert.equal(new TextDecoder().decode(values[8]!), "value row-8");
    const counts = await keysOnPrimaries("grace:row-*");
    assert.ok(
      counts.every((count) => count > 5),
      `keys per primary: ${counts}`,
    );
    const left = await cache.ttl("row-8");
    assert.ok(left! > 60_000 && left! <= 90_000, `PTTL ${left}`);
    assert.equal(
      (await keysOnPrimaries("grace:__miss:row-7")).reduce((a, b) => a + b),
      1,
    );
    const again = await cache.getOrStoreMany(keys, () => {
      throw new Error("not called");
    }, many);
    assert.deepEqual(again, values);
    // Grace: stale once ttl has passed, served when the loader fails.
    const options = { ttl: 200, grace: 10_000 };
    await cache.getOrStore("stale", () => "good", options);
    await waitFor(
      async () => (await cache.ttl("stale"))! <= 10_000,
      10_000,
      "the value did not become stale",
    );
    const value = await cache.getOrStore("stale", () => {
      throw new Error("database down");
    }, options);
    assert.equal(new TextDecoder().decode(value), "good");
    assert.equal(cache.stats().readThrough.staleServed, 1);
  },
);

test(
  "killing a primary during writes: its writes fail for the failover, then go to the promoted replica; none acknowledged with waitReplicas is lost",
  {
    timeout: 120_000,
  },
  async () => {
    const victim = await cluster.primaryFor("k0");
    const slots = await cluster.slotsServedBy(victim);
    const outcomes = await checkFailover(connect, {
      servesKey: (key) =>
        slots.some(([first, last]) =>
          first <= keySlot(key) && keySlot(key) <= last
        ),
      kill: () => cluster.killPrimary(victim),
      waitForNewPrimary: async () =>
        (await cluster.waitForFailover(victim.port)).url(),
    });
    console.log(
      `cluster failover (${runtime}):\n  ${
        outcomes.map(({ summary }) => summary).join("\n  ")
      }`,
    );
    recordFigures("failover_cluster", failoverFigures(outcomes));
  },
);
