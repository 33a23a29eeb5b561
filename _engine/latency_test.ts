// The latency histogram behind `stats().latency`: the README promises
// percentiles "exact to 5%" from logarithmic buckets, from 1 µs to over an
// hour (the module's own words).

import { test } from "node:test";
import assert from "node:assert/strict";
import { LatencyHistogram } from "./latency.ts";
import { seededRandom } from "../_testing/seeded_random.ts";
// On Deno, an uncaught error (a timer's) must fail this file, not pass it.
import "../_testing/uncaught.ts";

const MICROSECOND = 0.001; // ms
const HOUR = 3_600_000; // ms

// Bucket bounds are powers of 1.05, so a duration on a bound reads back as
// exactly 5% more, give or take the last bit of a float: allow that bit.
function assertWithin5Percent(read: number, actual: number, what: string) {
  const error = Math.abs(read - actual) / actual;
  assert.ok(
    error <= 0.05 * (1 + 1e-9),
    `${what}: ${actual} ms read back as ${read} ms, ${
      (error * 100).toFixed(3)
    }% off`,
  );
}

test("each duration from 1 µs to 10 hours reads back within 5% of itself", () => {
  const histogram = new LatencyHistogram();
  const check = (ms: number, what: string) => {
    histogram.reset();
    histogram.record(ms);
    assertWithin5Percent(histogram.percentile(0.5), ms, what);
    assertWithin5Percent(histogram.percentile(1), ms, what);
  };
  // Forty durations per 5% step, so every bucket is crossed at many points.
  const steps = Math.ceil(Math.log(10 * HOUR / MICROSECOND) / Math.log(1.05));
  for (let i = 0; i <= steps * 40; i++) {
    check(MICROSECOND * 1.05 ** (i / 40), "sweep");
  }
  // On each bucket bound and a hair either side of it, where rounding of
  // the logarithm decides the bucket.
  for (let bound = 0; bound <= steps; bound++) {
    const ms = MICROSECOND * 1.05 ** bound;
    check(ms, `bound ${bound}`);
    check(ms * (1 + 1e-12), `just above bound ${bound}`);
    check(ms * (1 - 1e-12), `just below bound ${bound}`);
  }
  for (const ms of [MICROSECOND, 0.0011, 0.05, 0.2, 1, 2_000, HOUR]) {
    check(ms, "a round value");
  }
});

test("percentiles of a large mixed sample are within 5% of the true ones", () => {
  const random = seededRandom(14);
  const durations: number[] = [];
  // Most calls near a round trip, a tail of slow ones, and a spread over
  // the whole range, as a real cache sees them.
  for (let i = 0; i < 60_000; i++) durations.push(0.08 + random() * 0.04);
  for (let i = 0; i < 30_000; i++) durations.push(0.1 * 10 ** (random() * 3));
  for (let i = 0; i < 10_000; i++) {
    durations.push(MICROSECOND * (10 * HOUR / MICROSECOND) ** random());
  }
  const histogram = new LatencyHistogram();
  for (const ms of durations) histogram.record(ms);
  const sorted = durations.toSorted((a, b) => a - b);
  for (
    const fraction of [
      0.001,
      0.01,
      0.1,
      0.25,
      0.5,
      0.6,
      0.75,
      0.9,
      0.95,
      0.99,
      0.999,
      0.9999,
      1,
    ]
  ) {
    // The nearest rank: the smallest duration with `fraction` of all
    // durations at or below it.
    const actual = sorted[Math.ceil(fraction * sorted.length) - 1];
    assertWithin5Percent(
      histogram.percentile(fraction),
      actual,
      `p${fraction * 100}`,
    );
  }
});

test("p50 and p99 of a few calls are the calls' own durations, to 5%", () => {
  const histogram = new LatencyHistogram();
  // 100 calls of 1..100 ms, recorded out of order.
  for (let i = 0; i < 100; i++) histogram.record(((i * 37) % 100) + 1);
  assertWithin5Percent(histogram.percentile(0.5), 50, "p50");
  assertWithin5Percent(histogram.percentile(0.99), 99, "p99");
  assertWithin5Percent(histogram.percentile(0.01), 1, "p1");
});

test("a duration beyond the range is still counted, at the top of the range", () => {
  const histogram = new LatencyHistogram();
  for (let i = 0; i < 99; i++) histogram.record(1);
  histogram.record(1e12); // 30 years
  assertWithin5Percent(histogram.percentile(0.99), 1, "p99");
  assert.ok(histogram.percentile(1) >= 10 * HOUR, "p100 at the top");
  assert.ok(Number.isFinite(histogram.percentile(1)));
});

test("durations at or below 1 µs (a clock that did not tick) read as at most 1 µs", () => {
  const histogram = new LatencyHistogram();
  for (const ms of [0, 1e-9, MICROSECOND]) {
    histogram.reset();
    histogram.record(ms);
    const read = histogram.percentile(0.5);
    assert.ok(read >= 0 && read <= MICROSECOND, `${ms} ms read as ${read}`);
  }
});

test("empty or reset, every percentile is 0", () => {
  const histogram = new LatencyHistogram();
  assert.equal(histogram.percentile(0.5), 0);
  assert.equal(histogram.percentile(0.99), 0);
  histogram.record(0.5);
  histogram.record(500);
  histogram.reset();
  assert.equal(histogram.percentile(0.5), 0);
  assert.equal(histogram.percentile(1), 0);
  // After a reset, only what comes next counts: not the shorter 0.5 ms.
  histogram.record(2);
  assertWithin5Percent(histogram.percentile(0.5), 2, "p50 after reset");
  assertWithin5Percent(histogram.percentile(1), 2, "p100 after reset");
});
