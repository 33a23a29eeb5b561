// Where a tick's batch of writes is cut into parts sent one after another.
// A batch goes as several commands (an MSET per expiry, the history script,
// the tags' script), which Redis runs in the order they are sent, not in
// the order of the calls: a key written by two of them could be left with
// the earlier value. So the batch is cut before a write whose key an
// earlier write of its part sends in another command, and sequential calls'
// last write wins. A part also holds at most `perScript` tagged writes, so
// that a tick of thousands becomes several short scripts, each of which
// waits for the one before: in a cluster, where a tags' script first waits
// for its registries, two sent together could pass each other.

/** What {@linkcode cutsOf} reads of a write. */
export interface BatchedWrite {
  readonly redisKey: string;
  /** Its Redis expiry in ms; `undefined` for none. */
  readonly ttl: number | undefined;
  /** Set when it goes in the history script. */
  readonly record?: unknown;
  /** Set when it goes in the tags' script. */
  readonly tagging?: unknown;
}

// Which command of its batch a write goes in: the history script, the tags'
// script, or the MSET (or script) of its expiry.
const RECORDED = -1;
const TAGGED = -2;
const commandOf = (write: BatchedWrite): number | undefined =>
  write.record !== undefined
    ? RECORDED
    : write.tagging !== undefined
    ? TAGGED
    : write.ttl;

const WHOLE: readonly number[] = Object.freeze([]);

/**
 * The positions in `writes` where a part after the first starts, in order;
 * empty (the common case, checked in one pass) when the batch goes whole.
 */
export function cutsOf(
  writes: readonly BatchedWrite[],
  perScript: number,
): readonly number[] {
  const first = commandOf(writes[0]);
  let mixed = false;
  let tagged = 0;
  for (const write of writes) {
    const command = commandOf(write);
    if (command !== first) mixed = true;
    if (command === TAGGED) tagged++;
  }
  if (!mixed && tagged <= perScript) return WHOLE;
  const cuts: number[] = [];
  // Each key of the part so far, with the command its last write goes in.
  const seen = new Map<string, number | undefined>();
  let taggedInPart = 0;
  writes.forEach((write, i) => {
    const command = commandOf(write);
    const { redisKey } = write;
    const crosses = seen.has(redisKey) && seen.get(redisKey) !== command;
    if (crosses || (command === TAGGED && taggedInPart === perScript)) {
      cuts.push(i);
      seen.clear();
      taggedInPart = 0;
    }
    if (mixed) seen.set(redisKey, command);
    if (command === TAGGED) taggedInPart++;
  });
  return cuts;
}
