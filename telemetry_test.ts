// OpenTelemetry, recorded with the SDK's in-memory exporters: spans and
// metrics for a hit, a miss, a batch and a failure, and nothing when off;
// a child process shows that @opentelemetry/api is not even imported then.

import { test } from "node:test";
import assert from "node:assert/strict";
import { metrics, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import {
  MeterProvider,
  type MetricData,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import { Cache, type MeterLike, type TracerLike } from "./mod.ts";
import { fileURLToPath } from "node:url";
import { runChild, testdataCommand } from "./_testing/child.ts";
import { putToSleep, redisForThisFile } from "./_testing/redis_server.ts";
import { runtime } from "./_testing/runtime.ts";
import { settlesWithin, waitFor } from "./_testing/wait.ts";

// DEBUG SLEEP makes a slow server for the breaker test.
const { server, raw } = await redisForThisFile({
  args: ["--enable-debug-command", "yes"],
});

class CollectingReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function instruments() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    tracer: tracerProvider.getTracer("test") as unknown as TracerLike,
    meter: meterProvider.getMeter("test") as unknown as MeterLike,
    spans: (): ReadableSpan[] => exporter.getFinishedSpans(),
    async metric(name: string): Promise<MetricData | undefined> {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)
        .find((metric) => metric.descriptor.name === name);
    },
  };
}

/** Runs `body` with `otel`'s providers as the global ones of @opentelemetry/api. */
async function asGlobal(
  otel: ReturnType<typeof instruments>,
  body: () => Promise<void>,
): Promise<void> {
  trace.setGlobalTracerProvider(otel.tracerProvider);
  metrics.setGlobalMeterProvider(otel.meterProvider);
  try {
    await body();
  } finally {
    trace.disable();
    metrics.disable();
  }
}

function sum(metric: MetricData | undefined): number {
  return (metric?.dataPoints ?? []).reduce(
    (total, point) => total + (point.value as number),
    0,
  );
}

test("a hit and a miss: one span each, with the database attributes, and the counters", async () => {
  const otel = instruments();
  await using cache = await Cache.connect({
    url: server.url(),
    telemetry: { tracer: otel.tracer, meter: otel.meter },
  });
  const key = await cache.store("x");
  await cache.get(key);
  await cache.get("missing");
  const spans = otel.spans();
  assert.deepEqual(spans.map((span) => span.name), ["store", "get", "get"]);
  const [, hit, miss] = spans;
  assert.equal(hit.attributes["db.system.name"], "redis");
  assert.equal(hit.attributes["db.operation.name"], "get");
  assert.equal(hit.attributes["server.address"], "127.0.0.1");
  assert.equal(hit.attributes["server.port"], server.port);
  assert.equal(hit.attributes["cache.hit"], true);
  assert.equal(miss.attributes["cache.hit"], false);
  assert.equal(hit.kind, 2, "SpanKind.CLIENT");
  assert.equal(sum(await otel.metric("cache.hits")), 1);
  assert.equal(sum(await otel.metric("cache.misses")), 1);
  const duration = await otel.metric("db.client.operation.duration");
  assert.equal(duration?.descriptor.unit, "s");
  const counts = (duration?.dataPoints ?? []).map((point) =>
    (point.value as { count: number }).count
  );
  assert.equal(counts.reduce((a, b) => a + b, 0), 3);
});

test("a batch: one span with its size, hits and misses", async () => {
  const otel = instruments();
  await using cache = await Cache.connect({
    url: server.url(),
    flush: false,
    telemetry: { tracer: otel.tracer, meter: otel.meter },
  });
  const keys = await cache.storeMany(["a", "b"]);
  await cache.getMany([...keys, "missing"]);
  const batch = otel.spans().find((span) => span.name === "getMany")!;
  assert.equal(batch.attributes["db.operation.batch.size"], 3);
  assert.equal(batch.attributes["cache.hits"], 2);
  assert.equal(batch.attributes["cache.misses"], 1);
  assert.equal(
    otel.spans().find((span) => span.name === "storeMany")
      ?.attributes["db.operation.batch.size"],
    2,
  );
});

test("a failure: the span is an error with its type and the exception; cache.errors counts it", async () => {
  const otel = instruments();
  await using cache = await Cache.connect({
    url: server.url(),
    flush: false,
    telemetry: { tracer: otel.tracer, meter: otel.meter },
  });
  await raw.send("DEL", "a-list");
  await raw.send("RPUSH", "a-list", "x");
  await assert.rejects(cache.get("a-list"));
  const [span] = otel.spans();
  assert.equal(span.status.code, 2, "SpanStatusCode.ERROR");
  assert.equal(span.attributes["error.type"], "CommandError");
  assert.equal(span.events[0]?.name, "exception");
  assert.equal(sum(await otel.metric("cache.errors")), 1);
});

test(
  "read-through events: a stale value served and its refresh are counted in cache.read_through.events by name, as in stats()",
  {
    timeout: 20_000,
  },
  async () => {
    const otel = instruments();
    await using cache = await Cache.connect({
      url: server.url(),
      telemetry: { tracer: otel.tracer, meter: otel.meter },
    });
    const options = { ttl: 100, grace: 10_000 };
    await cache.getOrStore("evented", () => "v1", options);
    await waitFor(
      async () => Number(await raw.send("PTTL", "evented")) <= 10_000,
      10_000,
      "the value did not become stale",
    );
    await cache.getOrStore("evented", () => "v2", options);
    const byEvent = async () => {
      const metric = await otel.metric("cache.read_through.events");
      return Object.fromEntries(
        (metric?.dataPoints ?? []).map((point) => [
          point.attributes["cache.event"],
          point.value,
        ]),
      );
    };
    await waitFor(
      async () => (await byEvent()).refreshesStarted === 1,
      5_000,
      "no refreshesStarted event",
    );
    const events = await byEvent();
    assert.equal(events.staleServed, 1);
    const { readThrough } = cache.stats();
    assert.equal(readThrough.staleServed, 1);
    assert.equal(readThrough.refreshesStarted, 1);
  },
);

test("a meter that throws on the breaker's events changes nothing a call sees: the call that opens the breaker still times out, and later calls still settle", async () => {
  const failing = { add: () => {} };
  const meter: MeterLike = {
    createHistogram: () => ({ record: () => {} }),
    createCounter: (name) =>
      name === "cache.read_through.events"
        ? {
          add: () => {
            throw new Error("the meter is down");
          },
        }
        : failing,
  };
  await using cache = await Cache.connect({
    url: server.url(),
    flush: false,
    timeout: 100,
    breaker: { failures: 1, openFor: 200 },
    telemetry: { meter },
  });
  const key = await cache.store("x");
  const { awake } = await putToSleep(raw, server.port, 0.4);
  try {
    // Opens the breaker as it times out: the meter hears of it, and throws.
    await assert.rejects(
      settlesWithin(1_000, cache.get(key)),
      { name: "TimeoutError" },
    );
    await assert.rejects(
      settlesWithin(1_000, cache.get(key)),
      /circuit breaker is open/,
    );
  } finally {
    await awake;
  }
  // Once open for long enough, a call goes through and closes it: the meter
  // throws again, and the call still gets its value.
  await waitFor(
    async () => {
      try {
        return (await settlesWithin(1_000, cache.getStr(key))) === "x";
      } catch (error) {
        if (String(error).includes("not settled")) throw error;
        return false;
      }
    },
    5_000,
    "the breaker did not close",
  );
  assert.equal(cache.stats().breaker?.state, "closed");
});

test("telemetry: true uses the global tracer and meter of @opentelemetry/api", async () => {
  const otel = instruments();
  await asGlobal(otel, async () => {
    await using cache = await Cache.connect({
      url: server.url(),
      flush: false,
      telemetry: true,
    });
    await cache.get("global");
    assert.deepEqual(otel.spans().map((span) => span.name), ["get"]);
    assert.equal(sum(await otel.metric("cache.misses")), 1);
  });
});

test("off by default: nothing is recorded", async () => {
  const otel = instruments();
  await asGlobal(otel, async () => {
    await using cache = await Cache.connect({
      url: server.url(),
      flush: false,
    });
    await cache.get(await cache.store("quiet"));
    assert.deepEqual(otel.spans(), []);
    assert.equal(await otel.metric("cache.hits"), undefined);
  });
  await assert.rejects(
    Cache.connect({ url: server.url(), telemetry: "yes" as never }),
    TypeError,
  );
});

test(
  "without the option @opentelemetry/api is never imported: a process where importing it throws uses every entry and call",
  {
    timeout: 60_000,
  },
  async () => {
    const [command, args] = testdataCommand("without_telemetry");
    // Deno has no resolve hooks: an import map makes the package a module
    // that throws. The child installs its own tripwire on Node and Bun.
    const importMap = fileURLToPath(
      new URL("./testdata/without_telemetry.import_map.json", import.meta.url),
    );
    const childArgs = runtime === "deno"
      ? [args[0], `--import-map=${importMap}`, ...args.slice(1)]
      : args;
    const run = (mode: string) =>
      runChild(command, [...childArgs, server.url(), mode], 30_000);
    const plain = await run("plain");
    assert.equal(plain.code, 0, plain.output);
    assert.match(plain.output, /^ok 14$/m);
    // The tripwire is in place: the option does import the package.
    const traced = await run("telemetry");
    assert.equal(traced.code, 1, traced.output);
    assert.match(traced.output, /@opentelemetry\/api was imported/);
  },
);
