// One connected cache's engine: the settings, the runner every command goes
// through, and one object per concern (reads, writes, read-through, keys,
// replicas, stats, the Python history, the in-process layer), made once at
// connect. `Cache` is a facade over it; the modules beside `Cache` use it
// through the `EngineHandle` it implements.

import type { Driver } from "../_drivers/driver.ts";
import { openConnection } from "../_drivers/open.ts";
import { StoreHistory } from "../_history/store_history.ts";
import { HistoryWrites } from "../_history/writes.ts";
import { L1 } from "../_l1/l1.ts";
import type { CacheOptions } from "../cache_options.ts";
import type { RedisArgument } from "../redis_client.ts";
import { Breaker } from "./breaker.ts";
import { ManyReadThrough } from "./get_or_store_many.ts";
import type { EngineHandle } from "./handle.ts";
import { Keyspace } from "./keyspace.ts";
import { ReadThrough } from "./read_through.ts";
import { Refreshes } from "./refreshes.ts";
import { Reads } from "./reads.ts";
import { Replicas } from "./replicas.ts";
import { Runner } from "./runner.ts";
import { Settings } from "./settings.ts";
import { Stats } from "./stats.ts";
import { Tags } from "./tags.ts";
import { openTelemetry, type Telemetry } from "./telemetry.ts";
import { Writes } from "./writes.ts";

/** The state and the parts of one connected cache. */
export class Engine implements EngineHandle {
  readonly settings: Settings;
  readonly runner: Runner;
  readonly stats = new Stats();
  /** The in-process layer, when `l1` is on. */
  readonly l1: L1 | undefined;
  readonly reads: Reads;
  readonly writes: Writes;
  readonly readThrough: ReadThrough;
  readonly readThroughMany: ManyReadThrough;
  /** The background refreshes, which close() stops. */
  readonly refreshes = new Refreshes();
  readonly keyspace: Keyspace;
  readonly tags: Tags;
  readonly historyWrites: HistoryWrites;
  readonly history: boolean;
  readonly telemetry: Telemetry | undefined;
  readonly prefix: string;

  constructor(
    settings: Settings,
    driver: Driver,
    telemetry: Telemetry | undefined,
  ) {
    this.settings = settings;
    this.prefix = settings.prefix;
    this.history = settings.history;
    this.telemetry = telemetry;
    const stats = this.stats;
    if (telemetry !== undefined) {
      stats.onEvent = (event) => telemetry.event(event);
    }
    const breaker = settings.breaker === undefined
      ? undefined
      : new Breaker(settings.breaker, (change, error) => {
        telemetry?.event(
          change === "opened" ? "breakerOpened" : "breakerClosed",
        );
        this.runner.report(error, { command: "breaker", breaker: change });
      });
    stats.breaker = breaker;
    const runner = new Runner(settings, stats, driver, breaker);
    this.runner = runner;
    const l1 = settings.l1 === undefined
      ? undefined
      : new L1(settings.l1.maxEntries, settings.l1.maxBytes);
    this.l1 = l1;
    l1?.follow(driver);
    this.historyWrites = new HistoryWrites(
      (args) => this.send(args),
      settings.coalesce,
    );
    this.tags = new Tags(settings.prefix, runner, l1);
    this.reads = new Reads(settings, runner, this.stats, l1, this.tags);
    this.writes = new Writes(
      settings,
      runner,
      this.stats,
      new Replicas(settings),
      l1,
      new StoreHistory(this.historyWrites, settings.historyKeys),
      this.tags,
    );
    this.readThrough = new ReadThrough(
      settings,
      runner,
      stats,
      this.writes,
      l1,
      this.refreshes,
    );
    this.readThroughMany = new ManyReadThrough(
      settings,
      runner,
      stats,
      this.writes,
      this.refreshes,
    );
    this.keyspace = new Keyspace(settings, runner, l1, this.tags);
  }

  /** Sends one command within the cache's timeout; bulk strings come back as text. */
  send(args: readonly RedisArgument[]): Promise<unknown> {
    return this.runner.run(String(args[0]), (driver) => driver.send(args));
  }

  /** `GET` of a key as given (no prefix added), binary-safe, within the timeout. */
  getBytes(key: string): Promise<Uint8Array | null> {
    return this.runner.run("GET", (driver) => driver.getBytes(key));
  }

  /** Batches of full keys matching a glob `pattern`. */
  scan(pattern: string): AsyncGenerator<string[]> {
    return this.keyspace.scan(pattern, {});
  }

  /** Clears the cache when `flush` asks for it; closes the connection if that fails. */
  async flushIfAsked(): Promise<void> {
    if (!this.settings.flush) return;
    try {
      await this.keyspace.clear({});
    } catch (error) {
      await this.runner.driver?.close();
      throw error;
    }
  }

  /** Releases the connection, if the cache opened it; calls from now on fail. */
  async close(): Promise<void> {
    // Background loads are stopped first, while they can still unlock.
    await this.refreshes.close();
    const driver = this.runner.detach();
    this.l1?.invalidate(null);
    await driver?.close();
  }
}

/** Checks `options`, then connects: the engine of a new cache. */
export async function openEngine(options: CacheOptions): Promise<Engine> {
  const settings = new Settings(options);
  const telemetry = await openTelemetry(
    settings.telemetry,
    settings.connection.server,
  );
  const driver = await openConnection(
    settings.connection,
    settings.connectTimeout,
  );
  return new Engine(settings, driver, telemetry);
}
