// What the modules beside `Cache` (keyv.ts, web.ts, replay.ts, and the
// decorators) use of a connected cache, kept out of its public surface:
// `Cache.connect` attaches each cache's engine here, and only modules of
// this package look it up.

import type { HistoryWrites } from "../_history/writes.ts";
import type { RedisArgument } from "../redis_client.ts";
import type { Telemetry } from "./telemetry.ts";

/** The parts of a connected cache's engine that sibling modules may use. */
export interface EngineHandle {
  /** Sends one command within the cache's timeout; bulk strings come back as text. */
  send(args: readonly RedisArgument[]): Promise<unknown>;
  /** `GET` of a key as given (no prefix added), binary-safe, within the timeout. */
  getBytes(key: string): Promise<Uint8Array | null>;
  /** Batches of full keys matching a glob `pattern` (SCAN on every primary). */
  scan(pattern: string): AsyncGenerator<string[]>;
  /** The call history's counter and list writes, merged per tick. */
  readonly historyWrites: HistoryWrites;
  /** Whether `countCalls` and `callHistory` record anything for this cache. */
  readonly history: boolean;
  /** The cache's OpenTelemetry instruments, when telemetry is on. */
  readonly telemetry?: Telemetry;
  /** `namespace:`, or `""` without a namespace. */
  readonly prefix: string;
}

const engines = new WeakMap<object, EngineHandle>();

// Whether any cache of this process has telemetry: until one does, the
// traced methods skip looking their cache up, a WeakMap lookup per call.
let telemetryAttached = false;

/** Records the engine of a newly connected cache. */
export function attachEngine(cache: object, engine: EngineHandle): void {
  engines.set(cache, engine);
  if (engine.telemetry !== undefined) telemetryAttached = true;
}

/** The telemetry of `cache`, if it is a connected `Cache` that has it. */
export function telemetryOf(cache: object): Telemetry | undefined {
  return telemetryAttached ? engines.get(cache)?.telemetry : undefined;
}

/** The engine of `cache`, or a `TypeError` if it is not a connected `Cache`. */
export function engineOf(cache: object): EngineHandle {
  const engine = engines.get(cache);
  if (engine === undefined) {
    throw new TypeError("expected a Cache made by Cache.connect()");
  }
  return engine;
}
