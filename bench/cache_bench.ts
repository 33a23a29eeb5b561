// `deno task bench`: the cache against the raw node-redis client under it,
// on a redis-server this file starts on a free port. The issue on benchmarks
// grows this into the full comparison.

import { Buffer } from "node:buffer";
import { createClient } from "redis";
import { Cache } from "../mod.ts";
import { startRedisServer } from "../_test_util.ts";

const server = await startRedisServer();
globalThis.addEventListener("unload", () => server.killNow());

const cache = await Cache.connect({ url: server.url() });
const raw = createClient({ url: server.url() });
raw.on("error", () => {});
await raw.connect();

const value = "x".repeat(16);
const key = await cache.store(value);
const asBytes = { typeMapping: { 36: Buffer } };

Deno.bench(
  "raw node-redis SET",
  { group: "store 16 B", baseline: true },
  async () => {
    await raw.sendCommand(["SET", crypto.randomUUID(), value]);
  },
);
Deno.bench("cache.store", { group: "store 16 B" }, async () => {
  await cache.store(value);
});

Deno.bench(
  "raw node-redis GET",
  { group: "get 16 B", baseline: true },
  async () => {
    await raw.sendCommand(["GET", key], asBytes);
  },
);
Deno.bench("cache.get", { group: "get 16 B" }, async () => {
  await cache.get(key);
});
Deno.bench("cache.getStr", { group: "get 16 B" }, async () => {
  await cache.getStr(key);
});
