// What bounds each target of `_targets.ts` where a run misses it: a short
// text, written from the profiles, that bench/results.md prints beside the
// missed target. A string holds on every runtime; an object says it per
// runtime. No figure is typed here: a text that needs one is a function of
// the run, and quotes the run's own.

import { ceiling, find, over, RAW, type Run } from "./_run.ts";
import type { TargetId } from "./_targets.ts";

/** One explanation: words, or words made from the run's own figures. */
export type BoundText = string | ((run: Run, runtime: string) => string);

/** The explanation of a missed target: for all runtimes, or per runtime. */
export type Bound = BoundText | {
  deno?: BoundText;
  bun?: BoundText;
  node?: BoundText;
};

// Figures of the run that the texts quote, as the report prints ratios.
const fixed = (n: number | undefined) => n === undefined ? "—" : n.toFixed(2);

function opsOf(
  run: Run,
  subject: string,
  runtime: string,
  name: string,
): number | undefined {
  return find(run.results, subject, runtime, name)?.opsPerSec;
}

// What a floor's reach says of a goal: out of reach, or only just within it.
function verdictOn(reach: number | undefined, goal: number, what: string) {
  if (reach === undefined) return "";
  return reach < goal
    ? ", under the goal itself"
    : `, so the cache would have to add next to nothing to ${what} to meet it`;
}

// Coalesced gets: the floor is the raw client batched by hand, measured in
// the same shape; what it reaches is all any batching of gets can reach.
function coalescedGets(shape: string, why: string): BoundText {
  return (run, runtime) => {
    const name = `get, ${shape}`;
    const raw = opsOf(run, RAW[runtime], runtime, name);
    const floor = opsOf(run, "raw client, batched by hand", runtime, name);
    const cache = opsOf(run, "cache (no history)", runtime, name);
    const reach = over(floor, raw);
    const verdict = verdictOn(reach, 1.5, "a batched get");
    return `the raw client batched by hand, the gets of a tick sent as one MGET and nothing else (no key check, deadline, stats or error per key, nor the EXISTS the cache adds while its batches miss keys), reached ${
      fixed(reach)
    } of ${
      RAW[runtime]
    } in this shape: that is the most batching gets can gain through this client${verdict}. The cache reached ${
      fixed(over(cache, floor))
    } of that floor. ${why}`;
  };
}

const DENO_GETS =
  "On Deno, node-redis's work per reply value is most of what a GET costs it, so one MGET of 100 keys still costs the client a large part of 100 GETs.";
const BUN_GETS =
  "Bun's client already sends the GETs of a tick together, and its cost per key is close to that of MGET, whose text replies must then be encoded back to bytes (Bun's only binary-safe read is getBuffer).";

// What the cache adds per call, one at a time, and how much the raw
// client's own rounds vary in the same run.
function cpuAdded(op: "get" | "store", adds: string): BoundText {
  return (run, runtime) => {
    const rounds =
      run.cpu.find((c) =>
        c.runtime === runtime && c.op === op && c.subject === RAW[runtime]
      )?.rounds ?? [];
    const spread = rounds.length === 0
      ? undefined
      : Math.max(...rounds) - Math.min(...rounds);
    return `the raw client's own rounds spread over ${
      spread === undefined ? "—" : spread.toFixed(1)
    } µs in this run, so a difference this close to the goal is within the machine's noise between rounds. Per ${op} the cache adds, beyond its client's own work: ${adds} Sampled on Node with \`perf record -e cpu-clock\` over the measured calls only (kernel, V8 and JIT frames), the difference is spread over those layers, each a few per cent of the call: the cache's get or store, the lone call's path through the coalescer and the runner, the deadline entry, the latency sample, and the promise reactions they add. (Options passed with each command, which cost node-redis object spreads and megamorphic property loads on every call, are no longer sent: the cache uses a view of the client per reply type.)`;
  };
}

// One at a time, the client's own time per round trip adds to the
// script's: the raw client sending the same script, measured beside the
// cache, is what a store through it costs before the cache does anything.
const STORE_ONE: BoundText = (run, runtime) => {
  const script = ceiling(run.results, "store script", "-c 1")?.opsPerSec;
  const byHand = opsOf(run, "raw client, store script", runtime, name1);
  const cache = opsOf(run, "cache", runtime, name1);
  if (byHand === undefined) return storeOneEstimate(run, runtime);
  const reach = over(byHand, script);
  const verdict = verdictOn(reach, 0.9, "it");
  return `one at a time a store is a round trip through the runtime and its client: ${
    RAW[runtime]
  } itself, sending the same script a call (EVALSHA, the same keys and arguments, nothing else), reached ${
    fixed(reach)
  } of redis-benchmark's script in this run${verdict}. The cache reached ${
    fixed(over(cache, script))
  }, ${fixed(over(cache, byHand))} of that floor.`;
};

const name1 = "set, 1 in flight";

// The bound without the raw client's own script figure (a run from before
// it was measured): an estimate from figures of other moments of the run.
function storeOneEstimate(run: Run, runtime: string): string {
  const micros = (ops: number | undefined) =>
    ops === undefined ? undefined : 1e6 / ops;
  const rawSet = micros(opsOf(run, RAW[runtime], runtime, "set, 1 in flight"));
  const benchSet = micros(ceiling(run.results, "set", "-c 1")?.opsPerSec);
  const script = micros(
    ceiling(run.results, "store script", "-c 1")?.opsPerSec,
  );
  const cache = fixed(over(
    opsOf(run, "cache", runtime, "set, 1 in flight"),
    script === undefined ? undefined : 1e6 / script,
  ));
  if (rawSet === undefined || benchSet === undefined || script === undefined) {
    return `one at a time a store is a round trip through the runtime and its client; the cache reached ${cache}.`;
  }
  const extra = rawSet - benchSet;
  if (extra <= 0) {
    return `one at a time a store is a round trip through the runtime and its client, but ${
      RAW[runtime]
    }'s own SET was no slower than redis-benchmark's in this run, so the client explains none of the gap; the cache reached ${cache}.`;
  }
  return `one at a time a store is a round trip, and the client's own part of it adds to the script's: ${
    RAW[runtime]
  } itself, with a plain SET one at a time, took ${
    extra.toFixed(1)
  } µs a call longer than redis-benchmark's SET with \`-c 1\` in this run; added to the script's own round trip in redis-benchmark (${
    script.toFixed(1)
  } µs), that estimates a store of the script through this client at about ${
    fixed(script / (script + extra))
  } of the script's ceiling before the cache does anything; the cache reached ${cache}.`;
}

const L1_HIT: BoundText = (run, runtime) => {
  const l1 = run.l1Limit.find((r) => r.runtime === runtime);
  return `\`get\` returns a promise, and awaiting one is the least such a call costs: the same \`Map.get\` and \`slice()\` behind an \`await\` reached ${
    fixed(l1 && l1.mapCopyNs / l1.mapCopyAwaitedNs)
  } of the bare copy in this run, before any check of the key or count of the hit, and against that awaited copy the L1 hit reached ${
    fixed(l1 && l1.mapCopyAwaitedNs / l1.l1Ns)
  }. (On Deno a bare \`slice()\` allocates an ArrayBuffer, which the L1's shared slab does not, so there it is ahead.)`;
};

/** By target id; the report says "not explained yet" where one is missing. */
export const BOUNDS: Record<TargetId, Bound> = {
  "get-lanes": {
    deno: coalescedGets("100 lanes", DENO_GETS),
    bun: coalescedGets("100 lanes", BUN_GETS),
    node: coalescedGets("100 lanes", ""),
  },
  "get-bursts": {
    deno: coalescedGets("bursts of 100", DENO_GETS),
    bun: coalescedGets("bursts of 100", BUN_GETS),
    node: coalescedGets("bursts of 100", ""),
  },
  "cpu-get": cpuAdded(
    "get",
    "the key check, one promise for the tick's batch and its microtask, one deadline entry and latency sample, and the hit count; on Bun also a copy of each small reply, since Bun's getBuffer hands out a Buffer (whose slice shares memory), not the Uint8Array the cache promises.",
  ),
  "cpu-store": cpuAdded(
    "store",
    "the value check, one promise for the tick's batch and its microtask, one deadline entry and latency sample, and the store count (the new key's UUID is made by the raw subject too).",
  ),
  "store-script-1": STORE_ONE,
  "store-script-lanes":
    "not expected to be missed: 100 lanes of stores share one script a tick, where `-c 100` runs one script per store.",
  "store-script-bursts":
    "not expected to be missed: a burst of stores is one script, where `-c 1 -P 100` runs one script per store.",
  "get-many":
    "the run's getMany is one MGET of 1 000 keys (10 on Bun, which re-reads with getBuffer what its text cannot hold exactly).",
  "l1-hit": L1_HIT,
  "memory-l1":
    "not expected to be missed: a hit's copy is carved from a slab that the next slab replaces.",
  "memory-gets":
    "not expected to be missed: the deadline queue drops settled waiters as it goes.",
};

/** The explanation of `id` on `runtime` in `run`, if one is written. */
export function boundOf(
  id: TargetId,
  runtime: string,
  run: Run,
): string | undefined {
  const bound = BOUNDS[id];
  const text = typeof bound === "object"
    ? bound[runtime as keyof typeof bound]
    : bound;
  return typeof text === "function" ? text(run, runtime) : text;
}
