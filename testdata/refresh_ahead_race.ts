// Run twice at once by read_through_test.ts: both processes wait for the
// test's go, then read one key that is due for a refresh ahead. The loader
// counts its calls in Redis (INCR loader-calls), so the test can see that one
// refresh ran across both processes. Each prints what its call returned, then
// waits (bounded) until the key holds a refreshed value before it closes,
// since close() stops refreshes still running.

import process from "node:process";
import { createClient } from "redis";
import { Cache } from "../mod.ts";

const [url, key] = process.argv.slice(2).filter((arg) =>
  arg.startsWith("redis") || arg.startsWith("ahead")
);
const raw = createClient({ url });
await raw.connect();
const cache = await Cache.connect({ url, flush: false });
const waitUntil = async (check: () => Promise<boolean>, what: string) => {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > 10_000) throw new Error(`no ${what} in 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
};
try {
  await raw.incr("ready");
  await waitUntil(async () => await raw.exists("go") === 1, "go");
  const value = await cache.getOrStore(key, async () => {
    await raw.incr("loader-calls");
    await new Promise((resolve) => setTimeout(resolve, 300));
    return `refreshed by ${process.pid}`;
  }, { ttl: 5_000, refreshAhead: 0.5 });
  console.log(new TextDecoder().decode(value));
  await waitUntil(
    async () => (await raw.get(key))?.startsWith("refreshed") ?? false,
    "refreshed value",
  );
} finally {
  await cache.close();
  raw.destroy();
}
