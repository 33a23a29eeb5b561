// The in-process layer's own rules, without Redis: what it holds and for how
// long, in what order it evicts, that a fill voided by an invalidation is
// not kept, and that every copy it hands out is the caller's alone.

import assert from "node:assert/strict";
import { test } from "node:test";
import { L1 } from "./l1.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytesOf(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Fills `key` as a read that missed does: a ticket, then the reply. */
function hold(
  layer: L1,
  key: string,
  text: string,
  ttl?: number,
): void {
  layer.fill(key, layer.ticket(key), bytesOf(text), ttl);
}

function textOf(layer: L1, key: string): string | undefined {
  const bytes = layer.get(key);
  return bytes === undefined ? undefined : decoder.decode(bytes);
}

// Looking marks what it finds as used, so a test looks only once it has
// done everything whose eviction order depends on the marks.
function heldKeys(layer: L1, keys: string[]): string[] {
  return keys.filter((key) => layer.get(key) !== undefined);
}

test("a filled value is served until it is invalidated, and each time it is served is a hit", () => {
  const layer = new L1(10, 1_000);
  assert.equal(layer.get("a"), undefined);
  assert.deepEqual(layer.stats(), { hits: 0, entries: 0, bytes: 0 });
  hold(layer, "a", "alpha");
  hold(layer, "b", "be");
  assert.deepEqual(layer.stats(), { hits: 0, entries: 2, bytes: 7 });
  assert.equal(textOf(layer, "a"), "alpha");
  assert.equal(textOf(layer, "a"), "alpha");
  assert.equal(layer.stats().hits, 2);
  layer.invalidate("a");
  assert.equal(layer.get("a"), undefined);
  assert.equal(textOf(layer, "b"), "be", "only the invalidated key goes");
  assert.deepEqual(layer.stats(), { hits: 3, entries: 1, bytes: 2 });
  layer.invalidate(null);
  assert.equal(layer.get("b"), undefined);
  assert.deepEqual(layer.stats(), { hits: 3, entries: 0, bytes: 0 });
  layer.resetStats();
  assert.equal(layer.stats().hits, 0);
});

test("a fill whose ticket was voided by an invalidation of its key, or of everything, is not kept", () => {
  const layer = new L1(10, 1_000);
  const voidedByKey = layer.ticket("a");
  layer.invalidate("a");
  layer.fill("a", voidedByKey, bytesOf("old"), undefined);
  assert.equal(layer.get("a"), undefined);

  const voidedByAll = layer.ticket("a");
  layer.invalidate(null);
  layer.fill("a", voidedByAll, bytesOf("old"), undefined);
  assert.equal(layer.get("a"), undefined);

  const untouched = layer.ticket("a");
  layer.invalidate("b");
  layer.fill("a", untouched, bytesOf("kept"), undefined);
  assert.equal(textOf(layer, "a"), "kept", "another key's invalidation");
});

test("of two reads of one key in flight, only the later one fills, and a ticket fills once", () => {
  const layer = new L1(10, 1_000);
  const earlier = layer.ticket("a");
  const later = layer.ticket("a");
  layer.fill("a", earlier, bytesOf("earlier"), undefined);
  assert.equal(layer.get("a"), undefined);
  layer.fill("a", later, bytesOf("later"), undefined);
  assert.equal(textOf(layer, "a"), "later");
  layer.invalidate("a");
  layer.fill("a", later, bytesOf("again"), undefined);
  assert.equal(layer.get("a"), undefined, "a used ticket filled again");
});

test("a fill replaces what was held for its key, and the byte count follows", () => {
  const layer = new L1(10, 1_000);
  hold(layer, "a", "12345");
  hold(layer, "a", "12");
  assert.equal(textOf(layer, "a"), "12");
  assert.deepEqual(layer.stats(), { hits: 1, entries: 1, bytes: 2 });
});

test("a value is held with a ttl until its deadline, and without one until invalidated", async () => {
  const layer = new L1(10, 1_000);
  hold(layer, "forever", "x");
  hold(layer, "gone", "x", 0);
  assert.equal(layer.get("gone"), undefined, "a ttl of 0 is already past");
  assert.equal(layer.stats().entries, 1, "an expired value is dropped");
  const ttl = 40;
  const filling = performance.now();
  hold(layer, "brief", "x", ttl);
  const filled = performance.now();
  let readsWhileHeld = 0;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const started = performance.now();
    const held = layer.get("brief") !== undefined;
    if (!held) {
      assert.ok(
        started >= filling + ttl,
        `expired ${filling + ttl - started} ms early`,
      );
      break;
    }
    assert.ok(
      started < filled + ttl,
      `served ${started - filled - ttl} ms after its deadline`,
    );
    readsWhileHeld++;
    assert.ok(Date.now() < deadline, "the value never expired");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.ok(readsWhileHeld > 0, "the value was never served before expiring");
  assert.equal(textOf(layer, "forever"), "x");
});

test("a value longer than maxBytes is not held and evicts nothing; one of exactly maxBytes is held", () => {
  const layer = new L1(10, 4);
  hold(layer, "small", "12");
  hold(layer, "long", "12345");
  assert.equal(layer.get("long"), undefined);
  assert.equal(textOf(layer, "small"), "12");
  layer.invalidate(null);
  hold(layer, "fits", "1234");
  assert.equal(textOf(layer, "fits"), "1234");
});

test("past maxEntries, the oldest value goes first", () => {
  const layer = new L1(3, 1_000);
  for (const key of ["a", "b", "c", "d", "e"]) hold(layer, key, key);
  assert.equal(layer.stats().entries, 3);
  assert.deepEqual(heldKeys(layer, ["a", "b", "c", "d", "e"]), [
    "c",
    "d",
    "e",
  ]);
});

test("a value read since it came up for eviction gets a second chance (CLOCK)", () => {
  const layer = new L1(3, 1_000);
  for (const key of ["a", "b", "c"]) hold(layer, key, key);
  layer.get("a");
  hold(layer, "d", "d"); // a is passed over once, b goes
  assert.deepEqual(heldKeys(layer, ["a", "b", "c", "d"]), ["a", "c", "d"]);
});

test("the value being filled is kept even when every other value was read since", () => {
  const layer = new L1(2, 1_000);
  hold(layer, "a", "a");
  hold(layer, "b", "b");
  layer.get("a");
  layer.get("b");
  hold(layer, "c", "c");
  // The value just read from Redis is the most recently used: one of the
  // older ones makes room for it, the one whose chance came first.
  assert.equal(textOf(layer, "c"), "c");
  assert.deepEqual(heldKeys(layer, ["a", "b"]), ["b"]);
  assert.equal(layer.stats().entries, 2);
});

test("past maxBytes, as many of the oldest values go as the new one needs", () => {
  const layer = new L1(100, 10);
  for (const key of ["a", "b", "c", "d", "e"]) hold(layer, key, key + key);
  assert.deepEqual(layer.stats(), { hits: 0, entries: 5, bytes: 10 });
  hold(layer, "big", "1234567");
  assert.deepEqual(heldKeys(layer, ["a", "b", "c", "d", "e", "big"]), [
    "e",
    "big",
  ]);
  assert.equal(layer.stats().bytes, 9);
});

test("each copy is the caller's own: changing it, or the filled bytes, changes nothing held", () => {
  const layer = new L1(10, 1_000);
  const filled = bytesOf("abc");
  layer.fill("a", layer.ticket("a"), filled, undefined);
  filled.fill(0);
  const first = layer.get("a")!;
  const second = layer.get("a")!;
  first.fill(1);
  assert.equal(decoder.decode(second), "abc");
  assert.equal(textOf(layer, "a"), "abc");
});

test("small copies stay independent: on Deno cut from a shared 64 KB slab, intact when it is replaced, elsewhere each a slice of its own; large ones are separate", () => {
  const layer = new L1(10, 1 << 20);
  const small = Uint8Array.from({ length: 8 * 1024 }, (_, i) => i % 251);
  const large = Uint8Array.from({ length: 8 * 1024 + 1 }, (_, i) => i % 253);
  layer.fill("small", layer.ticket("small"), small, undefined);
  layer.fill("large", layer.ticket("large"), large, undefined);
  // Twenty copies of 8 KB need three slabs of 64 KB.
  const copies = Array.from({ length: 20 }, () => layer.get("small")!);
  for (const copy of copies) assert.deepEqual(copy, small);
  if ("Deno" in globalThis) {
    assert.equal(copies[0].buffer, copies[1].buffer);
    assert.equal(copies[0].buffer.byteLength, 64 * 1024);
    assert.notEqual(copies[0].buffer, copies[19].buffer);
  } else {
    // A slice() was the quicker copy on Node and Bun.
    assert.notEqual(copies[0].buffer, copies[1].buffer);
    assert.equal(copies[0].buffer.byteLength, small.length);
  }
  copies[3].fill(7);
  for (const [i, copy] of copies.entries()) {
    if (i !== 3) assert.deepEqual(copy, small, `copy ${i} changed`);
  }
  const largeCopy = layer.get("large")!;
  assert.deepEqual(largeCopy, large);
  assert.equal(largeCopy.buffer.byteLength, large.length);
});
