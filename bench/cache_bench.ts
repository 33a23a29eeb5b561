// `deno task bench`: each operation of the cache against the same work on
// the raw node-redis client under it (the baseline of each group), with
// values of 16 B, 1 KiB and 100 KiB, one call at a time and 100 in flight,
// on a redis-server this file starts on a free port. When taskset is there,
// the server is pinned to core 1 and this process to core 0.
//
// Ratios within a group are what to read: absolute figures here move with
// the machine. `deno task compare` measures across runtimes and peers.

import { Buffer } from "node:buffer";
import { createClient } from "redis";
import { Cache } from "../mod.ts";
import { startRedisServer } from "../_testing/redis_server.ts";

const pinned = navigator.hardwareConcurrency >= 2 &&
  (await new Deno.Command("sh", {
    args: ["-c", "command -v taskset"],
    stdout: "null",
  }).output()).success;
if (pinned) {
  await new Deno.Command("taskset", {
    args: ["-pc", "0", String(Deno.pid)],
    stdout: "null",
  }).output();
}
const server = await startRedisServer({ cpu: pinned ? 1 : undefined });
globalThis.addEventListener("unload", () => server.killNow());

const cache = await Cache.connect({ url: server.url() });
// As the cache configures it: no per-command AbortSignal timer.
const raw = createClient({
  url: server.url(),
  commandOptions: { timeout: 0 },
});
raw.on("error", () => {});
await raw.connect();
// Bytes by default, made once, as the cache reads them.
const rawBytes = raw.withTypeMapping({ 36: Buffer });
const IN_FLIGHT = 100;

const SIZES = [["16 B", 16], ["1 KiB", 1024], ["100 KiB", 100 * 1024]] as const;

/** Registers a group: the raw client as baseline, then the cache, in both forms. */
function group(
  name: string,
  rawOp: () => Promise<unknown>,
  cacheOps: Record<string, () => Promise<unknown>>,
  n: number,
): void {
  for (
    const [form, times] of [["sequential", 1], [
      `${IN_FLIGHT} in flight`,
      IN_FLIGHT,
    ]] as const
  ) {
    const many = (op: () => Promise<unknown>) =>
      times === 1
        ? async () => {
          await op();
        }
        : async () => {
          await Promise.all(Array.from({ length: times }, op));
        };
    const options = {
      group: `${name}, ${form}`,
      n: times === 1 ? n : Math.max(20, n / 10),
      warmup: 10,
    };
    Deno.bench(`raw node-redis`, { ...options, baseline: true }, many(rawOp));
    for (const [label, op] of Object.entries(cacheOps)) {
      Deno.bench(label, options, many(op));
    }
  }
}

for (const [label, size] of SIZES) {
  const value = "v".repeat(size);
  const n = size > 10_000 ? 200 : 2_000;
  const key = await cache.store(value);
  await raw.set(`raw:${label}`, value);
  group(
    `store ${label}`,
    () => raw.sendCommand(["SET", `raw:${crypto.randomUUID()}`, value]),
    {
      "cache.store": () => cache.store(value),
    },
    n,
  );
  group(
    `get ${label}`,
    () => rawBytes.sendCommand(["GET", `raw:${label}`]),
    {
      "cache.get": () => cache.get(key),
      "cache.getStr": () => cache.getStr(key),
    },
    n,
  );
}

const intKey = await cache.store(123_456);
group(
  "getInt",
  () => rawBytes.sendCommand(["GET", intKey]),
  { "cache.getInt": () => cache.getInt(intKey) },
  2_000,
);

for (const count of [100, 1_000]) {
  const keys = await cache.storeMany(
    Array.from({ length: count }, (_, i) => `value ${i}`),
  );
  group(
    `getMany ${count}`,
    () => rawBytes.sendCommand(["MGET", ...keys]),
    { "cache.getMany": () => cache.getMany(keys) },
    count === 100 ? 1_000 : 200,
  );
}

// Gets answered from process memory (l1), against a GET over the network.
const local = await Cache.connect({ url: server.url(), flush: false, l1: {} });
const localKey = await local.store("v".repeat(16));
await local.get(localKey);
group(
  "get 16 B from l1",
  () => rawBytes.sendCommand(["GET", localKey]),
  { "cache.get (l1 hit)": () => local.get(localKey) },
  2_000,
);

await cache.getOrStore("hit", () => "loaded once");
group(
  "getOrStore hit",
  () => rawBytes.sendCommand(["GET", "hit"]),
  { "cache.getOrStore": () => cache.getOrStore("hit", () => "never") },
  2_000,
);
