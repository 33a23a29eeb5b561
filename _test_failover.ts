// The load both failover tests run: writers storing values while a primary
// is killed, then a read-back of every write that was acknowledged, to count
// what the failover lost. Shared by the Cluster and Sentinel tests.

import type { Cache } from "./mod.ts";

const WRITERS = 8;
const LOAD_BEFORE = 300;
const LOAD_AFTER = 500;
const READ_BACK_TIMEOUT = 15_000;

/** What one run saw. */
export interface FailoverOutcome {
  /** Writes the cache acknowledged. */
  acknowledged: number;
  /** Writes that failed (timeout, connection lost, too few replicas). */
  failed: number;
  /** Acknowledged writes that were gone after the failover. */
  lost: number;
  /** Acknowledged writes that read back as another value. */
  wrong: number;
  /** How long the failover took, from the kill until a new primary served. */
  failoverMs: number;
  /** One line of all of the above. */
  summary: string;
}

/**
 * Runs {@linkcode WRITERS} writers on `cache`, calls `crash` (which kills a
 * primary and resolves with how long the failover took), keeps writing a
 * little longer, then reads back every acknowledged write.
 */
export async function runWritesThroughFailover(
  cache: Cache,
  { crash }: { crash: () => Promise<number> },
): Promise<FailoverOutcome> {
  const written = new Map<string, string>();
  const errors = new Map<string, number>();
  let writing = true;
  let next = 0;
  const writer = async () => {
    while (writing) {
      const value = `value-${next++}`;
      try {
        written.set(await cache.store(value), value);
      } catch (error) {
        const name = (error as Error).name;
        errors.set(name, (errors.get(name) ?? 0) + 1);
      }
    }
  };
  const writers = Array.from({ length: WRITERS }, writer);
  await new Promise((resolve) => setTimeout(resolve, LOAD_BEFORE));
  let failoverMs: number;
  try {
    failoverMs = await crash();
    await new Promise((resolve) => setTimeout(resolve, LOAD_AFTER));
  } finally {
    writing = false;
    await Promise.all(writers);
  }
  const keys = [...written.keys()];
  const values = await readBack(cache, keys);
  let lost = 0;
  let wrong = 0;
  keys.forEach((key, i) => {
    if (values[i] === null) lost++;
    else if (values[i] !== written.get(key)) wrong++;
  });
  const failed = [...errors.values()].reduce((sum, count) => sum + count, 0);
  const kinds = [...errors].map(([name, count]) => `${count} ${name}`).join(
    ", ",
  );
  return {
    acknowledged: keys.length,
    failed,
    lost,
    wrong,
    failoverMs,
    summary:
      `${keys.length} writes acknowledged, ${lost} of them lost, ${wrong} wrong; ${failed} failed (${
        kinds || "none"
      }); failover took ${Math.round(failoverMs)} ms`,
  };
}

// The cache may need a moment to learn the new topology: retry, bounded.
async function readBack(
  cache: Cache,
  keys: string[],
): Promise<(string | null)[]> {
  const giveUpAt = Date.now() + READ_BACK_TIMEOUT;
  for (;;) {
    try {
      return await cache.getMany(
        keys,
        (bytes) => new TextDecoder().decode(bytes),
      );
    } catch (error) {
      if (Date.now() > giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
