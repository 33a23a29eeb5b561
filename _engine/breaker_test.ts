import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError } from "../errors.ts";
import { Breaker, checkBreaker } from "./breaker.ts";
import { waitFor } from "../_testing/wait.ts";
// On Deno, an uncaught error (a timer's) must fail this file, not pass it.
import "../_testing/uncaught.ts";

const failure = new ConnectionError("no answer");

test("the breaker opens after `failures` failures in a row, lets one probe through after openFor, and closes when it succeeds", async () => {
  const heard: string[] = [];
  const breaker = new Breaker(
    { failures: 3, openFor: 100 },
    (change) => heard.push(change),
  );
  breaker.failed(failure);
  breaker.succeeded();
  breaker.failed(failure);
  breaker.failed(failure);
  assert.equal(
    breaker.state,
    "closed",
    "a success in between resets the count",
  );
  breaker.failed(failure);
  assert.equal(breaker.state, "open");
  assert.equal(breaker.allows(), false);
  await waitFor(() => breaker.allows(), 5_000, "no probe after openFor");
  assert.equal(breaker.state, "half-open");
  assert.equal(breaker.allows(), false, "one probe at a time");
  breaker.succeeded();
  assert.equal(breaker.state, "closed");
  assert.deepEqual(heard, ["opened", "closed"]);
  assert.deepEqual(breaker.snapshot(), {
    state: "closed",
    opened: 1,
    closed: 1,
  });
});

test("a failed probe opens the breaker again for openFor; an abandoned one passes its turn on", async () => {
  const breaker = new Breaker({ failures: 1, openFor: 50 }, () => {});
  breaker.failed(failure);
  await waitFor(() => breaker.allows(), 5_000, "no probe after openFor");
  breaker.failed(failure);
  assert.equal(breaker.state, "open");
  assert.equal(breaker.allows(), false);
  await waitFor(() => breaker.allows(), 5_000, "no second probe");
  breaker.abandoned();
  assert.equal(breaker.allows(), true, "the next caller probes at once");
  assert.equal(breaker.snapshot().opened, 1, "reopening is not a new opening");
});

test("breaker options are checked", () => {
  assert.throws(() => checkBreaker({ failures: 0, openFor: 10 }), RangeError);
  assert.throws(() => checkBreaker({ failures: 1, openFor: 0 }), RangeError);
  assert.throws(() => checkBreaker(null), TypeError);
  assert.deepEqual(checkBreaker({ failures: 2, openFor: 10 }), {
    failures: 2,
    openFor: 10,
  });
});
