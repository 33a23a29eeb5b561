// replay: the exact lines of the Python original, from the counter and the
// two lists in Redis.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Cache, callHistory, countCalls, replay } from "./mod.ts";
import { redisForThisFile } from "./_testing/redis_server.ts";
import { startCountingProxy } from "./_testing/counting_proxy.ts";

const { server, raw } = await redisForThisFile();

test("replay prints the count and each call with its result, and returns the lines", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const keys = [
    await cache.store("foo"),
    await cache.store("bar"),
    await cache.store(42),
  ];
  const printed: string[] = [];
  const lines = await replay(cache, "store", {
    log: (line) => printed.push(line),
  });
  const expected = [
    "Cache.store was called 3 times:",
    `Cache.store(*('foo',)) -> ${keys[0]}`,
    `Cache.store(*('bar',)) -> ${keys[1]}`,
    `Cache.store(*(42,)) -> ${keys[2]}`,
  ];
  assert.deepEqual(lines, expected);
  assert.deepEqual(printed, expected);
  assert.deepEqual(
    await replay(cache, "Cache.store", { log: () => {} }),
    expected,
  );
});

test("replay logs to console.log by default", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const key = await cache.store("logged");
  const original = console.log;
  const seen: unknown[] = [];
  console.log = (...args: unknown[]) => seen.push(...args);
  try {
    await replay(cache);
  } finally {
    console.log = original;
  }
  assert.deepEqual(seen, [
    "Cache.store was called 1 times:",
    `Cache.store(*('logged',)) -> ${key}`,
  ]);
});

test("a missing counter is 0 times; lines pair the lists up to the shorter one", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  assert.deepEqual(await replay(cache, "store", { log: () => {} }), [
    "Cache.store was called 0 times:",
  ]);
  await raw.send("RPUSH", "Cache.store:inputs", "('a',)", "('b',)", "('c',)");
  await raw.send("RPUSH", "Cache.store:outputs", "k1", "k2");
  await raw.send("SET", "Cache.store", "7");
  assert.deepEqual(await replay(cache, "store", { log: () => {} }), [
    "Cache.store was called 7 times:",
    "Cache.store(*('a',)) -> k1",
    "Cache.store(*('b',)) -> k2",
  ]);
});

test("replay reads a namespaced cache's own history, in one round trip", async () => {
  await using proxy = await startCountingProxy(server.port);
  await using cache = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
    namespace: "tenant",
  });
  const key = await cache.store(1.5);
  proxy.reset();
  const lines = await replay(cache, "store", { log: () => {} });
  assert.equal(proxy.turns(), 1);
  assert.deepEqual(lines, [
    "Cache.store was called 1 times:",
    `Cache.store(*(1.5,)) -> ${key}`,
  ]);
});

test("replay finds the qualified name of a decorated method of a subclass", async () => {
  class Library extends Cache {
    @countCalls
    @callHistory
    async lend(title: string): Promise<string> {
      return await Promise.resolve(`lent ${title}`);
    }
  }
  class Branch extends Library {}
  await using cache = await Branch.connect({ url: server.url() });
  await cache.lend("Dune");
  assert.deepEqual(await replay(cache, "lend", { log: () => {} }), [
    "Library.lend was called 1 times:",
    "Library.lend(*('Dune',)) -> lent Dune",
  ]);
});

test("replay of a subclass's store reads Cache.store", async () => {
  class MyCache extends Cache {}
  await using cache = await MyCache.connect({ url: server.url() });
  const key = await cache.store("kept");
  assert.deepEqual(await replay(cache, "store", { log: () => {} }), [
    "Cache.store was called 1 times:",
    `Cache.store(*('kept',)) -> ${key}`,
  ]);
});

test("replay validates its arguments", async () => {
  await using cache = await Cache.connect({ url: server.url(), flush: false });
  await assert.rejects(replay(cache, ""), TypeError);
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(replay(cache, "store", { log: "no" as any }), TypeError);
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(replay({} as any), TypeError);
});
