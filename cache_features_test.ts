// Expiry, batches, read-through, JSON, cancellation, timeouts, statistics and
// the error hook, against a real redis-server; the cross-process race runs
// two real processes.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Cache,
  type CacheError,
  type CommandError,
  DecodeError,
  TimeoutError,
} from "./mod.ts";
import { userWithoutScripts } from "./_testing/acl.ts";
import { runChild, testdataCommand } from "./_testing/child.ts";
import { redisForThisFile } from "./_testing/redis_server.ts";
import { runtime } from "./_testing/runtime.ts";
import { waitFor } from "./_testing/wait.ts";
import { startCountingProxy } from "./_testing/counting_proxy.ts";

const { server, raw } = await redisForThisFile();

const decoder = new TextDecoder();
const text = (bytes: Uint8Array | null) =>
  bytes === null ? null : decoder.decode(bytes);

async function valueKeys(): Promise<string[]> {
  const keys = (await raw.send("KEYS", "*") as Uint8Array[]).map((key) =>
    decoder.decode(key)
  );
  return keys.filter((key) => !key.startsWith("Cache.store")).sort();
}

// --- Expiry

test("store sets a per-value ttl in the same command; the connect ttl is the default", async () => {
  await using proxy = await startCountingProxy(server.port);
  await using cache = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
    ttl: 60_000,
  });
  const byDefault = await cache.store("a");
  proxy.reset();
  const explicit = await cache.store("b", { ttl: 5_000 });
  assert.equal(
    proxy.turns(),
    1,
    "the value, its expiry and the history in one round trip",
  );
  const defaultTtl = Number(await raw.send("PTTL", byDefault));
  const explicitTtl = Number(await raw.send("PTTL", explicit));
  assert.ok(defaultTtl > 50_000 && defaultTtl <= 60_000, `PTTL ${defaultTtl}`);
  assert.ok(explicitTtl > 0 && explicitTtl <= 5_000, `PTTL ${explicitTtl}`);
  await using forever = await Cache.connect({
    url: server.url(),
    flush: false,
  });
  assert.equal(await raw.send("PTTL", await forever.store("c")), -1);
});

test("a value with a ttl is gone after it", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const key = await cache.store("brief", { ttl: 50 });
  assert.equal(await cache.getStr(key), "brief");
  await waitFor(
    async () => await cache.get(key) === null,
    2_000,
    "the value did not expire",
  );
});

test("ttl 0, negative, fractional, NaN or not a number is an error and writes nothing", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  for (const ttl of [0, -1, 1.5, NaN, Infinity]) {
    await assert.rejects(cache.store("x", { ttl }), RangeError, String(ttl));
    await assert.rejects(cache.storeMany(["x"], { ttl }), RangeError);
    await assert.rejects(cache.storeJson("x", { ttl }), RangeError);
    await assert.rejects(Cache.connect({ url: server.url(), ttl }), RangeError);
  }
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(cache.store("x", { ttl: "5" as any }), TypeError);
  assert.deepEqual(await valueKeys(), []);
});

test("ttl reports ms left, Infinity without expiry, null for a missing key; expire sets it", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const key = await cache.store("x");
  assert.equal(await cache.ttl(key), Infinity);
  assert.equal(await cache.ttl("missing"), null);
  assert.equal(await cache.expire(key, 30_000), true);
  const left = await cache.ttl(key);
  assert.ok(left !== null && left > 25_000 && left <= 30_000, `ttl ${left}`);
  assert.equal(await cache.expire("missing", 30_000), false);
  await assert.rejects(cache.expire(key, 0), RangeError);
});

test("touch: true without a default ttl is a RangeError and sends nothing", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const key = await cache.store("x");
  await assert.rejects(cache.get(key, undefined, { touch: true }), RangeError);
  await assert.rejects(cache.getStr(key, { touch: 0 }), RangeError);
  assert.equal(await raw.send("PTTL", key), -1);
  assert.equal(await cache.getStr(key, { touch: false }), "x");
});

test("getStr, getInt and getJson take touch too", async () => {
  await using cache = await Cache.connect({ url: server.url(), ttl: 60_000 });
  const keys = [
    await cache.store("s", { ttl: 100 }),
    await cache.store(7, { ttl: 100 }),
    await cache.storeJson([1], { ttl: 100 }),
  ];
  assert.equal(await cache.getStr(keys[0], { touch: true }), "s");
  assert.equal(await cache.getInt(keys[1], { touch: true }), 7);
  assert.deepEqual(await cache.getJson(keys[2], { touch: true }), [1]);
  for (const key of keys) {
    assert.ok(Number(await raw.send("PTTL", key)) > 50_000);
  }
});

// --- Keys and batches

test("has and delete", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const [a, b, c] = await cache.storeMany(["a", "b", "c"]);
  assert.equal(await cache.has(a), true);
  assert.equal(await cache.delete(a, b, "missing"), 2);
  assert.equal(await cache.has(a), false);
  assert.equal(await cache.delete(c, { timeout: 1_000 }), 1);
  assert.equal(await cache.delete(), 0);
  assert.deepEqual(await valueKeys(), []);
});

test("storeMany and getMany take one round trip each", async () => {
  await using proxy = await startCountingProxy(server.port);
  await using cache = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
  });
  const values = Array.from({ length: 1_000 }, (_, i) => `value ${i}`);
  for (const options of [{}, { ttl: 60_000 }]) {
    proxy.reset();
    const keys = await cache.storeMany(values, options);
    assert.equal(proxy.turns(), 1, "storeMany");
    proxy.reset();
    const read = await cache.getMany(keys, text);
    assert.equal(proxy.turns(), 1, "getMany");
    assert.deepEqual(read, values);
  }
  assert.deepEqual(await cache.storeMany([]), []);
  assert.deepEqual(await cache.getMany([]), []);
});

test("storeMany with one bad value writes none of them", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(cache.storeMany(["ok", {} as any]), TypeError);
  await assert.rejects(cache.storeMany(["ok", NaN]), RangeError);
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(cache.storeMany("abc" as any), TypeError);
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(cache.getMany(["ok", 5 as any]), TypeError);
  assert.deepEqual(await valueKeys(), []);
});

test("clear removes only the namespace's keys, or the whole database without one", async () => {
  await using plain = await Cache.connect({ url: server.url() });
  await using spaced = await Cache.connect({
    url: server.url(),
    namespace: "a[b]",
  });
  const outside = await plain.store("outside");
  const inside = await spaced.storeMany(
    Array.from({ length: 2_500 }, (_, i) => i),
  );
  await spaced.clear();
  assert.equal(await spaced.has(inside[0]), false);
  assert.equal(await raw.send("EXISTS", `a[b]:${inside[2_499]}`), 0);
  assert.equal(await plain.has(outside), true);
  await plain.clear();
  assert.equal(await raw.send("DBSIZE"), 0);
});

// --- Read-through

test("getOrStore calls the loader on a miss only, and stores with the ttl", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    namespace: "rt",
  });
  let calls = 0;
  const loader = () => `loaded ${++calls}`;
  assert.equal(
    text(await cache.getOrStore("page", loader, { ttl: 30_000 })),
    "loaded 1",
  );
  assert.equal(text(await cache.getOrStore("page", loader)), "loaded 1");
  assert.equal(calls, 1);
  assert.deepEqual(
    await raw.getBytes("rt:page"),
    new TextEncoder().encode("loaded 1"),
  );
  const ttl = Number(await raw.send("PTTL", "rt:page"));
  assert.ok(ttl > 25_000 && ttl <= 30_000, `PTTL ${ttl}`);
  assert.equal(
    await raw.send("EXISTS", "rt:__lock:page"),
    0,
    "the lock is released",
  );
  const bytes = await cache.getOrStore("bytes", () => new Uint8Array([0, 255]));
  assert.deepEqual(bytes, new Uint8Array([0, 255]));
  assert.deepEqual(
    await cache.getOrStore("bytes", () => new Uint8Array([1])),
    new Uint8Array([0, 255]),
  );
});

test("concurrent misses in one process call the loader once and all get its value", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  let calls = 0;
  const loader = async () => {
    calls++;
    await new Promise((resolve) => setTimeout(resolve, 50));
    return "shared";
  };
  const results = await Promise.all(
    Array.from({ length: 20 }, () => cache.getOrStore("hot", loader)),
  );
  assert.equal(calls, 1);
  assert.deepEqual(results.map(text), Array(20).fill("shared"));
  const { hits, misses } = cache.stats();
  assert.equal(hits + misses, 20);
});

test("a loader that throws stores nothing, every waiter gets its error, and the next call retries", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  let calls = 0;
  const failing = async () => {
    calls++;
    await new Promise((resolve) => setTimeout(resolve, 20));
    throw new Error(`loader failed ${calls}`);
  };
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, () => cache.getOrStore("flaky", failing)),
  );
  assert.equal(calls, 1);
  for (const result of results) {
    assert.equal(result.status, "rejected");
    assert.equal(
      (result as PromiseRejectedResult).reason.message,
      "loader failed 1",
    );
  }
  assert.equal(await raw.send("EXISTS", "flaky", "__lock:flaky"), 0);
  assert.equal(
    text(await cache.getOrStore("flaky", () => "recovered")),
    "recovered",
  );
});

test("getOrStore validates the caller's key and loader", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  await assert.rejects(cache.getOrStore("", () => "x"), RangeError);
  await assert.rejects(
    cache.getOrStore("k".repeat(1025), () => "x"),
    RangeError,
  );
  await assert.rejects(cache.getOrStore("\ud800", () => "x"), TypeError);
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(cache.getOrStore("k", "x" as any), TypeError);
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(cache.getOrStore("k", () => ({}) as any), TypeError);
  assert.equal(await raw.send("EXISTS", "k"), 0);
});

test("keys starting with __lock: (getOrStore's locks) or __miss: (its negative entries): every method refuses them with a RangeError, in any namespace, and sends nothing", async () => {
  await using proxy = await startCountingProxy(server.port);
  for (
    const [reserved, namespace] of [
      ["__lock:", undefined],
      ["__lock:", "locks"],
      ["__miss:", undefined],
      ["__miss:", "locks"],
    ] as const
  ) {
    await using cache = await Cache.connect({
      url: `redis://127.0.0.1:${proxy.port}`,
      namespace,
      flush: false,
    });
    // Another process's lock on "page", which no call here may touch.
    const lock = `${
      namespace === undefined ? "" : `${namespace}:`
    }${reserved}page`;
    await raw.send("SET", lock, "someone-else", "PX", "60000");
    proxy.reset();
    const key = `${reserved}page`;
    const calls: [string, () => Promise<unknown>][] = [
      ["get", () => cache.get(key)],
      ["getStr", () => cache.getStr(key)],
      ["getInt", () => cache.getInt(key)],
      ["getBigInt", () => cache.getBigInt(key)],
      ["getJson", () => cache.getJson(key)],
      ["getMany", () => cache.getMany(["page", key])],
      ["has", () => cache.has(key)],
      ["delete", () => cache.delete("page", key)],
      ["ttl", () => cache.ttl(key)],
      ["expire", () => cache.expire(key, 1_000)],
      ["getOrStore", () => cache.getOrStore(key, () => "mine")],
      ["getOrStoreJson", () => cache.getOrStoreJson(key, () => "mine")],
      ["getOrStoreMany", () => cache.getOrStoreMany([key], () => ["mine"])],
    ];
    for (const [method, call] of calls) {
      await assert.rejects(call(), RangeError, `${method} in ${namespace}`);
    }
    // A PING on the same connection arrives after anything sent before it.
    await cache.health();
    assert.deepEqual(
      proxy.commands().map(({ name }) => name),
      ["PING"],
      `namespace ${namespace}`,
    );
    assert.equal(
      text(await raw.send("GET", lock) as Uint8Array),
      "someone-else",
    );
    assert.ok(Number(await raw.send("PTTL", lock)) > 50_000);
    // Only the prefix is reserved, and only where a key starts.
    for (
      const allowed of [
        `page:${reserved}x`,
        `${reserved.toUpperCase()}page`,
        reserved.slice(0, -1),
      ]
    ) {
      assert.equal(await cache.has(allowed), false, allowed);
    }
    await raw.send("DEL", lock);
  }
});

// What getOrStore's waiter is documented to do while another process holds
// the lock: poll 5 ms, doubling to at most 100 ms between polls.
const POLL_SCHEDULE_CAP = 100;
const pollSchedule = (poll: number) =>
  Math.min(POLL_SCHEDULE_CAP, 5 * 2 ** poll);

test("a caller waiting on another process's lock polls 5 ms doubling to 100 ms, then gives up after lockTimeout with a TimeoutError", async () => {
  await using proxy = await startCountingProxy(server.port);
  await using cache = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
  });
  await raw.send("SET", "__lock:busy", "someone-else", "PX", "10000");
  const lockTimeout = 1_000;
  let loaderCalls = 0;
  proxy.reset();
  const started = performance.now();
  await assert.rejects(
    cache.getOrStore("busy", () => `never ${++loaderCalls}`, { lockTimeout }),
    TimeoutError,
  );
  const settled = performance.now();
  const sent = proxy.commands();
  const gets = sent.filter(({ name, key }) => name === "GET" && key === "busy")
    .map(({ at }) => at);
  const lockAttempts = sent.filter(({ name, key }) =>
    name === "SET" && key === "__lock:busy"
  );
  // The first GET is the lookup; each poll is then a lock attempt and a GET.
  assert.equal(lockAttempts.length, gets.length - 1);
  const gaps = gets.slice(2).map((at, i) => at - gets[i + 1]);
  const report = gaps.map((gap) => gap.toFixed(1)).join(", ");
  // A timer never fires early (up to 2 ms of clock rounding), so each wait
  // is at least its step. A busy machine can make any one wait late.
  for (const [poll, gap] of gaps.entries()) {
    assert.ok(gap >= pollSchedule(poll) - 2, `poll ${poll}: ${report}`);
  }
  // Once capped, the typical wait is 100 ms; a median is not moved by a few
  // late timers on a loaded machine, but a cap of 160 ms or none would be.
  const capped = gaps.filter((_, poll) =>
    pollSchedule(poll) === POLL_SCHEDULE_CAP
  ).sort((a, b) => a - b);
  assert.ok(
    capped.length >= 5,
    `only ${capped.length} capped polls: ${report}`,
  );
  const median = capped[Math.floor(capped.length / 2)];
  assert.ok(median < POLL_SCHEDULE_CAP + 30, `median ${median}: ${report}`);
  // It gave up at its first check after lockTimeout. The deadline is set
  // between the lookup and the first lock attempt, so the poll before the
  // last came before it, and the rejection after it (2 ms: Date.now rounds).
  const deadlineFrom = gets[0] + lockTimeout;
  const deadlineTo = lockAttempts[0].at + lockTimeout;
  const beforeLast = gets.at(-2)!;
  assert.ok(
    beforeLast < deadlineTo + 2,
    `a poll ${beforeLast - deadlineTo} ms after the deadline: ${report}`,
  );
  assert.ok(
    settled >= deadlineFrom - 2,
    `gave up ${deadlineFrom - settled} ms early: ${report}`,
  );
  const waited = settled - started;
  assert.ok(
    waited <= lockTimeout + POLL_SCHEDULE_CAP + 300,
    `waited ${waited} ms`,
  );
  assert.equal(loaderCalls, 0);
  assert.equal(
    text(await raw.send("GET", "__lock:busy") as Uint8Array),
    "someone-else",
  );
  assert.equal(await raw.send("EXISTS", "busy"), 0);
});

test("a caller waiting on another process's lock gets the value that process stores", async () => {
  await using proxy = await startCountingProxy(server.port);
  await using cache = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
  });
  await raw.send("SET", "__lock:elsewhere", "someone-else", "PX", "10000");
  proxy.reset();
  let called = false;
  const waiting = cache.getOrStore("elsewhere", () => {
    called = true;
    return "mine";
  });
  // The value arrives only once the caller found the lock taken and polls.
  await waitFor(
    () => {
      const sent = proxy.commands();
      const refused = sent.findIndex(({ name, key }) =>
        name === "SET" && key === "__lock:elsewhere"
      );
      return refused >= 0 &&
        sent.slice(refused).some(({ name, key }) =>
          name === "GET" && key === "elsewhere"
        );
    },
    5_000,
    "the caller never polled for the value",
  );
  await raw.send("SET", "elsewhere", "theirs");
  assert.equal(text(await waiting), "theirs");
  assert.equal(called, false);
});

test("two processes racing on one key: exactly one loader call", async () => {
  await raw.send("FLUSHDB");
  const [command, args] = testdataCommand("get_or_store_race");
  const children = [1, 2].map(() =>
    runChild(command, [...args, server.url(), "race-key"], 30_000)
  );
  await waitFor(
    async () => Number(await raw.send("GET", "ready") ?? 0) === 2,
    20_000,
    "the processes did not get ready",
  );
  await raw.send("SET", "go", "1");
  const results = await Promise.all(children);
  for (const { code, output } of results) assert.equal(code, 0, output);
  assert.equal(Number(await raw.send("GET", "loader-calls")), 1);
  const [first, second] = results.map(({ output }) => output.trim());
  assert.equal(first, second);
  assert.match(first, /^loaded by \d+$/);
});

// --- JSON

test("storeJson and getJson keep types: numbers stay numbers, strings stay strings", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const value = {
    n: 1,
    s: "1",
    f: 1.5,
    b: false,
    z: null,
    list: [1, "1", [true]],
    nested: { deep: { x: -0.25 } },
  };
  const key = await cache.storeJson(value, { ttl: 60_000 });
  assert.deepEqual(await cache.getJson(key), value);
  assert.deepEqual(
    await raw.getBytes(key),
    new TextEncoder().encode(JSON.stringify(value)),
  );
  const user = await cache.getOrStoreJson(
    "user",
    () => ({ id: 7, tags: ["a"] }),
  );
  assert.deepEqual(user, { id: 7, tags: ["a"] });
  assert.deepEqual(
    await cache.getOrStoreJson("user", () => ({ id: 8, tags: [] })),
    { id: 7, tags: ["a"] },
  );
});

test("storeJson refuses what JSON would silently change with a TypeError naming the path, and writes nothing", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const loop: Record<string, unknown> = {};
  loop.back = { again: loop };
  class Point {
    x = 1;
  }
  // Each value, and its message up to the explanation: the path, then what.
  const refused: [unknown, string][] = [
    [NaN, "value is NaN"],
    [Infinity, "value is Infinity"],
    [undefined, "value is undefined"],
    [() => 1, "value is function"],
    [10n, "value is bigint"],
    [Symbol("s"), "value is symbol"],
    [new Date(), "value is a Date"],
    [new Map(), "value is a Map"],
    [new Point(), "value is a Point"],
    [circular, "value.self is circular"],
    [[1, undefined], "value[1] is undefined"],
    [{ a: [1, 2, { b: NaN }] }, "value.a[2].b is NaN"],
    [{ a: { b: [-Infinity] } }, "value.a.b[0] is -Infinity"],
    [{ list: [{ f() {} }] }, "value.list[0].f is function"],
    [{ id: [[7n]] }, "value.id[0][0] is bigint"],
    [{ when: [new Date()] }, "value.when[0] is a Date"],
    [[{ tags: new Set() }], "value[0].tags is a Set"],
    [{ at: { p: new Point() } }, "value.at.p is a Point"],
    [{ items: [loop] }, "value.items[0].back.again is circular"],
    [{ s: Symbol("s") }, "value.s is symbol"],
  ];
  const names = (message: string) => (error: unknown) =>
    error instanceof TypeError &&
    (error.message === message || error.message.startsWith(`${message}, `));
  const keysBefore = Number(await raw.send("DBSIZE"));
  for (const [value, message] of refused) {
    await assert.rejects(cache.storeJson(value), names(message), message);
  }
  // A loader's value is checked the same way, under its key's lock.
  await assert.rejects(
    cache.getOrStoreJson("refused", () => ({ a: [{ b: undefined }] })),
    names("value.a[0].b is undefined"),
  );
  assert.equal(Number(await raw.send("DBSIZE")), keysBefore);
  assert.deepEqual(await valueKeys(), []);
  await raw.send("SET", "not-json", "{oops");
  await assert.rejects(cache.getJson("not-json"), DecodeError);
});

// --- Cancellation, timeouts, statistics, the error hook

test("an already aborted signal rejects with its reason and sends nothing", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const reason = new Error("changed my mind");
  const signal = AbortSignal.abort(reason);
  await assert.rejects(
    cache.store("x", { signal }),
    (error) => error === reason,
  );
  await assert.rejects(
    cache.storeMany(["x"], { signal }),
    (error) => error === reason,
  );
  await assert.rejects(
    cache.get("k", undefined, { signal }),
    (error) => error === reason,
  );
  await assert.rejects(
    cache.getOrStore("k", () => "x", { signal }),
    (error) => error === reason,
  );
  assert.deepEqual(await valueKeys(), []);
});

test("aborting during a call rejects promptly with the reason; a per-call timeout gives a TimeoutError", async () => {
  await using cache = await Cache.connect({ url: server.url(), flush: false });
  const key = await cache.store("x");
  await raw.send("CLIENT", "PAUSE", "1000", "ALL");
  try {
    const controller = new AbortController();
    const started = Date.now();
    const pending = cache.get(key, undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("stop")), 50);
    await assert.rejects(pending, /stop/);
    assert.ok(Date.now() - started < 500, "the abort was not prompt");
    const timing = Date.now();
    await assert.rejects(cache.getStr(key, { timeout: 100 }), TimeoutError);
    const waited = Date.now() - timing;
    assert.ok(waited >= 90 && waited < 800, `waited ${waited} ms`);
  } finally {
    await raw.send("CLIENT", "UNPAUSE");
  }
  await assert.rejects(cache.get(key, undefined, { timeout: 0 }), RangeError);
  await assert.rejects(
    cache.get(key, undefined, { signal: "no" as never }),
    TypeError,
  );
});

test("stats counts hits, misses, stores and errors, with latency percentiles; resetStats zeroes them", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  cache.resetStats();
  const keys = await cache.storeMany(["a", "b"]);
  await cache.store("c");
  await cache.get(keys[0]);
  await cache.getMany([keys[1], "missing-1", "missing-2"]);
  await raw.send("RPUSH", "a-list", "x");
  await assert.rejects(cache.get("a-list"));
  // Gets made together go as one batch, which counts each of its gets.
  const batch = await Promise.allSettled(
    [keys[0], "missing-3", keys[1], "a-list", "c-missing"].map((key) =>
      cache.get(key)
    ),
  );
  assert.deepEqual(batch.map((outcome) => outcome.status), [
    "fulfilled",
    "fulfilled",
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  // Stores made together go as one batch too, which counts each of them;
  // without history, lone and batched stores alike.
  await Promise.all([cache.store("d"), cache.store("e")]);
  await using plain = await Cache.connect({
    url: server.url(),
    flush: false,
    history: false,
  });
  await plain.store("alone");
  await Promise.all([plain.store("f"), plain.store("g"), plain.store("h")]);
  assert.equal(plain.stats().stores, 4);
  const stats = cache.stats();
  assert.equal(stats.stores, 5);
  assert.equal(stats.hits, 4);
  assert.equal(stats.misses, 4);
  assert.equal(stats.errors, 2);
  assert.ok(
    stats.latency.p50 > 0 && stats.latency.p99 >= stats.latency.p50,
    JSON.stringify(stats.latency),
  );
  assert.ok(stats.latency.p99 < 5_000);
  cache.resetStats();
  assert.deepEqual(cache.stats(), {
    hits: 0,
    misses: 0,
    stores: 0,
    errors: 0,
    latency: { p50: 0, p99: 0 },
    readThrough: {
      staleServed: 0,
      refreshesStarted: 0,
      refreshesFailed: 0,
      negativeHits: 0,
      loaderTimeouts: 0,
    },
  });
});

test("onError hears about every Redis error, not about bad arguments; a throwing hook changes nothing", async () => {
  const heard: [CacheError, string][] = [];
  await using cache = await Cache.connect({
    url: server.url(),
    onError: (error, { command }) => {
      heard.push([error, command]);
      throw new Error("the hook itself fails");
    },
  });
  await raw.send("RPUSH", "a-list", "x");
  await assert.rejects(cache.get("a-list"), { name: "CommandError" });
  await raw.send("SET", "bad-utf8", new Uint8Array([0xff]));
  await assert.rejects(cache.getStr("bad-utf8"), DecodeError);
  await assert.rejects(cache.store(NaN), RangeError);
  assert.deepEqual(heard.map(([error, command]) => [error.name, command]), [
    ["CommandError", "GET"],
    ["DecodeError", "GET"],
  ]);
  await assert.rejects(
    Cache.connect({ url: server.url(), onError: 5 as never }),
    TypeError,
  );
});

// --- Coalescing

/** How many times each command ran on the server since the last reset. */
async function commandCalls(): Promise<Record<string, number>> {
  // RESP3 sends INFO as a verbatim string, which node-redis gives as text.
  const reply = await raw.send("INFO", "commandstats");
  const info = reply instanceof Uint8Array
    ? decoder.decode(reply)
    : String(reply);
  return Object.fromEntries(
    [...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map((
      [, name, calls],
    ) => [name, Number(calls)]),
  );
}

test("concurrent gets become one command; coalesce: false sends one GET each", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const keys = await cache.storeMany(
    Array.from({ length: 100 }, (_, i) => `v${i}`),
  );
  await raw.send("CONFIG", "RESETSTAT");
  const read = await Promise.all(keys.map((key) => cache.getStr(key)));
  assert.deepEqual(read, keys.map((_, i) => `v${i}`));
  const coalesced = await commandCalls();
  // MGET, and EXISTS to tell a miss from a key of another type.
  assert.equal(coalesced.mget, 1, JSON.stringify(coalesced));
  assert.equal(coalesced.exists, 1, JSON.stringify(coalesced));
  assert.equal(coalesced.eval, undefined, JSON.stringify(coalesced));
  assert.equal(coalesced.get, undefined, JSON.stringify(coalesced));
  // The same key many times, and a miss, still agree with EXISTS.
  await raw.send("RPUSH", "a-list", "x");
  await raw.send("CONFIG", "RESETSTAT");
  const again = await Promise.all([
    ...keys.slice(0, 3).flatMap((
      key,
    ) => [cache.getStr(key), cache.getStr(key)]),
    cache.getStr("never-stored"),
  ]);
  assert.deepEqual(again, ["v0", "v0", "v1", "v1", "v2", "v2", null]);
  const agreed = await commandCalls();
  assert.equal(agreed.eval, undefined);
  assert.equal(agreed.get, undefined);
  // A key of another type: each key MGET found nothing for is read again,
  // by the script that tells each key's outcome, or on Bun (whose client
  // gives script replies as text) by a GET of its own.
  await raw.send("CONFIG", "RESETSTAT");
  const withList = await Promise.allSettled([
    cache.getStr(keys[0]),
    cache.getStr("a-list"),
    cache.getStr("never-stored"),
  ]);
  assert.deepEqual(withList[0], { status: "fulfilled", value: "v0" });
  assert.match(
    String((withList[1] as PromiseRejectedResult).reason),
    /WRONGTYPE/,
  );
  assert.deepEqual(withList[2], { status: "fulfilled", value: null });
  const resolved = await commandCalls();
  assert.deepEqual(
    [resolved.mget, resolved.exists, resolved.eval, resolved.get],
    // The script's own MGET counts as a second one.
    runtime === "bun" ? [1, 1, undefined, 2] : [2, 1, 1, undefined],
  );
  await using separate = await Cache.connect({
    url: server.url(),
    flush: false,
    coalesce: false,
  });
  await raw.send("CONFIG", "RESETSTAT");
  await Promise.all(keys.map((key) => separate.get(key)));
  const calls = await commandCalls();
  assert.equal(calls.get, 100);
  assert.equal(calls.eval, undefined);
});

test("after batches that found every key, a batch sends MGET alone; a miss or a key of another type still gets its own outcome", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const keys = await cache.storeMany(
    Array.from({ length: 10 }, (_, i) => `v${i}`),
  );
  const values = keys.map((_, i) => `v${i}`);
  const batchOfHits = () => Promise.all(keys.map((key) => cache.getStr(key)));
  // Batches in a row that find every key make the next one speculate.
  for (let i = 0; i < 8; i++) assert.deepEqual(await batchOfHits(), values);
  await raw.send("CONFIG", "RESETSTAT");
  assert.deepEqual(await batchOfHits(), values);
  const alone = await commandCalls();
  assert.equal(alone.mget, 1, JSON.stringify(alone));
  assert.equal(alone.exists, undefined, JSON.stringify(alone));
  // A miss and a key of another type in a speculating batch: EXISTS of
  // the keys MGET found nothing for follows, and each gets what GET gives.
  await raw.send("RPUSH", "a-list", "x");
  await raw.send("CONFIG", "RESETSTAT");
  const mixed = await Promise.allSettled([
    cache.getStr(keys[0]),
    cache.getStr("a-list"),
    cache.getStr("never-stored"),
  ]);
  assert.deepEqual(mixed[0], { status: "fulfilled", value: "v0" });
  assert.equal(mixed[1].status, "rejected");
  assert.equal(
    ((mixed[1] as PromiseRejectedResult).reason as CommandError).code,
    "WRONGTYPE",
  );
  assert.deepEqual(mixed[2], { status: "fulfilled", value: null });
  const rechecked = await commandCalls();
  assert.equal(rechecked.exists, 1, JSON.stringify(rechecked));
  // The batch that missed ended the streak: the next one pairs EXISTS
  // with its MGET again, however it turns out.
  await raw.send("CONFIG", "RESETSTAT");
  assert.deepEqual(await batchOfHits(), values);
  const paired = await commandCalls();
  assert.equal(paired.mget, 1, JSON.stringify(paired));
  assert.equal(paired.exists, 1, JSON.stringify(paired));
  // Only true misses after a new streak: one EXISTS tells them apart, and
  // nothing is read again.
  for (let i = 0; i < 8; i++) await batchOfHits();
  await raw.send("CONFIG", "RESETSTAT");
  assert.deepEqual(
    await Promise.all([cache.getStr(keys[1]), cache.getStr("never-stored")]),
    ["v1", null],
  );
  const misses = await commandCalls();
  assert.deepEqual(
    [misses.mget, misses.exists, misses.eval, misses.get],
    [1, 1, undefined, undefined],
    JSON.stringify(misses),
  );
  assert.equal(cache.stats().misses, 2);
});

/** The inputs and outputs store recorded, as text, oldest first. */
async function storeHistory(): Promise<
  { inputs: (string | null)[]; outputs: (string | null)[] }
> {
  const list = async (name: string) =>
    (await raw.send("LRANGE", `Cache.store:${name}`, "0", "-1") as Uint8Array[])
      .map(text);
  return { inputs: await list("inputs"), outputs: await list("outputs") };
}

test("concurrent stores become one MSET per expiry, byte-exact; coalesce: false sends one SET each", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    history: false,
  });
  // Every byte value, in values that differ in length.
  const values = Array.from(
    { length: 60 },
    (_, i) => Uint8Array.from({ length: i * 5 }, (_, j) => (i * 31 + j) % 256),
  );
  await raw.send("CONFIG", "RESETSTAT");
  const keys = await Promise.all(
    values.map((value, i) =>
      cache.store(value, i % 3 === 0 ? { ttl: 60_000 } : undefined)
    ),
  );
  const calls = await commandCalls();
  // One MSET, and one script for those with a ttl, whose SETs Redis counts.
  const withTtl = values.filter((_, i) => i % 3 === 0).length;
  assert.equal(calls.set, withTtl, JSON.stringify(calls));
  assert.equal(calls.mset, 1, JSON.stringify(calls));
  assert.equal(calls.eval, 1, JSON.stringify(calls));
  assert.equal(new Set(keys).size, values.length);
  for (const [i, key] of keys.entries()) {
    assert.deepEqual(await cache.get(key), values[i]);
    const ttl = await cache.ttl(key);
    if (i % 3 === 0) assert.ok(ttl! > 50_000 && ttl! <= 60_000, `ttl ${ttl}`);
    else assert.equal(ttl, Infinity);
  }
  assert.equal(cache.stats().stores, values.length);

  await using separate = await Cache.connect({
    url: server.url(),
    flush: false,
    history: false,
    coalesce: false,
  });
  await raw.send("CONFIG", "RESETSTAT");
  await Promise.all(values.map((value) => separate.store(value)));
  const separateCalls = await commandCalls();
  assert.equal(separateCalls.set, values.length);
  assert.equal(separateCalls.mset, undefined);
});

test("a store with its own timeout does not overtake stores made before it in the tick", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  await cache.store("first");
  const keys = await Promise.all([
    cache.store("a"),
    cache.store("b"),
    cache.store("c", { timeout: 2_000 }),
    cache.store("d"),
  ]);
  const { inputs, outputs } = await storeHistory();
  // Each recorded input sits beside the key its store returned.
  assert.deepEqual(inputs, [
    "('first',)",
    "('a',)",
    "('b',)",
    "('c',)",
    "('d',)",
  ]);
  assert.deepEqual(outputs.slice(1), keys);
  assert.deepEqual(
    await Promise.all(keys.map((key) => cache.getStr(key))),
    ["a", "b", "c", "d"],
  );
});

test("concurrent stores keep the Python history in one script, in call order", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  await cache.store("first");
  await raw.send("CONFIG", "RESETSTAT");
  const values = Array.from({ length: 40 }, (_, i) => `value ${i}`);
  const keys = await Promise.all(
    values.map((value, i) =>
      cache.store(value, i % 4 === 0 ? { ttl: 60_000 } : undefined)
    ),
  );
  const calls = await commandCalls();
  // One script: INCRBY, RPUSH of the inputs, one MSET of the values without
  // an expiry and a SET of each of the others, RPUSH of the outputs.
  assert.equal(calls.evalsha, 1, JSON.stringify(calls));
  assert.equal(calls.eval, undefined, JSON.stringify(calls));
  assert.equal(calls.incr, undefined, JSON.stringify(calls));
  assert.equal(calls.incrby, 1, JSON.stringify(calls));
  assert.equal(calls.mset, 1, JSON.stringify(calls));
  assert.equal(calls.set, values.length / 4, JSON.stringify(calls));
  assert.equal(calls.rpush, 2, JSON.stringify(calls));
  assert.equal(text(await raw.send("GET", "Cache.store") as Uint8Array), "41");
  // A server that lost its scripts (a restart, SCRIPT FLUSH) gets it again.
  await raw.send("SCRIPT", "FLUSH");
  keys.push(await cache.store("after the flush"));
  values.push("after the flush");
  const { inputs, outputs } = await storeHistory();
  assert.deepEqual(inputs.slice(1), values.map((value) => `('${value}',)`));
  assert.deepEqual(outputs.slice(1), keys);
  for (const [i, key] of keys.entries()) {
    assert.equal(await cache.getStr(key), values[i]);
    const ttl = await cache.ttl(key);
    if (i % 4 === 0 && i < 40) {
      assert.ok(ttl! > 50_000 && ttl! <= 60_000, `ttl ${ttl}`);
    } else assert.equal(ttl, Infinity);
  }
});

test("stores whose history goes apart (a large value, coalesce: false) keep inputs and outputs paired", async () => {
  const large = new Uint8Array(100_000).fill(7);
  for (const coalesce of [true, false]) {
    await using cache = await Cache.connect({ url: server.url(), coalesce });
    const made = ["a", large, "b", "c", large, "d"];
    const keys = await Promise.all(made.map((value) => cache.store(value)));
    const { inputs, outputs } = await storeHistory();
    assert.equal(inputs.length, made.length);
    assert.deepEqual(outputs, keys, `coalesce: ${coalesce}`);
    assert.deepEqual(inputs[0], "('a',)");
    assert.ok(inputs[1]!.startsWith("(b'\\x07\\x07"), inputs[1]!.slice(0, 20));
    assert.deepEqual(inputs[2], "('b',)");
    assert.deepEqual(inputs[5], "('d',)");
    assert.deepEqual(await cache.get(keys[4]), large);
    assert.equal(await cache.getStr(keys[5]), "d");
  }
  // A server that lost the script answers the batch's EVALSHA with NOSCRIPT
  // only after the large value's history went out: inputs and outputs must
  // still pair up.
  await using cache = await Cache.connect({ url: server.url() });
  await cache.store("loads the script");
  await raw.send("SCRIPT", "FLUSH");
  const made = ["a", large, "b"];
  const keys = await Promise.all(made.map((value) => cache.store(value)));
  keys.push(await cache.store("c"));
  const { inputs, outputs } = await storeHistory();
  // Not necessarily in call order, but the n-th input and the n-th output
  // belong to the same store.
  const order = outputs.slice(1).map((key) => keys.indexOf(key!));
  assert.deepEqual([...order].sort(), [0, 1, 2, 3]);
  assert.deepEqual(
    inputs.slice(1).map((input) =>
      input!.startsWith("(b'")
        ? 1
        : ["('a',)", "", "('b',)", "('c',)"].indexOf(input!)
    ),
    order,
  );
});

test("a batch of stores that Redis refuses fails every store in it and writes nothing", async () => {
  for (const history of [false, true]) {
    await using cache = await Cache.connect({ url: server.url(), history });
    await cache.store("first");
    await raw.send("CONFIG", "SET", "maxmemory", "1");
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => cache.store(`v${i}`)),
      );
      for (const outcome of outcomes) {
        assert.equal(outcome.status, "rejected");
        assert.match(
          (outcome as PromiseRejectedResult).reason.message,
          /OOM/,
        );
      }
    } finally {
      await raw.send("CONFIG", "SET", "maxmemory", "0");
    }
    assert.equal((await valueKeys()).length, 1, `history: ${history}`);
    if (history) {
      // As in Python, whose INCR is refused first: not even counted.
      assert.equal(
        text(await raw.send("GET", "Cache.store") as Uint8Array),
        "1",
      );
      assert.equal((await storeHistory()).inputs.length, 1);
    }
  }
});

test("a user who may not run scripts still gets every value, and store writes its values and history in plain commands", async () => {
  const password = await userWithoutScripts(raw, "noscripts");
  await using cache = await Cache.connect({
    url: `redis://noscripts:${password}@127.0.0.1:${server.port}`,
  });
  const keys = await cache.storeMany(["a", "b", "c"]);
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(await Promise.all(keys.map((key) => cache.getStr(key))), [
      "a",
      "b",
      "c",
    ]);
  }
  // store's history goes as separate commands, before and after the refusal.
  await raw.send("CONFIG", "RESETSTAT");
  const stored = await Promise.all(
    ["x", "y"].map((value) => cache.store(value)),
  );
  stored.push(await cache.store("z"));
  assert.deepEqual(await storeHistory(), {
    inputs: ["('x',)", "('y',)", "('z',)"],
    outputs: stored,
  });
  assert.equal(text(await raw.send("GET", "Cache.store") as Uint8Array), "3");
  // The server ran no script for these stores (the refused EVAL counts
  // none): their values went as an MSET and a SET.
  const calls = await commandCalls();
  assert.equal(calls.evalsha, undefined, JSON.stringify(calls));
  assert.equal(calls.eval ?? 0, 0, JSON.stringify(calls));
  assert.equal((calls.mset ?? 0) + (calls.set ?? 0), 2, JSON.stringify(calls));
  assert.equal(cache.stats().errors, 0);
});
