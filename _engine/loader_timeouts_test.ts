import { test } from "node:test";
import assert from "node:assert/strict";
import { TimeoutError } from "../errors.ts";
import { runLoader, withinSoft } from "./loader_timeouts.ts";

const never = new AbortController().signal;

test("runLoader gives the loader its stale value, and reports setTtl, skip and setTags", async () => {
  const result = await runLoader(
    (context) => {
      assert.equal(context.stale, "old");
      context.setTtl(1_234);
      context.skip();
      context.setTags(["b", "a", "b"]);
      return "new";
    },
    "old",
    undefined,
    never,
  );
  assert.deepEqual(result, {
    value: "new",
    ttl: 1_234,
    skip: true,
    tags: ["b", "a"],
  });
  await assert.rejects(
    runLoader(({ setTtl }) => (setTtl(0), "x"), null, undefined, never),
    RangeError,
  );
  await assert.rejects(
    runLoader(({ setTags }) => (setTags([""]), "x"), null, undefined, never),
    RangeError,
  );
});

test("past hard, runLoader aborts the signal with a TimeoutError and rejects with it", async () => {
  let signal: AbortSignal | undefined;
  let timedOut = 0;
  const error = await runLoader(
    (context) => {
      signal = context.signal;
      return new Promise<string>(() => {});
    },
    null,
    50,
    never,
    () => timedOut++,
  ).catch((error) => error);
  assert.ok(error instanceof TimeoutError);
  assert.equal(signal?.reason, error);
  assert.equal(timedOut, 1);
});

test("the loader's signal aborts when the cache closes", async () => {
  const closing = new AbortController();
  const result = runLoader(
    ({ signal }) =>
      new Promise<string>((resolve) => {
        if (signal.aborted) resolve("stopped");
        signal.addEventListener("abort", () => resolve("stopped"));
      }),
    null,
    undefined,
    closing.signal,
  );
  closing.abort();
  assert.equal((await result).value, "stopped");
});

test("withinSoft gives a load that settles in time, and nothing for a late or failed one", async () => {
  assert.deepEqual(await withinSoft(Promise.resolve(1), 1_000), { value: 1 });
  assert.equal(await withinSoft(new Promise(() => {}), 20), undefined);
  assert.equal(
    await withinSoft(Promise.reject(new Error("x")), 1_000),
    undefined,
  );
  assert.equal(await withinSoft(Promise.resolve(1), undefined), undefined);
});
