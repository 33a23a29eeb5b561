// `deno task compare`: one run, on one fresh redis-server, of redis-benchmark
// (the ceiling), this cache on Deno, Bun and Node, the raw clients under it,
// and the peers a user could pick instead; then, per runtime, the memory
// case (`_memory.ts`) and the multi-process case (`_scale.ts`). Writes
// bench/results.json, bench/results.md and bench/results.svg, and the
// figures the README quotes to bench/figures/compare.json, then fills them
// into the README as `tools/figures.ts --write` does.
//
//   deno task compare            1.5 s per case, about 6 minutes
//   deno task compare --smoke    a fraction of a second per case, for CI;
//                                writes to bench/.work/smoke/ only, and
//                                checks that every figure the README
//                                quotes from the compare is in its output
//   deno task compare --report-only   rewrite the rest from results.json
//
// redis-server is pinned to core 1 and the clients to core 0 when the
// machine has two cores or more: unpinned, sequential round trips flip
// between two speeds depending on whether both land on one core.

import { startRedisServer } from "../_testing/redis_server.ts";
import type { WorkerPlan } from "./_worker.ts";
import { type CaseName, CASES } from "./_cases.ts";
import { renderChart } from "./_chart.ts";
import { writeReport } from "./_report.ts";
import { compareFigures } from "./_figures.ts";
import type { Run } from "./_run.ts";
import type { SubjectName } from "./_subjects.ts";
import { pinning, run, type Runtime, runtimeCommand } from "./_process.ts";
import { redisBenchmark } from "./_redis_benchmark.ts";
import type { MemoryPlan, MemoryResult } from "./_memory.ts";
import { measureScale } from "./_scale.ts";
import { fill } from "../tools/figures.ts";

const started = performance.now();
const smoke = Deno.args.includes("--smoke");
const durationMs = smoke ? 60 : 1_500;
const slices = 3;
const valueBytes = 16;
// Client CPU time: rounds of calls per subject, one at a time.
// Paired rounds: their differences' median is what the cache adds.
const cpuRounds = smoke ? 3 : 15;
const cpuCalls = smoke ? 100 : 1_500;
const serverTimeBursts = smoke ? 20 : 1_000;
// L1 hits against a Map.get and a copy: rounds of calls, in turn.
const l1Rounds = smoke ? 3 : 7;
const l1Calls = smoke ? 2_000 : 100_000;
// The memory case: L1 hits and network gets (100 lanes), and the getMany.
const memoryCalls = smoke ? 20_000 : 1_000_000;
const memoryManyKeys = smoke ? 1_000 : 10_000;
const memoryManyBytes = 1024;
// The multi-process case: one window per process count and runtime.
const scaleCounts = [1, 2, 4];
const scaleMs = smoke ? 200 : 2_000;
const root = new URL("..", import.meta.url).pathname;
// A smoke run's figures are not worth keeping: they go where git ignores
// them, so neither CI nor a local check leaves the tree changed.
const outDir = smoke ? `${root}bench/.work/smoke/` : `${root}bench/`;
const figuresFile = smoke
  ? `${outDir}compare.json`
  : `${root}bench/figures/compare.json`;
const cores = navigator.hardwareConcurrency;
const pin = await pinning();
const { onClientCore } = pin;

// This cache in its forms, and the peers, measured on every runtime (Bun's
// run leaves out "coalesce off", as it always has, to stay within time).
const CACHE_FORMS: SubjectName[] = [
  "cache",
  "cache (no history)",
  "cache (coalesce off)",
  "cache (l1)",
  "cache (tagged)",
];
const PEERS: SubjectName[] = ["keyv", "cache-manager", "bentocache"];
const ALL_CASES: CaseName[] = CASES.map((c) => c.name);
// The peers are measured one at a time and in lanes, not in bursts, to keep
// the run within about five minutes; bursts compare the cache with its raw
// client.
const PEER_CASES: CaseName[] = CASES.filter((c) => c.shape !== "bursts").map(
  (c) => c.name,
);

// Each runtime's subjects run in two processes, the cache with its raw
// client in one and the peers in the other: the peers' node-redis makes an
// AbortSignal.timeout per command, and the work of those timers, five
// seconds later, would otherwise land on whichever subject runs then.
interface Worker {
  runtime: Runtime;
  command: (plan: string) => string[];
  subjects: SubjectName[];
  cases: CaseName[];
  /** The raw client the cache's CPU time per call is compared with. */
  raw?: SubjectName;
  /** Whether this worker measures Redis's own time per command. */
  serverTime?: boolean;
}

const WORKERS = ([
  {
    runtime: "deno",
    command: (plan) => [...runtimeCommand("deno", "_worker"), plan],
    subjects: [
      ...CACHE_FORMS,
      "node-redis",
      "raw client, batched by hand",
      "raw client, store script",
    ],
    cases: ALL_CASES,
    raw: "node-redis",
    serverTime: true,
  },
  {
    runtime: "bun",
    command: (plan) => [...runtimeCommand("bun", "_worker"), plan],
    // node-redis too: the README says why the cache opens Bun's own client.
    subjects: [
      ...CACHE_FORMS.filter((name) => name !== "cache (coalesce off)"),
      "bun RedisClient",
      "raw client, batched by hand",
      "raw client, store script",
      "node-redis",
    ],
    cases: ALL_CASES,
    raw: "bun RedisClient",
  },
  {
    runtime: "node",
    command: (plan) => [...runtimeCommand("node", "_worker"), plan],
    subjects: [
      ...CACHE_FORMS,
      "node-redis",
      "raw client, batched by hand",
      "raw client, store script",
      "ioredis",
    ],
    cases: ALL_CASES,
    raw: "node-redis",
  },
] satisfies Worker[]).flatMap((worker): Worker[] => [
  worker,
  {
    runtime: worker.runtime,
    command: worker.command,
    subjects: PEERS,
    cases: PEER_CASES,
  },
]);

// Writes the report, the chart and the README's figures of `run`; after a
// full run also fills those figures into the README.
async function writeOutputs(run: Run): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(
    `${outDir}results.svg`,
    renderChart(run.results, run.machine),
  );
  await Deno.writeTextFile(`${outDir}results.md`, writeReport(run));
  const figures = compareFigures(run);
  await Deno.mkdir(new URL(".", `file://${figuresFile}`), { recursive: true });
  await Deno.writeTextFile(
    figuresFile,
    JSON.stringify(figures, null, 2) + "\n",
  );
  if (smoke) {
    checkReadmeFigures(figures);
    return;
  }
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "tools/figures.ts",
      "--write",
    ],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (code !== 0) throw new Error("tools/figures.ts --write failed");
}

// Every `compare.*` figure the README quotes must be in `figures`: the fill
// throws on the first one that is not. Only the compare's own figures are
// checked, since a smoke run writes no other file.
function checkReadmeFigures(figures: Record<string, unknown>): void {
  const readme = Deno.readTextFileSync(`${root}README.md`);
  const quoted = readme.match(/<!--fig:compare\.[\s\S]*?<!--\/fig-->/g) ?? [];
  fill(quoted.join("\n"), new Map([["compare", figures]]));
  console.log(
    `${quoted.length} README figures found in the run's compare.json`,
  );
}

// Every kind of measurement a run holds, none made yet: the workers add to
// them, and a results.json from before a kind was measured lacks it.
function noMeasurements(): Omit<Run, "machine" | "results"> {
  return {
    cpu: [],
    allocations: [],
    server: [],
    l1Limit: [],
    memory: [],
    scale: [],
  };
}

// --report-only: rewrite everything else from results.json.
if (Deno.args.includes("--report-only")) {
  // A results.json from before the compare measured CPU time, allocations,
  // Redis's own time, the L1's limit, memory or several processes has none
  // of them.
  const run: Run = {
    ...noMeasurements(),
    ...JSON.parse(await Deno.readTextFile(`${outDir}results.json`)),
  };
  await writeOutputs(run);
  Deno.exit(0);
}

// The memory case on each runtime, in a process of its own with a collector
// on demand, after the values its getMany reads are written by a script on
// the server (so that writing them leaves nothing in the measured process).
async function measureMemory(
  url: string,
  port: number,
): Promise<MemoryResult[]> {
  const prefix = "bench:memory:";
  await run([
    "redis-cli",
    "-p",
    String(port),
    "EVAL",
    "for i = 1, tonumber(ARGV[2]) do redis.call('SET', ARGV[1] .. i, string.rep(string.char(i % 256), tonumber(ARGV[3]))) end",
    "0",
    prefix,
    String(memoryManyKeys),
    String(memoryManyBytes),
  ], 30_000);
  const plan: MemoryPlan = {
    url,
    hits: memoryCalls,
    gets: memoryCalls,
    inFlight: 100,
    manyPrefix: prefix,
    manyKeys: memoryManyKeys,
    manyBytes: memoryManyBytes,
  };
  const results: MemoryResult[] = [];
  for (const runtime of ["deno", "bun", "node"] as const) {
    console.error(`measuring memory on ${runtime}`);
    const output = await run(
      onClientCore([
        ...runtimeCommand(runtime, "_memory", true),
        JSON.stringify(plan),
      ]),
      300_000,
    );
    const line = output.split("\n").find((l) => l.startsWith("MEMORY "));
    if (line === undefined) throw new Error(`${runtime}: no MEMORY line`);
    results.push(JSON.parse(line.slice("MEMORY ".length)));
  }
  return results;
}

const server = await startRedisServer({ cpu: pin.serverCore });
try {
  await run(
    [`${root}node_modules/.bin/tsc`, "-p", "tsconfig.node.json"],
    120_000,
  );
  const measured: Run = {
    machine: {
      cores,
      pinned: pin.serverCore !== undefined,
      date: new Date().toISOString().slice(0, 10),
      durationMs,
      slices,
      valueBytes,
      redis: (await run(["redis-server", "--version"], 10_000)).trim(),
      cpuRounds,
      cpuCalls,
      l1Rounds,
      l1Calls,
      memoryCalls,
      memoryManyKeys,
      memoryManyBytes,
      scaleMs,
      runSeconds: 0,
    },
    results: await redisBenchmark({
      port: server.port,
      smoke,
      valueBytes,
      onClientCore,
    }),
    ...noMeasurements(),
  };
  for (const worker of WORKERS) {
    const plan: WorkerPlan = {
      url: server.url(),
      subjects: worker.subjects,
      cases: worker.cases,
      slices,
      durationMs,
      valueSize: valueBytes,
      ...(worker.raw === undefined ? {} : {
        cpuTime: {
          cache: "cache (no history)",
          raw: worker.raw,
          rounds: cpuRounds,
          calls: cpuCalls,
        },
      }),
      ...(worker.serverTime ? { serverTimeBursts } : {}),
      ...(worker.subjects.includes("cache (l1)")
        ? {
          l1Limit: { subject: "cache (l1)", rounds: l1Rounds, calls: l1Calls },
        }
        : {}),
    };
    console.error(
      `measuring on ${worker.runtime}: ${worker.subjects.join(", ")}`,
    );
    const output = await run(
      onClientCore(worker.command(JSON.stringify(plan))),
      600_000,
    );
    for (const line of output.split("\n")) {
      const space = line.indexOf(" ");
      const tag = line.slice(0, space);
      const value = () => JSON.parse(line.slice(space + 1));
      if (tag === "RESULT") measured.results.push(value());
      else if (tag === "CPU") measured.cpu.push(value());
      else if (tag === "ALLOCATION") measured.allocations.push(value());
      else if (tag === "SERVER") measured.server.push(value());
      else if (tag === "L1LIMIT") measured.l1Limit.push(value());
    }
  }
  measured.memory = await measureMemory(server.url(), server.port);
  console.error("measuring 1, 2 and 4 processes on each runtime");
  measured.scale = await measureScale({
    url: server.url(),
    runtimes: (["deno", "bun", "node"] as const).map((runtime) => ({
      runtime,
      command: (plan) =>
        pin.offServerCore([...runtimeCommand(runtime, "_scale_worker"), plan]),
    })),
    counts: scaleCounts,
    inFlight: 100,
    durationMs: scaleMs,
    warmUpMs: smoke ? 50 : 300,
  });
  measured.machine.runSeconds = (performance.now() - started) / 1000;
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(
    `${outDir}results.json`,
    JSON.stringify(measured, null, 2) + "\n",
  );
  await writeOutputs(measured);
  console.log(
    `${measured.results.length} results written to ${
      outDir.slice(root.length)
    }results.{json,md,svg} and ${figuresFile.slice(root.length)}`,
  );
} finally {
  await server.stop();
}
