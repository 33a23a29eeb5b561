// The load both failover tests run: writers storing values through two
// caches (without and with waitReplicas) while a primary is killed, then a
// read-back of every write that was acknowledged, through the cache and,
// for the killed primary's keys, straight from the replica that took over.
// Shared by the Cluster and Sentinel tests.

import assert from "node:assert/strict";
import {
  type Cache,
  CacheError,
  type CacheOptions,
  CommandError,
  ConnectionError,
  ReplicationError,
  TimeoutError,
} from "../mod.ts";
import { connectRaw } from "./raw_client.ts";
import { waitFor } from "./wait.ts";

const WRITERS = 8;
const TIMEOUT = 1_000;
// Writes each cache must have had acknowledged by the primary to be killed
// before it is killed, and by the new one once it serves: enough that the
// kill is met by a steady load and that the cache really writes there after.
const ACKNOWLEDGED_BEFORE = 50;
const ACKNOWLEDGED_AFTER = 50;
// Each cache normally meets both waits within a few seconds (the summary
// says when); a cache that misses one has stalled, which more time would
// not cure, so the failure says what each cache's writers had seen.
const LOAD_TIMEOUT = 20_000;
const READ_BACK_TIMEOUT = 15_000;
const READ_BATCH = 1_000;
// What a write may fail with while its primary is dead and a replica takes
// over: its timeout, the lost connection, a cluster refusing the dead
// node's slots until they are reassigned.
const FAILOVER_CODES = new Set(["CLUSTERDOWN"]);

/** The primary a failover test kills, as its set-up knows it. */
export interface Crash {
  /** Whether the primary to be killed serves `key` (the Redis key, namespace included). */
  servesKey(key: string): boolean;
  /** Kills the primary with SIGKILL; resolves once its process is gone. */
  kill(): Promise<void>;
  /** Resolves, once a replica has taken over and serves, with its URL. */
  waitForNewPrimary(): Promise<string>;
}

/** What one cache saw through one failover. */
export interface FailoverOutcome {
  /** The cache's `waitReplicas`. */
  waitReplicas: number;
  /** Writes the cache acknowledged. */
  acknowledged: number;
  /** Of those, writes the killed primary acknowledged before the kill: the ones a failover puts at risk. */
  byKilledPrimary: number;
  /** Writes that failed (timeout, connection lost, too few replicas). */
  failed: number;
  /** Acknowledged writes that were gone after the failover. */
  lost: number;
  /** From the kill until the fixture saw a new primary serving, in ms. */
  failoverMs: number;
  /** From the kill until this cache's first acknowledged write to the killed primary's keys on the new one, in ms (`waitReplicas` 0 only). */
  resumedMs: number | undefined;
  /** One line of all of the above. */
  summary: string;
}

interface Write {
  value: string;
  /** `performance.now()` when `store` was called and when it settled. */
  startedAt: number;
  settledAt: number;
}

interface Acknowledged extends Write {
  key: string;
  onKilledPrimary: boolean;
}

interface Failed extends Write {
  error: unknown;
}

interface Load {
  cache: Cache;
  prefix: string;
  waitReplicas: number;
  acknowledged: Acknowledged[];
  failed: Failed[];
  /** The writes not settled yet: value → when `store` was called. */
  pending: Map<string, number>;
  writers: Promise<void>[];
}

// When the writers started, when the kill was asked for, when the process
// was gone, and when the fixture saw a replica serving in its place.
interface Timeline {
  loadingAt: number;
  killAt: number;
  killedAt: number;
  servingAt: number;
}

/**
 * The failover test both set-ups run: two caches, without and with
 * `waitReplicas: 1`, write through one failover, and what the writers saw
 * is checked:
 *
 * - before the kill, each cache had writes to the doomed primary
 *   acknowledged and none failed;
 * - the kill disturbed the load: each cache had writes fail, every one
 *   with a `CacheError` a failover explains;
 * - after it, the `waitReplicas: 0` cache's writes to the killed primary's
 *   keys are acknowledged by the new primary; the `waitReplicas: 1` cache's
 *   are refused with `ReplicationError`, since the promoted replica has no
 *   replica of its own (an acknowledged one skipped the `WAIT`);
 * - no acknowledged write reads back as another value, none on a primary
 *   that was not killed is lost, none with `waitReplicas: 1` is lost, and
 *   without it at most the writes each writer had in flight at the kill;
 *   the killed primary's keys are read from the new primary itself;
 * - an L1 holding values read before the kill is emptied, and both caches
 *   work on the new primary afterwards.
 */
export async function checkFailover(
  connect: (options: CacheOptions) => Promise<Cache>,
  crash: Crash,
): Promise<FailoverOutcome[]> {
  const caches = await Promise.all([0, 1].map(async (waitReplicas) => ({
    namespace: `failover${waitReplicas}`,
    waitReplicas,
    cache: await connect({
      namespace: `failover${waitReplicas}`,
      waitReplicas,
      timeout: TIMEOUT,
    }),
  })));
  // A cache with an L1 that holds values read before the crash: losing a
  // connection must empty it, since invalidations may be missed meanwhile.
  const local = await connect({ namespace: "failover-l1", l1: {} });
  const held = await local.storeMany(Array.from({ length: 50 }, (_, i) => i));
  await local.getMany(held);
  for (const key of held) await local.get(key);
  assert.equal(local.stats().l1?.entries, held.length);

  let writing = true;
  const loads = caches.map(({ cache, namespace, waitReplicas }) => {
    const load: Load = {
      cache,
      prefix: `${namespace}:`,
      waitReplicas,
      acknowledged: [],
      failed: [],
      pending: new Map(),
      writers: [],
    };
    let next = 0;
    const writer = async () => {
      while (writing) {
        const value = `value-${next++}`;
        const startedAt = performance.now();
        load.pending.set(value, startedAt);
        try {
          const key = await cache.store(value);
          load.acknowledged.push({
            key,
            value,
            startedAt,
            settledAt: performance.now(),
            onKilledPrimary: crash.servesKey(load.prefix + key),
          });
        } catch (error) {
          load.failed.push({
            value,
            startedAt,
            settledAt: performance.now(),
            error,
          });
        } finally {
          load.pending.delete(value);
        }
      }
    };
    load.writers = Array.from({ length: WRITERS }, writer);
    return load;
  });
  let timeline: Timeline;
  let newPrimary: string;
  try {
    const loadedBefore = (load: Load) =>
      load.acknowledged.filter((write) => write.onKilledPrimary).length >=
        ACKNOWLEDGED_BEFORE;
    const loadingAt = performance.now();
    await waitFor(
      () => loads.every(loadedBefore),
      LOAD_TIMEOUT,
      () =>
        `the caches did not have ${ACKNOWLEDGED_BEFORE} writes each acknowledged by the primary to be killed: ${
          progress(loads, loadedBefore, loadingAt)
        }`,
    );
    const killAt = performance.now();
    await crash.kill();
    const killedAt = performance.now();
    newPrimary = await crash.waitForNewPrimary();
    timeline = { loadingAt, killAt, killedAt, servingAt: performance.now() };
    const { servingAt } = timeline;
    const wroteAfter = (load: Load) =>
      load.waitReplicas === 0
        ? load.acknowledged.filter((write) =>
          write.onKilledPrimary && write.startedAt >= servingAt
        ).length >= ACKNOWLEDGED_AFTER
        // Refused, as it should be, or acknowledged (checked below).
        : load.failed.some(({ startedAt, error }) =>
          startedAt >= servingAt && error instanceof ReplicationError
        ) ||
          load.acknowledged.some((write) =>
            write.onKilledPrimary && write.startedAt >= servingAt
          );
    await waitFor(
      () => loads.every(wroteAfter),
      LOAD_TIMEOUT,
      () =>
        `the caches did not write to the new primary (without waitReplicas ${ACKNOWLEDGED_AFTER} writes acknowledged, with it one refused) after a failover of ${
          Math.round(servingAt - killedAt)
        } ms: ${progress(loads, wroteAfter, servingAt)}`,
    );
  } finally {
    writing = false;
    await Promise.all(loads.flatMap(({ writers }) => writers));
  }

  const raw = await connectRaw(newPrimary);
  let outcomes: FailoverOutcome[];
  try {
    outcomes = [];
    for (const load of loads) {
      outcomes.push(await checkLoad(load, timeline, raw.getBytes));
    }
  } finally {
    await raw[Symbol.asyncDispose]();
  }
  assert.equal(
    local.stats().l1?.entries ?? 0,
    0,
    "the L1 outlived a lost connection",
  );

  const values = Array.from({ length: 20 }, (_, i) => i);
  for (const { cache } of loads) {
    const keys = await cache.storeMany(values, { waitReplicas: 0 });
    assert.deepEqual(
      await cache.getMany(
        keys,
        (bytes) => Number(new TextDecoder().decode(bytes)),
      ),
      values,
    );
  }
  return outcomes;
}

// Checks what one cache's writers saw; see checkFailover.
async function checkLoad(
  load: Load,
  { loadingAt, killAt, killedAt, servingAt }: Timeline,
  readNewPrimary: (key: string) => Promise<Uint8Array | null>,
): Promise<FailoverOutcome> {
  const { waitReplicas, acknowledged, failed } = load;
  const label = `waitReplicas ${waitReplicas}`;
  const kindList = errorKinds(failed);

  const unexpected = failed.find(({ error }) =>
    !explainedByFailover(error, waitReplicas)
  );
  assert.equal(
    unexpected,
    undefined,
    `${label}: a write failed with an error a failover does not explain: ${
      describeError(unexpected?.error)
    } (${(unexpected?.error as Error | undefined)?.message})`,
  );
  const early = failed.filter(({ settledAt }) => settledAt < killAt);
  assert.equal(
    early.length,
    0,
    `${label}: writes failed before the kill: ${
      early.map(({ error }) => describeError(error)).join(", ")
    }`,
  );
  // The writes the failover itself broke, not the refusals that follow it.
  const inFailover = failed.filter(({ startedAt }) => startedAt < servingAt);
  assert.ok(
    inFailover.length > 0,
    `${label}: no write failed while the primary was dead: nothing was killed`,
  );

  const onKilled = acknowledged.filter((write) => write.onKilledPrimary);
  const byKilled = onKilled.filter(({ settledAt }) => settledAt < killAt);
  assert.ok(
    byKilled.length >= ACKNOWLEDGED_BEFORE,
    `${label}: too few writes to the killed primary's keys before the kill`,
  );

  const values = await readBack(load.cache, acknowledged.map(({ key }) => key));
  const lost = new Set<Acknowledged>();
  acknowledged.forEach((write, i) => {
    if (values[i] === null) lost.add(write);
  });
  const wrong = acknowledged.find((write, i) =>
    values[i] !== null && values[i] !== write.value
  );
  assert.equal(wrong, undefined, `${label}: a key read back another value`);
  // The killed primary's keys, read where they must now live: a key the
  // cache lost must be missing there too, any other there as written.
  const decoder = new TextDecoder();
  const onNewPrimary = await inBatches(
    onKilled,
    (batch) =>
      Promise.all(batch.map(async ({ key }) => {
        const bytes = await readNewPrimary(load.prefix + key);
        return bytes === null ? null : decoder.decode(bytes);
      })),
  );
  const misplaced = onKilled.findIndex((write, i) =>
    onNewPrimary[i] !== (lost.has(write) ? null : write.value)
  );
  assert.equal(
    misplaced,
    -1,
    `${label}: the new primary holds ${
      onNewPrimary[misplaced]
    } where the cache read ${onKilled[misplaced]?.value}`,
  );
  assert.deepEqual(
    [...lost].filter((write) => !write.onKilledPrimary).map(({ key }) => key),
    [],
    `${label}: writes to a primary that was not killed were lost`,
  );
  if (waitReplicas > 0) {
    assert.equal(lost.size, 0, `${label}: an acknowledged write was lost`);
    assert.ok(
      failed.some(({ startedAt, error }) =>
        startedAt >= servingAt && error instanceof ReplicationError
      ),
      `${label}: no write to the new primary was refused`,
    );
  } else {
    // Without WAIT a write is acknowledged once the primary has it; the
    // replica gets it as soon as the primary's event loop writes to it,
    // right after the replies of that loop's turn. A kill between the two
    // loses those writes: at most one per writer, each awaiting its own.
    assert.ok(
      lost.size <= WRITERS,
      `${label}: ${lost.size} acknowledged writes were lost, more than the ${WRITERS} writers had in flight`,
    );
  }

  const afterOnKilled = onKilled.filter(({ startedAt }) =>
    startedAt >= servingAt
  );
  if (waitReplicas === 0) {
    assert.ok(
      afterOnKilled.length >= ACKNOWLEDGED_AFTER,
      `${label}: the new primary acknowledged ${afterOnKilled.length} writes`,
    );
  } else {
    // The promoted replica has none of its own, so no WAIT there is met.
    assert.equal(
      afterOnKilled.length,
      0,
      `${label}: the new primary, which has no replica, acknowledged writes`,
    );
  }

  const firstOnNewPrimary = onKilled
    .filter(({ startedAt }) => startedAt >= killedAt)
    .reduce((first, { settledAt }) => Math.min(first, settledAt), Infinity);
  const resumedMs = waitReplicas === 0 && firstOnNewPrimary < Infinity
    ? Math.round(firstOnNewPrimary - killedAt)
    : undefined;
  const failoverMs = Math.round(servingAt - killedAt);
  // How far each wait for the load was from its LOAD_TIMEOUT: when this
  // cache met what the wait asked of it.
  const loadedMs = Math.round(
    onKilled[ACKNOWLEDGED_BEFORE - 1].settledAt - loadingAt,
  );
  const metAfter = waitReplicas === 0
    ? afterOnKilled[ACKNOWLEDGED_AFTER - 1]
    : failed.find(({ startedAt, error }) =>
      startedAt >= servingAt && error instanceof ReplicationError
    );
  const wroteAfterMs = Math.round(metAfter!.settledAt - servingAt);
  return {
    waitReplicas,
    acknowledged: acknowledged.length,
    byKilledPrimary: byKilled.length,
    failed: failed.length,
    lost: lost.size,
    failoverMs,
    resumedMs,
    summary:
      `${label}: ${acknowledged.length} writes acknowledged (${byKilled.length} by the killed primary, ${afterOnKilled.length} by the new one), ${lost.size} of them lost; ${failed.length} failed (${
        kindList || "none"
      }); failover took ${failoverMs} ms${
        resumedMs === undefined ? "" : `, writes resumed after ${resumedMs} ms`
      }; ${ACKNOWLEDGED_BEFORE} by the primary to be killed ${loadedMs} ms into the load, ${
        waitReplicas === 0
          ? `${ACKNOWLEDGED_AFTER} by the new one`
          : "one refused by the new one"
      } ${wroteAfterMs} ms after it served (each bound ${LOAD_TIMEOUT} ms)`,
  };
}

/**
 * What each cache's writers had seen since `since` when a bound passed, for
 * its message: which cache is still short of `done`, the writes it had
 * acknowledged (on the killed primary's keys, and in all), had fail (by
 * error) and had pending (and the oldest's age), and how long it waited.
 */
function progress(
  loads: readonly Load[],
  done: (load: Load) => boolean,
  since: number,
): string {
  const now = performance.now();
  const ago = (at: number) => `${Math.round(now - at)} ms ago`;
  const lines = loads.map((load) => {
    const acknowledged = load.acknowledged.filter(({ startedAt }) =>
      startedAt >= since
    );
    const onKilled = acknowledged.filter(({ onKilledPrimary }) =>
      onKilledPrimary
    );
    const failed = load.failed.filter(({ startedAt }) => startedAt >= since);
    const pending = [...load.pending.values()];
    // "n (…, the last … ago)", or "0" when there are none.
    const counted = (writes: readonly Write[], what = "") =>
      writes.length === 0
        ? "0"
        : `${writes.length} (${what}the last ${
          ago(writes[writes.length - 1].settledAt)
        })`;
    const oldest = pending.length === 0
      ? ""
      : ` (the oldest since ${ago(Math.min(...pending))})`;
    return `waitReplicas ${load.waitReplicas} ${
      done(load) ? "done" : "MISSED"
    }: ${counted(onKilled)} acknowledged on the killed primary's keys, ${
      counted(acknowledged)
    } in all; ${
      counted(failed, `${errorKinds(failed)}, `)
    } failed; ${pending.length} pending${oldest}`;
  });
  return `waited ${Math.round(now - since)} ms; ${lines.join("; ")}`;
}

/** `n kind` for each kind of error `failed` holds. */
function errorKinds(failed: readonly Failed[]): string {
  const kinds = new Map<string, number>();
  for (const { error } of failed) {
    const kind = describeError(error);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return [...kinds].map(([kind, n]) => `${n} ${kind}`).join(", ");
}

function explainedByFailover(error: unknown, waitReplicas: number): boolean {
  if (error instanceof TimeoutError || error instanceof ConnectionError) {
    return true;
  }
  if (error instanceof CommandError) return FAILOVER_CODES.has(error.code);
  // The primary has the write, but its replica died or is the new primary.
  if (error instanceof ReplicationError) return waitReplicas > 0;
  return false;
}

function describeError(error: unknown): string {
  if (error instanceof CommandError) return `${error.name} ${error.code}`;
  if (error instanceof CacheError) return error.name;
  return `not a CacheError: ${String(error)}`;
}

// A run acknowledges up to a few hundred thousand writes: they are read in
// batches, so that no read waits behind so many others that it times out.
async function inBatches<T, R>(
  items: readonly T[],
  read: (batch: readonly T[]) => Promise<R[]>,
): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += READ_BATCH) {
    results.push(...await read(items.slice(i, i + READ_BATCH)));
  }
  return results;
}

// The cache may need a moment to learn the new topology: retry, bounded.
async function readBack(
  cache: Cache,
  keys: string[],
): Promise<(string | null)[]> {
  const giveUpAt = Date.now() + READ_BACK_TIMEOUT;
  return await inBatches(keys, async (batch) => {
    for (;;) {
      try {
        return await cache.getMany(
          batch,
          (bytes) => new TextDecoder().decode(bytes),
        );
      } catch (error) {
        if (Date.now() > giveUpAt) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  });
}

/** The figures the README quotes from one failover, for `recordFigures`. */
export function failoverFigures(
  outcomes: readonly FailoverOutcome[],
): Record<string, number> {
  const figures: Record<string, number> = {
    failoverMs: outcomes[0].failoverMs,
  };
  for (const outcome of outcomes) {
    const mode = `Wait${outcome.waitReplicas}`;
    figures[`acknowledged${mode}`] = outcome.acknowledged;
    figures[`byKilledPrimary${mode}`] = outcome.byKilledPrimary;
    figures[`failed${mode}`] = outcome.failed;
    figures[`lost${mode}`] = outcome.lost;
    if (outcome.resumedMs !== undefined) {
      figures[`resumedMs${mode}`] = outcome.resumedMs;
    }
  }
  return figures;
}
