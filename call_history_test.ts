// countCalls and callHistory: the keys, the values and the round trips, as
// the Python original writes them, checked with raw commands.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Cache, callHistory, countCalls } from "./mod.ts";
import { pyFloatRepr, pyTupleRepr } from "./_history/py_repr.ts";
import { redisForThisFile } from "./_testing/redis_server.ts";
import { startCountingProxy } from "./_testing/counting_proxy.ts";

const { server, raw } = await redisForThisFile();

async function list(key: string): Promise<string[]> {
  const items = await raw.send("LRANGE", key, "0", "-1") as Uint8Array[];
  return items.map((item) => new TextDecoder().decode(item));
}

async function text(key: string): Promise<string | null> {
  const bytes = await raw.getBytes(key);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}

test("store counts its calls under Cache.store and records inputs and outputs as Python does", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const keys = [
    await cache.store("first"),
    await cache.store(42),
    await cache.store(3.14),
    await cache.store(new Uint8Array([0, 39, 255])),
    await cache.store("it's"),
  ];
  assert.equal(await text("Cache.store"), "5");
  assert.deepEqual(await list("Cache.store:inputs"), [
    "('first',)",
    "(42,)",
    "(3.14,)",
    '(b"\\x00\'\\xff",)',
    `("it's",)`,
  ]);
  assert.deepEqual(await list("Cache.store:outputs"), keys);
});

test("a call that throws is counted and records its input but no output", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  await assert.rejects(cache.store(NaN), RangeError);
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(cache.store(true as any), TypeError);
  await assert.rejects(cache.store("x", { waitReplicas: -1 }), RangeError);
  assert.equal(await text("Cache.store"), "3");
  assert.deepEqual(await list("Cache.store:inputs"), [
    "(nan,)",
    "(True,)",
    "('x',)",
  ]);
  assert.deepEqual(await list("Cache.store:outputs"), []);
});

test("a store Redis refuses is counted and records its input but no output", async () => {
  await raw.send(
    "ACL",
    "SETUSER",
    "historyonly",
    "on",
    ">history-Pa55",
    "resetkeys",
    "~ns:Cache.store*",
    "+@all",
  );
  await using cache = await Cache.connect({
    url: `redis://historyonly:history-Pa55@127.0.0.1:${server.port}`,
    namespace: "ns",
    flush: false,
  });
  await raw.send("DEL", "ns:Cache.store", "ns:Cache.store:inputs");
  const outcomes = await Promise.allSettled(
    ["a", "b"].map((value) => cache.store(value)),
  );
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    assert.equal((outcome as PromiseRejectedResult).reason.code, "NOPERM");
  }
  await assert.rejects(cache.store("c", { timeout: 2_000 }), /NOPERM/);
  assert.equal(await text("ns:Cache.store"), "3");
  assert.deepEqual(await list("ns:Cache.store:inputs"), [
    "('a',)",
    "('b',)",
    "('c',)",
  ]);
  assert.deepEqual(await list("ns:Cache.store:outputs"), []);
});

test("a subclass of Cache still counts store under Cache.store", async () => {
  class MyCache extends Cache {}
  await using cache = await MyCache.connect({ url: server.url() });
  await cache.store("x");
  assert.equal(await text("Cache.store"), "1");
  assert.equal(await text("MyCache.store"), null);
});

test("with a namespace the history keys are prefixed", async () => {
  await raw.send("FLUSHDB");
  await using cache = await Cache.connect({
    url: server.url(),
    namespace: "app",
  });
  const key = await cache.store("x");
  assert.equal(await text("app:Cache.store"), "1");
  assert.deepEqual(await list("app:Cache.store:outputs"), [key]);
  assert.equal(await text("Cache.store"), null);
});

test("the decorators work on any async method, named after the class that defines it", async () => {
  class Shop extends Cache {
    @countCalls
    @callHistory
    async price(
      _item: string,
      quantity: number,
      _options?: { currency?: string },
    ): Promise<number> {
      if (quantity < 0) throw new RangeError("negative quantity");
      return await Promise.resolve(quantity * 1.5);
    }
  }
  class Outlet extends Shop {
    override async price(item: string, quantity: number): Promise<number> {
      return await super.price(item, quantity) / 2;
    }
  }
  await using shop = await Shop.connect({ url: server.url() });
  await using outlet = await Outlet.connect({
    url: server.url(),
    flush: false,
  });
  assert.equal(await shop.price("apple", 2, { currency: "EUR" }), 3);
  assert.equal(await outlet.price("pear", 4), 3);
  await assert.rejects(shop.price("plum", -1), RangeError);
  assert.equal(await text("Shop.price"), "3");
  assert.deepEqual(await list("Shop.price:inputs"), [
    "('apple', 2)",
    "('pear', 4)",
    "('plum', -1)",
  ]);
  // JavaScript cannot tell 6 from 6.0: whole numbers are written as ints.
  assert.deepEqual(await list("Shop.price:outputs"), ["3", "6"]);
  assert.equal(await text("Outlet.price"), null);
});

test("the decorators refuse methods of objects that are not connected caches", async () => {
  class Plain extends Cache {
    @countCalls
    async work(): Promise<number> {
      return await Promise.resolve(1);
    }
  }
  const notConnected = Object.create(Plain.prototype) as Plain;
  await assert.rejects(notConnected.work(), TypeError);
});

test("store keeps its history in the same round trip as its value", async () => {
  await using proxy = await startCountingProxy(server.port);
  await using cache = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
  });
  proxy.reset();
  const key = await cache.store("x");
  assert.equal(
    proxy.turns(),
    1,
    "count, input, value and output in one script",
  );
  assert.equal(await text("Cache.store"), "1");
  assert.deepEqual(await list("Cache.store:inputs"), ["('x',)"]);
  assert.deepEqual(await list("Cache.store:outputs"), [key]);
  proxy.reset();
  await cache.get("missing");
  assert.equal(proxy.turns(), 1);
});

test("the decorators add one round trip to a method, not more", async () => {
  class Counted extends Cache {
    @countCalls
    @callHistory
    async peek(key: string): Promise<string | null> {
      return await this.getStr(key);
    }
  }
  await using proxy = await startCountingProxy(server.port);
  await using cache = await Counted.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
  });
  proxy.reset();
  assert.equal(await cache.peek("missing"), null);
  assert.equal(
    proxy.turns(),
    2,
    "INCR + RPUSH inputs + GET, then RPUSH outputs",
  );
  assert.deepEqual(await list("Counted.peek:outputs"), ["None"]);
});

test("inputs are Python's str() of the argument tuple", () => {
  const cases: [unknown[], string][] = [
    [[], "()"],
    [["first"], "('first',)"],
    [["a", 1], "('a', 1)"],
    [["it's"], `("it's",)`],
    [[`it's "quoted"`], `('it\\'s "quoted"',)`],
    [["tab\there\nnew\rline\\"], "('tab\\there\\nnew\\rline\\\\',)"],
    [
      ["\x00\x1f\x7f\x80\xa0é☃\u200b\ud800🎉"],
      "('\\x00\\x1f\\x7f\\x80\\xa0é☃\\u200b\\ud800🎉',)",
    ],
    [[1e16], "(1e+16,)"],
    [[1e-5], "(1e-05,)"],
    [[123456789.123], "(123456789.123,)"],
    [[-0], "(-0.0,)"],
    [[2n ** 64n], "(18446744073709551616,)"],
    [[null, false], "(None, False)"],
    [[new Uint8Array([0x5c, 0x22, 0x27, 0x41])], `(b'\\\\"\\'A',)`],
  ];
  for (const [args, expected] of cases) {
    assert.equal(pyTupleRepr(args), expected, JSON.stringify(expected));
  }
  const floats: [number, string][] = [
    [0.1, "0.1"],
    [1e15, "1000000000000000.0"],
    [1e22, "1e+22"],
    [0.0001, "0.0001"],
    [1.5e-7, "1.5e-07"],
    [-2.5e300, "-2.5e+300"],
    [5e-324, "5e-324"],
    [Infinity, "inf"],
  ];
  for (const [value, expected] of floats) {
    assert.equal(pyFloatRepr(value), expected);
  }
});

test("history: false keeps no count or history, and store takes one round trip", async () => {
  await raw.send("FLUSHDB");
  await using proxy = await startCountingProxy(server.port);
  await using cache = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
    history: false,
  });
  proxy.reset();
  const key = await cache.store("quiet");
  assert.equal(proxy.turns(), 1);
  await assert.rejects(cache.store(NaN), RangeError);
  const keys = (await raw.send("KEYS", "*") as Uint8Array[]).map((k) =>
    new TextDecoder().decode(k)
  );
  assert.deepEqual(keys, [key]);
});
