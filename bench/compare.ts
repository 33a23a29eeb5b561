// `deno task compare`: one run, on one fresh redis-server, of redis-benchmark
// (the ceiling), this cache on Deno, Bun and Node, the raw clients under it,
// and the peers a user could pick instead. Writes bench/results.json,
// bench/results.md and bench/results.svg.
//
//   deno task compare            1.5 s per case, about 4 minutes
//   deno task compare --smoke    a fraction of a second per case, for CI
//   deno task compare --report-only   rewrite .md and .svg from results.json
//
// redis-server is pinned to core 1 and the clients to core 0 when the
// machine has two cores or more: unpinned, sequential round trips flip
// between two speeds depending on whether both land on one core.

import { startRedisServer } from "../_testing/util.ts";
import type { CaseResult, WorkerPlan } from "./_worker.ts";
import { type Machine, renderChart } from "./_chart.ts";
import { writeReport } from "./_report.ts";
import { recordedStoreCommand } from "../_history/recorded_store.ts";
import type { SubjectName } from "./_subjects.ts";

const smoke = Deno.args.includes("--smoke");
const durationMs = smoke ? 150 : 1_500;
const root = new URL("..", import.meta.url).pathname;
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
      "16",
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
    value: "x".repeat(16),
    ttl: undefined,
    record: {
      input: `('${"x".repeat(16)}',)`,
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
];
const PEERS: SubjectName[] = ["keyv", "cache-manager", "bentocache"];

// Each runtime's subjects run in two processes, the cache with its raw
// client in one and the peers in the other: the peers' node-redis makes an
// AbortSignal.timeout per command, and the work of those timers, five
// seconds later, would otherwise land on whichever subject runs then.
interface Worker {
  runtime: string;
  command: (plan: string) => string[];
  subjects: SubjectName[];
}

const WORKERS = ([
  {
    runtime: "deno",
    command: (
      plan,
    ) => [Deno.execPath(), "run", "--allow-all", "bench/_worker.ts", plan],
    subjects: [...CACHE_FORMS, "node-redis"],
  },
  {
    runtime: "bun",
    command: (
      plan,
    ) => [`${root}node_modules/.bin/bun`, "bench/_worker.ts", plan],
    subjects: [
      ...CACHE_FORMS.filter((name) => name !== "cache (coalesce off)"),
      "bun RedisClient",
    ],
  },
  {
    runtime: "node",
    command: (plan) => ["node", ".node_test/bench/_worker.js", plan],
    subjects: [...CACHE_FORMS, "node-redis", "ioredis"],
  },
] satisfies Worker[]).flatMap((worker): Worker[] => [
  worker,
  { ...worker, subjects: PEERS },
]);

async function writeChartAndReport(
  results: CaseResult[],
  machine: Machine,
): Promise<void> {
  await Deno.writeTextFile(
    `${root}bench/results.svg`,
    renderChart(results, machine),
  );
  await Deno.writeTextFile(
    `${root}bench/results.md`,
    writeReport(results, machine),
  );
}

// --report-only: rewrite results.md and results.svg from results.json.
if (Deno.args.includes("--report-only")) {
  const { machine, results } = JSON.parse(
    await Deno.readTextFile(`${root}bench/results.json`),
  );
  await writeChartAndReport(results, machine);
  Deno.exit(0);
}

const server = await startRedisServer({ cpu: pin ? 1 : undefined });
try {
  await run(
    [`${root}node_modules/.bin/tsc`, "-p", "tsconfig.node.json"],
    120_000,
  );
  const results: CaseResult[] = await redisBenchmark(server.port);
  for (const worker of WORKERS) {
    const plan: WorkerPlan = {
      url: server.url(),
      subjects: worker.subjects,
      durationMs,
      valueSize: 16,
    };
    console.error(
      `measuring on ${worker.runtime}: ${worker.subjects.join(", ")}`,
    );
    const output = await run(
      onClientCore(worker.command(JSON.stringify(plan))),
      600_000,
    );
    for (const line of output.split("\n")) {
      if (line.startsWith("RESULT ")) results.push(JSON.parse(line.slice(7)));
    }
  }
  const machine = {
    cores,
    pinned: pin,
    date: new Date().toISOString().slice(0, 10),
    durationMs,
    redis: (await run(["redis-server", "--version"], 10_000)).trim(),
  };
  await Deno.writeTextFile(
    `${root}bench/results.json`,
    JSON.stringify({ machine, results }, null, 2) + "\n",
  );
  await writeChartAndReport(results, machine);
  console.log(
    `${results.length} results written to bench/results.{json,md,svg}`,
  );
} finally {
  await server.stop();
}
