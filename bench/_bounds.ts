// What bounds each target of `_targets.ts` where a run misses it: a short
// text, written from the profiles, that bench/results.md prints beside the
// missed target. A string holds on every runtime; an object says it per
// runtime. Words only: a figure belongs in the run, not here.

import type { TargetId } from "./_targets.ts";

/** The explanation of a missed target: for all runtimes, or per runtime. */
export type Bound = string | { deno?: string; bun?: string; node?: string };

/** By target id; the report says "not explained yet" where one is missing. */
export const BOUNDS: Record<TargetId, Bound> = {
  "get-lanes": "TODO (lead): what bounds `get` in 100 lanes, from a profile.",
  "get-bursts":
    "TODO (lead): what bounds `get` in bursts of 100, from a profile.",
  "cpu-get":
    "TODO (lead): where the client CPU of a `get` goes, from a profile.",
  "cpu-store":
    "TODO (lead): where the client CPU of a `store` goes, from a profile.",
  "store-script-1":
    "TODO (lead): what bounds a `store` with history one at a time.",
  "store-script-lanes":
    "TODO (lead): what bounds a `store` with history in 100 lanes.",
  "store-script-bursts":
    "TODO (lead): what bounds a `store` with history in bursts of 100.",
  "get-many": "TODO (lead): what bounds `getMany(1000)`, from a profile.",
  "l1-hit": "TODO (lead): what an L1 hit spends beyond a lookup and a copy.",
  "memory-l1": "TODO (lead): what the L1 hits leave on the heap.",
  "memory-gets": "TODO (lead): what the network gets leave on the heap.",
};

/** The explanation of `id` on `runtime`, if one is written. */
export function boundOf(id: TargetId, runtime: string): string | undefined {
  const bound = BOUNDS[id];
  return typeof bound === "string"
    ? bound
    : bound[runtime as keyof typeof bound];
}
