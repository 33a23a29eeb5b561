// Latency percentiles since start or reset, in constant memory: durations go
// into logarithmic buckets 5% wide, from 1 µs to over an hour, so p50 and p99
// are exact to within 5% however many operations ran.

const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);
const SMALLEST = 0.001; // ms
const BUCKETS = 512;

/** Counts durations in log buckets and reads percentiles from them. */
export class LatencyHistogram {
  #counts = new Float64Array(BUCKETS);
  #total = 0;

  /** Records one duration in ms. */
  record(ms: number): void {
    const bucket = ms <= SMALLEST
      ? 0
      : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / SMALLEST) / LOG_GROWTH));
    this.#counts[bucket]++;
    this.#total++;
  }

  /** The duration in ms below which `fraction` of the recorded ones fall; 0 when empty. */
  percentile(fraction: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.ceil(fraction * this.#total);
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.#counts[bucket];
      if (seen >= rank) return SMALLEST * GROWTH ** bucket;
    }
    return SMALLEST * GROWTH ** (BUCKETS - 1);
  }

  /** Forgets everything recorded. */
  reset(): void {
    this.#counts.fill(0);
    this.#total = 0;
  }
}
