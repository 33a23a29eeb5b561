// bench/figures/compare.json: the figures of one run that the README quotes,
// flat and named, rounded as the README prints them, so that the README's
// `<!--fig:compare.<group>.<field>-->` placeholders are filled from the run
// and never typed by hand. A figure the run did not measure is left out,
// and filling the README then fails on it.

import {
  addedCpu,
  ceiling,
  cpuOf,
  find,
  ratio,
  RAW,
  type Run,
  RUNTIMES,
} from "./_run.ts";
import { STORE_CEILING, targets } from "./_targets.ts";

/** One group of figures ("run", "redis", or a runtime), by field. */
export type FigureGroup = Record<string, number | string>;

const times = (n: number) => n.toFixed(2);
const whole = (n: number) => Math.round(n);
// Microseconds: one decimal under 100, whole above.
const micros = (n: number) => n >= 100 ? String(Math.round(n)) : n.toFixed(1);

// Sets `field` when the run measured what it is made of.
function put<T>(
  group: FigureGroup,
  field: string,
  value: T | undefined,
  shown: (value: T) => number | string,
): void {
  if (value !== undefined && (typeof value !== "number" || isFinite(value))) {
    group[field] = shown(value);
  }
}

// The cases behind the GET and store figures, by the suffix of their fields.
const SHAPES = [
  { suffix: "1", get: "get, 1 in flight", set: "set, 1 in flight" },
  { suffix: "Lanes", get: "get, 100 lanes", set: "set, 100 lanes" },
  { suffix: "Bursts", get: "get, bursts of 100", set: "set, bursts of 100" },
];

function runtimeFigures(run: Run, runtime: string): FigureGroup {
  const { results } = run;
  const raw = RAW[runtime];
  const group: FigureGroup = {};
  const ops = (subject: string, name: string) =>
    find(results, subject, runtime, name)?.opsPerSec;
  for (const { suffix, get, set } of SHAPES) {
    put(group, `cacheGet${suffix}`, ops("cache", get), whole);
    put(group, `rawGet${suffix}`, ops(raw, get), whole);
    put(group, `cacheStore${suffix}`, ops("cache", set), whole);
    put(group, `plainStore${suffix}`, ops("cache (no history)", set), whole);
    put(group, `rawSet${suffix}`, ops(raw, set), whole);
    put(
      group,
      `getRatio${suffix}`,
      ratio(results, runtime, get, "cache", raw),
      times,
    );
    put(
      group,
      `storeRatio${suffix}`,
      ratio(results, runtime, set, "cache", raw),
      times,
    );
    put(
      group,
      `plainStoreRatio${suffix}`,
      ratio(results, runtime, set, "cache (no history)", raw),
      times,
    );
  }
  put(group, "plainGet1", ops("cache (no history)", "get, 1 in flight"), whole);
  const l1 = ops("cache (l1)", "get, 1 in flight");
  put(group, "l1Get1", l1, whole);
  put(group, "l1HitNs", l1 && 1e9 / l1, whole);
  put(
    group,
    "l1Ratio",
    ratio(results, runtime, "get, 1 in flight", "cache (l1)", "cache"),
    whole,
  );
  put(
    group,
    "taggedGetRatio",
    ratio(results, runtime, "get, 1 in flight", "cache (tagged)", "cache"),
    times,
  );
  put(
    group,
    "taggedStoreRatio",
    ratio(results, runtime, "set, 1 in flight", "cache (tagged)", "cache"),
    times,
  );
  const allocation = run.allocations.find((a) => a.runtime === runtime);
  put(group, "allocationNs", allocation?.ns, whole);

  const sequential = ops("cache", "get, 1 in flight");
  const many = ops("cache", "getMany 1000 keys");
  const p100 = ceiling(results, "get", "-P 100")?.opsPerSec;
  const c1 = ceiling(results, "get", "-c 1")?.opsPerSec;
  put(group, "cacheGetMany", many, whole);
  put(
    group,
    "getManyToSequential",
    many && sequential && many / sequential,
    whole,
  );
  put(group, "getManyToP100", many && p100 && many / p100, times);
  const rawGet = find(results, raw, runtime, "get, 1 in flight");
  put(group, "rawGet1ToC1", rawGet && c1 && rawGet.opsPerSec / c1, times);
  put(group, "rawGet1P50Us", rawGet && rawGet.p50Ms * 1000, whole);
  const rawMany = ops(raw, "getMany 1000 keys");
  put(group, "rawGetManyToP100", rawMany && p100 && rawMany / p100, times);
  // `store` with history against the store script at the same concurrency.
  for (const { suffix, set } of SHAPES) {
    const shape = set.slice("set, ".length);
    const store = ops("cache", set);
    const limit = ceiling(results, "store script", STORE_CEILING[shape])
      ?.opsPerSec;
    put(
      group,
      `storeToScript${suffix === "1" ? "C1" : suffix}`,
      store && limit && store / limit,
      times,
    );
  }

  const l1Limit = run.l1Limit.find((r) => r.runtime === runtime);
  if (l1Limit !== undefined) {
    group.l1LoopHitNs = whole(l1Limit.l1Ns);
    group.mapCopyNs = whole(l1Limit.mapCopyNs);
    group.mapCopyAwaitedNs = whole(l1Limit.mapCopyAwaitedNs);
    group.l1ToMapCopy = times(l1Limit.mapCopyNs / l1Limit.l1Ns);
    group.l1ToMapCopyAwaited = times(l1Limit.mapCopyAwaitedNs / l1Limit.l1Ns);
  }
  const memory = run.memory.find((m) => m.runtime === runtime);
  if (memory !== undefined) {
    group.heapRatioL1 = times(memory.l1HeapAfter / memory.l1HeapBefore);
    group.heapRatioGets = times(memory.getsHeapAfter / memory.getsHeapBefore);
    group.getManyPeakRssMiB = memory.peakRssMiB.toFixed(1);
    group.getManyRssRiseMiB = (memory.peakRssMiB - memory.rssBeforeMiB)
      .toFixed(1);
  }
  for (const r of run.scale.filter((r) => r.runtime === runtime)) {
    group[`scaleOps${r.processes}`] = whole(r.opsPerSec);
    group[`scaleServerCpu${r.processes}`] = whole(r.serverCpu * 100);
  }
  const rows = targets(run).filter((row) => row.runtime === runtime);
  group.targetsMet = rows.filter((row) => row.met).length;
  group.targets = rows.length;

  for (const op of ["get", "store"] as const) {
    const name = op === "get" ? "Get" : "Store";
    const cache = cpuOf(run.cpu, runtime, op, "cache (no history)");
    const rawCpu = cpuOf(run.cpu, runtime, op, raw);
    put(group, `cpu${name}CacheUs`, cache?.usPerCall, micros);
    put(group, `cpu${name}RawUs`, rawCpu?.usPerCall, micros);
    if (cache && rawCpu) {
      group[`cpu${name}AddedUs`] = micros(addedCpu(cache, rawCpu));
    }
  }

  // Bun's own client against node-redis on Bun: why the cache opens it.
  if (runtime === "bun") {
    for (const { suffix, get } of SHAPES) {
      put(
        group,
        `rawToNodeRedisGet${suffix}`,
        ratio(results, runtime, get, raw, "node-redis"),
        times,
      );
    }
  }
  return group;
}

/** The figures of `run` that the README quotes, by group and field. */
export function compareFigures(run: Run): Record<string, FigureGroup> {
  const { machine, results } = run;
  const redis: FigureGroup = {};
  for (const test of ["get", "set"]) {
    for (
      const [mode, suffix] of [["-c 1", "C1"], ["-c 50", "C50"], [
        "-P 100",
        "P100",
      ]] as const
    ) {
      put(
        redis,
        `${test}${suffix}`,
        ceiling(results, test, mode)?.opsPerSec,
        whole,
      );
    }
  }
  const script = ceiling(results, "store script", "-c 1")?.opsPerSec;
  const set = ceiling(results, "set", "-c 1")?.opsPerSec;
  put(redis, "storeScriptC1", script, whole);
  put(
    redis,
    "storeScriptC100",
    ceiling(results, "store script", "-c 100")?.opsPerSec,
    whole,
  );
  put(
    redis,
    "storeScriptC1P100",
    ceiling(results, "store script", "-c 1 -P 100")?.opsPerSec,
    whole,
  );
  put(redis, "storeScriptToSetC1", script && set && script / set, times);
  const server = run.server[0];
  if (server !== undefined) {
    redis.batch = server.batch;
    redis.mgetUs = micros(server.mgetUs);
    redis.existsUs = micros(server.existsUs);
    redis.getPairUs = micros(server.mgetUs + server.existsUs);
    redis.getEachScriptUs = micros(server.getEachScriptUs);
    redis.storeScriptUs = micros(server.storeScriptUs);
    redis.msetUs = micros(server.msetUs);
  }
  const figures: Record<string, FigureGroup> = {
    run: {
      date: machine.date,
      cores: machine.cores,
      setup: machine.pinned
        ? "redis-server and clients pinned to separate cores"
        : "redis-server and clients not pinned",
      caseSeconds: String(machine.durationMs / 1000),
      slices: machine.slices,
      valueBytes: machine.valueBytes,
      cpuRounds: machine.cpuRounds,
      cpuCalls: machine.cpuCalls,
      minutes: (machine.runSeconds / 60).toFixed(1),
      ...(machine.l1Calls === undefined ? {} : {
        l1Calls: machine.l1Calls,
        l1Rounds: machine.l1Rounds!,
      }),
      ...(machine.memoryCalls === undefined ? {} : {
        memoryCalls: machine.memoryCalls,
        memoryManyKeys: machine.memoryManyKeys!,
        memoryManyBytes: machine.memoryManyBytes!,
      }),
      ...(machine.scaleMs === undefined
        ? {}
        : { scaleSeconds: String(machine.scaleMs / 1000) }),
      ...(server ? { serverBursts: server.bursts } : {}),
    },
    redis,
  };
  for (const runtime of RUNTIMES) {
    figures[runtime] = runtimeFigures(run, runtime);
  }
  return figures;
}
