// redis-benchmark's own figures, the ceilings of the compare: GET and SET
// one at a time, from 50 connections and pipelined, and the script `store`
// keeps its Python history with, one at a time and with 100 in flight in
// each of the compare's two load shapes.

import type { CaseResult } from "./_worker.ts";
import type { SubjectName } from "./_subjects.ts";
import { run } from "./_process.ts";
import { recordedStoreCommand } from "../_history/recorded_store.ts";

/** How the compare runs redis-benchmark. */
export interface BenchmarkOptions {
  port: number;
  smoke: boolean;
  valueBytes: number;
  onClientCore(command: string[]): string[];
}

/** A redis-benchmark mode the figures name: its label and its arguments. */
export const SCRIPT_MODES = {
  /** One store at a time. */
  "-c 1": ["-c", "1"],
  /**
   * 100 stores in flight as 100 lanes have them: 100 connections, each
   * sending its next store when the last one is answered.
   */
  "-c 100": ["-c", "100"],
  /**
   * 100 stores in flight as bursts of 100 have them, on one connection as
   * the cache has: 100 sent together, all answered, then the next 100.
   */
  "-c 1 -P 100": ["-c", "1", "-P", "100"],
} as const;

/** A mode of the store script's ceiling. */
export type ScriptMode = keyof typeof SCRIPT_MODES;

/** redis-benchmark's GET, SET and store script figures. */
export async function redisBenchmark(
  options: BenchmarkOptions,
): Promise<CaseResult[]> {
  const { smoke, valueBytes } = options;
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
    const csv = await benchmarkCsv(options, [
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
  results.push(...await storeScriptBenchmark(options));
  return results;
}

/** redis-benchmark's CSV output for `args`, run on the clients' core. */
function benchmarkCsv(
  { port, onClientCore }: BenchmarkOptions,
  args: string[],
): Promise<string> {
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

// Requests per mode of the store script: about two seconds each.
const SCRIPT_REQUESTS: Record<ScriptMode, [full: number, smoke: number]> = {
  "-c 1": [40_000, 2_000],
  "-c 100": [150_000, 10_000],
  "-c 1 -P 100": [400_000, 20_000],
};

/**
 * redis-benchmark running the script `store` keeps its Python history with,
 * in each of SCRIPT_MODES, on fresh keys (random among a billion, so that
 * next to none is written twice): the ceiling for a store that keeps it.
 */
async function storeScriptBenchmark(
  options: BenchmarkOptions,
): Promise<CaseResult[]> {
  const { port, smoke, valueBytes } = options;
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
  const cli = (...args: string[]) =>
    run(["redis-cli", "-p", String(port), ...args], 10_000);
  const command = recordedStoreCommand(history, [write]).map(String);
  const results: CaseResult[] = [];
  for (const [mode, args] of Object.entries(SCRIPT_MODES)) {
    const [full, short] = SCRIPT_REQUESTS[mode as ScriptMode];
    await cli("SCRIPT", "LOAD", String(script));
    const csv = await benchmarkCsv(options, [
      ...args,
      "-r",
      "1000000000",
      "-n",
      String(smoke ? short : full),
      ...command,
    ]);
    // Each mode starts on an empty database, as each slice of the workers
    // does: no mode writes into the keys and lists of another.
    await cli("FLUSHDB");
    results.push(...parseCsv(csv, mode, () => "store script"));
  }
  return results;
}
