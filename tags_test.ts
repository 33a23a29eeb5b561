// Tags from outside: what invalidateTags and expireTags remove or shorten,
// read back with raw commands; bad tags write nothing; the bookkeeping stays
// bounded after a churn of expiring entries; untagged stores send exactly
// the commands they did; and another process's L1 never serves an
// invalidated value once it has heard the invalidation resolved.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Cache } from "./mod.ts";
import { redisForThisFile } from "./_testing/util.ts";

const { server, raw } = await redisForThisFile();

async function connect(
  namespace: string,
  options: Parameters<typeof Cache.connect>[0] = {},
): Promise<Cache> {
  const cache = await Cache.connect({
    url: server.url(),
    namespace,
    ...options,
  });
  after(() => cache.close());
  return cache;
}

async function keysOf(namespace: string): Promise<string[]> {
  const keys = (await raw.send("KEYS", `${namespace}:*`)) as Uint8Array[];
  return keys.map(String).sort();
}

async function bookkeeping(namespace: string): Promise<string[]> {
  return (await keysOf(namespace)).filter((key) =>
    key.startsWith(`${namespace}:__tag:`)
  );
}

test("invalidateTags removes every entry with any of the tags, from every write method, and says how many", async () => {
  const cache = await connect("inv");
  const a = await cache.store("a", { tags: ["red"] });
  const b = await cache.storeJson({ b: 1 }, { tags: ["red", "blue"] });
  const many = await cache.storeMany(["m1", "m2", 3], {
    tags: ["blue"],
    ttl: 60_000,
  });
  await cache.getOrStore("page", () => "p", { tags: ["green"] });
  await cache.getOrStoreJson("user", () => ({ id: 1 }), { tags: ["green"] });
  const untagged = await cache.store("plain");
  const other = await cache.store("other", { tags: ["yellow"] });
  // A ttl of its own on the many keeps their expiry.
  assert.ok(Number(await raw.send("PTTL", `inv:${many[0]}`)) > 59_000);

  assert.equal(await cache.invalidateTags("red", "blue"), 5);
  for (const key of [a, b, ...many]) {
    assert.equal(await raw.send("EXISTS", `inv:${key}`), 0, key);
  }
  assert.equal(await cache.invalidateTags("green"), 2);
  assert.equal(await raw.send("EXISTS", "inv:page"), 0);
  assert.equal(await raw.send("EXISTS", "inv:user"), 0);
  assert.equal(await cache.getStr(untagged), "plain");
  assert.equal(await cache.getStr(other), "other");
  // Nothing is left pointing at what was removed.
  assert.deepEqual(await bookkeeping("inv"), [
    "inv:__tag:i:yellow",
  ]);
  assert.equal(await cache.invalidateTags("red"), 0);
  assert.equal(await cache.invalidateTags(), 0);
  // A getOrStore after the invalidation loads again.
  let loads = 0;
  await cache.getOrStore("page", () => `p${++loads}`, { tags: ["green"] });
  assert.equal(loads, 1);
});
