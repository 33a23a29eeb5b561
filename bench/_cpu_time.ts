// Client CPU time per call, one call at a time. Wall time one at a time is
// mostly the round trip, and this machine's speed drifts by more than the
// few microseconds a layer adds; the process's own CPU time (user + system,
// all its threads, from `process.cpuUsage`) is what the layer costs, and
// waiting for a reply costs none of it.

import process from "node:process";

/** One of the calls compared, and what one call of it does. */
export interface TimedCall {
  name: string;
  run: () => Promise<unknown>;
}

/** Client CPU µs per call of each `calls` entry, by name. */
export interface CpuTime {
  /** The median over the rounds. */
  usPerCall: Record<string, number>;
  /** Each round's figure, in the order they ran. */
  rounds: Record<string, number[]>;
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Runs each of `calls` `callsPerRound` times one after another, taking turns
 * for `rounds` rounds (the order flipping every round, so neither always
 * runs first), and returns the median CPU time per call of each: a moment
 * of noise lands on one round of one of them, not on all of one.
 */
export async function cpuTimePerCall(
  calls: TimedCall[],
  rounds: number,
  callsPerRound: number,
): Promise<CpuTime> {
  const perRound: Record<string, number[]> = {};
  for (const { name } of calls) perRound[name] = [];
  const warmUp = Math.max(10, Math.floor(callsPerRound / 10));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? calls : [...calls].reverse();
    for (const { name, run } of order) {
      for (let i = 0; i < warmUp; i++) await run();
      const before = cpuMicros();
      for (let i = 0; i < callsPerRound; i++) await run();
      perRound[name].push((cpuMicros() - before) / callsPerRound);
    }
  }
  const usPerCall: Record<string, number> = {};
  for (const { name } of calls) usPerCall[name] = median(perRound[name]);
  return { usPerCall, rounds: perRound };
}

/**
 * CPU ns to allocate one `Uint8Array` of `size` bytes (its own
 * `ArrayBuffer`), the median of `rounds` rounds of `count`: what an L1 hit
 * would pay per copy without its shared slab. The arrays are kept in a ring
 * so that none can be optimised away.
 */
export function allocationNs(
  size: number,
  count: number,
  rounds: number,
): number {
  const ring: Uint8Array[] = new Array(1024);
  const perRound: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const before = cpuMicros();
    for (let i = 0; i < count; i++) ring[i & 1023] = new Uint8Array(size);
    perRound.push(((cpuMicros() - before) * 1000) / count);
  }
  return median(perRound);
}
