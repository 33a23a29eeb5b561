// Where a batch of writes is cut: only before a key that an earlier write of
// its part sends in another command, or past the tagged writes a part takes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { type BatchedWrite, cutsOf } from "./batch_parts.ts";

const plain = (redisKey: string, ttl?: number): BatchedWrite => ({
  redisKey,
  ttl,
});
const tagged = (redisKey: string): BatchedWrite => ({
  redisKey,
  ttl: undefined,
  tagging: {},
});
const recorded = (redisKey: string): BatchedWrite => ({
  redisKey,
  ttl: undefined,
  record: {},
});

test("a batch whose keys each go in one command goes whole, repeats included", () => {
  assert.deepEqual(cutsOf([plain("a"), plain("b"), plain("a")], 10), []);
  assert.deepEqual(cutsOf([tagged("a"), tagged("b"), tagged("a")], 10), []);
  assert.deepEqual(
    cutsOf([plain("a"), tagged("b"), recorded("c"), plain("d", 5)], 10),
    [],
  );
});

test("a key written again in another command starts a new part, so the later write lands last", () => {
  assert.deepEqual(cutsOf([plain("k"), tagged("x"), tagged("k")], 10), [2]);
  assert.deepEqual(cutsOf([tagged("k"), plain("k")], 10), [1]);
  // Another expiry is another command.
  assert.deepEqual(cutsOf([plain("k", 5), plain("k")], 10), [1]);
  // A new part starts afresh: the last k is the only one in its part.
  assert.deepEqual(
    cutsOf([plain("k"), tagged("k"), tagged("j"), plain("j"), tagged("k")], 10),
    [1, 3],
  );
});

test("a part takes at most perScript tagged writes, the untagged ones around them with it", () => {
  const writes = [
    tagged("a"),
    plain("p"),
    tagged("b"),
    tagged("c"),
    plain("q"),
    tagged("d"),
    tagged("e"),
  ];
  assert.deepEqual(cutsOf(writes, 2), [3, 6]);
  assert.deepEqual(cutsOf(writes.filter((write) => write.tagging), 2), [2, 4]);
  assert.deepEqual(cutsOf(writes, 5), []);
});
