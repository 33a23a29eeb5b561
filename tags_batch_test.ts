// Tagged stores made in one tick share one tags' script, whatever their
// tags: read back from outside, each value, index and reverse index is what
// one store after the other would leave, each store is counted once, a
// script Redis refuses fails each of its callers (and none of the untagged
// writes beside them), and the Python history is kept as a lone tagged
// store keeps it.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Cache } from "./mod.ts";
import { engineOf } from "./_engine/handle.ts";
import type { CacheError } from "./errors.ts";
import { userWithoutScripts } from "./_testing/acl.ts";
import { redisForThisFile } from "./_testing/redis_server.ts";
import { startCountingProxy } from "./_testing/counting_proxy.ts";

const { server, raw } = await redisForThisFile();

async function connect(
  url: string,
  options: Parameters<typeof Cache.connect>[0] = {},
): Promise<Cache> {
  const cache = await Cache.connect({ url, ...options });
  after(() => cache.close());
  return cache;
}

// A set's or sorted set's members, sorted.
async function membersOf(key: string): Promise<string[]> {
  const type = String(await raw.send("TYPE", key));
  const args = type === "zset"
    ? ["ZRANGE", key, "0", "-1"]
    : type === "set"
    ? ["SMEMBERS", key]
    : undefined;
  if (args === undefined) return [];
  return ((await raw.send(...args)) as unknown[]).map(String).sort();
}

// The tags of the i-th store of the tests below: three kinds, overlapping.
const tagsOf = (i: number) =>
  i % 10 === 0
    ? [`seven:${i % 7}`]
    : [`seven:${i % 7}`, i % 2 ? "odd" : "even"];

test("100 tagged stores of one tick, with mixed tags and expiries, go in one script, and leave what 100 stores one after the other would", async () => {
  await using proxy = await startCountingProxy(server.port);
  const cache = await connect(`redis://127.0.0.1:${proxy.port}`, {
    namespace: "tick",
    history: false,
  });
  // The first use of the script loads it (EVAL).
  await cache.store("first", { tags: ["seven:0"] });
  proxy.reset();
  const keys = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      cache.store(`value ${i}`, {
        tags: tagsOf(i),
        ...(i % 3 === 0 ? { ttl: 60_000 } : {}),
      })),
  );
  assert.deepEqual(proxy.commands().map(({ name }) => name), ["EVALSHA"]);
  assert.equal(cache.stats().stores, 101);
  for (const [i, key] of keys.entries()) {
    assert.equal(await cache.getStr(key), `value ${i}`);
    assert.deepEqual(
      await membersOf(`tick:__tag:k:${key}`),
      [...tagsOf(i)].sort(),
    );
    const left = Number(await raw.send("PTTL", `tick:${key}`));
    assert.ok(i % 3 === 0 ? left > 59_000 : left === -1, `${i}: PTTL ${left}`);
  }
  // Each tag's index holds exactly the keys that carry it.
  const expected = new Map<string, string[]>();
  keys.forEach((key, i) => {
    for (const tag of tagsOf(i)) {
      expected.set(tag, [...(expected.get(tag) ?? []), `tick:${key}`]);
    }
  });
  expected.get("seven:0")!.push(`tick:${await firstKey(cache)}`);
  for (const [tag, members] of expected) {
    assert.deepEqual(
      await membersOf(`tick:__tag:i:${tag}`),
      members.sort(),
      tag,
    );
  }
  assert.equal(await cache.invalidateTags("odd"), expected.get("odd")!.length);
  const rest = ["even", ...Array.from({ length: 7 }, (_, i) => `seven:${i}`)];
  assert.equal(
    await cache.invalidateTags(...rest),
    101 - expected.get("odd")!.length,
  );
  for (const [i, key] of keys.entries()) {
    assert.equal(await cache.has(key), false, String(i));
  }
});

// The key of the store made before the tick, found by its value.
async function firstKey(cache: Cache): Promise<string> {
  const members = await membersOf("tick:__tag:i:seven:0");
  for (const member of members) {
    const key = member.slice("tick:".length);
    if (await cache.getStr(key) === "first") return key;
  }
  throw new Error("the first store is not in its tag");
}

test("a tick of 2 500 tagged stores goes in three scripts, one after the other", async () => {
  await using proxy = await startCountingProxy(server.port);
  const cache = await connect(`redis://127.0.0.1:${proxy.port}`, {
    namespace: "big-tick",
    history: false,
  });
  await cache.store("first", { tags: ["big"] });
  proxy.reset();
  const keys = await Promise.all(
    Array.from({ length: 2_500 }, (_, i) => cache.store(i, { tags: ["big"] })),
  );
  const sent = proxy.commands();
  assert.deepEqual(sent.map(({ name }) => name), [
    "EVALSHA",
    "EVALSHA",
    "EVALSHA",
  ]);
  // Each waited for the one before: three round trips.
  assert.equal(new Set(sent.map(({ turn }) => turn)).size, 3);
  assert.equal(
    Number(await raw.send("ZCARD", "big-tick:__tag:i:big")),
    keys.length + 1,
  );
  assert.equal(await cache.getStr(keys[2_499]), "2499");
  assert.equal(cache.stats().stores, 2_501);
});

test("a tags' script Redis refuses fails each of its callers with the error, counted once, and the untagged stores of its tick still land", async () => {
  const password = await userWithoutScripts(raw, "noscripts");
  const reported: [CacheError, string][] = [];
  const cache = await connect(
    `redis://noscripts:${password}@127.0.0.1:${server.port}`,
    {
      namespace: "refused",
      history: false,
      onError: (error, { command }) => void reported.push([error, command]),
    },
  );
  const tagged = Array.from(
    { length: 20 },
    (_, i) => cache.store(`t${i}`, { tags: tagsOf(i) }),
  );
  const plain = Array.from({ length: 20 }, (_, i) => cache.store(`p${i}`));
  const outcomes = await Promise.allSettled(tagged);
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    const { reason } = outcome as PromiseRejectedResult;
    assert.equal(reason.code, "NOPERM");
    assert.ok(!String(reason.message).includes(password));
  }
  // One error: the batch's one refused command.
  assert.equal(reported.length, 1);
  assert.equal(reported[0][1], "EVALSHA");
  assert.equal(reported[0][0], (outcomes[0] as PromiseRejectedResult).reason);
  for (const [i, key] of (await Promise.all(plain)).entries()) {
    assert.equal(await cache.getStr(key), `p${i}`);
  }
  assert.deepEqual(cache.stats().stores, 20);
  assert.deepEqual(cache.stats().errors, 1);
  // Nothing tagged was written.
  const keys = (await raw.send("KEYS", "refused:*")) as unknown[];
  assert.equal(keys.length, 20);
  assert.ok(!keys.map(String).some((key) => key.includes("__tag:")));
});

test("100 tagged stores of one tick keep the Python call history in order, each counted once, their values in one script", async () => {
  await using proxy = await startCountingProxy(server.port);
  const cache = await connect(`redis://127.0.0.1:${proxy.port}`, {
    namespace: "tick-history",
  });
  await cache.store("first", { tags: ["h"] });
  proxy.reset();
  const keys = await Promise.all(
    Array.from(
      { length: 100 },
      (_, i) =>
        i === 50 ? cache.store(`plain ${i}`) : cache.store(`value ${i}`, {
          tags: tagsOf(i),
        }),
    ),
  );
  const names = proxy.commands().map(({ name }) => name);
  assert.equal(names.filter((name) => name === "EVALSHA").length, 1);
  const list = async (name: string) =>
    ((await raw.send(
      "LRANGE",
      `tick-history:Cache.store:${name}`,
      "0",
      "-1",
    )) as Uint8Array[]).map(String);
  const outputs = await list("outputs");
  assert.deepEqual(outputs.slice(1), keys);
  // In the order of the calls, as the outputs: the n-th input is the n-th
  // output's (Python's history records the value alone).
  const valueOf = (i: number) => i === 50 ? `plain ${i}` : `value ${i}`;
  assert.deepEqual(
    (await list("inputs")).slice(1),
    keys.map((_, i) => `('${valueOf(i)}',)`),
  );
  assert.equal(
    String(await raw.send("GET", "tick-history:Cache.store")),
    "101",
  );
  assert.equal(cache.stats().stores, 101);
  for (const [i, key] of keys.entries()) {
    assert.equal(await cache.getStr(key), valueOf(i));
  }
});

test("a tagged store after a store recorded in the batch's script lets that script go first, so the history's inputs and outputs keep one order", async () => {
  const cache = await connect(server.url(), { namespace: "order" });
  await cache.store("warm");
  await raw.send(
    "DEL",
    "order:Cache.store",
    "order:Cache.store:inputs",
    "order:Cache.store:outputs",
  );
  // Other history writes of the tick are sent at the end of it, before the
  // batch: so would the tagged store's input be, without that flush.
  const others = engineOf(cache).historyWrites.increment("order:other");
  const keys = await Promise.all([
    cache.store("scripted"),
    cache.store("tagged", { tags: ["t"] }),
    cache.store("after"),
  ]);
  await others;
  const list = async (name: string) =>
    ((await raw.send(
      "LRANGE",
      `order:Cache.store:${name}`,
      "0",
      "-1",
    )) as Uint8Array[]).map(String);
  assert.deepEqual(await list("inputs"), [
    "('scripted',)",
    "('tagged',)",
    "('after',)",
  ]);
  assert.deepEqual(await list("outputs"), keys);
});

test("an index stays bounded when each tick's tagged entries are deleted: each entry a script adds checks two members, from a random rank", async () => {
  const cache = await connect(server.url(), {
    namespace: "deleted-ticks",
    history: false,
  });
  const options = { tags: ["d"], ttl: 600_000 };
  // Live members first: with one ttl, the lowest ranks (the soonest to
  // expire), where checks that always started at rank 0 would find nothing.
  const live = 300;
  await Promise.all(
    Array.from({ length: live }, (_, i) => cache.store(i, options)),
  );
  for (let tick = 0; tick < 20; tick++) {
    const keys = await Promise.all(
      Array.from({ length: 100 }, (_, i) => cache.store(i, options)),
    );
    await Promise.all(keys.map((key) => cache.delete(key)));
  }
  // Each tick's script checked 200 members: the deleted ones left settle
  // near the live ones' number (here about 200), where 2 000 checks in all
  // (two per entry written) would leave nearly all 2 000 of them.
  const members = Number(await raw.send("ZCARD", "deleted-ticks:__tag:i:d"));
  const deleted = members - live;
  assert.ok(deleted <= 900, `${deleted} of 2 000 deleted entries left`);
});

test("an index stays bounded when most of each tick's tagged entries are deleted and the rest live: checks that find a live member go on to the others", async () => {
  const cache = await connect(server.url(), {
    namespace: "mixed-ticks",
    history: false,
  });
  let live = 0;
  for (let tick = 0; tick < 20; tick++) {
    const keys = await Promise.all(
      Array.from({ length: 100 }, (_, i) => cache.store(i, { tags: ["d"] })),
    );
    // A tenth stay, so the members checked mix live and deleted ones.
    await Promise.all(keys.slice(10).map((key) => cache.delete(key)));
    live += 10;
  }
  // The deleted ones left settle near the live ones' number (here about
  // 150), where checks that stopped at a live member would leave all 1 800.
  const members = Number(await raw.send("ZCARD", "mixed-ticks:__tag:i:d"));
  const deleted = members - live;
  assert.ok(deleted <= 600, `${deleted} of 1 800 deleted entries left`);
});

test("a store recorded apart after a cut batch's recorded stores comes after them in the history: those go in the batch's first part", async () => {
  const cache = await connect(server.url(), { namespace: "cut-history" });
  await cache.store("warm", { tags: ["y"] });
  await raw.send(
    "DEL",
    "cut-history:Cache.store:inputs",
    "cut-history:Cache.store:outputs",
  );
  // 1 001 tagged writes cut the batch in two; "x" is recorded in the
  // history script of the batch, and "y" (tagged) is recorded apart.
  const filler = Array.from(
    { length: 1_001 },
    (_, i) => cache.storeJson(i, { tags: ["j"] }),
  );
  const x = cache.store("x");
  const y = cache.store("y", { tags: ["y"] });
  await Promise.all(filler);
  const keys = [await x, await y];
  const list = async (name: string) =>
    ((await raw.send(
      "LRANGE",
      `cut-history:Cache.store:${name}`,
      "0",
      "-1",
    )) as Uint8Array[]).map(String);
  assert.deepEqual(await list("inputs"), ["('x',)", "('y',)"]);
  assert.deepEqual(await list("outputs"), keys);
});
