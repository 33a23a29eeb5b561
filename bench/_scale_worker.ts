// One process of the multi-process case of `bench/compare.ts`: a cache
// making 100 gets in flight (lanes) against the shared redis-server, in
// rounds its parent starts on stdin, so that every process of a round
// starts together. Runs on Deno, Bun and Node (compiled), as the other
// workers do.
//
// Prints `READY` once connected and warmed up; then for each line
// `RUN <ms>` on stdin, one `SCALE {json}` line after running that long;
// closes on `EXIT` (or the end of stdin).

import process from "node:process";
import { createInterface } from "node:readline";
import { Cache } from "../mod.ts";

/** What `compare.ts` asks each process to do. */
export interface ScalePlan {
  url: string;
  inFlight: number;
  warmUpMs: number;
}

/** One process's round: its gets and how long it ran. */
export interface ScaleRound {
  gets: number;
  seconds: number;
}

async function lanes(
  get: () => Promise<unknown>,
  inFlight: number,
  durationMs: number,
): Promise<ScaleRound> {
  const started = performance.now();
  const end = started + durationMs;
  let gets = 0;
  const lane = async () => {
    while (performance.now() < end) {
      await get();
      gets++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { gets, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[process.argv.length - 1]) as ScalePlan;
  const cache = await Cache.connect({ url: plan.url, flush: false });
  try {
    const key = await cache.store("v".repeat(16));
    const get = () => cache.get(key);
    await lanes(get, plan.inFlight, plan.warmUpMs);
    console.log("READY");
    for await (const line of createInterface({ input: process.stdin })) {
      const [command, ms] = line.trim().split(" ");
      if (command === "EXIT") break;
      if (command !== "RUN") throw new Error(`unknown command: ${line}`);
      const round = await lanes(get, plan.inFlight, Number(ms));
      console.log(`SCALE ${JSON.stringify(round)}`);
    }
  } finally {
    await cache.close();
  }
  // stdin may still hold the process open on some runtimes.
  process.exit(0);
}

await main();
