// The targets of the performance issue (18), each a figure of one run
// against its goal, per runtime: what bench/results.md checks. Each has a
// stable id, by which `_bounds.ts` says what bounds it where it is missed.

import {
  addedCpu,
  ceiling,
  cpuOf,
  find,
  over,
  RAW,
  type Run,
  RUNTIMES,
} from "./_run.ts";
import type { ScriptMode } from "./_redis_benchmark.ts";

/** The targets, in the order the report lists them. */
export const TARGET_IDS = [
  "get-lanes",
  "get-bursts",
  "cpu-get",
  "cpu-store",
  "store-script-1",
  "store-script-lanes",
  "store-script-bursts",
  "get-many",
  "l1-hit",
  "memory-l1",
  "memory-gets",
] as const;

/** A target's id. */
export type TargetId = typeof TARGET_IDS[number];

/** A goal: at least, at most, or between the two. */
export interface Goal {
  atLeast?: number;
  atMost?: number;
}

/** One target on one runtime, as measured in one run. */
export interface TargetRow {
  id: TargetId;
  runtime: string;
  /** What is measured against what. */
  label: string;
  /** `undefined` when the run did not measure it. */
  measured: number | undefined;
  unit: "ratio" | "µs";
  goal: Goal;
  met: boolean;
}

/**
 * The redis-benchmark mode of the store script that has the same
 * concurrency as each of the cache's load shapes: one at a time; 100 lanes
 * keep 100 stores in flight, each sent when another is answered, as 100
 * connections of redis-benchmark do (`-c 100`); bursts send 100 together
 * and wait for all of them, as one connection pipelining 100 does
 * (`-c 1 -P 100`), on one connection as the cache has.
 */
export const STORE_CEILING: Record<string, ScriptMode> = {
  "1 in flight": "-c 1",
  "100 lanes": "-c 100",
  "bursts of 100": "-c 1 -P 100",
};

const heapRatio = (before: number, after: number) => after / before;

/** Every target of `run`, per runtime in the order of TARGET_IDS. */
export function targets(run: Run): TargetRow[] {
  const { results } = run;
  const rows: TargetRow[] = [];
  for (const runtime of RUNTIMES) {
    const raw = RAW[runtime];
    const row = (
      id: TargetId,
      label: string,
      measured: number | undefined,
      goal: Goal,
      unit: TargetRow["unit"] = "ratio",
    ) => {
      const known = measured !== undefined && Number.isFinite(measured);
      rows.push({
        id,
        runtime,
        label,
        measured: known ? measured : undefined,
        unit,
        goal,
        met: known &&
          (goal.atLeast === undefined || measured >= goal.atLeast) &&
          (goal.atMost === undefined || measured <= goal.atMost),
      });
    };
    const ops = (subject: string, name: string) =>
      find(results, subject, runtime, name)?.opsPerSec;

    for (
      const [id, shape] of [["get-lanes", "100 lanes"], [
        "get-bursts",
        "bursts of 100",
      ]] as const
    ) {
      row(
        id,
        `\`get\`, ${shape} / ${raw} GET`,
        over(ops("cache", `get, ${shape}`), ops(raw, `get, ${shape}`)),
        { atLeast: 1.5 },
      );
    }
    for (
      const [id, op] of [["cpu-get", "get"], ["cpu-store", "store"]] as const
    ) {
      const cache = cpuOf(run.cpu, runtime, op, "cache (no history)");
      const rawCpu = cpuOf(run.cpu, runtime, op, raw);
      row(
        id,
        `client CPU the cache adds per \`${op}\` (\`history: false\`) over ${raw}'s ${
          op === "get" ? "GET" : "SET"
        }, one at a time`,
        cache && rawCpu && addedCpu(cache, rawCpu),
        { atMost: 2 },
        "µs",
      );
    }
    for (
      const [id, shape] of [
        ["store-script-1", "1 in flight"],
        ["store-script-lanes", "100 lanes"],
        ["store-script-bursts", "bursts of 100"],
      ] as const
    ) {
      const mode = STORE_CEILING[shape];
      row(
        id,
        `\`store\` (history on), ${shape} / redis-benchmark \`${mode}\` of the store script`,
        over(
          ops("cache", `set, ${shape}`),
          ceiling(results, "store script", mode)?.opsPerSec,
        ),
        { atLeast: 0.9 },
      );
    }
    row(
      "get-many",
      "`getMany(1000)` keys/s / redis-benchmark `-P 100` GET",
      over(
        ops("cache", "getMany 1000 keys"),
        ceiling(results, "get", "-P 100")?.opsPerSec,
      ),
      { atLeast: 0.5 },
    );
    const l1 = run.l1Limit.find((r) => r.runtime === runtime);
    row(
      "l1-hit",
      "L1 hits/s / `Map.get` and `slice()` of the same bytes, in turn in one process",
      l1 && l1.mapCopyNs / l1.l1Ns,
      { atLeast: 0.5 },
    );
    const memory = run.memory.find((m) => m.runtime === runtime);
    const calls = (n: number | undefined) =>
      n === undefined ? "" : `${n.toLocaleString("en-US")} `;
    row(
      "memory-l1",
      `heap after ${calls(memory?.hits)}L1 hits / before, each after a full GC`,
      memory && heapRatio(memory.l1HeapBefore, memory.l1HeapAfter),
      { atLeast: 0.9, atMost: 1.1 },
    );
    row(
      "memory-gets",
      `heap after ${calls(memory?.gets)}gets over the network (${
        memory?.inFlight ?? 100
      } lanes) / before, each after a full GC`,
      memory && heapRatio(memory.getsHeapBefore, memory.getsHeapAfter),
      { atLeast: 0.9, atMost: 1.1 },
    );
  }
  return rows;
}

/** A goal as the report prints it. */
export function formatGoal(
  { atLeast, atMost }: Goal,
  unit: TargetRow["unit"],
): string {
  const suffix = unit === "µs" ? " µs" : "";
  if (atLeast !== undefined && atMost !== undefined) {
    return `${atLeast}–${atMost}${suffix}`;
  }
  return atLeast !== undefined
    ? `≥ ${atLeast}${suffix}`
    : `≤ ${atMost}${suffix}`;
}

/** A measured figure as the report prints it. */
export function formatMeasured(row: TargetRow): string {
  if (row.measured === undefined) return "not measured";
  return row.unit === "µs"
    ? `${row.measured.toFixed(1)} µs`
    : row.measured.toFixed(2);
}
