// Records cache operations as OpenTelemetry spans and metrics, following the
// semantic conventions for database client calls (db.system.name,
// db.operation.name, server.address, db.client.operation.duration in s).

import type { MeterLike, TelemetryOption, TracerLike } from "../telemetry.ts";

const SPAN_KIND_CLIENT = 2;
const STATUS_ERROR = 2;
const NAME = "@redis-basic/cache";

/** Where the cache is connected, for the attributes of every span. */
export interface Server {
  address?: string;
  port?: number;
  database?: number;
}

/** One cache's instruments. */
export class Telemetry {
  readonly #tracer: TracerLike | undefined;
  readonly #duration: ReturnType<MeterLike["createHistogram"]> | undefined;
  readonly #hits: ReturnType<MeterLike["createCounter"]> | undefined;
  readonly #misses: ReturnType<MeterLike["createCounter"]> | undefined;
  readonly #errors: ReturnType<MeterLike["createCounter"]> | undefined;
  readonly #events: ReturnType<MeterLike["createCounter"]> | undefined;
  readonly #attributes: Record<string, string | number>;

  constructor(
    tracer: TracerLike | undefined,
    meter: MeterLike | undefined,
    server: Server,
  ) {
    this.#tracer = tracer;
    this.#duration = meter?.createHistogram("db.client.operation.duration", {
      description: "Duration of cache operations on Redis",
      unit: "s",
    });
    this.#hits = meter?.createCounter("cache.hits", {
      description: "Keys found",
    });
    this.#misses = meter?.createCounter("cache.misses", {
      description: "Keys not found",
    });
    this.#errors = meter?.createCounter("cache.errors", {
      description: "Operations that failed",
    });
    this.#events = meter?.createCounter("cache.read_through.events", {
      description:
        "Read-through events: stale served, refreshes started and failed, negative hits, loader timeouts, breaker opened and closed",
    });
    this.#attributes = { "db.system.name": "redis" };
    if (server.address !== undefined) {
      this.#attributes["server.address"] = server.address;
    }
    if (server.port !== undefined) {
      this.#attributes["server.port"] = server.port;
    }
    if (server.database !== undefined) {
      this.#attributes["db.namespace"] = String(server.database);
    }
  }

  /** Counts one read-through or breaker event, named as in `stats()`. */
  event(name: string): void {
    // A meter must not change what a call sees: events are counted in the
    // middle of settling one (a breaker opening, a stale value served).
    try {
      this.#events?.add(1, { "db.system.name": "redis", "cache.event": name });
    } catch {
      // Lost, as a failed export would be.
    }
  }

  /**
   * Runs one operation inside a span; `found` counts the keys found in its
   * result, for reads.
   */
  async run<T>(
    operation: string,
    keyCount: number,
    call: () => Promise<T>,
    found?: (result: T) => number,
  ): Promise<T> {
    const span = this.#tracer?.startSpan(operation, {
      kind: SPAN_KIND_CLIENT,
      attributes: { ...this.#attributes, "db.operation.name": operation },
    });
    if (keyCount > 1) span?.setAttribute("db.operation.batch.size", keyCount);
    const started = performance.now();
    const metricAttributes = {
      "db.system.name": "redis",
      "db.operation.name": operation,
    };
    try {
      const result = await call();
      if (found !== undefined) {
        const hits = found(result);
        const misses = keyCount - hits;
        if (keyCount === 1) span?.setAttribute("cache.hit", hits === 1);
        span?.setAttribute("cache.hits", hits);
        span?.setAttribute("cache.misses", misses);
        if (hits > 0) this.#hits?.add(hits, metricAttributes);
        if (misses > 0) this.#misses?.add(misses, metricAttributes);
      }
      return result;
    } catch (error) {
      const type = error instanceof Error ? error.name : "Error";
      span?.setAttribute("error.type", type);
      span?.setStatus({
        code: STATUS_ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      if (error instanceof Error) span?.recordException(error);
      this.#errors?.add(1, { ...metricAttributes, "error.type": type });
      throw error;
    } finally {
      this.#duration?.record(
        (performance.now() - started) / 1000,
        metricAttributes,
      );
      span?.end();
    }
  }
}

/**
 * The instruments for `option`: none when it is off; the global ones of
 * `@opentelemetry/api` (imported only now) for `true`; else the given ones.
 */
export async function openTelemetry(
  option: TelemetryOption | undefined,
  server: Server,
): Promise<Telemetry | undefined> {
  if (option === undefined || option === false) return undefined;
  if (option === true) {
    const { trace, metrics } = await import("@opentelemetry/api");
    return new Telemetry(
      trace.getTracer(NAME) as unknown as TracerLike,
      metrics.getMeter(NAME) as unknown as MeterLike,
      server,
    );
  }
  if (typeof option !== "object" || option === null) {
    throw new TypeError("telemetry must be true, false or { tracer, meter }");
  }
  return new Telemetry(option.tracer, option.meter, server);
}
