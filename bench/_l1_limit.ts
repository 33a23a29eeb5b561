// What an L1 hit is measured against: the physical limit of an in-process
// hit, a `Map.get` and a copy of the bytes it finds (the L1 must hand out a
// copy, or a caller could change what the next hit returns). The L1 and the
// limit take turns in one process, so that the machine's drift lands on a
// round of either, not on all of one.

/** ns per call of the L1 and of its limit, medians over rounds taken in turn. */
export interface L1Limit {
  /** `await cache.get(key)` answered by the L1, one after another. */
  l1Ns: number;
  /** `map.get(key).slice()` one after another: the limit. */
  mapCopyNs: number;
  /**
   * `await` of the same `map.get(key).slice()`: the limit of any API that
   * returns a promise, as `get` does.
   */
  mapCopyAwaitedNs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Runs `hit` (an L1 hit of `key`, whose value is `bytes`) and the bare
 * limit over the same key and bytes for `rounds` rounds of `calls` calls
 * each, in turn, the order flipping every round. Each result is kept in a
 * ring, so that no loop can be optimised away.
 */
export async function measureL1Limit(
  hit: () => Promise<unknown>,
  key: string,
  bytes: Uint8Array,
  rounds: number,
  calls: number,
): Promise<L1Limit> {
  const map = new Map<string, Uint8Array>([[key, bytes]]);
  const ring: unknown[] = new Array(1024);
  const copy = () => map.get(key)!.slice();
  const loops: [name: keyof L1Limit, loop: () => Promise<void> | void][] = [
    ["l1Ns", async () => {
      for (let i = 0; i < calls; i++) ring[i & 1023] = await hit();
    }],
    ["mapCopyNs", () => {
      for (let i = 0; i < calls; i++) ring[i & 1023] = copy();
    }],
    ["mapCopyAwaitedNs", async () => {
      for (let i = 0; i < calls; i++) ring[i & 1023] = await copy();
    }],
  ];
  const perRound: Record<keyof L1Limit, number[]> = {
    l1Ns: [],
    mapCopyNs: [],
    mapCopyAwaitedNs: [],
  };
  for (let round = -1; round < rounds; round++) {
    const order = round % 2 === 0 ? loops : [...loops].reverse();
    for (const [name, loop] of order) {
      const started = performance.now();
      await loop();
      // Round -1 warms every loop up and is not kept.
      if (round >= 0) {
        perRound[name].push((performance.now() - started) * 1e6 / calls);
      }
    }
  }
  return {
    l1Ns: median(perRound.l1Ns),
    mapCopyNs: median(perRound.mapCopyNs),
    mapCopyAwaitedNs: median(perRound.mapCopyAwaitedNs),
  };
}
