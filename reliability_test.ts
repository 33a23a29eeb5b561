// Faults caused for real: a redis-server that is killed, restarted, paused,
// slowed, full, or whose connections are killed; TLS and ACL users; and a
// load of writers and readers across a crash. Nothing may hang, and nothing
// may return wrong data.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import process from "node:process";
import {
  Cache,
  CacheError,
  CommandError,
  ConnectionError,
  ReplicationError,
  TimeoutError,
} from "./mod.ts";
import {
  connectRaw,
  freePort,
  makeCertificates,
  ping,
  redisForThisFile,
  startRedisServer,
  waitFor,
} from "./_testing/util.ts";

const { server, raw } = await redisForThisFile({
  args: ["--enable-debug-command", "yes"],
});

/** Runs `work` and fails the test if it has not settled within `ms`. */
async function settlesWithin<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`hung for more than ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the cache can store again after the server came back. */
async function recovers(cache: Cache): Promise<void> {
  await waitFor(
    async () => (await cache.health({ timeout: 200 })).ok,
    10_000,
    "the cache did not recover after the server came back",
  );
  assert.match(await cache.store("after recovery"), /^[0-9a-f-]{36}$/);
}

test("values read one after another are not kept alive by the cache", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    history: false,
  });
  const value = new Uint8Array(2 * 1024 * 1024).fill(1);
  const key = await cache.store(value);
  const memory = () => {
    return process.memoryUsage().rss;
  };
  const before = memory();
  let peak = 0;
  // 600 reads of 2 MiB: 1.2 GiB if every reply stayed reachable (each one
  // did, until the bound on the next thousand commands let it go).
  for (let i = 0; i < 600; i++) {
    const read = await cache.get(key);
    assert.equal(read?.length, value.length);
    if (i % 50 === 0) peak = Math.max(peak, memory() - before);
  }
  assert.ok(
    peak < 600 * 1024 * 1024,
    `memory grew by ${Math.round(peak / 1024 / 1024)} MiB`,
  );
  await cache.delete(key);
});

test("a killed server: pending and new calls settle with a CacheError, and the cache recovers after a restart", async () => {
  await using cache = await Cache.connect({ url: server.url(), timeout: 500 });
  const key = await cache.store("before");
  const pending = Promise.allSettled(
    Array.from({ length: 20 }, () => cache.get(key)),
  );
  await server.kill();
  const outcomes = await settlesWithin(3_000, pending);
  for (const outcome of outcomes) {
    if (outcome.status === "rejected") {
      assert.ok(outcome.reason instanceof CacheError, String(outcome.reason));
    }
  }
  const started = Date.now();
  const error = await settlesWithin(
    3_000,
    cache.store("while down").catch((e) => e),
  );
  assert.ok(
    error instanceof ConnectionError || error instanceof TimeoutError,
    String(error),
  );
  assert.ok(Date.now() - started <= 1_500, "took longer than the timeout");
  await server.restart();
  await recovers(cache);
});

test("a slow server (DEBUG SLEEP): calls reject with a TimeoutError within their timeout", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    flush: false,
    timeout: 200,
  });
  const key = await cache.store("x");
  const sleeping = raw.send("DEBUG", "SLEEP", "1");
  try {
    await waitFor(
      async () => !(await ping(server.port, undefined, 50)),
      1_000,
      "the server did not fall asleep",
    );
    const started = Date.now();
    await assert.rejects(cache.get(key), TimeoutError);
    const waited = Date.now() - started;
    assert.ok(waited >= 150 && waited < 900, `waited ${waited} ms`);
  } finally {
    await sleeping;
  }
  assert.equal(await cache.getStr(key), "x");
});

test("a killed connection (CLIENT KILL): calls settle, and the cache works again", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    flush: false,
    timeout: 500,
  });
  const key = await cache.store("x");
  await raw.send("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
  const outcomes = await settlesWithin(
    3_000,
    Promise.allSettled(Array.from({ length: 10 }, () => cache.get(key))),
  );
  for (const outcome of outcomes) {
    if (outcome.status === "rejected") {
      assert.ok(outcome.reason instanceof CacheError, String(outcome.reason));
    } else assert.deepEqual(outcome.value, new TextEncoder().encode("x"));
  }
  await recovers(cache);
  assert.equal(await cache.getStr(key), "x");
});

test("while disconnected at most offlineQueue commands wait; the rest fail at once", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    flush: false,
    timeout: 1_000,
    offlineQueue: 3,
  });
  await server.kill();
  try {
    await waitFor(
      async () => !(await cache.health({ timeout: 200 })).ok,
      5_000,
      "the cache did not notice",
    );
    const started = Date.now();
    const outcomes = await settlesWithin(
      3_000,
      Promise.allSettled(Array.from({ length: 50 }, () => cache.get("k"))),
    );
    const fast = outcomes.filter((outcome) =>
      outcome.status === "rejected" && outcome.reason instanceof ConnectionError
    );
    assert.ok(
      fast.length >= 47,
      `${fast.length} of 50 failed as connection errors`,
    );
    for (const outcome of outcomes) assert.equal(outcome.status, "rejected");
    assert.ok(Date.now() - started < 2_000);
  } finally {
    await server.restart();
  }
  await recovers(cache);
});

test('onUnavailable "miss" turns an unreachable Redis into misses for reads, counted and reported; writes still throw', async () => {
  const heard: string[] = [];
  await using cache = await Cache.connect({
    url: server.url(),
    flush: false,
    timeout: 300,
    onUnavailable: "miss",
    onError: (error) => heard.push(error.name),
  });
  const key = await cache.store("x");
  await server.kill();
  try {
    cache.resetStats();
    assert.equal(await settlesWithin(2_000, cache.get(key)), null);
    assert.equal(await cache.getStr(key), null);
    assert.deepEqual(await cache.getMany([key, "other"]), [null, null]);
    assert.equal(await cache.has(key), false);
    await assert.rejects(
      cache.get(key, undefined, { onUnavailable: "throw" }),
      CacheError,
    );
    await assert.rejects(cache.store("y"), CacheError);
    assert.ok(cache.stats().errors >= 5, JSON.stringify(cache.stats()));
    assert.ok(
      heard.length >= 5 &&
        heard.every((name) =>
          name === "ConnectionError" || name === "TimeoutError"
        ),
      heard.join(),
    );
  } finally {
    await server.restart();
  }
  await recovers(cache);
  await assert.rejects(
    Cache.connect({ url: server.url(), onUnavailable: "ignore" as never }),
    TypeError,
  );
});

test("a WRONGTYPE error is not turned into a miss, whatever the policy", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    flush: false,
    onUnavailable: "miss",
  });
  await raw.send("DEL", "a-list");
  await raw.send("RPUSH", "a-list", "x");
  await assert.rejects(cache.get("a-list"), CommandError);
});

test("health reports ok with a latency, and not ok with the reason, within its timeout", async () => {
  const password = "health-Pa55";
  await using guarded = await startRedisServer({
    args: ["--requirepass", password],
    password,
  });
  await using cache = await Cache.connect({
    url: `redis://:${password}@127.0.0.1:${guarded.port}`,
    timeout: 300,
  });
  const healthy = await cache.health();
  assert.equal(healthy.ok, true);
  assert.ok(healthy.latencyMs >= 0 && healthy.latencyMs < 300);
  assert.equal(healthy.error, undefined);
  guarded.pause();
  try {
    const sick = await settlesWithin(2_000, cache.health());
    assert.equal(sick.ok, false);
    assert.match(sick.error!, /timed out/);
    assert.ok(!JSON.stringify(sick).includes(password));
  } finally {
    guarded.resume();
  }
  assert.ok(!JSON.stringify(cache.stats()).includes(password));
});

test("OOM under maxmemory with noeviction: a clear CommandError and no partial batch", async () => {
  await using full = await startRedisServer({
    args: ["--maxmemory", "3mb", "--maxmemory-policy", "noeviction"],
  });
  await using fullRaw = await connectRaw(full.url());
  await using cache = await Cache.connect({
    url: full.url(),
    namespace: "oom",
  });
  const filler = new Uint8Array(256 * 1024);
  for (let i = 0; i < 64; i++) {
    try {
      await fullRaw.send("SET", `filler-${i}`, filler);
    } catch {
      break;
    }
  }
  // The call counter of the Python original may still be incremented, as
  // there; what must not appear is any value.
  const values = async () =>
    (await fullRaw.send("KEYS", "*") as Uint8Array[])
      .map((key) => new TextDecoder().decode(key))
      .filter((key) => !key.startsWith("oom:Cache.store"))
      .sort();
  const before = await values();
  for (
    const attempt of [
      () => cache.store(filler),
      () => cache.storeMany(["a", "b", filler]),
      () => cache.storeMany(["a", "b", filler], { ttl: 60_000 }),
      () => cache.getOrStore("loaded", () => filler),
    ]
  ) {
    const error = await attempt().catch((e) => e);
    assert.ok(error instanceof CommandError, String(error));
    assert.equal(error.code, "OOM");
    assert.match(error.message, /maxmemory/);
  }
  assert.deepEqual(await values(), before, "no value was written");
});

test("TLS: rediss:// with a private CA and a client certificate works; without them it is refused", async () => {
  const certificates = await makeCertificates();
  const tlsPort = await freePort();
  await using tlsServer = await startRedisServer({
    args: [
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      certificates.serverCert,
      "--tls-key-file",
      certificates.serverKey,
      "--tls-ca-cert-file",
      certificates.caFile,
      "--tls-auth-clients",
      "yes",
    ],
  });
  const url = `rediss://127.0.0.1:${tlsPort}`;
  const tls = {
    ca: certificates.ca,
    cert: certificates.clientCert,
    key: certificates.clientKey,
  };
  await using cache = await Cache.connect({ url, tls, connectTimeout: 3_000 });
  const bytes = new Uint8Array(randomBytes(4096));
  assert.deepEqual(await cache.get(await cache.store(bytes)), bytes);
  await using plainRaw = await connectRaw(tlsServer.url());
  assert.equal(
    await plainRaw.send("DBSIZE"),
    4,
    "the value and the call history went over TLS",
  );
  for (const refused of [{}, { ca: certificates.ca }]) {
    const error = await Cache.connect({
      url,
      tls: refused,
      connectTimeout: 2_000,
    }).catch((e) => e);
    assert.ok(
      error instanceof ConnectionError || error instanceof TimeoutError,
      String(error),
    );
  }
});

test("an ACL user allowed only cache:* keys works inside its namespace, and is refused outside it", async () => {
  await raw.send(
    "ACL",
    "SETUSER",
    "cacheuser",
    "on",
    ">cache-Pa55",
    "resetkeys",
    "~cache:*",
    "+@all",
    "-@dangerous",
  );
  const url = `redis://cacheuser:cache-Pa55@127.0.0.1:${server.port}`;
  await using cache = await Cache.connect({ url, namespace: "cache" });
  const key = await cache.store("inside");
  assert.equal(await cache.getStr(key), "inside");
  assert.equal(
    new TextDecoder().decode(
      await cache.getOrStore("read-through", () => "loaded"),
    ),
    "loaded",
  );
  assert.deepEqual(
    await cache.getMany(
      await cache.storeMany(["a", "b"], { ttl: 60_000 }),
      (b) => b.length,
    ),
    [1, 1],
  );
  assert.equal(await cache.delete(key), 1);
  await cache.clear();
  for (const namespace of [undefined, "other"]) {
    const error = await Cache.connect({ url, namespace, flush: false }).then((
      outside,
    ) => outside.store("outside").finally(() => outside.close())).catch((e) =>
      e
    );
    assert.ok(error instanceof CommandError, String(error));
    assert.equal(error.code, "NOPERM");
    assert.ok(!error.message.includes("cache-Pa55"));
  }
});

test("keys cannot escape the namespace: glob characters and CRLF are just characters", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    namespace: "jail",
  });
  await raw.send("SET", "outside", "1");
  const sneaky = ["*", "a\r\nFLUSHALL\r\n", "../x", "[a-z]", "\\*"];
  for (const key of sneaky) {
    await cache.getOrStore(key, () => `value of ${key}`);
  }
  for (const key of sneaky) {
    assert.deepEqual(
      await raw.getBytes(`jail:${key}`),
      new TextEncoder().encode(`value of ${key}`),
    );
  }
  await cache.clear();
  assert.equal(await raw.send("EXISTS", "outside"), 1);
  for (const key of sneaky) {
    assert.equal(await raw.send("EXISTS", `jail:${key}`), 0);
  }
});

test("waitReplicas without replicas: concurrent writes share one WAIT and fail together with a ReplicationError; the value is on the primary", async () => {
  await using cache = await Cache.connect({
    url: server.url(),
    flush: false,
    namespace: "wait",
    waitReplicas: 1,
    timeout: 400,
    history: false,
  });
  const waitCalls = async () =>
    Number(
      /cmdstat_wait:calls=(\d+)/.exec(
        String(await raw.send("INFO", "commandstats")),
      )?.[1] ?? 0,
    );
  const before = await waitCalls();
  const started = performance.now();
  const results = await settlesWithin(
    2_000,
    Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => cache.store(`value ${i}`)),
    ),
  );
  const elapsed = performance.now() - started;
  for (const result of results) {
    assert.equal(result.status, "rejected");
    assert.ok(result.reason instanceof ReplicationError, String(result.reason));
    assert.equal(result.reason.acknowledged, 0);
  }
  assert.equal(await waitCalls() - before, 1, "one WAIT for the whole tick");
  // One WAIT of half the timeout, not fifty of them in a row.
  assert.ok(elapsed < 1_000, `took ${elapsed} ms`);
  const keys = await raw.send("KEYS", "wait:*") as unknown[];
  assert.equal(keys.length, 50);
});

test("load: 8 writers and readers across a crash and restart; nothing wrong, nothing hung", async () => {
  const runFor = 3_000;
  const counts = { ok: 0, failed: 0, lost: 0, wrong: 0, unexpected: 0 };
  const unexpected: unknown[] = [];
  const caches = await Promise.all(
    Array.from(
      { length: 8 },
      (_, i) =>
        Cache.connect({ url: server.url(), flush: i === 0, timeout: 500 }),
    ),
  );
  try {
    const end = Date.now() + runFor;
    const worker = async (cache: Cache) => {
      while (Date.now() < end) {
        const value = new Uint8Array(
          randomBytes(1 + Math.floor(Math.random() * 4096)),
        );
        try {
          const key = await cache.store(value);
          const read = await cache.get(key);
          if (read === null) counts.lost++;
          else if (
            Buffer.compare(Buffer.from(read), Buffer.from(value)) === 0
          ) counts.ok++;
          else counts.wrong++;
        } catch (error) {
          if (error instanceof CacheError) counts.failed++;
          else {
            counts.unexpected++;
            unexpected.push(error);
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    };
    const crash = (async () => {
      await new Promise((resolve) => setTimeout(resolve, runFor / 3));
      await server.kill();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await server.restart();
    })();
    await settlesWithin(
      runFor + 10_000,
      Promise.all([...caches.map(worker), crash]),
    );
    const okBeforeRecovery = counts.ok;
    await Promise.all(caches.map(recovers));
    console.log(`load across a crash: ${JSON.stringify(counts)}`);
    assert.equal(counts.wrong, 0, "a read returned wrong data");
    assert.deepEqual(unexpected, []);
    assert.ok(
      okBeforeRecovery > 100,
      `only ${okBeforeRecovery} round trips succeeded`,
    );
    assert.ok(
      counts.failed > 0,
      "the crash caused no failure at all: was the server really killed?",
    );
  } finally {
    await Promise.all(caches.map((cache) => cache.close()));
  }
});
