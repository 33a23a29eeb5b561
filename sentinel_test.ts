// The cache on a Sentinel-managed primary and replica, with three Sentinels
// of the test's own on loopback: it finds the primary through the
// Sentinels, can read from the replica, waits for the replica when asked,
// and follows a failover.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Cache, ReplicationError } from "./mod.ts";
import { startSentinelSet } from "./_testing/cluster.ts";
import { recordFigures } from "./_testing/figures.ts";
import { connectRaw } from "./_testing/raw_client.ts";
import { runtime } from "./_testing/runtime.ts";
import { waitFor } from "./_testing/wait.ts";
import { checkFailover, failoverFigures } from "./_testing/failover.ts";

const set = await startSentinelSet();
after(() => set.stop());
const sentinels = set.sentinelRootNodes.map(({ host, port }) =>
  `redis://${host}:${port}`
);

async function connect(options: Parameters<typeof Cache.connect>[0] = {}) {
  const cache = await Cache.connect({
    sentinel: { name: set.name, sentinels },
    flush: false,
    timeout: 2_000,
    ...options,
  });
  after(() => cache.close());
  return cache;
}

async function getCalls(port: number): Promise<number> {
  const raw = await connectRaw(`redis://127.0.0.1:${port}`);
  try {
    const stats = String(await raw.send("INFO", "commandstats"));
    return Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  } finally {
    await raw[Symbol.asyncDispose]();
  }
}

test("the cache finds the primary through the Sentinels and stores there, byte for byte", async () => {
  const cache = await connect({ namespace: "found" });
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const key = await cache.store(bytes);
  assert.deepEqual(await cache.get(key), bytes);
  const raw = await connectRaw(set.primary.url());
  try {
    assert.deepEqual(await raw.getBytes(`found:${key}`), bytes);
  } finally {
    await raw[Symbol.asyncDispose]();
  }
});

test("read-through through Sentinel: the value is stored on the primary with ttl + grace, and a failing loader inside grace gets it back", async () => {
  const cache = await connect({ namespace: "grace" });
  const options = { ttl: 200, grace: 10_000 };
  await cache.getOrStore("page", () => "good", options);
  const raw = await connectRaw(set.primary.url());
  try {
    assert.equal(
      new TextDecoder().decode((await raw.getBytes("grace:page"))!),
      "good",
    );
    const left = Number(await raw.send("PTTL", "grace:page"));
    assert.ok(left > 10_000 && left <= 10_200, `PTTL ${left}`);
    await waitFor(
      async () => Number(await raw.send("PTTL", "grace:page")) <= 10_000,
      10_000,
      "the value did not become stale",
    );
  } finally {
    await raw[Symbol.asyncDispose]();
  }
  const value = await cache.getOrStore("page", () => {
    throw new Error("database down");
  }, options);
  assert.equal(new TextDecoder().decode(value), "good");
});

test("an unknown name fails with a clear error within the connect timeout", async () => {
  await assert.rejects(
    Cache.connect({
      sentinel: { name: "no-such-primary", sentinels },
      connectTimeout: 1_000,
    }),
    (error: unknown) =>
      error instanceof Error &&
      ["ConnectionError", "TimeoutError"].includes(error.name),
  );
});

test("waitReplicas: a store resolves once the replica has it, and says so when too few do", async () => {
  const cache = await connect({ namespace: "wait", waitReplicas: 1 });
  const key = await cache.store("durable");
  const raw = await connectRaw(set.replica.url());
  try {
    assert.equal(
      new TextDecoder().decode((await raw.getBytes(`wait:${key}`))!),
      "durable",
    );
  } finally {
    await raw[Symbol.asyncDispose]();
  }
  await assert.rejects(
    cache.store("needs two", { waitReplicas: 2, timeout: 400 }),
    (error: unknown) =>
      error instanceof ReplicationError && error.acknowledged === 1,
  );
});

test("readFromReplicas: gets are served by the replica", async () => {
  const writer = await connect({ namespace: "reads", waitReplicas: 1 });
  const reader = await connect({
    namespace: "reads",
    sentinel: { name: set.name, sentinels, readFromReplicas: true },
  });
  const keys = await writer.storeMany(["a", "b", "c"]);
  await writer.store("x");
  const before = await getCalls(set.replica.port);
  for (const key of keys) assert.equal((await reader.get(key))?.length, 1);
  assert.ok(await getCalls(set.replica.port) - before >= 3);
});

test("l1 with Sentinel: a write through another connection evicts the local copy", async () => {
  const cache = await connect({ namespace: "l1", l1: {} });
  const key = await cache.store("old");
  await cache.getStr(key);
  assert.equal(await cache.getStr(key), "old");
  assert.equal(cache.stats().l1?.hits, 1);
  const raw = await connectRaw(set.primary.url());
  try {
    await raw.send("SET", `l1:${key}`, "new");
  } finally {
    await raw[Symbol.asyncDispose]();
  }
  await waitFor(
    async () => await cache.getStr(key) === "new",
    5_000,
    "the local copy outlived a write on the primary",
  );
});

test(
  "killing the primary during writes: writes fail for the failover, then go to the promoted replica; none acknowledged with waitReplicas is lost",
  {
    timeout: 120_000,
  },
  async () => {
    let killed: number | undefined;
    const outcomes = await checkFailover(connect, {
      // Every key lives on the one primary.
      servesKey: () => true,
      kill: async () => {
        killed = await set.killPrimary();
      },
      waitForNewPrimary: async () =>
        `redis://127.0.0.1:${await set.waitForFailover(killed!)}`,
    });
    console.log(
      `sentinel failover (${runtime}):\n  ${
        outcomes.map(({ summary }) => summary).join("\n  ")
      }`,
    );
    recordFigures("failover_sentinel", failoverFigures(outcomes));
  },
);
