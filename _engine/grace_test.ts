import { test } from "node:test";
import assert from "node:assert/strict";
import { freshness, resolvePolicy, storedExpiry } from "./grace.ts";

const policy = (options: Parameters<typeof resolvePolicy>[0]) =>
  resolvePolicy(options, undefined, undefined);

test("a value is fresh while more than grace is left, stale from grace down to 0, and due for a refresh ahead once that share of ttl has passed", () => {
  const p = policy({ ttl: 1_000, grace: 500, refreshAhead: 0.8 });
  assert.equal(freshness(p, 1_500), "fresh");
  assert.equal(freshness(p, 701), "fresh");
  // 800 of 1 000 ms passed: 200 fresh ms left, plus the grace.
  assert.equal(freshness(p, 700), "refresh");
  assert.equal(freshness(p, 501), "refresh");
  assert.equal(freshness(p, 500), "stale");
  assert.equal(freshness(p, 1), "stale");
  assert.equal(freshness(p, -1), "fresh", "no expiry: never stale");
  // Without a ttl of the call's own (the loader set one), grace still tells.
  assert.equal(freshness(policy({ grace: 500 }), 100), "stale");
  assert.equal(freshness(policy({ grace: 500 }), 600), "fresh");
  assert.equal(freshness(policy({}), 100), "fresh", "no grace: never stale");
});

test("the stored expiry is ttl + grace, the ttl spread by at most ± jitter", () => {
  const p = policy({ ttl: 1_000, grace: 500, jitter: 0.1 });
  assert.equal(storedExpiry(p, 1_000, () => 0.5), 1_500);
  assert.equal(storedExpiry(p, 1_000, () => 0), 1_400);
  assert.equal(storedExpiry(p, 1_000, () => 0.999999), 1_600);
  assert.equal(storedExpiry(p, 2_000, () => 0.5), 2_500, "the loader's ttl");
  assert.equal(storedExpiry(p, undefined), undefined);
});

test("a call's options override the cache's defaults, which override the built-in ones", () => {
  const cacheWide = resolvePolicy(
    { grace: 100, loaderTimeout: { soft: 10, hard: 50 }, jitter: 0.2 },
    undefined,
    5_000,
  );
  const call = resolvePolicy({ grace: 200 }, cacheWide, 5_000);
  assert.equal(call.ttl, 5_000);
  assert.equal(call.grace, 200);
  assert.equal(call.soft, 10);
  assert.equal(call.hard, 50);
  assert.equal(call.jitter, 0.2);
  assert.equal(call.graceBackoff, 10_000);
  assert.equal(call.graceRefresh, true);
  const own = resolvePolicy({ loaderTimeout: { hard: 80 } }, cacheWide, 5_000);
  assert.equal(own.soft, undefined, "a loaderTimeout of its own replaces both");
  assert.equal(own.hard, 80);
});

test("bad read-through options are RangeErrors or TypeErrors before anything is sent", () => {
  assert.throws(() => policy({ grace: -1 }), RangeError);
  assert.throws(() => policy({ grace: 1.5 }), RangeError);
  assert.throws(() => policy({ refreshAhead: 1 }), RangeError);
  assert.throws(() => policy({ refreshAhead: 0 }), RangeError);
  assert.throws(() => policy({ jitter: 1.5 }), RangeError);
  assert.throws(() => policy({ negativeTtl: 0 }), RangeError);
  assert.throws(
    () => policy({ loaderTimeout: { soft: 100, hard: 100 } }),
    RangeError,
  );
  // deno-lint-ignore no-explicit-any
  assert.throws(() => policy({ loaderTimeout: 5 as any }), TypeError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => policy({ graceRefresh: "yes" as any }), TypeError);
});
