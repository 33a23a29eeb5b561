import { test } from "node:test";
import assert from "node:assert/strict";
import { Refreshes } from "./refreshes.ts";

test("one refresh per key, at most `max` at once; a failure puts the key in backoff", async () => {
  const refreshes = new Refreshes(2);
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const a = refreshes.start("a", 1_000, () => held.then(() => "a"));
  assert.ok(a !== undefined);
  assert.equal(
    refreshes.start("a", 1_000, () => Promise.resolve("again")),
    undefined,
  );
  assert.equal(refreshes.running("a"), a);
  const b = refreshes.start("b", 60_000, () => Promise.reject(new Error("x")));
  assert.equal(
    refreshes.start("c", 1_000, () => Promise.resolve("c")),
    undefined,
    "capped",
  );
  await assert.rejects(b!, /x/);
  assert.equal(refreshes.inBackoff("b"), true);
  assert.equal(refreshes.inBackoff("a"), false);
  release();
  assert.equal(await a, "a");
  assert.equal(refreshes.size, 0);
});

test("close() aborts the closing signal and waits for running refreshes", async () => {
  const refreshes = new Refreshes();
  let finished = false;
  refreshes.start(
    "k",
    1_000,
    () =>
      new Promise<void>((resolve) =>
        refreshes.closing.addEventListener("abort", () => {
          finished = true;
          resolve();
        })
      ),
  );
  await refreshes.close();
  assert.equal(refreshes.closing.aborted, true);
  assert.equal(finished, true);
  assert.equal(refreshes.start("k", 1_000, () => Promise.resolve()), undefined);
});
