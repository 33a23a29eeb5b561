// The counters and latency behind `Cache.stats()`, since connecting or the
// last `resetStats()`. The fields are plain numbers that the read and write
// paths add to directly: a method call per hit would cost more than the sum.

import type { L1 } from "../_l1/l1.ts";
import type { CacheStats, ReadThroughStats } from "../cache_options.ts";
import type { Breaker } from "./breaker.ts";
import { LatencyHistogram } from "./latency.ts";

/** One cache's counters. */
export class Stats {
  hits = 0;
  misses = 0;
  stores = 0;
  errors = 0;
  /** The time of each call to Redis, in ms. */
  readonly latency = new LatencyHistogram();
  readonly readThrough: ReadThroughStats = emptyReadThrough();
  /** Hears each read-through event too (telemetry's counter), when set. */
  onEvent: ((event: keyof ReadThroughStats) => void) | undefined;
  /** The circuit breaker, when it is on. */
  breaker: Breaker | undefined;

  /** Counts one read-through event (rare: stale, refresh, negative, timeout). */
  note(event: keyof ReadThroughStats): void {
    this.readThrough[event]++;
    this.onEvent?.(event);
  }

  /** A snapshot, with the in-process layer's own counters when it is on. */
  snapshot(l1: L1 | undefined): CacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      stores: this.stores,
      errors: this.errors,
      latency: {
        p50: this.latency.percentile(0.5),
        p99: this.latency.percentile(0.99),
      },
      ...(l1 === undefined ? {} : { l1: l1.stats() }),
      readThrough: { ...this.readThrough },
      ...(this.breaker === undefined
        ? {}
        : { breaker: this.breaker.snapshot() }),
    };
  }

  /** Sets every counter back to zero, the in-process layer's too. */
  reset(l1: L1 | undefined): void {
    this.hits =
      this.misses =
      this.stores =
      this.errors =
        0;
    this.latency.reset();
    Object.assign(this.readThrough, emptyReadThrough());
    if (this.breaker !== undefined) {
      this.breaker.opened = this.breaker.closed = 0;
    }
    l1?.resetStats();
  }
}

function emptyReadThrough(): ReadThroughStats {
  return {
    staleServed: 0,
    refreshesStarted: 0,
    refreshesFailed: 0,
    negativeHits: 0,
    loaderTimeouts: 0,
  };
}
