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

import { startRedisServer } from "../_test_util.ts";
import type { CaseResult, WorkerPlan } from "./_worker.ts";
import { type Machine, renderChart } from "./_chart.ts";
import { writeReport } from "./_report.ts";
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
    const csv = await run(
      onClientCore([
        "redis-benchmark",
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-t",
        "get,set",
        "-n",
        String(mode.requests),
        "-d",
        "16",
        "--csv",
        ...mode.args,
      ]),
      120_000,
    );
    for (const line of csv.trim().split("\n").slice(1)) {
      const [test, rps, , , p50, , p99] = line.replaceAll('"', "").split(",");
      results.push({
        subject: `redis-benchmark ${mode.label}` as SubjectName,
        runtime: "C",
        case: `${test.toLowerCase()}, redis-benchmark ${mode.label}`,
        opsPerSec: Number(rps),
        p50Ms: Number(p50),
        p99Ms: Number(p99),
      });
    }
  }
  return results;
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
