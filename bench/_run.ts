// One run of `deno task compare` as bench/results.json holds it, and the
// look-ups the report, the chart and the README's figures share.

import type {
  AllocationResult,
  CaseResult,
  CpuResult,
  L1LimitResult,
  ServerResult,
} from "./_worker.ts";
import type { SubjectName } from "./_subjects.ts";
import type { MemoryResult } from "./_memory.ts";
import type { ScaleResult } from "./_scale.ts";

/** Where, when and how the figures were measured. */
export interface Machine {
  cores: number;
  pinned: boolean;
  date: string;
  durationMs: number;
  /** Slices per case and subject, of which the median is kept. */
  slices: number;
  valueBytes: number;
  redis: string;
  /** Client CPU time: rounds, and calls per round and subject. */
  cpuRounds: number;
  cpuCalls: number;
  // Absent in a run from before the compare measured them.
  /** The L1 against its limit: rounds, and calls per round and loop. */
  l1Rounds?: number;
  l1Calls?: number;
  /** The memory case: L1 hits, and gets, of each runtime. */
  memoryCalls?: number;
  /** The memory case's getMany: keys, and bytes per value. */
  memoryManyKeys?: number;
  memoryManyBytes?: number;
  /** The multi-process case: ms per round. */
  scaleMs?: number;
  /** Wall time of the whole run, start to written files. */
  runSeconds: number;
}

/** Everything one run measured. */
export interface Run {
  machine: Machine;
  results: CaseResult[];
  cpu: CpuResult[];
  allocations: AllocationResult[];
  server: ServerResult[];
  l1Limit: L1LimitResult[];
  memory: MemoryResult[];
  scale: ScaleResult[];
}

/** The runtimes, in the order every table lists them. */
export const RUNTIMES = ["deno", "bun", "node"] as const;

/** A runtime's name as the README writes it. */
export const RUNTIME_TITLE: Record<string, string> = {
  deno: "Deno",
  bun: "Bun",
  node: "Node",
};

/** The client the cache opens on each runtime by default. */
export const RAW: Record<string, SubjectName> = {
  deno: "node-redis",
  node: "node-redis",
  bun: "bun RedisClient",
};

/** The case of `subject` on `runtime`, if this run measured it. */
export function find(
  results: CaseResult[],
  subject: string,
  runtime: string,
  name: string,
): CaseResult | undefined {
  return results.find((r) =>
    r.subject === subject && r.runtime === runtime && r.case === name
  );
}

/**
 * redis-benchmark's figure for `test` ("get", "set", "store script"); the
 * store script runs in the modes of `SCRIPT_MODES` (`_redis_benchmark.ts`).
 */
export function ceiling(
  results: CaseResult[],
  test: string,
  mode: "-c 1" | "-c 50" | "-P 100" | "-c 100" | "-c 1 -P 100",
): CaseResult | undefined {
  return find(
    results,
    `redis-benchmark ${mode}`,
    "C",
    `${test}, redis-benchmark ${mode}`,
  );
}

/** ops/s of `of` over ops/s of `to`, both on `runtime`, for case `name`. */
/** `a / b`, or `undefined` when either was not measured. */
export function over(
  a: number | undefined,
  b: number | undefined,
): number | undefined {
  return a === undefined || b === undefined ? undefined : a / b;
}

/** The ops/s of `of` over those of `to` in case `name` on `runtime`. */
export function ratio(
  results: CaseResult[],
  runtime: string,
  name: string,
  of: string,
  to: string,
): number | undefined {
  return over(
    find(results, of, runtime, name)?.opsPerSec,
    find(results, to, runtime, name)?.opsPerSec,
  );
}

/** The client CPU µs per call of `subject` for `op` on `runtime`. */
export function cpuOf(
  cpu: CpuResult[],
  runtime: string,
  op: "get" | "store",
  subject: string,
): CpuResult | undefined {
  return cpu.find((c) =>
    c.runtime === runtime && c.op === op && c.subject === subject
  );
}

/**
 * The client CPU µs per call the cache adds over its raw client: the median
 * of the rounds' differences, each cache round beside the raw client's round
 * that ran next to it. Pairs in time cancel the machine's drift, which a
 * difference of the two medians keeps.
 */
export function addedCpu(cache: CpuResult, raw: CpuResult): number {
  const differences = cache.rounds.map((us, i) => us - raw.rounds[i]);
  differences.sort((a, b) => a - b);
  const middle = Math.floor(differences.length / 2);
  return differences.length % 2 === 1
    ? differences[middle]
    : (differences[middle - 1] + differences[middle]) / 2;
}
