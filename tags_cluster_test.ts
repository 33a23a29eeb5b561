// Tags on a real Redis Cluster (3 primaries, 3 replicas, on loopback): the
// entries of one tag, spread over thousands of slots, are all invalidated,
// and what it costs is counted on the primaries.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Cache } from "./mod.ts";
import { startCluster } from "./_testing/cluster.ts";
import { keySlot } from "./_drivers/key_slot.ts";
import { connectRaw, type RawClient, recordFigures } from "./_testing/util.ts";

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
    // and the kept tags' indexes, remain.
    for (const node of nodes) {
      const left = (await node.send("KEYS", "tc:__tag:i:*") as unknown[])
        .map(String);
      assert.ok(
        left.every((key) => key.endsWith(":other") || key.endsWith(":also")),
        left.join(),
      );
    }
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

test("expireTags in a cluster removes entries without grace across slots", {
  timeout: 60_000,
}, async () => {
  const cache = await connect("tc-soft");
  const keys = await cache.storeMany(
    Array.from({ length: 300 }, (_, i) => i),
    { tags: ["soft"], ttl: 600_000 },
  );
  assert.equal(await cache.expireTags("soft"), keys.length);
  const found = await cache.getMany(keys);
  assert.equal(found.filter((value) => value !== null).length, 0);
});
