// Cluster hash slots as Redis computes them: a slot that differs from the
// server's sends a batch to a node that refuses it with CROSSSLOT or MOVED.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { groupBySlot, keySlot } from "./key_slot.ts";
import { freePort } from "../_testing/free_port.ts";
import { connectRaw } from "../_testing/raw_client.ts";
import { startRedisServer } from "../_testing/redis_server.ts";

test("the Redis Cluster spec's CRC16 test vector: '123456789' is 0x31C3, slot 12739", () => {
  assert.equal(keySlot("123456789"), 0x31c3);
  assert.equal(keySlot("123456789"), 12_739);
});

test("slots match CLUSTER KEYSLOT for known keys, including CRCs over 16 383", () => {
  // Each expected slot was read from redis-server 7.0's CLUSTER KEYSLOT;
  // "foo" has CRC 0xAF96, so its slot proves the modulo.
  const known: [string, number][] = [
    ["foo", 12_182],
    ["bar", 5_061],
    ["somekey", 11_058],
    ["a", 15_495],
    ["b", 3_300],
    ["c", 7_365],
    ["", 0],
  ];
  for (const [key, slot] of known) assert.equal(keySlot(key), slot, key);
});

test("a hash tag is the text between the first { and the first } after it", () => {
  const cases: [key: string, slot: number, why: string][] = [
    ["foo{hash_tag}", 2_515, "a tag at the end"],
    ["{user1000}.following", 3_443, "a tag at the start"],
    ["{user1000}.followers", 3_443, "the same tag, the same slot"],
    ["user1000", 3_443, "the tag alone hashes like the key"],
    ["foo{bar}{zap}", 5_061, "only the first tag counts"],
    ["}foo{bar}", 5_061, "a } before the first { is ignored"],
    ["foo{{bar}}zap", 4_015, "the tag starts after the first {: '{bar'"],
    ["{bar", 4_015, "no } after the {: the whole key"],
    ["foo{bar", 15_278, "no } after the {: the whole key"],
    ["foo}bar{", 11_073, "a } only before the {: the whole key"],
    ["a{b}", 3_300, "a one-character tag"],
  ];
  for (const [key, slot, why] of cases) {
    assert.equal(keySlot(key), slot, `${key}: ${why}`);
  }
});

test("an empty tag {} means the whole key is hashed", () => {
  // "foo{}{bar}" must not fall through to the later "{bar}".
  assert.equal(keySlot("foo{}{bar}"), 8_363);
  assert.notEqual(keySlot("foo{}{bar}"), keySlot("bar"));
  assert.equal(keySlot("{}"), 15_257);
  assert.equal(keySlot("ab{}"), 8_692);
});

test("non-ASCII keys are hashed as their UTF-8 bytes, tags found in those bytes", () => {
  assert.equal(keySlot("é"), 10_180);
  assert.equal(keySlot("☃"), 16_120);
  assert.equal(keySlot("🎉"), 13_171);
  assert.equal(keySlot("{é}x"), 10_180);
  // A lone surrogate has no UTF-8 form; like the drivers, it is sent (and
  // hashed) as U+FFFD, never as the surrogate's CESU-8 bytes.
  assert.equal(keySlot("x\ud800"), 13_299);
  assert.equal(keySlot("x\ud800"), keySlot("x\ufffd"));
});

test("groupBySlot: positions grouped by slot, groups and positions in order of first appearance", () => {
  const keys = ["{a}1", "{b}1", "{a}2", "c", "{b}2", "{a}3"];
  assert.deepEqual(groupBySlot(keys), [[0, 2, 5], [1, 4], [3]]);
  assert.deepEqual(groupBySlot([]), []);
  assert.deepEqual(groupBySlot(["k", "k"]), [[0, 1]]);
});

test("keySlot agrees with a cluster-enabled redis-server's CLUSTER KEYSLOT on random keys", async () => {
  const dir = await mkdtemp(join(tmpdir(), "redis-basic-key-slot-"));
  try {
    // The cluster bus needs a port of its own; without one it takes port +
    // 10 000, which may be out of range or taken.
    await using server = await startRedisServer({
      args: [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        join(dir, "nodes.conf"),
        "--cluster-port",
        String(await freePort()),
      ],
    });
    await using raw = await connectRaw(server.url());
    // Braces often, so that tags (empty, nested, unclosed) are common, and
    // characters of every UTF-8 length, plus a lone surrogate.
    const alphabet = ["{", "}", "a", "Z", "0", "é", "☃", "🎉", "\ud800", " "];
    let seed = 14;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const keys = Array.from({ length: 2_000 }, () => {
      const length = Math.floor(random() * 12);
      return Array.from(
        { length },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join("");
    });
    const slots = await Promise.all(
      keys.map((key) => raw.send("CLUSTER", "KEYSLOT", key)),
    );
    const differing = keys.flatMap((key, i) =>
      keySlot(key) === slots[i]
        ? []
        : [`${JSON.stringify(key)}: ${keySlot(key)}, server ${slots[i]}`]
    );
    assert.deepEqual(differing, []);
    assert.ok(new Set(slots).size > 1_000, "the keys cover many slots");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
