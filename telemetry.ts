/**
 * Opt-in OpenTelemetry for {@linkcode Cache}: a span per cache operation and
 * the database client metrics, following the OpenTelemetry semantic
 * conventions for database calls. Nothing is recorded, and
 * `@opentelemetry/api` is not imported, unless `telemetry` is given to
 * `Cache.connect`.
 *
 * @example Pass your tracer and meter
 * ```ts ignore
 * import { trace, metrics } from "@opentelemetry/api";
 * import { Cache } from "@redis-basic/cache";
 *
 * await using cache = await Cache.connect({
 *   telemetry: { tracer: trace.getTracer("app"), meter: metrics.getMeter("app") },
 * });
 * ```
 *
 * @module
 */

/** The part of an OpenTelemetry `Span` the cache uses. */
export interface SpanLike {
  /** Sets one attribute. */
  setAttribute(key: string, value: string | number | boolean): unknown;
  /** Marks the span as failed (code 2 is ERROR). */
  setStatus(status: { code: number; message?: string }): unknown;
  /** Records the error as an event. */
  recordException(exception: Error): unknown;
  /** Ends the span. */
  end(): void;
}

/** The part of an OpenTelemetry `Tracer` the cache uses. */
export interface TracerLike {
  /** Starts a span of kind CLIENT (2) with its first attributes. */
  startSpan(
    name: string,
    options: { kind: number; attributes: Record<string, string | number> },
  ): SpanLike;
}

/** The part of an OpenTelemetry `Meter` the cache uses. */
export interface MeterLike {
  /** Creates the operation duration histogram. */
  createHistogram(
    name: string,
    options: { description: string; unit: string },
  ): { record(value: number, attributes: Record<string, string>): void };
  /** Creates the hit, miss and error counters. */
  createCounter(
    name: string,
    options: { description: string },
  ): { add(value: number, attributes: Record<string, string>): void };
}

/**
 * What `Cache.connect({ telemetry })` takes: `true` to use the global
 * tracer and meter of `@opentelemetry/api` (imported only then), or your
 * own tracer and meter.
 */
export type TelemetryOption = boolean | {
  tracer?: TracerLike;
  meter?: MeterLike;
};
