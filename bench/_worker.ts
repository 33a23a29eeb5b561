// One runtime's share of `bench/compare.ts`: opens each subject it is given,
// runs each case for a bounded time, and prints one `RESULT {json}` line per
// case; then, when asked, the client CPU time per call (`CPU {json}`), the
// cost of an allocation (`ALLOCATION {json}`) and Redis's own time per
// command (`SERVER {json}`). Runs on Deno, Bun and Node (compiled), so every
// runtime is measured by the same code.

import process from "node:process";
import { createClient } from "redis";
import { openSubject, type Subject, type SubjectName } from "./_subjects.ts";
import { allocationNs, cpuTimePerCall } from "./_cpu_time.ts";
import { type L1Limit, measureL1Limit } from "./_l1_limit.ts";
import type { ServerTime } from "./_commandstats.ts";
import { type CaseName, CASES, type Shape } from "./_cases.ts";

/** What `compare.ts` asks one worker to do. */
export interface WorkerPlan {
  url: string;
  subjects: SubjectName[];
  cases: CaseName[];
  /**
   * Each case runs in this many slices per subject, the subjects taking
   * turns, and the median slice is kept: a noisy moment of the machine then
   * lands on one slice of one subject, not on all of one subject.
   */
  slices: number;
  durationMs: number;
  valueSize: number;
  /**
   * Client CPU time per get and per store, one at a time: `cache` and `raw`
   * taking turns for `rounds` rounds of `calls` calls each.
   */
  cpuTime?: {
    cache: SubjectName;
    raw: SubjectName;
    rounds: number;
    calls: number;
  };
  /** Redis's own time for batches of 100, over this many bursts. */
  serverTimeBursts?: number;
  /**
   * L1 hits of `subject` against a `Map.get` and a copy of the same bytes,
   * taking turns for `rounds` rounds of `calls` calls each.
   */
  l1Limit?: { subject: SubjectName; rounds: number; calls: number };
}

/** One measured case. */
export interface CaseResult {
  subject: SubjectName;
  runtime: string;
  case: string;
  /** Operations (for getMany: keys) per second. */
  opsPerSec: number;
  /** For bursts: the latency of a whole burst, which each of its calls waits. */
  p50Ms: number;
  p99Ms: number;
}

/** Client CPU time per call of one operation, one call at a time. */
export interface CpuResult {
  runtime: string;
  op: "get" | "store";
  subject: SubjectName;
  /** Median over the rounds. */
  usPerCall: number;
  rounds: number[];
}

/** CPU time to allocate one small `Uint8Array` with its own buffer. */
export interface AllocationResult {
  runtime: string;
  bytes: number;
  ns: number;
}

/** An L1 hit and its limit in ns, as measured on `runtime`. */
export interface L1LimitResult extends L1Limit {
  runtime: string;
  bytes: number;
}

/** Redis's own time per command for batches of 100, as measured on `runtime`. */
export interface ServerResult extends ServerTime {
  runtime: string;
}

const MANY = 1_000;
const MAX_SAMPLES = 200_000;

const runtime = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

type Figures = Omit<CaseResult, "subject" | "runtime" | "case">;

// Makes calls in `shape` until `end`, recording each call's latency (for
// bursts, the burst's) with `sample`, and returns how many calls were made.
async function drive(
  run: () => Promise<unknown>,
  shape: Shape,
  inFlight: number,
  end: number,
  sample: (ms: number) => void,
): Promise<number> {
  let calls = 0;
  if (shape === "bursts") {
    const burst: Promise<unknown>[] = new Array(inFlight);
    while (performance.now() < end) {
      const t0 = performance.now();
      for (let i = 0; i < inFlight; i++) burst[i] = run();
      await Promise.all(burst);
      sample(performance.now() - t0);
      calls += inFlight;
    }
    return calls;
  }
  const lane = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await run();
      sample(performance.now() - t0);
      calls++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return calls;
}

async function measure(
  run: () => Promise<unknown>,
  shape: Shape,
  inFlight: number,
  durationMs: number,
  itemsPerOp: number,
): Promise<Figures> {
  // A short warm-up, in the same shape, lets the JIT and the connection
  // settle first.
  const warmMs = Math.min(50, durationMs / 4);
  await drive(run, shape, inFlight, performance.now() + warmMs, () => {});
  const samples: number[] = [];
  const started = performance.now();
  const calls = await drive(
    run,
    shape,
    inFlight,
    started + durationMs,
    (ms) => {
      if (samples.length < MAX_SAMPLES) samples.push(ms);
    },
  );
  const elapsed = (performance.now() - started) / 1000;
  samples.sort((a, b) => a - b);
  const at = (fraction: number) =>
    samples[
      Math.min(samples.length - 1, Math.floor(fraction * samples.length))
    ] ?? 0;
  return {
    opsPerSec: (calls * itemsPerOp) / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

interface Prepared {
  name: SubjectName;
  subject: Subject;
  key: string;
  many: string[];
}

// Writes the values the get cases read, and returns where they are: the
// MANY keys only for the getMany case, the only one that reads them.
async function prime(
  entry: Prepared,
  value: string,
  many: boolean,
): Promise<void> {
  const { subject, name } = entry;
  entry.key = await subject.prime(`bench:${name}:${runtime}:one`, value);
  entry.many = many
    ? await Promise.all(
      Array.from(
        { length: MANY },
        (_, i) => subject.prime(`bench:${name}:${runtime}:${i}`, value),
      ),
    )
    : [];
}

function print(tag: string, value: unknown): void {
  console.log(`${tag} ${JSON.stringify(value)}`);
}

async function measureCases(
  plan: WorkerPlan,
  prepared: Prepared[],
  flushDb: () => Promise<unknown>,
  value: string,
): Promise<void> {
  for (const { name: caseName, op, shape, inFlight } of CASES) {
    if (!plan.cases.includes(caseName)) continue;
    const slices = new Map<SubjectName, Figures[]>();
    for (let slice = 0; slice < plan.slices; slice++) {
      for (const entry of prepared) {
        const { subject } = entry;
        if (op === "getMany" && subject.getMany === undefined) continue;
        if (subject.ops !== undefined && !subject.ops.includes(op)) continue;
        // Every set writes a new key, as store does; the database is
        // emptied before each slice so that no subject pays for another's
        // keys.
        await flushDb();
        await prime(entry, value, op === "getMany");
        const run = op === "get"
          ? () => subject.get(entry.key)
          : op === "set"
          ? () => subject.writeNew(value)
          : () => subject.getMany!(entry.many);
        const slice = await measure(
          run,
          shape,
          inFlight,
          plan.durationMs / plan.slices,
          op === "getMany" ? MANY : 1,
        );
        slices.set(entry.name, [...(slices.get(entry.name) ?? []), slice]);
      }
    }
    for (const [subject, results] of slices) {
      results.sort((a, b) => a.opsPerSec - b.opsPerSec);
      const median = results[Math.floor(results.length / 2)];
      print("RESULT", { subject, runtime, case: caseName, ...median });
    }
  }
}

async function measureCpuTime(
  cpu: NonNullable<WorkerPlan["cpuTime"]>,
  prepared: Prepared[],
  flushDb: () => Promise<unknown>,
  value: string,
): Promise<void> {
  const pair = [cpu.cache, cpu.raw].map((name) => {
    const entry = prepared.find((entry) => entry.name === name);
    if (entry === undefined) throw new Error(`cpuTime: ${name} not opened`);
    return entry;
  });
  await flushDb();
  for (const entry of pair) await prime(entry, value, false);
  for (const op of ["get", "store"] as const) {
    const { usPerCall, rounds } = await cpuTimePerCall(
      pair.map(({ name, subject, key }) => ({
        name,
        run: op === "get"
          ? () => subject.get(key)
          : () => subject.writeNew(value),
      })),
      cpu.rounds,
      cpu.calls,
    );
    for (const { name } of pair) {
      print(
        "CPU",
        {
          runtime,
          op,
          subject: name,
          usPerCall: usPerCall[name],
          rounds: rounds[name],
        } satisfies CpuResult,
      );
    }
  }
}

async function measureL1(
  limit: NonNullable<WorkerPlan["l1Limit"]>,
  prepared: Prepared[],
  flushDb: () => Promise<unknown>,
  value: string,
): Promise<void> {
  const entry = prepared.find((entry) => entry.name === limit.subject);
  if (entry === undefined) {
    throw new Error(`l1Limit: ${limit.subject} not opened`);
  }
  await flushDb();
  await prime(entry, value, false);
  const { subject, key } = entry;
  // The bytes the L1 holds, as a hit returns them.
  const bytes = await subject.get(key);
  if (!(bytes instanceof Uint8Array)) throw new Error("l1Limit: not bytes");
  const result = await measureL1Limit(
    () => subject.get(key),
    key,
    bytes,
    limit.rounds,
    limit.calls,
  );
  print(
    "L1LIMIT",
    { runtime, bytes: bytes.length, ...result } satisfies L1LimitResult,
  );
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[process.argv.length - 1]) as WorkerPlan;
  const value = "v".repeat(plan.valueSize);
  const admin = createClient({ url: plan.url });
  await admin.connect();
  const prepared: Prepared[] = [];
  try {
    for (const name of plan.subjects) {
      prepared.push({
        name,
        subject: await openSubject(name, plan.url),
        key: "",
        many: [],
      });
    }
    const flushDb = () => admin.flushDb();
    await measureCases(plan, prepared, flushDb, value);
    if (plan.cpuTime !== undefined) {
      await measureCpuTime(plan.cpuTime, prepared, flushDb, value);
      print(
        "ALLOCATION",
        {
          runtime,
          bytes: plan.valueSize,
          ns: allocationNs(plan.valueSize, 100_000, 5),
        } satisfies AllocationResult,
      );
    }
    if (plan.l1Limit !== undefined) {
      await measureL1(plan.l1Limit, prepared, flushDb, value);
    }
  } finally {
    for (const { subject } of prepared) await subject.close();
  }
  try {
    if (plan.serverTimeBursts !== undefined) {
      // Loaded only here: the peers' processes never load the cache.
      const { measureServerTime } = await import("./_commandstats.ts");
      const time = await measureServerTime(
        plan.url,
        100,
        plan.serverTimeBursts,
        "v".repeat(plan.valueSize),
      );
      print("SERVER", { runtime, ...time } satisfies ServerResult);
    }
  } finally {
    admin.destroy();
  }
}

await main();
