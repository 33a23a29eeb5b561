// Read-through that serves stale values, refreshes ahead and never waits on
// a slow loader (issue 16), against a real redis-server: grace, soft and hard
// loader timeouts, refresh-ahead across two real processes, jitter, negative
// caching, getOrStoreMany, the circuit breaker against a stopped server, and
// what getOrStore does when Redis does not answer.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Cache,
  type CacheError,
  type ErrorEvent,
  TimeoutError,
} from "./mod.ts";
import { runChild, testdataCommand } from "./_testing/child.ts";
import { redisForThisFile, startRedisServer } from "./_testing/redis_server.ts";
import { waitFor } from "./_testing/wait.ts";

const { server, raw } = await redisForThisFile();

const decoder = new TextDecoder();
const text = (bytes: Uint8Array | null) =>
  bytes === null ? null : decoder.decode(bytes);
const pttl = async (key: string) => Number(await raw.send("PTTL", key));
// Bun stops a test after 5 s unless told otherwise.
const slow = { timeout: 30_000 };

/** Waits until `key` has at most `left` ms to live: its grace has begun. */
function staleAt(key: string, left: number): Promise<void> {
  return waitFor(
    async () => {
      const ms = await pttl(key);
      return ms > 0 && ms <= left;
    },
    10_000,
    `${key} did not become stale`,
  );
}

test(
  "a value with ttl and grace is stored as its plain bytes with an expiry of ttl + grace; a plain get sees it until then",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    const bytes = await cache.getOrStore("plain", () => "v1", {
      ttl: 300,
      grace: 5_000,
    });
    assert.equal(text(bytes), "v1");
    assert.equal(text(await raw.getBytes("plain")), "v1");
    const left = await pttl("plain");
    assert.ok(left > 5_000 && left <= 5_300, `PTTL ${left}`);
    await staleAt("plain", 5_000);
    assert.equal(await cache.getStr("plain"), "v1");
  },
);

test(
  "a failing loader inside grace gives the stale value; a failed refresh waits graceBackoff before calling the loader again",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    const options = { ttl: 200, grace: 10_000, graceBackoff: 60_000 };
    await cache.getOrStore("flaky", () => "good", options);
    await staleAt("flaky", 10_000);
    let calls = 0;
    const failing = () => {
      calls++;
      throw new Error("database down");
    };
    assert.equal(
      text(await cache.getOrStore("flaky", failing, options)),
      "good",
    );
    await waitFor(
      () => cache.stats().readThrough.refreshesFailed === 1,
      5_000,
      "the refresh did not fail",
    );
    assert.equal(calls, 1);
    // In backoff: stale again, and the broken loader is not called.
    assert.equal(
      text(await cache.getOrStore("flaky", failing, options)),
      "good",
    );
    assert.equal(calls, 1);
    const { readThrough } = cache.stats();
    assert.equal(readThrough.staleServed, 2);
    assert.equal(readThrough.refreshesStarted, 1);
    assert.equal(text(await raw.getBytes("flaky")), "good");
  },
);

test(
  "a stale hit refreshes in the background: the next call gets the new value, stored with ttl + grace, and the loader saw the stale one",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    const options = { ttl: 200, grace: 10_000 };
    await cache.getOrStore("swr", () => "v1", options);
    await staleAt("swr", 10_000);
    let seen: Uint8Array | null = null;
    const first = await cache.getOrStore("swr", ({ stale }) => {
      seen = stale;
      return "v2";
    }, options);
    assert.equal(text(first), "v1");
    await waitFor(
      async () => text(await raw.getBytes("swr")) === "v2",
      5_000,
      "the refresh did not store v2",
    );
    assert.equal(text(seen), "v1");
    assert.ok(await pttl("swr") > 10_000);
    assert.equal(
      text(await cache.getOrStore("swr", () => "v3", options)),
      "v2",
    );
  },
);

test(
  "past ttl + grace the value is gone: a failing loader's error reaches the caller",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    const options = { ttl: 100, grace: 200 };
    await cache.getOrStore("gone", () => "old", options);
    await waitFor(
      async () => Number(await raw.send("EXISTS", "gone")) === 0,
      5_000,
      "the key did not expire at ttl + grace",
    );
    await assert.rejects(
      cache.getOrStore("gone", () => {
        throw new Error("database down");
      }, options),
      /database down/,
    );
  },
);

test(
  "past the soft timeout the caller gets the stale value and the late result lands in Redis; a loader within it gives the new value",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    const options = { ttl: 200, grace: 10_000, loaderTimeout: { soft: 100 } };
    await cache.getOrStore("soft", () => "old", options);
    await staleAt("soft", 10_000);
    let finished = false;
    const started = performance.now();
    const value = await cache.getOrStore("soft", async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      finished = true;
      return "late";
    }, options);
    const waited = performance.now() - started;
    assert.equal(text(value), "old");
    assert.equal(finished, false, `waited ${waited} ms`);
    await waitFor(
      async () => text(await raw.getBytes("soft")) === "late",
      5_000,
      "the late result was not stored",
    );
    await staleAt("soft", 10_000);
    assert.equal(
      text(await cache.getOrStore("soft", () => "quick", options)),
      "quick",
    );
  },
);

test(
  "past the hard timeout the loader's signal aborts and the caller gets a TimeoutError; nothing is stored",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    let signal: AbortSignal | undefined;
    await assert.rejects(
      cache.getOrStore("hard", (context) => {
        signal = context.signal;
        return new Promise<string>((resolve) =>
          context.signal.addEventListener("abort", () => resolve("too late"))
        );
      }, { ttl: 5_000, loaderTimeout: { hard: 200 } }),
      TimeoutError,
    );
    assert.equal(signal?.aborted, true);
    assert.ok(signal?.reason instanceof TimeoutError);
    assert.equal(await raw.getBytes("hard"), null);
    assert.equal(cache.stats().readThrough.loaderTimeouts, 1);
  },
);

test(
  "refresh-ahead in two real processes: both get the value at once, one loader call refreshes it",
  slow,
  async () => {
    for (const key of ["ready", "go", "loader-calls"]) {
      await raw.send("DEL", key);
    }
    // ttl 5 s, refreshAhead 0.5: with 2 s left it is fresh but due.
    await raw.send("SET", "ahead-key", "original", "PX", "2000");
    const [command, args] = testdataCommand("refresh_ahead_race");
    const children = [1, 2].map(() =>
      runChild(command, [...args, server.url(), "ahead-key"], 25_000)
    );
    await waitFor(
      async () => Number(text(await raw.getBytes("ready")) ?? 0) === 2,
      20_000,
      "the processes did not get ready",
    );
    await raw.send("SET", "go", "1");
    const results = await Promise.all(children);
    for (const { code, output } of results) assert.equal(code, 0, output);
    for (const { output } of results) assert.equal(output.trim(), "original");
    assert.equal(Number(text(await raw.getBytes("loader-calls"))), 1);
    assert.match(text(await raw.getBytes("ahead-key"))!, /^refreshed by \d+$/);
    assert.ok(await pttl("ahead-key") > 3_000);
  },
);

test(
  "jitter spreads the stored ttls of keys stored together",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    const options = { ttl: 10_000, jitter: 0.2 };
    const keys = Array.from({ length: 30 }, (_, i) => `jitter-${i}`);
    await Promise.all(
      keys.map((key) => cache.getOrStore(key, () => key, options)),
    );
    const left = await Promise.all(keys.map(pttl));
    for (const ms of left) assert.ok(ms > 7_500 && ms <= 12_000, `PTTL ${ms}`);
    const spread = Math.max(...left) - Math.min(...left);
    assert.ok(spread > 1_000, `PTTLs within ${spread} ms: ${left}`);
  },
);

test(
  "a negative entry answers null without the loader until negativeTtl passes, and a plain get never sees it as a value",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    let calls = 0;
    const missingRow = () => {
      calls++;
      return null;
    };
    const options = { ttl: 60_000, negativeTtl: 300 };
    assert.equal(await cache.getOrStore("no-row", missingRow, options), null);
    assert.equal(await cache.getOrStore("no-row", missingRow, options), null);
    assert.equal(calls, 1);
    assert.equal(await cache.get("no-row"), null);
    assert.equal(await raw.getBytes("no-row"), null);
    const marker = await pttl("__miss:no-row");
    assert.ok(marker > 0 && marker <= 300, `marker PTTL ${marker}`);
    await assert.rejects(cache.get("__miss:no-row"), RangeError);
    await waitFor(
      async () => Number(await raw.send("EXISTS", "__miss:no-row")) === 0,
      5_000,
      "the negative entry did not expire",
    );
    assert.equal(await cache.getOrStore("no-row", missingRow, options), null);
    assert.equal(calls, 2);
    assert.equal(cache.stats().readThrough.negativeHits, 1);
  },
);

test(
  "delete(key) removes the key's negative entry too, so the next getOrStore calls the loader",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    const options = { ttl: 60_000, negativeTtl: 60_000 };
    let row: string | null = null;
    const load = () => row;
    assert.equal(await cache.getOrStore("row-9", load, options), null);
    assert.equal(Number(await raw.send("EXISTS", "__miss:row-9")), 1);
    row = "inserted";
    assert.equal(await cache.delete("row-9"), 0, "no value was there");
    assert.equal(Number(await raw.send("EXISTS", "__miss:row-9")), 0);
    assert.equal(
      text(await cache.getOrStore("row-9", load, options)),
      "inserted",
    );
  },
);

test(
  "the loader's context: setTtl stores with the loader's own ttl, skip returns the value without storing it",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    await cache.getOrStore("token", ({ setTtl }) => {
      setTtl(3_000);
      return "t";
    }, { ttl: 60_000, grace: 1_000 });
    const left = await pttl("token");
    assert.ok(left > 3_000 && left <= 4_000, `PTTL ${left}`);
    const skipped = await cache.getOrStore("skipped", ({ skip }) => {
      skip();
      return "once";
    });
    assert.equal(text(skipped), "once");
    assert.equal(await raw.getBytes("skipped"), null);
  },
);

test(
  "getOrStoreMany reads every key with one MGET, calls loadMissing once with the misses in order, and stores them",
  slow,
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    await cache.getOrStore("many-b", () => "stored b");
    await cache.getOrStore("many-d", () => "stored d");
    await raw.send("CONFIG", "RESETSTAT");
    const asked: string[][] = [];
    const load = (missing: string[]) => {
      asked.push(missing);
      return missing.map((key) => key === "many-e" ? null : `loaded ${key}`);
    };
    const keys = ["many-a", "many-b", "many-c", "many-d", "many-e"];
    const values = await cache.getOrStoreMany(keys, load, { ttl: 60_000 });
    assert.deepEqual(values.map(text), [
      "loaded many-a",
      "stored b",
      "loaded many-c",
      "stored d",
      null,
    ]);
    assert.deepEqual(asked, [["many-a", "many-c", "many-e"]]);
    const stats = String(await raw.send("INFO", "commandstats"));
    assert.match(stats, /cmdstat_mget:calls=1,/);
    assert.doesNotMatch(stats, /cmdstat_get:/);
    assert.match(stats, /cmdstat_set:calls=2,/);
    assert.equal(text(await raw.getBytes("many-c")), "loaded many-c");
    assert.ok(await pttl("many-a") > 59_000);
    assert.equal(await raw.getBytes("many-e"), null);
    const again = await cache.getOrStoreMany(keys.slice(0, 4), load);
    assert.deepEqual(again.map(text), values.slice(0, 4).map(text));
    assert.equal(asked.length, 1);
  },
);

test(
  'with Redis stopped and no breaker, getOrStore returns the loader\'s value under onUnavailable: "miss", the L1\'s copy when it has one, and throws under "throw"',
  slow,
  async () => {
    await using stopped = await startRedisServer();
    await using miss = await Cache.connect({
      url: stopped.url(),
      timeout: 300,
      onUnavailable: "miss",
      l1: {},
    });
    await using strict = await Cache.connect({
      url: stopped.url(),
      timeout: 300,
    });
    await miss.getOrStore("held", () => "in l1", { ttl: 60_000 });
    assert.equal(await miss.getStr("held"), "in l1");
    stopped.pause();
    try {
      assert.equal(
        text(await miss.getOrStore("fresh", () => "from loader")),
        "from loader",
      );
      assert.equal(
        text(await miss.getOrStore("held", () => "not this")),
        "in l1",
      );
      await assert.rejects(
        strict.getOrStore("fresh", () => "from loader"),
        TimeoutError,
      );
    } finally {
      stopped.resume();
    }
    assert.equal(await strict.get("fresh"), null);
  },
);

test(
  "the breaker opens after N failures against a stopped server, serves the loader's value meanwhile, and closes once the server answers",
  slow,
  async () => {
    await using stopped = await startRedisServer();
    const heard: [string, ErrorEvent["breaker"]][] = [];
    await using cache = await Cache.connect({
      url: stopped.url(),
      timeout: 200,
      breaker: { failures: 3, openFor: 500 },
      onError: (error: CacheError, event: ErrorEvent) =>
        heard.push([error.name, event.breaker]),
    });
    assert.equal(cache.stats().breaker?.state, "closed");
    stopped.pause();
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal(
          text(await cache.getOrStore("row", () => `loaded ${i}`)),
          `loaded ${i}`,
        );
      }
      assert.deepEqual(cache.stats().breaker, {
        state: "open",
        opened: 1,
        closed: 0,
      });
      assert.deepEqual(heard.filter(([, change]) => change !== undefined), [
        ["ConnectionError", "opened"],
      ]);
      // Open: nothing is sent, the loader answers, reads follow onUnavailable.
      assert.equal(text(await cache.getOrStore("row", () => "open")), "open");
      await assert.rejects(cache.get("row"), /circuit breaker is open/);
      assert.equal((await cache.health()).breaker, "open");
    } finally {
      stopped.resume();
    }
    await waitFor(
      async () => {
        await cache.getOrStore("row", () => "after").catch(() => {});
        return cache.stats().breaker?.state === "closed";
      },
      10_000,
      "the breaker did not close after the server resumed",
    );
    assert.deepEqual(heard.filter(([, change]) => change === "closed"), [
      ["ConnectionError", "closed"],
    ]);
    await waitFor(
      async () =>
        text(await cache.getOrStore("row2", () => "cached")) === "cached" &&
        await cache.getStr("row2") === "cached",
      5_000,
      "getOrStore did not cache again",
    );
    assert.equal((await cache.health()).breaker, "closed");
  },
);

test(
  "close() stops a background refresh: its loader's signal aborts and nothing is stored after",
  slow,
  async () => {
    const cache = await Cache.connect({ url: server.url() });
    const options = { ttl: 200, grace: 10_000 };
    await cache.getOrStore("closing", () => "v1", options);
    await staleAt("closing", 10_000);
    let signal: AbortSignal | undefined;
    const value = await cache.getOrStore("closing", (context) => {
      signal = context.signal;
      return new Promise<string>((resolve) =>
        context.signal.addEventListener("abort", () => resolve("after close"))
      );
    }, options);
    assert.equal(text(value), "v1");
    await waitFor(() => signal !== undefined, 5_000, "no refresh started");
    await cache.close();
    assert.equal(signal!.aborted, true);
    assert.equal(text(await raw.getBytes("closing")), "v1");
  },
);

test(
  "a stale L1 copy obeys the same bound: with Redis stopped it is served until ttl + grace, never after",
  slow,
  async () => {
    await using stopped = await startRedisServer();
    await using cache = await Cache.connect({
      url: stopped.url(),
      timeout: 300,
      onUnavailable: "miss",
      l1: {},
    });
    const options = { ttl: 200, grace: 1_000 };
    await cache.getOrStore("bounded", () => "copy", options);
    // The read-through read fills the L1 for as long as Redis keeps the key,
    // at most ttl + grace from now (50 ms for the two clocks' rounding).
    await cache.getOrStore("bounded", () => "unused", options);
    const expiredBy = Date.now() + 1_200 + 50;
    stopped.pause();
    try {
      assert.equal(
        text(await cache.getOrStore("bounded", () => "loader", options)),
        "copy",
      );
      await waitFor(() => Date.now() > expiredBy, 5_000, "clock");
      assert.equal(
        text(await cache.getOrStore("bounded", () => "loader", options)),
        "loader",
      );
    } finally {
      stopped.resume();
    }
  },
);
