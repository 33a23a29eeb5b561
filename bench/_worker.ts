// One runtime's share of `bench/compare.ts`: opens each subject it is given,
// runs each case for a bounded time, and prints one `RESULT {json}` line per
// case. Runs on Deno, Bun and Node (compiled), so every runtime is measured
// by the same code.

import process from "node:process";
import { createClient } from "redis";
import { openSubject, type Subject, type SubjectName } from "./_subjects.ts";

/** What `compare.ts` asks one worker to do. */
export interface WorkerPlan {
  url: string;
  subjects: SubjectName[];
  durationMs: number;
  valueSize: number;
}

/** One measured case. */
export interface CaseResult {
  subject: SubjectName;
  runtime: string;
  case: string;
  /** Operations (for getMany: keys) per second. */
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

const CASES = [
  { name: "get, 1 in flight", op: "get", inFlight: 1 },
  { name: "get, 100 in flight", op: "get", inFlight: 100 },
  { name: "set, 1 in flight", op: "set", inFlight: 1 },
  { name: "set, 100 in flight", op: "set", inFlight: 100 },
  { name: "getMany 1000 keys", op: "getMany", inFlight: 1 },
] as const;
const MANY = 1_000;
const MAX_SAMPLES = 200_000;

const runtime = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

async function measure(
  run: () => Promise<unknown>,
  inFlight: number,
  durationMs: number,
  itemsPerOp: number,
): Promise<Omit<CaseResult, "subject" | "runtime" | "case">> {
  // A short warm-up lets the JIT and the connection settle first.
  const warmUntil = performance.now() + Math.min(100, durationMs / 4);
  while (performance.now() < warmUntil) await run();
  const samples: number[] = [];
  let ops = 0;
  const started = performance.now();
  const end = started + durationMs;
  const lane = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await run();
      const t1 = performance.now();
      ops++;
      if (samples.length < MAX_SAMPLES) samples.push(t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const elapsed = (performance.now() - started) / 1000;
  samples.sort((a, b) => a - b);
  const at = (fraction: number) =>
    samples[
      Math.min(samples.length - 1, Math.floor(fraction * samples.length))
    ] ?? 0;
  return {
    opsPerSec: (ops * itemsPerOp) / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

// Subjects take turns: each case is measured in ROUNDS short slices per
// subject, interleaved, and the median slice is kept, so a noisy moment of
// the machine does not land on one subject alone.
const ROUNDS = 3;

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
  const write = (key: string) =>
    subject.prime?.(key, value) ?? subject.set(key, value).then(() => key);
  entry.key = await write(`bench:${name}:${runtime}:one`);
  entry.many = many
    ? await Promise.all(
      Array.from(
        { length: MANY },
        (_, i) => write(`bench:${name}:${runtime}:${i}`),
      ),
    )
    : [];
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[process.argv.length - 1]) as WorkerPlan;
  const value = "v".repeat(plan.valueSize);
  // Every set writes a new key, as store does; the database is emptied
  // before each slice so that no subject pays for another's keys.
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
    for (const { name: caseName, op, inFlight } of CASES) {
      const slices = new Map<
        SubjectName,
        Omit<CaseResult, "subject" | "runtime" | "case">[]
      >();
      for (let round = 0; round < ROUNDS; round++) {
        for (const entry of prepared) {
          const { subject } = entry;
          if (op === "getMany" && subject.getMany === undefined) continue;
          if (subject.ops !== undefined && !subject.ops.includes(op)) continue;
          await admin.flushDb();
          await prime(entry, value, op === "getMany");
          const run = op === "get"
            ? () => subject.get(entry.key)
            : op === "set"
            ? () => subject.set(`bench:${crypto.randomUUID()}`, value)
            : () => subject.getMany!(entry.many);
          const slice = await measure(
            run,
            inFlight,
            plan.durationMs / ROUNDS,
            op === "getMany" ? MANY : 1,
          );
          slices.set(entry.name, [...(slices.get(entry.name) ?? []), slice]);
        }
      }
      for (const [subject, results] of slices) {
        results.sort((a, b) => a.opsPerSec - b.opsPerSec);
        const median = results[Math.floor(results.length / 2)];
        console.log(
          `RESULT ${
            JSON.stringify({ subject, runtime, case: caseName, ...median })
          }`,
        );
      }
    }
  } finally {
    for (const { subject } of prepared) await subject.close();
    admin.destroy();
  }
}

await main();
