// The batching under `get` and `store`: calls made in the same tick go as
// one command, and each caller still gets exactly its own outcome.

import { test } from "node:test";
import assert from "node:assert/strict";
import { type BatchResult, Coalescer, type RunOne } from "./coalescer.ts";

/** A lone-call handler from a function that returns the promise, as a test writes one. */
function lone<I, V>(run: (item: I) => Promise<V>): RunOne<I, V> {
  return (item, resolve, reject) => run(item).then(resolve, reject);
}

/**
 * A coalescer whose handlers record what they were given and answer
 * through `answer`, by default each item doubled.
 */
function recording(
  answer: (item: number) => BatchResult<number> = (item) => item * 2,
) {
  const batches: number[][] = [];
  const lone_: number[] = [];
  const coalescer = new Coalescer<number, number>(
    (items) => {
      batches.push([...items]);
      return Promise.resolve(items.map(answer));
    },
    lone((item) => {
      lone_.push(item);
      const result = answer(item);
      return result instanceof Error
        ? Promise.reject(result)
        : Promise.resolve(result);
    }),
  );
  return { coalescer, batches, lone: lone_ };
}

test("calls in the same tick form one batch, in the order they were made, each caller getting its own result", async () => {
  const { coalescer, batches, lone } = recording();
  const items = [5, 3, 9, 1, 7];
  const results = await Promise.all(items.map((item) => coalescer.add(item)));
  assert.deepEqual(batches, [items]);
  assert.deepEqual(lone, []);
  assert.deepEqual(results, [10, 6, 18, 2, 14]);
});

test("the same item twice in a batch is sent twice and answered twice", async () => {
  const { coalescer, batches } = recording();
  const results = await Promise.all([
    coalescer.add(4),
    coalescer.add(4),
    coalescer.add(2),
  ]);
  assert.deepEqual(batches, [[4, 4, 2]]);
  assert.deepEqual(results, [8, 8, 4]);
});

test("results are routed by position even when the batch answers in another order of completion", async () => {
  // Each item's result is ready at a different time; what matters is the
  // position in the array runMany resolves with.
  const coalescer = new Coalescer<string, string>(
    async (items) => {
      const answers = items.map(async (item, i) => {
        for (let turn = 0; turn < items.length - i; turn++) await null;
        return `${item}!`;
      });
      return await Promise.all(answers);
    },
    lone((item) => Promise.resolve(`${item}?`)),
  );
  const results = await Promise.all(
    ["a", "b", "c", "d"].map((item) => coalescer.add(item)),
  );
  assert.deepEqual(results, ["a!", "b!", "c!", "d!"]);
});

test("a lone call goes through runOne, not as a batch of one", async () => {
  const { coalescer, batches, lone } = recording();
  assert.equal(await coalescer.add(21), 42);
  assert.deepEqual(lone, [21]);
  assert.deepEqual(batches, []);
});

test("calls separated by an await form separate batches, the next one after the first is sent", async () => {
  const { coalescer, batches, lone } = recording();
  const first = [coalescer.add(1), coalescer.add(2)];
  await null;
  // The first batch has been sent by now: its microtask ran before this
  // continuation.
  assert.deepEqual(batches, [[1, 2]]);
  const second = [coalescer.add(3), coalescer.add(4), coalescer.add(5)];
  await null;
  const third = coalescer.add(6);
  assert.deepEqual(await Promise.all([...first, ...second, third]), [
    2,
    4,
    6,
    8,
    10,
    12,
  ]);
  assert.deepEqual(batches, [[1, 2], [3, 4, 5]]);
  assert.deepEqual(lone, [6]);
});

test("a batch does not wait for the one before it to be answered", async () => {
  const answers: ((results: number[]) => void)[] = [];
  const sent: number[][] = [];
  const coalescer = new Coalescer<number, number>(
    (items) => {
      sent.push(items);
      return new Promise((resolve) => answers.push(resolve));
    },
    lone(() => Promise.reject(new Error("not expected"))),
  );
  const first = [coalescer.add(1), coalescer.add(2)];
  await null;
  const second = [coalescer.add(3), coalescer.add(4)];
  await null;
  assert.deepEqual(sent, [[1, 2], [3, 4]], "both batches in flight at once");
  // Answered in the reverse order, each batch's callers get their own.
  answers[1]([30, 40]);
  answers[0]([10, 20]);
  assert.deepEqual(await Promise.all([...first, ...second]), [10, 20, 30, 40]);
});

test("an Error in a batch's results fails that caller alone", async () => {
  const refused = new Error("WRONGTYPE for 3");
  const { coalescer } = recording((item) => item === 3 ? refused : item);
  const outcomes = await Promise.allSettled(
    [1, 3, 5].map((item) => coalescer.add(item)),
  );
  assert.deepEqual(outcomes, [
    { status: "fulfilled", value: 1 },
    { status: "rejected", reason: refused },
    { status: "fulfilled", value: 5 },
  ]);
});

test("a failed batch fails each of its callers with the batch's own error", async () => {
  const lost = new Error("connection lost");
  const coalescer = new Coalescer<number, number>(
    () => Promise.reject(lost),
    lone(() => Promise.reject(new Error("not expected"))),
  );
  const outcomes = await Promise.allSettled(
    [1, 2, 3].map((item) => coalescer.add(item)),
  );
  assert.equal(outcomes.length, 3);
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    assert.equal((outcome as PromiseRejectedResult).reason, lost);
  }
});

test("a failed lone call fails its caller with the error", async () => {
  const refused = new Error("OOM");
  const { coalescer } = recording(() => refused);
  await assert.rejects(coalescer.add(1), (error) => error === refused);
});

test("a failed batch does not affect the next one", async () => {
  let failNext = true;
  const coalescer = new Coalescer<number, number>(
    (items) => {
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error("once"));
      }
      return Promise.resolve(items);
    },
    lone((item) => Promise.resolve(item)),
  );
  const failed = Promise.allSettled([coalescer.add(1), coalescer.add(2)]);
  await null;
  const next = Promise.all([coalescer.add(3), coalescer.add(4)]);
  assert.deepEqual((await failed).map((outcome) => outcome.status), [
    "rejected",
    "rejected",
  ]);
  assert.deepEqual(await next, [3, 4]);
});

test("flush() sends what was added at once, so a call after it cannot overtake the batch", async () => {
  const { coalescer, batches, lone } = recording();
  const batched = [coalescer.add(1), coalescer.add(2)];
  coalescer.flush();
  // Sent synchronously, before anything the caller does next.
  assert.deepEqual(batches, [[1, 2]]);
  const after = [coalescer.add(3), coalescer.add(4)];
  assert.deepEqual(await Promise.all([...batched, ...after]), [2, 4, 6, 8]);
  // What came after flush() is a batch of its own, and no empty batch or
  // lone call was sent by the tick's end.
  assert.deepEqual(batches, [[1, 2], [3, 4]]);
  assert.deepEqual(lone, []);
});

test("flush() of a single call sends it through runOne; with nothing pending it sends nothing", async () => {
  const { coalescer, batches, lone } = recording();
  coalescer.flush();
  const only = coalescer.add(7);
  coalescer.flush();
  assert.deepEqual(lone, [7]);
  coalescer.flush();
  assert.equal(await only, 14);
  await null;
  assert.deepEqual(batches, []);
  assert.deepEqual(lone, [7]);
});

test("10 000 calls in one tick are one batch: the coalescer sets no size limit", async () => {
  // Splitting a batch into commands of a bounded size is the caller's
  // concern (cache.ts splits MGETs); here every call must be in the batch.
  const { coalescer, batches } = recording();
  const items = Array.from({ length: 10_000 }, (_, i) => i);
  const results = await Promise.all(items.map((item) => coalescer.add(item)));
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0], items);
  assert.deepEqual(results, items.map((item) => item * 2));
});

test("a handler that throws instead of rejecting fails its callers rather than leaving them pending", async () => {
  const failure = new Error("thrown, not rejected");
  const coalescer = new Coalescer<number, number>(
    () => {
      throw failure;
    },
    lone(() => {
      throw failure;
    }),
  );
  await assert.rejects(coalescer.add(1), failure);
  const batch = [coalescer.add(2), coalescer.add(3)];
  for (const call of batch) await assert.rejects(call, failure);
});
