// KeyvStore under real keyv and cache-manager, against a real redis-server.

import { test } from "node:test";
import assert from "node:assert/strict";
import Keyv from "keyv";
import { createCache } from "cache-manager";
import { Cache } from "./mod.ts";
import { KeyvStore } from "./keyv.ts";
import { redisForThisFile } from "./_testing/redis_server.ts";
import { waitFor } from "./_testing/wait.ts";
import { startCountingProxy } from "./_testing/counting_proxy.ts";

const { server, raw } = await redisForThisFile();

test("Keyv on KeyvStore: set, get, has, delete, getMany, setMany, deleteMany, typed values", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    namespace: "app",
  });
  const keyv = new Keyv({ store: new KeyvStore(cache), throwOnErrors: true });
  assert.equal(await keyv.set("user", { id: 7, tags: ["a"] }), true);
  assert.deepEqual(await keyv.get("user"), { id: 7, tags: ["a"] });
  assert.equal(
    await raw.send("EXISTS", "app:keyv:user"),
    1,
    "Keyv's namespace inside the cache's",
  );
  assert.equal(await keyv.has("user"), true);
  assert.equal(await keyv.get("missing"), undefined);
  await keyv.setMany([{ key: "a", value: 1 }, { key: "b", value: "1" }, {
    key: "c",
    value: null,
  }]);
  assert.deepEqual(await keyv.getMany(["a", "b", "missing", "c"]), [
    1,
    "1",
    undefined,
    null,
  ]);
  assert.equal(await keyv.delete("user"), true);
  assert.equal(await keyv.delete("user"), false);
  assert.equal(await keyv.deleteMany(["a", "b"]), true);
  assert.deepEqual(await keyv.getMany(["a", "b"]), [undefined, undefined]);
});

test("KeyvStore getMany, setMany and hasMany take one round trip each", async () => {
  await using proxy = await startCountingProxy(server.port);
  await using cache = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
    namespace: "batch",
  });
  const store = new KeyvStore(cache);
  const entries = Array.from({ length: 100 }, (_, i) => ({
    key: `k${i}`,
    value: `v${i}`,
    ttl: i % 2 === 0 ? 60_000 : undefined,
  }));
  const keys = entries.map(({ key }) => key);
  const shape = () => {
    const names = new Map<string, number>();
    for (const { name } of proxy.commands()) {
      names.set(name, (names.get(name) ?? 0) + 1);
    }
    return { turns: proxy.turns(), commands: Object.fromEntries(names) };
  };

  proxy.reset();
  await store.setMany(entries);
  assert.deepEqual(shape(), { turns: 1, commands: { SET: 100 } }, "setMany");
  assert.equal(Number(await raw.send("PTTL", "batch:k0")) > 50_000, true);
  assert.equal(await raw.send("PTTL", "batch:k1"), -1);

  proxy.reset();
  const values = await store.getMany([...keys, "missing"]);
  assert.deepEqual(values, [...entries.map(({ value }) => value), undefined]);
  assert.deepEqual(shape(), { turns: 1, commands: { MGET: 1 } }, "getMany");

  proxy.reset();
  assert.deepEqual(
    await store.hasMany(["missing", ...keys]),
    [false, ...keys.map(() => true)],
  );
  assert.deepEqual(shape(), { turns: 1, commands: { EXISTS: 101 } }, "hasMany");
});

test("KeyvStore refuses keys starting with __lock: as the cache does, and sends nothing", async () => {
  await using proxy = await startCountingProxy(server.port);
  await using cache = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
    flush: false,
  });
  const store = new KeyvStore(cache);
  const key = "__lock:user";
  proxy.reset();
  const calls: [string, () => Promise<unknown>][] = [
    ["get", () => store.get(key)],
    ["getMany", () => store.getMany(["user", key])],
    ["set", () => store.set(key, "x")],
    [
      "setMany",
      () => store.setMany([{ key: "user", value: "x" }, { key, value: "x" }]),
    ],
    ["has", () => store.has(key)],
    ["hasMany", () => store.hasMany(["user", key])],
    ["delete", () => store.delete(key)],
    ["deleteMany", () => store.deleteMany(["user", key])],
  ];
  for (const [method, call] of calls) {
    await assert.rejects(call(), RangeError, method);
  }
  // A PING on the same connection arrives after anything sent before it.
  await cache.health();
  assert.deepEqual(proxy.commands().map(({ name }) => name), ["PING"]);
});

test("Keyv ttl in ms is a Redis expiry; values expire", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const keyv = new Keyv({ store: new KeyvStore(cache) });
  await keyv.set("short", "value", 100);
  const ttl = Number(await raw.send("PTTL", "keyv:short"));
  assert.ok(ttl > 0 && ttl <= 100, `PTTL ${ttl}`);
  await keyv.set("forever", "value");
  assert.equal(await raw.send("PTTL", "keyv:forever"), -1);
  await waitFor(
    async () => await keyv.get("short") === undefined,
    2_000,
    "did not expire",
  );
});

test("clear removes only Keyv's namespace; the iterator walks it", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const first = new Keyv({ store: new KeyvStore(cache), namespace: "first" });
  const second = new Keyv({ store: new KeyvStore(cache), namespace: "second" });
  for (let i = 0; i < 30; i++) await first.set(`k${i}`, i);
  await second.set("kept", "yes");
  const seen = new Map<string, unknown>();
  for await (const [key, value] of first.iterator!(undefined)) {
    seen.set(key, value);
  }
  assert.equal(seen.size, 30);
  assert.equal(seen.get("k7"), 7);
  await first.clear();
  assert.equal(await first.get("k1"), undefined);
  assert.equal(await second.get("kept"), "yes");
});

test("bytes stored without serialization come back exactly", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const store = new KeyvStore(cache);
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  await store.set("bytes", bytes);
  assert.deepEqual(await store.get("bytes"), bytes);
  await store.set("text", "naïve ☃");
  assert.equal(await store.get("text"), "naïve ☃");
});

test("cache-manager 7 on Keyv on KeyvStore: set, get, wrap calls the function once", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const manager = createCache({
    stores: [new Keyv({ store: new KeyvStore(cache) })],
  });
  await manager.set("greeting", "hello", 60_000);
  assert.equal(await manager.get("greeting"), "hello");
  let calls = 0;
  const load = () => Promise.resolve(++calls);
  assert.equal(await manager.wrap("answer", load, 60_000), 1);
  assert.equal(await manager.wrap("answer", load, 60_000), 1);
  assert.equal(calls, 1);
  const ttl = Number(await raw.send("PTTL", "keyv:answer"));
  assert.ok(ttl > 50_000 && ttl <= 60_000, `PTTL ${ttl}`);
});

test("with Redis down, Keyv gets clear errors rather than silent misses when it asks for them", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    timeout: 300,
    flush: false,
  });
  const keyv = new Keyv({ store: new KeyvStore(cache), throwOnErrors: true });
  await server.kill();
  try {
    await assert.rejects(keyv.get("anything"), {
      name: /ConnectionError|TimeoutError/,
    });
    await assert.rejects(keyv.set("anything", 1), {
      name: /ConnectionError|TimeoutError/,
    });
  } finally {
    await server.restart();
  }
});

test("KeyvStore refuses an object that is not a connected Cache", () => {
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  assert.throws(() => new KeyvStore({} as any), TypeError);
});
