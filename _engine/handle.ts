// What the decorators and helpers beside `Cache` need from a cache instance,
// kept out of its public surface: `Cache.connect` registers each instance
// here, and only modules of this package look it up.

import type { HistoryWrites } from "../_history/writes.ts";
import type { Telemetry } from "./telemetry.ts";
import type { RedisArgument } from "../redis_client.ts";

/** The parts of a connected cache that sibling modules may use. */
export interface CacheInternals {
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

const registry = new WeakMap<object, CacheInternals>();

/** Records the internals of a newly connected cache. */
export function registerCache(cache: object, internals: CacheInternals): void {
  registry.set(cache, internals);
}

/** The internals of `cache`, if it is a connected `Cache`. */
export function findInternals(cache: object): CacheInternals | undefined {
  return registry.get(cache);
}

/** The internals of `cache`, or a `TypeError` if it is not a connected `Cache`. */
export function internalsOf(cache: object): CacheInternals {
  const internals = registry.get(cache);
  if (internals === undefined) {
    throw new TypeError("expected a Cache made by Cache.connect()");
  }
  return internals;
}
