// The bound on every wait for Redis: a call settles like its command, or
// with its timeout error at the deadline, or with the signal's reason, and
// nothing of a settled call (its reply above all) is kept afterwards.
//
// Each test uses a bound of its own: waits with the same bound share a
// queue for the whole process, and Bun runs every test file in one.

import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { deadline } from "./deadline.ts";
import { runChild } from "../_testing/child.ts";
import { garbageCollector } from "../_testing/garbage_collector.ts";
import { runtime } from "../_testing/runtime.ts";
import { settlesWithin, waitFor } from "../_testing/wait.ts";
// On Deno, an uncaught error (a timer's) must fail this file, not pass it.
import "../_testing/uncaught.ts";

// How much later than its deadline a timer set at the same moment fires.
// Timers fire in the order they are due, however late a loaded machine runs
// them, so a deadline on time always rejects before this one: the margin
// is not a guess at the machine's speed.
const MARGIN = 25;

function never(): Promise<never> {
  return new Promise(() => {});
}

function elapsedSince(start: number): number {
  return performance.now() - start;
}

/** A promise that resolves `ms` after now, by a timer that keeps the process alive. */
function timerDueIn(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Timeout extends Error {}

/**
 * Starts a deadline on a promise that never settles and records when it
 * rejected, measured from just before it started.
 */
function startTimedOut(ms: number, signal?: AbortSignal) {
  const started = performance.now();
  const outcome: { error?: unknown; at?: number } = {};
  const settled = deadline(never(), ms, () => new Timeout(`${ms} ms`), signal)
    .catch((error) => {
      outcome.error = error;
      outcome.at = elapsedSince(started);
    });
  return { outcome, settled };
}

test("settles like the promise when that settles first, without calling onTimeout", async () => {
  let timeoutsMade = 0;
  const onTimeout = () => new Timeout(String(++timeoutsMade));
  const refused = new Error("WRONGTYPE");
  assert.equal(
    await deadline(Promise.resolve("value"), 131, onTimeout),
    "value",
  );
  await assert.rejects(
    deadline(Promise.reject(refused), 131, onTimeout),
    (error) => error === refused,
  );
  // After the bound has passed the settled calls stay settled.
  const { outcome, settled } = startTimedOut(131);
  await settlesWithin(131 + MARGIN, settled);
  assert.ok(outcome.error instanceof Timeout);
  assert.equal(timeoutsMade, 0);
});

test("a call whose promise never settles rejects with onTimeout's error at its deadline: not before, and before a timer due 25 ms later", async () => {
  const ms = 137;
  const { outcome } = startTimedOut(ms);
  await timerDueIn(ms + MARGIN);
  assert.ok(outcome.error instanceof Timeout, "rejected in time");
  assert.equal((outcome.error as Error).message, "137 ms");
  assert.ok(outcome.at! >= ms, `rejected ${outcome.at} ms after the start`);
});

test("each call's deadline counts from its own start, not from the first pending one's", async () => {
  const ms = 173;
  const first = startTimedOut(ms);
  await timerDueIn(30);
  const secondStarted = performance.now();
  const second = startTimedOut(ms);
  // The timer fires for the first; the second, 30 ms younger, must wait for
  // its own deadline (the sweep may come late, never early).
  await settlesWithin(ms + MARGIN, first.settled);
  await timerDueIn(ms + MARGIN - elapsedSince(secondStarted));
  assert.ok(second.outcome.error instanceof Timeout, "the second rejected");
  assert.ok(second.outcome.at! >= ms, `second after ${second.outcome.at} ms`);
});

test("a short bound is not held up by a long one started before it", async () => {
  let release!: () => void;
  const long = deadline(
    new Promise<void>((resolve) => release = resolve),
    5_003,
    () => new Timeout("long"),
  );
  const short = startTimedOut(101);
  await timerDueIn(101 + MARGIN);
  assert.ok(short.outcome.error instanceof Timeout, "the short one rejected");
  release();
  await long;
});

test("1 000 calls with the same bound share one timer and reject in the order they were made; those settled meanwhile stay settled", async () => {
  const ms = 149;
  const realSetTimeout = globalThis.setTimeout;
  let timersSet = 0;
  const resolvers: ((value: number) => void)[] = [];
  const rejectedOrder: number[] = [];
  let timeoutsMade = 0;
  const calls: Promise<number | undefined>[] = [];
  // Counted only while the calls are made, synchronously: what other files
  // left pending (Bun runs them in this process) cannot add to it.
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    timersSet++;
    return realSetTimeout(...args);
  }) as typeof setTimeout;
  try {
    for (let i = 0; i < 1_000; i++) {
      const command = new Promise<number>((resolve) => resolvers.push(resolve));
      calls.push(
        deadline(command, ms, () => new Timeout(String(++timeoutsMade))).catch(
          (error) => {
            assert.ok(error instanceof Timeout);
            rejectedOrder.push(i);
            return undefined;
          },
        ),
      );
    }
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  assert.equal(timersSet, 1, "one timer for 1 000 calls");
  // Every other command answers before its deadline, oldest first and
  // newest first, so settled waiters sit before and between pending ones.
  for (let i = 0; i < 1_000; i += 4) resolvers[i](i);
  for (let i = 998; i > 0; i -= 4) resolvers[i](i);
  await timerDueIn(ms + MARGIN);
  const results = await Promise.all(calls);
  const odd = Array.from({ length: 500 }, (_, k) => 2 * k + 1);
  assert.deepEqual(rejectedOrder, odd, "the others, in order, in time");
  assert.equal(timeoutsMade, 500);
  results.forEach((result, i) =>
    assert.equal(result, i % 2 === 0 ? i : undefined, String(i))
  );
});

test("an abort rejects at once with the signal's reason, and the deadline no longer applies", async () => {
  const controller = new AbortController();
  const reason = new Error("caller gave up");
  let timeoutsMade = 0;
  const bounded = deadline(
    never(),
    157,
    () => new Timeout(String(++timeoutsMade)),
    controller.signal,
  );
  const started = performance.now();
  controller.abort(reason);
  await assert.rejects(bounded, (error) => error === reason);
  assert.ok(elapsedSince(started) < 157, "before the deadline");
  // Another call with the same bound timing out proves the timer ran past
  // the aborted call's deadline without calling its onTimeout.
  await settlesWithin(157 + MARGIN, startTimedOut(157).settled);
  assert.equal(timeoutsMade, 0);
});

test("an expiry that starts waits with the same bound, as an onError hook may, leaves the queue in order and every wait still bounded", async () => {
  // A bound of its own: the queue is shared by every wait with it.
  const ms = 41;
  const started: Promise<unknown>[] = [];
  const first = deadline(never(), ms, () => {
    // From inside the sweep: settled waits ahead are dropped and, past a
    // thousand, the queue's array replaced.
    started.push(deadline(Promise.resolve("late"), ms, () => new Timeout()));
    started.push(deadline(never(), ms, () => new Timeout("started late")));
    return new Timeout("first");
  });
  await Promise.all(
    Array.from(
      { length: 1_100 },
      () => deadline(Promise.resolve(1), ms, () => new Timeout()),
    ),
  );
  const second = deadline(never(), ms, () => new Timeout("second"));
  await settlesWithin(1_000, assert.rejects(first, /first/));
  await settlesWithin(1_000, assert.rejects(second, /second/));
  assert.equal(await started[0], "late");
  await settlesWithin(1_000, assert.rejects(started[1], /started late/));
});

test("a settled call leaves no listener on a long-lived signal, however it settled", async () => {
  // One signal for the whole life of a process (a shutdown signal) is passed
  // to every call; each call's listener must go when the call is done.
  const controller = new AbortController();
  const signal = controller.signal;
  const listening = new Set<unknown>();
  const addEventListener = signal.addEventListener.bind(signal);
  const removeEventListener = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ) => {
    listening.add(listener);
    addEventListener(type, listener, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | EventListenerOptions,
  ) => {
    listening.delete(listener);
    removeEventListener(type, listener, options);
  }) as typeof signal.removeEventListener;

  const ms = 163;
  const answered = Array.from(
    { length: 500 },
    (_, i) => deadline(Promise.resolve(i), ms, () => new Timeout(""), signal),
  );
  const refused = Array.from(
    { length: 500 },
    () =>
      deadline(
        Promise.reject(new Error("no")),
        ms,
        () => new Timeout(""),
        signal,
      )
        .catch(() => {}),
  );
  const timedOut = Array.from(
    { length: 10 },
    () => deadline(never(), ms, () => new Timeout(""), signal).catch(() => {}),
  );
  assert.equal(listening.size, 1_010);
  await Promise.all([...answered, ...refused]);
  assert.equal(listening.size, 10, "answered and refused calls let go");
  await timerDueIn(ms + MARGIN);
  await Promise.all(timedOut);
  assert.equal(listening.size, 0, "timed out calls let go");
});

test("a settled call does not keep its reply alive until its deadline", {
  timeout: 30_000,
}, async () => {
  const collectGarbage = garbageCollector();
  // A long bound, so the sweep does not free them: only letting go of each
  // waiter's closure when it settles does.
  const ms = 600_007;
  const replies: WeakRef<object>[] = [];
  // In a function of its own, so that no variable of this test holds the
  // last reply.
  const call = async () => {
    const reply = { bytes: new Uint8Array(1 << 20) };
    replies.push(new WeakRef(reply));
    const settled = await deadline(
      Promise.resolve(reply),
      ms,
      () => new Timeout(""),
    );
    assert.equal(settled, reply);
  };
  for (let i = 0; i < 10; i++) await call();
  // Bun scans its stack conservatively: a stale word can keep one alive for
  // a few collections more, so collect until all are gone, within a bound.
  await waitFor(
    () => {
      collectGarbage();
      return replies.every((reply) => reply.deref() === undefined);
    },
    15_000,
    "a settled call's reply is still reachable after garbage collection",
  );
});

test("a pending deadline does not keep the process alive", {
  timeout: 60_000,
}, async () => {
  // A child process whose only pending work is a call bounded by 30 s
  // exits as soon as its script ends.
  const here = import.meta.url;
  const module = new URL(
    here.endsWith(".js") ? "./deadline.js" : "./deadline.ts",
    here,
  ).href;
  const script = `
    import process from "node:process";
    import { deadline } from ${JSON.stringify(module)};
    deadline(new Promise(() => {}), 30_000, () => new Error("timed out"))
      .catch(() => console.log("the deadline fired"));
    process.on("exit", () => console.log("exited"));
  `;
  const [command, args] = runtime === "deno"
    ? [process.execPath, ["eval", script]]
    : runtime === "bun"
    ? [process.execPath, ["-e", script]]
    : [process.execPath, ["--input-type=module", "-e", script]];
  const { code, output } = await runChild(command, args, 20_000);
  assert.equal(code, 0, `the child was killed or failed: ${output}`);
  assert.equal(output.trim(), "exited");
});
