// The names of a namespace's tag bookkeeping, as the tags' scripts build
// them (NAMES in `tag_scripts.ts`): each tag's index and grace hash, each
// key's reverse index, each tag's registry of slots, and in a cluster the
// hash tag that puts a slot's bookkeeping in that slot.

import { keySlot } from "../_drivers/key_slot.ts";
import { TAG_PREFIX } from "./validate.ts";

const SLOTS = 16_384;

/** One namespace's tag bookkeeping names; `slot` is a slot's name from {@linkcode TagKeys.slotName}, `undefined` outside a cluster. */
export class TagKeys {
  readonly #prefix: string;
  #slotNames: string[] | undefined;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /**
   * Each tag's index and grace hash: in a cluster, those of the slot named
   * `slot`, whose hash tag maps to it.
   */
  index(tags: readonly string[], slot: string | undefined): string[] {
    const [, at] = this.names(slot);
    return tags.flatMap((tag) => [
      `${this.#prefix}${TAG_PREFIX}i:${at}${tag}`,
      `${this.#prefix}${TAG_PREFIX}g:${at}${tag}`,
    ]);
  }

  /**
   * What the scripts build the slot's other names from (NAMES): the
   * namespace's prefix and the slot's hash tag.
   */
  names(slot: string | undefined): [string, string] {
    return [this.#prefix, slot === undefined ? "" : `{${slot}}:`];
  }

  /** A key's reverse index (its tags), in the key's slot: the same name the scripts build. */
  reverse(redisKey: string, slot: string | undefined): string {
    const [prefix, at] = this.names(slot);
    return `${prefix}${TAG_PREFIX}k:${at}${redisKey.slice(prefix.length)}`;
  }

  /** A tag's registry of the slots it has indexes in (a cluster's). */
  registry(tag: string): string {
    return `${this.#prefix}${TAG_PREFIX}s:${tag}`;
  }

  /**
   * A short name whose hash tag maps to `slot`, found once per cache by
   * trying base-36 numbers in order (about 170 000 tries cover all slots).
   */
  slotName(slot: number): string {
    if (this.#slotNames === undefined) {
      const names: string[] = new Array(SLOTS);
      let found = 0;
      const base = `${this.#prefix}${TAG_PREFIX}i:`;
      // A namespace with a hash tag of its own puts every key in one slot.
      const fixed = keySlot(`${base}{0}`) === keySlot(`${base}{1}`) &&
        keySlot(`${base}{0}`) === keySlot(`${base}{2}`);
      for (let n = 0; found < SLOTS && (!fixed || found === 0); n++) {
        const name = n.toString(36);
        const at = keySlot(`${base}{${name}}`);
        if (names[at] === undefined) {
          names[at] = name;
          found++;
        }
      }
      this.#slotNames = names;
    }
    return this.#slotNames[slot] ?? "0";
  }
}
