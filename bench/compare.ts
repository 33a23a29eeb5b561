// `deno task compare`: one run, on one fresh redis-server, of redis-benchmark
// (the ceiling), this cache on Deno, Bun and Node, the raw clients under it,
// and the peers a user could pick instead. Writes bench/results.json,
// bench/results.md and bench/results.svg, and the figures the README quotes
// to bench/figures/compare.json, then fills them into the README as
// `tools/figures.ts --write` does.
//
//   deno task compare            1.5 s per case, about 5 minutes
//   deno task compare --smoke    a fraction of a second per case, for CI;
//                                writes to bench/.work/smoke/ only, and
//                                checks that every figure the README
//                                quotes from the compare is in its output
//   deno task compare --report-only   rewrite the rest from results.json
//
// redis-server is pinned to core 1 and the clients to core 0 when the
// machine has two cores or more: unpinned, sequential round trips flip
// between two speeds depending on whether both land on one core.

import { startRedisServer } from "../_testing/util.ts";
import type { CaseResult, WorkerPlan } from "./_worker.ts";
import { type CaseName, CASES } from "./_cases.ts";
import { renderChart } from "./_chart.ts";
import { writeReport } from "./_report.ts";
import { compareFigures } from "./_figures.ts";
import type { Run } from "./_run.ts";
import { recordedStoreCommand } from "../_history/recorded_store.ts";
import type { SubjectName } from "./_subjects.ts";
import { fill } from "../tools/figures.ts";

const started = performance.now();
const smoke = Deno.args.includes("--smoke");
const durationMs = smoke ? 60 : 1_500;
const slices = 3;
const valueBytes = 16;
// Client CPU time: rounds of calls per subject, one at a time.
const cpuRounds = smoke ? 3 : 7;
const cpuCalls = smoke ? 100 : 1_500;
const serverTimeBursts = smoke ? 20 : 1_000;
const root = new URL("..", import.meta.url).pathname;
// A smoke run's figures are not worth keeping: they go where git ignores
// them, so neither CI nor a local check leaves the tree changed.
const outDir = smoke ? `${root}bench/.work/smoke/` : `${root}bench/`;
const figuresFile = smoke
  ? `${outDir}compare.json`
  : `${root}bench/figures/compare.json`;
const cores = navigator.hardwareConcurrency;
const pin = cores >= 2 && await hasCommand("taskset");
const onClientCore = (command: string[]) =>
  pin ? ["taskset", "-c", "0", ...command] : command;

async function hasCommand(name: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

async function run(command: string[], timeoutMs: number): Promise<string> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code, stdout } = await child.output();
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${command.join(" ")} exited with ${code}`);
  return new TextDecoder().decode(stdout);
}

/** redis-benchmark's own GET and SET figures: the ceiling for any client. */
async function redisBenchmark(port: number): Promise<CaseResult[]> {
  const modes = [
    { label: "-c 1", args: ["-c", "1"], requests: smoke ? 2_000 : 40_000 },
    { label: "-c 50", args: ["-c", "50"], requests: smoke ? 20_000 : 400_000 },
    {
      label: "-P 100",
      args: ["-c", "50", "-P", "100"],
      requests: smoke ? 200_000 : 4_000_000,
    },
  ];
  const results: CaseResult[] = [];
  for (const mode of modes) {
    const csv = await benchmarkCsv(port, [
      "-t",
      "get,set",
      "-n",
      String(mode.requests),
      "-d",
      String(valueBytes),
      ...mode.args,
    ]);
    results.push(...parseCsv(csv, mode.label, (test) => test.toLowerCase()));
  }
  results.push(...await storeScriptBenchmark(port));
  return results;
}

/** redis-benchmark's CSV output for `args`, run on the clients' core. */
function benchmarkCsv(port: number, args: string[]): Promise<string> {
  return run(
    onClientCore([
      "redis-benchmark",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "--csv",
      ...args,
    ]),
    120_000,
  );
}

function parseCsv(
  csv: string,
  label: string,
  caseName: (test: string) => string,
): CaseResult[] {
  return csv.trim().split("\n").slice(1).map((line) => {
    // Quoted fields: a command's own text may hold commas.
    const [test, rps, , , p50, , p99] = line.slice(1, -1).split('","');
    return {
      subject: `redis-benchmark ${label}` as SubjectName,
      runtime: "C",
      case: `${caseName(test)}, redis-benchmark ${label}`,
      opsPerSec: Number(rps),
      p50Ms: Number(p50),
      p99Ms: Number(p99),
    };
  });
}

/**
 * redis-benchmark running the script `store` keeps its Python history with,
 * one at a time, on new keys: the ceiling for a store that keeps it.
 */
async function storeScriptBenchmark(port: number): Promise<CaseResult[]> {
  const write = {
    redisKey: "key:__rand_int__",
    value: "x".repeat(valueBytes),
    ttl: undefined,
    record: {
      input: `('${"x".repeat(valueBytes)}',)`,
      output: "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
    },
  };
  const history = {
    count: "Cache.store",
    inputs: "Cache.store:inputs",
    outputs: "Cache.store:outputs",
  };
  const [, script] = recordedStoreCommand(history, [write], true);
  await run(
    ["redis-cli", "-p", String(port), "SCRIPT", "LOAD", String(script)],
    10_000,
  );
  const command = recordedStoreCommand(history, [write]).map(String);
  const csv = await benchmarkCsv(port, [
    "-c",
    "1",
    "-r",
    "1000000",
    "-n",
    String(smoke ? 2_000 : 40_000),
    ...command,
  ]);
  await run(
    ["redis-cli", "-p", String(port), "DEL", ...Object.values(history)],
    10_000,
  );
  return parseCsv(csv, "-c 1", () => "store script");
}

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
  runtime: string;
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
    command: (
      plan,
    ) => [Deno.execPath(), "run", "--allow-all", "bench/_worker.ts", plan],
    subjects: [...CACHE_FORMS, "node-redis"],
    cases: ALL_CASES,
    raw: "node-redis",
    serverTime: true,
  },
  {
    runtime: "bun",
    command: (
      plan,
    ) => [`${root}node_modules/.bin/bun`, "bench/_worker.ts", plan],
    // node-redis too: the README says why the cache opens Bun's own client.
    subjects: [
      ...CACHE_FORMS.filter((name) => name !== "cache (coalesce off)"),
      "bun RedisClient",
      "node-redis",
    ],
    cases: ALL_CASES,
    raw: "bun RedisClient",
  },
  {
    runtime: "node",
    command: (plan) => ["node", ".node_test/bench/_worker.js", plan],
    subjects: [...CACHE_FORMS, "node-redis", "ioredis"],
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

// --report-only: rewrite everything else from results.json.
if (Deno.args.includes("--report-only")) {
  // A results.json from before the compare measured CPU time, allocations
  // and Redis's own time has none of them.
  const run: Run = {
    cpu: [],
    allocations: [],
    server: [],
    ...JSON.parse(await Deno.readTextFile(`${outDir}results.json`)),
  };
  await writeOutputs(run);
  Deno.exit(0);
}

const server = await startRedisServer({ cpu: pin ? 1 : undefined });
try {
  await run(
    [`${root}node_modules/.bin/tsc`, "-p", "tsconfig.node.json"],
    120_000,
  );
  const measured: Run = {
    machine: {
      cores,
      pinned: pin,
      date: new Date().toISOString().slice(0, 10),
      durationMs,
      slices,
      valueBytes,
      redis: (await run(["redis-server", "--version"], 10_000)).trim(),
      cpuRounds,
      cpuCalls,
      runSeconds: 0,
    },
    results: await redisBenchmark(server.port),
    cpu: [],
    allocations: [],
    server: [],
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
    }
  }
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
