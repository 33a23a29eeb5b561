// The tag bookkeeping's names: in a cluster, every name built for a key's
// slot is in that slot, as the scripts need (they run in one slot).

import assert from "node:assert/strict";
import { test } from "node:test";
import { keySlot } from "../_drivers/key_slot.ts";
import { TagKeys } from "./tag_keys.ts";

test("a slot's name puts a key's reverse index and its tags' indexes in the key's slot", () => {
  const keys = new TagKeys("app:");
  for (const key of ["app:a", "app:user:1", "app:é", "app:{x}y"]) {
    const slot = keySlot(key);
    const name = keys.slotName(slot);
    assert.equal(keySlot(keys.reverse(key, name)), slot, key);
    for (const index of keys.index(["t", "u"], name)) {
      assert.equal(keySlot(index), slot, index);
    }
  }
  assert.deepEqual(keys.index(["t"], undefined), [
    "app:__tag:i:t",
    "app:__tag:g:t",
  ]);
  assert.equal(keys.reverse("app:k", undefined), "app:__tag:k:k");
  assert.equal(keys.registry("t"), "app:__tag:s:t");
});

test("a namespace with a hash tag of its own has one slot, and one name for it", () => {
  const keys = new TagKeys("{app}:");
  const slot = keySlot("{app}:k");
  assert.equal(keys.slotName(slot), "0");
  assert.equal(keySlot(keys.reverse("{app}:k", "0")), slot);
});
