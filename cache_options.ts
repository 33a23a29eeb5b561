/**
 * The options and result types of {@linkcode Cache}: how to connect, what
 * each call accepts, and what `stats()` and `health()` report.
 *
 * @module
 */

import type { CacheError } from "./errors.ts";
import type { RedisClientLike, TlsOptions } from "./redis_client.ts";
import type { TelemetryOption } from "./telemetry.ts";

/** A value that {@linkcode Cache.store} accepts. */
export type Storable = string | Uint8Array | number | bigint;

/** Options for {@linkcode Cache.connect}. */
export interface CacheOptions {
  /**
   * The server: `redis://[[user][:password]@]host[:port][/db]`, or `rediss://`
   * for TLS. Ignored when `client` is given.
   *
   * @default {The `REDIS_URL` environment variable, else `"redis://127.0.0.1:6379"`}
   */
  url?: string;
  /**
   * A Redis Cluster to connect to instead of `url`: the cache then works
   * across hash slots (batches are split per slot, `clear` walks every
   * primary) and follows failovers.
   */
  cluster?: ClusterOptions;
  /**
   * A primary and replicas managed by Redis Sentinel, instead of `url`: the
   * cache asks the Sentinels where the primary is and follows failovers.
   */
  sentinel?: SentinelOptions;
  /**
   * A connected client to use instead of opening a connection: node-redis
   * (a client, cluster or sentinel),
   * ioredis, Bun's `RedisClient`, or any {@linkcode RedisCommandClient}. The
   * cache never closes a client it did not create.
   */
  client?: RedisClientLike;
  /**
   * Whether to clear the cache when connecting, as the original exercise's
   * constructor does with `FLUSHDB`. With a `namespace`, only that namespace
   * is cleared; the rest of the database is left alone.
   *
   * @default {true}
   */
  flush?: boolean;
  /**
   * A prefix that keeps this cache's keys apart: every key is written as
   * `namespace:key` in Redis, while `store` still returns the bare key and
   * `get` adds the prefix itself.
   */
  namespace?: string;
  /**
   * Bound on connecting, handshake and authentication included, in ms.
   *
   * @default {5000}
   */
  connectTimeout?: number;
  /**
   * Bound on each command, in ms; a command that runs past it rejects with a
   * {@linkcode TimeoutError}. Each call can set its own.
   *
   * @default {5000}
   */
  timeout?: number;
  /**
   * Default expiry of stored values, in ms; also what `touch: true`
   * resets a value's expiry to. Without it, values do not expire.
   */
  ttl?: number;
  /**
   * TLS settings: a private CA, a client certificate. TLS is on for
   * `rediss://` URLs, and for `redis://` ones when this is given.
   */
  tls?: TlsOptions;
  /**
   * An in-process layer in front of Redis: `get` and its variants answer
   * from process memory when they can, about 50x faster than a round trip.
   * Redis keeps it coherent (client-side caching, `CLIENT TRACKING`): when
   * any process changes, deletes or expires a key, Redis tells this
   * connection and the local copy is dropped; when the connection drops,
   * everything is. Each read returns its own copy, so a caller that changes
   * it changes nothing for anyone else (small copies are views into a
   * shared slab, as Node's `Buffer` pool hands out). Works with `url`,
   * `cluster` and `sentinel` (the cache then connects with node-redis on
   * every runtime), or with a node-redis client made with `RESP: 3,
   * emitInvalidate: true`.
   */
  l1?: L1Options;
  /**
   * After each write (`store`, `storeMany`, `storeJson`, the write of
   * `getOrStore`), wait until this many replicas have it (`WAIT`), so a
   * failover cannot lose it; a write that fewer replicas acknowledge within
   * half the command timeout rejects with a {@linkcode ReplicationError}
   * (the primary has it). Each store can choose for itself.
   *
   * @default {0}
   */
  waitReplicas?: number;
  /**
   * How many commands may wait while the connection is down; beyond that,
   * calls fail at once with a {@linkcode ConnectionError} instead of piling up.
   * Waiting commands are still bound by their timeout.
   *
   * @default {32}
   */
  offlineQueue?: number;
  /**
   * What reads (`get`, `getStr` …, `getMany`, `has`) do when Redis cannot be
   * reached or does not answer in time: `"throw"` the error, or treat it as a
   * `"miss"` (counted in `stats().errors` and reported to `onError`). Writes
   * always throw. Each read can choose for itself.
   *
   * @default {"throw"}
   */
  onUnavailable?: UnavailablePolicy;
  /**
   * Whether `store` (and methods you decorate with `countCalls` or
   * `callHistory`) keep the Python original's call count and history in
   * Redis. With it, one script writes a store's count, input, value and
   * output; without it, `store` is a plain `SET`.
   *
   * @default {true}
   */
  history?: boolean;
  /**
   * Whether calls made in the same tick share one command: `get` calls go
   * as one MGET with an EXISTS of the same keys, and each caller still gets
   * its own value or error (when EXISTS counts a key MGET read as missing,
   * a script reads each key, so a key holding a list still gives WRONGTYPE);
   * on Bun, whose client cannot read MGET replies as bytes, they are
   * pipelined. `store` calls go as one MSET (one script per expiry with a
   * `ttl`), or with the Python history as one script for the whole batch. A
   * call with its own `signal`, `timeout`, `touch` or `waitReplicas` goes
   * alone.
   *
   * @default {true}
   */
  coalesce?: boolean;
  /**
   * OpenTelemetry: `true` for the global tracer and meter of
   * `@opentelemetry/api` (which is then imported; install it), or your own
   * `{ tracer, meter }`. Off by default: nothing is recorded or imported.
   */
  telemetry?: TelemetryOption;
  /**
   * Called with every error that comes from Redis (connection, timeout,
   * server error, undecodable value), before the call rejects, so an
   * application can log Redis trouble in one place. An exception it throws
   * is ignored.
   */
  onError?: (error: CacheError, event: ErrorEvent) => void;
  /**
   * A circuit breaker, off by default: after `failures` Redis failures in a
   * row (connection lost, no answer in time) the cache stops sending for
   * `openFor` ms, so a dead or stalled server costs callers nothing but the
   * fallback. Meanwhile reads follow `onUnavailable`, writes fail with a
   * {@linkcode ConnectionError}, and `getOrStore` serves the L1 or calls the
   * loader and returns its value without caching it. Then one probe goes
   * through; when it succeeds the breaker closes. `stats().breaker` and
   * `health()` report its state; `onError` hears when it opens and closes.
   */
  breaker?: BreakerOptions;
  /**
   * Cache-wide defaults of the read-through options (`grace`,
   * `graceRefresh`, `graceBackoff`, `loaderTimeout`, `refreshAhead`,
   * `jitter`, `negativeTtl`, `lockTimeout`); each call can set its own. See
   * {@linkcode GetOrStoreOptions}.
   */
  readThrough?: ReadThroughDefaults;
}

/** See {@linkcode CacheOptions.breaker}. */
export interface BreakerOptions {
  /** Consecutive Redis failures that open the breaker: a whole number, 1 or more. */
  failures: number;
  /** How long it stays open before one probe may go through, in ms. */
  openFor: number;
}

/** The read-through options that {@linkcode CacheOptions.readThrough} can default. */
export type ReadThroughDefaults = Pick<
  GetOrStoreOptions,
  | "grace"
  | "graceRefresh"
  | "graceBackoff"
  | "loaderTimeout"
  | "refreshAhead"
  | "jitter"
  | "negativeTtl"
  | "lockTimeout"
>;

/** Bounds of the in-process layer; see {@linkcode CacheOptions.l1}. */
export interface L1Options {
  /** Most values held; the least recently used go first. @default {10000} */
  maxEntries?: number;
  /** Most bytes of values held. @default {67108864} */
  maxBytes?: number;
}

/** Where a Redis Cluster is; see {@linkcode CacheOptions.cluster}. */
export interface ClusterOptions {
  /**
   * URLs of some of the cluster's nodes, `redis://host:port` (three is
   * plenty; the rest is discovered). User and password in the first URL are
   * used for every node; `tls` applies to every node.
   */
  rootNodes: readonly string[];
  /**
   * Send reads to replicas too, spreading their load. A read right after a
   * write may then miss it, until the replica has caught up.
   *
   * @default {false}
   */
  readFromReplicas?: boolean;
}

/** Where Sentinel is and what it watches; see {@linkcode CacheOptions.sentinel}. */
export interface SentinelOptions {
  /** The name the Sentinels know the primary by (`sentinel monitor <name> …`). */
  name: string;
  /**
   * URLs of some Sentinels, `redis://host:26379`; user and password in the
   * first URL are the Sentinels' own.
   */
  sentinels: readonly string[];
  /** ACL user on the primary and replicas. */
  username?: string;
  /** Password on the primary and replicas. */
  password?: string;
  /**
   * Send reads to a replica. A read right after a write may then miss it,
   * until the replica has caught up.
   *
   * @default {false}
   */
  readFromReplicas?: boolean;
}

/** What a read does when Redis is unavailable; see {@linkcode CacheOptions.onUnavailable}. */
export type UnavailablePolicy = "throw" | "miss";

/** The answer of {@linkcode Cache.health}. */
export interface Health {
  /** Whether Redis answered PING within the timeout. */
  ok: boolean;
  /** How long the PING took, or how long was waited before giving up, in ms. */
  latencyMs: number;
  /** Why it is not ok: the error's message, without credentials. */
  error?: string;
  /** The circuit breaker's state, when `breaker` is on. */
  breaker?: BreakerStats["state"];
}

/** What {@linkcode CacheOptions.onError} is told about a failed operation. */
export interface ErrorEvent {
  /** The Redis command that failed, such as `GET` or `SET`. */
  command: string;
  /**
   * Set when the circuit breaker changed state with this error: `"opened"`
   * (the error is the failure that opened it) or `"closed"` (a probe
   * succeeded; the error says so and nothing failed).
   */
  breaker?: "opened" | "closed";
}

/** Options every operation accepts. */
export interface CallOptions {
  /** Aborts the call: it rejects at once with the signal's reason. */
  signal?: AbortSignal;
  /** Bound on this call's commands, in ms, instead of the cache's `timeout`. */
  timeout?: number;
}

/** Options for {@linkcode Cache.store}, {@linkcode Cache.storeMany} and {@linkcode Cache.storeJson}. */
export interface StoreOptions extends CallOptions {
  /** Expiry in ms, set in the same command (`SET … PX`). @default {The cache's `ttl`, else none} */
  ttl?: number;
  /** Replicas that must have the write before it resolves. @default {The cache's `waitReplicas`} */
  waitReplicas?: number;
  /**
   * Tags of the entry, for {@linkcode Cache.invalidateTags} and
   * {@linkcode Cache.expireTags}: each 1 to 1 024 characters, namespaced
   * like keys. The value and its tag memberships are written in one script.
   * @default {None}
   */
  tags?: readonly string[];
}

/** Options for reads: what to do when Redis is unavailable. */
export interface ReadOptions extends CallOptions {
  /** `"throw"` or `"miss"`. @default {The cache's `onUnavailable`} */
  onUnavailable?: UnavailablePolicy;
}

/** Options for {@linkcode Cache.get} and the other reads of one key. */
export interface GetOptions extends ReadOptions {
  /**
   * Sliding expiry: on a hit, reset the key's expiry in the same round trip
   * (`GETEX … PX`, in a script that moves a tagged entry's tags with it, as
   * {@linkcode Cache.expire} does): `true` to the cache's `ttl`, a number to
   * that many ms.
   */
  touch?: boolean | number;
}

/**
 * Options for {@linkcode Cache.getOrStore}, {@linkcode Cache.getOrStoreJson}
 * and {@linkcode Cache.getOrStoreMany}.
 *
 * How grace is stored: a value with `ttl` T and `grace` G is written as its
 * plain bytes (no envelope) with a Redis expiry of T + G. A read-through
 * reads the value and its `PTTL` in one round trip: the entry is fresh while
 * more than G ms remain, stale while 0 to G remain, gone after. A plain
 * `get` (or redis-py) sees the value until T + G, stale or not. The reader
 * decides with its own G, so callers should agree on `grace` per key.
 */
export interface GetOrStoreOptions extends CallOptions {
  /** How long the value is fresh, in ms. @default {The cache's `ttl`, else forever} */
  ttl?: number;
  /**
   * How long after `ttl` the value is kept to be served stale, in ms: when
   * the loader throws or runs past `loaderTimeout.soft`, when Redis cannot
   * be reached and the L1 holds it, while the breaker is open, and (with
   * `graceRefresh`) at once while one background refresh loads a new one.
   * A value older than `ttl + grace` is never returned. Needs a ttl (the call's, the cache's or the loader's `setTtl`).
   *
   * @default {0}
   */
  grace?: number;
  /**
   * Whether a stale hit starts one background refresh (stale-while-
   * revalidate: the caller gets the stale value at once, or after waiting
   * up to `loaderTimeout.soft` for the new one). With `false`, a stale value
   * is served until `ttl + grace` and only then loaded again.
   *
   * @default {true}
   */
  graceRefresh?: boolean;
  /**
   * After a refresh of a key fails, how long stale calls serve the stale
   * value without calling the loader again, in ms.
   *
   * @default {10000}
   */
  graceBackoff?: number;
  /**
   * Bounds on the loader, in ms. Past `soft`, a caller with a stale value at
   * hand gets it and the loader keeps running, its result stored when it
   * finishes; without a stale value `soft` does nothing. Past `hard`, the
   * loader's `signal` is aborted and the caller gets a
   * {@linkcode TimeoutError} (or the stale value, if it has one).
   */
  loaderTimeout?: LoaderTimeouts;
  /**
   * A share of `ttl` (more than 0, less than 1): a hit after that much of
   * the ttl has passed returns at once and starts one background refresh,
   * one across all processes (it takes the key's Redis lock), so hot keys
   * never expire under load.
   */
  refreshAhead?: number;
  /**
   * Spreads each stored ttl by up to ± this share (0 to 1, e.g. `0.1`), so
   * keys stored together do not expire together.
   *
   * @default {0}
   */
  jitter?: number;
  /**
   * Negative caching: when the loader returns `null` or `undefined`, remember
   * the miss for this many ms (a marker key `__miss:<key>`, which a plain
   * `get` never sees as the value) and give `null` without calling the
   * loader until it expires.
   */
  negativeTtl?: number;
  /**
   * How long the loader may hold the cross-process lock, and how long a
   * caller waits for another process's loader before a {@linkcode TimeoutError}, in ms.
   *
   * @default {10000}
   */
  lockTimeout?: number;
  /** Tags of the stored value, as {@linkcode StoreOptions.tags}. @default {None} */
  tags?: readonly string[];
}

/** See {@linkcode GetOrStoreOptions.loaderTimeout}; durations in ms. */
export interface LoaderTimeouts {
  /** Past this, serve the stale value if there is one; the loader goes on. */
  soft?: number;
  /** Past this, abort the loader's signal and fail with a TimeoutError. */
  hard?: number;
}

/** What a {@linkcode Loader} is given. */
export interface LoaderContext<T = unknown> {
  /** Aborted when the loader runs past `loaderTimeout.hard`, or the cache closes. */
  readonly signal: AbortSignal;
  /**
   * The stale value this load replaces, or `null`: the stored bytes for
   * `getOrStore`, the parsed value for `getOrStoreJson`.
   */
  readonly stale: T | null;
  /** Stores this value with this ttl (ms) instead of the call's: a token's own expiry. */
  setTtl(ms: number): void;
  /** Returns the value to the callers without storing it. */
  skip(): void;
  /** Stores the value with these tags instead of the call's: tags decided by the value. */
  setTags(tags: readonly string[]): void;
}

/**
 * A loader for {@linkcode Cache.getOrStore}: computes the value on a miss.
 * It may ignore its context.
 */
export type Loader<T, S = T> = (context: LoaderContext<S>) => T | Promise<T>;

/** What {@linkcode Cache.getOrStore} gives for a loader of `R`: the bytes, or `null` when `R` can be null. */
export type LoadedBytes<R> = R extends Storable ? Uint8Array : null;

/** Loads many keys at once for {@linkcode Cache.getOrStoreMany}. */
export type ManyLoader<T> = (
  missingKeys: string[],
) =>
  | readonly (T | null | undefined)[]
  | Promise<readonly (T | null | undefined)[]>;

/** Counters and latency since connecting or {@linkcode Cache.resetStats}. */
export interface CacheStats {
  /** Reads that found a value (per key for batches). */
  hits: number;
  /** Reads that found none (per key for batches). */
  misses: number;
  /** Values written (per value for batches). */
  stores: number;
  /** Operations that failed with a {@linkcode CacheError}. */
  errors: number;
  /** Latency of round trips to Redis, in ms, exact to within 5%. */
  latency: { p50: number; p99: number };
  /** The in-process layer, when `l1` is on: reads it answered (also counted in `hits`), and what it holds. */
  l1?: { hits: number; entries: number; bytes: number };
  /** What read-through did beyond hits and misses. */
  readThrough: ReadThroughStats;
  /** The circuit breaker, when `breaker` is on. */
  breaker?: BreakerStats;
}

/** Read-through events, counted since connecting or {@linkcode Cache.resetStats}. */
export interface ReadThroughStats {
  /** Calls answered with a stale value. */
  staleServed: number;
  /** Background refreshes started (stale-while-revalidate, refresh-ahead, past `soft`). */
  refreshesStarted: number;
  /** Background refreshes whose loader or write failed. */
  refreshesFailed: number;
  /** Calls answered from a negative entry. */
  negativeHits: number;
  /** Loaders that ran past `loaderTimeout.hard`. */
  loaderTimeouts: number;
}

/** The circuit breaker's state and history. */
export interface BreakerStats {
  /** `"closed"`: commands go out; `"open"`: none do; `"half-open"`: one probe is out. */
  state: "closed" | "open" | "half-open";
  /** Times it opened. */
  opened: number;
  /** Times it closed again. */
  closed: number;
}
