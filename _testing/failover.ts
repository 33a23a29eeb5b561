// The load both failover tests run: writers storing values through each of
// several caches (with and without waitReplicas) while a primary is killed,
// then a read-back of every write that was acknowledged, to count what the
// failover lost. Shared by the Cluster and Sentinel tests.

import assert from "node:assert/strict";
import type { Cache, CacheOptions } from "../mod.ts";

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
 * Runs {@linkcode WRITERS} writers on each cache, calls `crash` (which kills
 * a primary and resolves with how long the failover took), keeps writing a
 * little longer, then reads back every acknowledged write; one outcome per
 * cache.
 */
async function runWritesThroughFailover(
  caches: readonly Cache[],
  crash: () => Promise<number>,
): Promise<FailoverOutcome[]> {
  let writing = true;
  const loads = caches.map((cache) => {
    const written = new Map<string, string>();
    const errors = new Map<string, number>();
    let next = 0;
    const writer = async () => {
      while (writing) {
        const value = `value-${next++}`;
        try {
          written.set(await cache.store(value), value);
        } catch (error) {
          const { name, code } = error as Error & { code?: string };
          const kind = code === undefined ? name : `${name} ${code}`;
          errors.set(kind, (errors.get(kind) ?? 0) + 1);
        }
      }
    };
    return {
      cache,
      written,
      errors,
      writers: Array.from({ length: WRITERS }, writer),
    };
  });
  await new Promise((resolve) => setTimeout(resolve, LOAD_BEFORE));
  let failoverMs: number;
  try {
    failoverMs = await crash();
    await new Promise((resolve) => setTimeout(resolve, LOAD_AFTER));
  } finally {
    writing = false;
    await Promise.all(loads.flatMap(({ writers }) => writers));
  }
  return await Promise.all(
    loads.map(async ({ cache, written, errors }) => {
      const keys = [...written.keys()];
      const values = await readBack(cache, keys);
      let lost = 0;
      let wrong = 0;
      keys.forEach((key, i) => {
        if (values[i] === null) lost++;
        else if (values[i] !== written.get(key)) wrong++;
      });
      const failed = [...errors.values()].reduce((sum, n) => sum + n, 0);
      const kinds = [...errors].map(([name, n]) => `${n} ${name}`).join(", ");
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
    }),
  );
}

/**
 * The failover test both set-ups run: two caches, without and with
 * `waitReplicas: 1`, write through one failover. No write may read back as
 * another value, none acknowledged with `waitReplicas` may be lost, and
 * both caches must work on the new primary afterwards. Returns one report
 * line per cache.
 */
export async function checkFailover(
  connect: (options: CacheOptions) => Promise<Cache>,
  crash: () => Promise<number>,
): Promise<string[]> {
  const caches = [
    await connect({ namespace: "failover0", timeout: 1_000 }),
    await connect({ namespace: "failover1", waitReplicas: 1, timeout: 1_000 }),
  ];
  // A cache with an L1 that holds values read before the crash: losing a
  // connection must empty it, since invalidations may be missed meanwhile.
  const local = await connect({ namespace: "failover-l1", l1: {} });
  const held = await local.storeMany(Array.from({ length: 50 }, (_, i) => i));
  await local.getMany(held);
  for (const key of held) await local.get(key);
  assert.equal(local.stats().l1?.entries, held.length);
  const outcomes = await runWritesThroughFailover(caches, crash);
  assert.equal(
    local.stats().l1?.entries ?? 0,
    0,
    "the L1 outlived a lost connection",
  );
  for (const outcome of outcomes) {
    assert.equal(outcome.wrong, 0, "a key read back another value");
  }
  assert.equal(outcomes[1].lost, 0, "waitReplicas lost a write");
  const values = Array.from({ length: 20 }, (_, i) => i);
  for (const cache of caches) {
    const keys = await cache.storeMany(values, { waitReplicas: 0 });
    assert.deepEqual(
      await cache.getMany(
        keys,
        (bytes) => Number(new TextDecoder().decode(bytes)),
      ),
      values,
    );
  }
  return outcomes.map(({ summary }, i) => `waitReplicas ${i}: ${summary}`);
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
