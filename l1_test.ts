// The in-process layer (`l1`): hits come from memory, each caller gets its
// own copy, and Redis's invalidations keep it coherent with writes from
// other connections and processes, with expiry, flushes and lost connections.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setImmediate } from "node:timers";
import { createClient } from "redis";
import { Cache } from "./mod.ts";
import {
  redisForThisFile,
  runChild,
  runtime,
  testdataCommand,
  waitFor,
} from "./_testing/util.ts";

const { server, raw } = await redisForThisFile();
const WAIT = 5_000;

async function connect(options: Parameters<typeof Cache.connect>[0] = {}) {
  const cache = await Cache.connect({
    url: server.url(),
    l1: { maxEntries: 100 },
    ...options,
  });
  after(() => cache.close());
  return cache;
}

test("a second get of a key comes from process memory, byte for byte", async () => {
  const cache = await connect({ flush: false, namespace: "hit" });
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const key = await cache.store(bytes);
  assert.deepEqual(await cache.get(key), bytes);
  assert.deepEqual(await cache.get(key), bytes);
  assert.equal(await cache.getStr(await cache.store("naïve")), "naïve");
  const stats = cache.stats();
  assert.equal(stats.l1?.hits, 1);
  assert.equal(stats.hits, 3);
  assert.equal(stats.l1?.entries, 2);
  assert.equal(stats.l1?.bytes, 256 + 6);
});

test("a caller that changes the bytes it got does not change what the next caller gets", async () => {
  const cache = await connect({ flush: false, namespace: "copy" });
  const key = await cache.store("abc");
  await cache.get(key);
  const first = (await cache.get(key))!;
  first.fill(0);
  await cache.get(key, (bytes) => bytes.fill(1));
  assert.equal(await cache.getStr(key), "abc");
  assert.equal(cache.stats().l1?.hits, 3);
});

test("a write from another connection evicts the local copy", async () => {
  const cache = await connect({ flush: false, namespace: "other" });
  const key = await cache.store("old");
  assert.equal(await cache.getStr(key), "old");
  assert.equal(await cache.getStr(key), "old");
  await raw.send("SET", `other:${key}`, "new");
  await waitFor(
    async () => await cache.getStr(key) === "new",
    WAIT,
    "the local copy outlived a write from another connection",
  );
  await raw.send("UNLINK", `other:${key}`);
  await waitFor(
    async () => await cache.getStr(key) === null,
    WAIT,
    "the local copy outlived a delete from another connection",
  );
});

test("the cache's own delete, expire and getOrStore are seen at once", async () => {
  const cache = await connect({ flush: false, namespace: "own" });
  const key = await cache.store("x");
  await cache.get(key);
  assert.equal(await cache.delete(key), 1);
  assert.equal(await cache.get(key), null);
  const value = await cache.getOrStore("page", () => "v1");
  assert.equal(new TextDecoder().decode(value), "v1");
  assert.equal(await cache.getStr("page"), "v1");
  assert.equal(await cache.expire("page", 60_000), true);
  assert.equal(cache.stats().l1?.entries, 0);
});

test("a local copy expires when the key does, even before Redis removes it", async () => {
  const cache = await connect({ flush: false, namespace: "ttl" });
  const key = await cache.store("brief", { ttl: 300 });
  assert.equal(await cache.getStr(key), "brief");
  assert.equal(await cache.getStr(key), "brief");
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.equal(await cache.getStr(key), null);
});

test("FLUSHDB from another connection empties the layer", async () => {
  const cache = await connect({ flush: false, namespace: "flush" });
  const key = await cache.store("x");
  await cache.get(key);
  assert.equal(cache.stats().l1?.entries, 1);
  await raw.send("FLUSHDB");
  await waitFor(
    () => cache.stats().l1?.entries === 0,
    WAIT,
    "FLUSHDB did not empty the layer",
  );
  assert.equal(await cache.get(key), null);
});

test("the layer holds at most maxEntries values and maxBytes bytes, least recently used out first", async () => {
  const cache = await connect({
    flush: false,
    namespace: "bounds",
    l1: { maxEntries: 2, maxBytes: 10 },
  });
  const [a, b, c] = await cache.storeMany(["aaaa", "bbbb", "cccc"]);
  await cache.get(a);
  await cache.get(b);
  await cache.get(a);
  await cache.get(c); // evicts b, the least recently used
  assert.deepEqual(cache.stats().l1, { hits: 1, entries: 2, bytes: 8 });
  await cache.get(a);
  assert.equal(cache.stats().l1?.hits, 2);
  const big = await cache.store("x".repeat(11));
  await cache.get(big);
  await cache.get(big);
  assert.equal(cache.stats().l1?.hits, 2, "a value over maxBytes is not held");
});

test("when the connection drops, the layer is emptied, and a value changed meanwhile is read fresh", async () => {
  const cache = await connect({
    flush: false,
    namespace: "drop",
    timeout: 2_000,
  });
  const key = await cache.store("before");
  await cache.get(key);
  assert.equal(cache.stats().l1?.entries, 1);
  await server.kill();
  await waitFor(
    () => cache.stats().l1?.entries === 0,
    WAIT,
    "the layer kept its values after the connection dropped",
  );
  await server.restart();
  await raw.send("SET", `drop:${key}`, "after");
  await waitFor(
    async () => await cache.getStr(key, { onUnavailable: "miss" }) === "after",
    WAIT,
    "a value changed while disconnected was not read fresh",
  );
  // Tracking is back on after the reconnect: a later write still evicts.
  await cache.getStr(key);
  await raw.send("SET", `drop:${key}`, "later");
  await waitFor(
    async () => await cache.getStr(key) === "later",
    WAIT,
    "tracking was not turned back on after the reconnect",
  );
});

test(
  "two processes: after a write is acknowledged, the reader's local copy is stale for at most the invalidation round trip",
  {
    timeout: 60_000,
  },
  async () => {
    const cache = await connect({ flush: false, namespace: "race" });
    const key = "race:counter";
    const count = 300;
    const reads: { started: number; value: number }[] = [];
    const [command, args] = testdataCommand("l1_writer");
    const writer = runChild(command, [
      ...args,
      server.url(),
      key,
      String(count),
      "2",
    ], 30_000);
    let done = false;
    writer.then(() => done = true);
    const giveUpAt = Date.now() + 30_000;
    let last = 0;
    while ((!done || last < count) && Date.now() < giveUpAt) {
      const started = performance.timeOrigin + performance.now();
      const value = Number(await cache.getStr("counter") ?? 0);
      reads.push({ started, value });
      last = value;
      // Invalidations arrive as I/O: like a server between requests, the
      // reader lets the event loop run between reads.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { code, output } = await writer;
    assert.equal(last, count, "the reader never saw the last value");
    assert.equal(code, 0, output);
    const acknowledged = new Map<number, number>();
    for (const line of output.trim().split("\n")) {
      const [value, at] = line.split(" ").map(Number);
      acknowledged.set(value, at);
    }
    assert.equal(acknowledged.size, count);
    // For each read, how long after the newest write acknowledged before it
    // started did it still return an older value.
    let worst = 0;
    let staleReads = 0;
    for (const { started, value } of reads) {
      let newest = 0;
      for (let v = value + 1; v <= count; v++) {
        const at = acknowledged.get(v)!;
        if (at <= started) newest = at;
        else break;
      }
      if (newest > 0) {
        staleReads++;
        worst = Math.max(worst, started - newest);
      }
    }
    assert.ok(cache.stats().l1!.hits > 0, "the reader never hit its layer");
    console.log(
      `l1 coherence (${runtime}): ${reads.length} reads, ${
        cache.stats().l1!.hits
      } from memory, ${staleReads} stale after an acknowledged write, for at most ${
        worst.toFixed(2)
      } ms`,
    );
    assert.ok(
      worst < 1_000,
      `a stale value was served ${worst} ms after the write`,
    );
  },
);

test("l1 refuses bounds it cannot keep and clients that do not pass invalidations on", async () => {
  await assert.rejects(
    Cache.connect({ url: server.url(), l1: { maxEntries: 0 } }),
    RangeError,
  );
  const plain = createClient({ url: server.url() });
  await plain.connect();
  try {
    await assert.rejects(
      Cache.connect({ client: plain, l1: {}, flush: false }),
      /emitInvalidate/,
    );
  } finally {
    await plain.close();
  }
});

test("a node-redis client of the user's, made with RESP 3 and emitInvalidate, keeps the layer coherent", async () => {
  const client = createClient({
    url: server.url(),
    RESP: 3,
    emitInvalidate: true,
  });
  await client.connect();
  after(() => client.close());
  const cache = await connect({ client, flush: false, namespace: "user" });
  const key = await cache.store("old");
  await cache.get(key);
  await cache.get(key);
  assert.equal(cache.stats().l1?.hits, 1);
  await raw.send("SET", `user:${key}`, "new");
  await waitFor(
    async () => await cache.getStr(key) === "new",
    WAIT,
    "the user's client did not pass invalidations on",
  );
});
