// Run twice at once by cache_features_test.ts: both processes wait for the
// test's go, then race on one getOrStore key. The loader counts its calls in
// Redis (INCR loader-calls), so the test can see that only one process ran it.

import process from "node:process";
import { createClient } from "redis";
import { Cache } from "../mod.ts";

const [url, key] = process.argv.slice(2).filter((arg) =>
  arg.startsWith("redis") || arg.startsWith("race")
);
const raw = createClient({ url });
await raw.connect();
const cache = await Cache.connect({ url, flush: false });
try {
  await raw.incr("ready");
  const started = Date.now();
  while (await raw.exists("go") === 0) {
    if (Date.now() - started > 10_000) throw new Error("no go within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const value = await cache.getOrStore(key, async () => {
    await raw.incr("loader-calls");
    await new Promise((resolve) => setTimeout(resolve, 300));
    return `loaded by ${process.pid}`;
  });
  console.log(new TextDecoder().decode(value));
} finally {
  await cache.close();
  raw.destroy();
}
