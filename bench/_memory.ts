// The memory case of `bench/compare.ts`, in a process of its own per
// runtime so that nothing else lives on its heap: whether 1 000 000 L1 hits
// and 1 000 000 gets over the network (100 lanes) leave the heap where they
// found it, each measured after a forced full garbage collection, and the
// peak resident memory while one `getMany` reads 10 000 keys of 1 KiB.
// Prints one `MEMORY {json}` line.
//
// Needs a collector on demand: `deno run --v8-flags=--expose-gc`,
// `node --expose-gc`; Bun has `Bun.gc(true)`.

import process from "node:process";
import { readFileSync, writeFileSync } from "node:fs";
import { Cache } from "../mod.ts";

/** What `compare.ts` asks the memory case to do. */
export interface MemoryPlan {
  url: string;
  /** L1 hits, one after another. */
  hits: number;
  /** Gets over the network, `inFlight` lanes of them. */
  gets: number;
  inFlight: number;
  /**
   * The one `getMany` reads `${manyPrefix}1` … `${manyPrefix}${manyKeys}`,
   * each `manyBytes` long, written beforehand by a script on the server so
   * that writing them leaves nothing in this process.
   */
  manyPrefix: string;
  manyKeys: number;
  manyBytes: number;
}

/** What the memory case measured on one runtime; heap figures in bytes. */
export interface MemoryResult {
  runtime: string;
  hits: number;
  gets: number;
  inFlight: number;
  /** Warm-up calls of each kind made before the first heap figure. */
  warmUp: number;
  l1HeapBefore: number;
  l1HeapAfter: number;
  getsHeapBefore: number;
  getsHeapAfter: number;
  manyKeys: number;
  manyBytes: number;
  /** Resident memory after a full collection, before the `getMany`. */
  rssBeforeMiB: number;
  /** The most resident memory the process had during the `getMany`. */
  peakRssMiB: number;
  /**
   * `VmHWM`: the kernel's high-water mark, reset just before the call
   * (`/proc/self/clear_refs`); `sampled`: resident memory read every
   * millisecond, where the kernel's mark cannot be reset.
   */
  peakFrom: "VmHWM" | "sampled";
}

const runtime = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

const MiB = 1024 * 1024;

function collector(): () => void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) return () => bun.gc(true);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") {
    throw new Error("no gc(): run with --expose-gc (Deno: --v8-flags=)");
  }
  return gc;
}
const collect = collector();

// The heap after full collections, a turn of the event loop apart so that
// finalizers and timers that were due have run.
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return process.memoryUsage().heapUsed;
}

// `calls` calls of `run`, `inFlight` of them at a time in independent lanes.
async function lanes(
  run: () => Promise<unknown>,
  calls: number,
  inFlight: number,
): Promise<void> {
  let left = calls;
  const lane = async () => {
    while (left > 0) {
      left--;
      await run();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

function highWaterMiB(): number | undefined {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) / 1024;
  } catch {
    return undefined;
  }
}

// Resets the kernel's high-water mark of resident memory to what is
// resident now (Linux 4.0 and later).
function resetHighWater(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return highWaterMiB() !== undefined;
  } catch {
    return false;
  }
}

// The peak resident memory while `run` runs, in MiB.
async function peakRss(
  run: () => Promise<unknown>,
): Promise<{ peak: number; from: MemoryResult["peakFrom"] }> {
  if (resetHighWater()) {
    const result = await run();
    const peak = highWaterMiB()!;
    // Held until the mark is read: the values are part of the peak.
    void result;
    return { peak, from: "VmHWM" };
  }
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 1);
  const result = await run();
  peak = Math.max(peak, process.memoryUsage().rss);
  clearInterval(timer);
  void result;
  return { peak: peak / MiB, from: "sampled" };
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[process.argv.length - 1]) as MemoryPlan;
  const warmUp = Math.min(10_000, Math.ceil(plan.hits / 10));
  const network = await Cache.connect({ url: plan.url, flush: false });
  const l1 = await Cache.connect({ url: plan.url, flush: false, l1: {} });
  try {
    // The getMany first, while the process has made little garbage: its
    // peak is then the call's own, not that of what came before.
    const keys = Array.from(
      { length: plan.manyKeys },
      (_, i) => `${plan.manyPrefix}${i + 1}`,
    );
    await network.getMany(keys.slice(0, 10));
    await settledHeap();
    const rssBeforeMiB = process.memoryUsage().rss / MiB;
    const { peak, from } = await peakRss(async () => {
      const values = await network.getMany(keys);
      if (values.some((value) => value?.length !== plan.manyBytes)) {
        throw new Error(
          `getMany: not ${plan.manyKeys} values of ${plan.manyBytes} bytes`,
        );
      }
      return values;
    });

    const key = await network.store("v".repeat(16));
    const hit = () => l1.get(key);
    const get = () => network.get(key);

    for (let i = 0; i < warmUp; i++) await hit();
    const l1HeapBefore = await settledHeap();
    for (let i = 0; i < plan.hits; i++) await hit();
    const l1HeapAfter = await settledHeap();

    await lanes(get, warmUp, plan.inFlight);
    const getsHeapBefore = await settledHeap();
    await lanes(get, plan.gets, plan.inFlight);
    const getsHeapAfter = await settledHeap();

    const result: MemoryResult = {
      runtime,
      hits: plan.hits,
      gets: plan.gets,
      inFlight: plan.inFlight,
      warmUp,
      l1HeapBefore,
      l1HeapAfter,
      getsHeapBefore,
      getsHeapAfter,
      manyKeys: plan.manyKeys,
      manyBytes: plan.manyBytes,
      rssBeforeMiB,
      peakRssMiB: peak,
      peakFrom: from,
    };
    console.log(`MEMORY ${JSON.stringify(result)}`);
  } finally {
    await l1.close();
    await network.close();
  }
}

await main();
