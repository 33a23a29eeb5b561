// `Cache`, the facade over the engine in `_engine/`.

import { recordedAs } from "./_history/call_history.ts";
import { decodeBigInt, decodeInt, decodeUtf8 } from "./_engine/decode.ts";
import {
  foundIn,
  lengthOfFirst,
  stringsIn,
  traced,
} from "./_engine/decorators.ts";
import { type Engine, openEngine } from "./_engine/engine.ts";
import { attachEngine } from "./_engine/handle.ts";
import { parseJson } from "./_engine/json.ts";
import { MAX_KEY_LENGTH } from "./_engine/validate.ts";
import type {
  CacheOptions,
  CacheStats,
  CallOptions,
  GetOptions,
  GetOrStoreOptions,
  Health,
  LoadedBytes,
  Loader,
  ManyLoader,
  ReadOptions,
  Storable,
  StoreOptions,
} from "./cache_options.ts";

export { MAX_KEY_LENGTH };

// How the implementations of the overloaded get and getMany see `fn`.
type Convert = (value: Uint8Array) => unknown;

/**
 * A cache on Redis: {@linkcode Cache.store} writes a value under a fresh
 * random UUID and returns it; {@linkcode Cache.get} reads the bytes back,
 * optionally converted, and gives `null` for a missing key, as Redis does.
 *
 * @example Store and read back
 * ```ts
 * import { Cache } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * await using cache = await Cache.connect({ namespace: "doc-example" });
 * const key = await cache.store("hello");
 * assert.equal(await cache.getStr(key), "hello");
 * assert.equal(await cache.get(key, (bytes) => bytes.length), 5);
 * assert.equal(await cache.get(crypto.randomUUID()), null);
 * ```
 */
export class Cache implements AsyncDisposable {
  // Checks arguments and does the work; no `async` layer here (microtasks).
  #engine!: Engine;

  /** Use {@linkcode Cache.connect}, which also opens the connection. */
  protected constructor() {}

  /**
   * Connects to Redis and, unless `flush: false`, clears the cache. Called
   * on a subclass, it returns an instance of that subclass.
   *
   * @example Keep existing data, in a namespace of its own
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   *
   * await using cache = await Cache.connect({
   *   namespace: "sessions",
   *   flush: false,
   * });
   * ```
   * @param options Where to connect and how; see {@linkcode CacheOptions}.
   * @throws {TypeError | RangeError} An option is of the wrong type or out of range.
   * @throws {CacheError} Redis was not reached in time, refused us, or failed to flush.
   */
  static async connect<C extends Cache>(
    this: { prototype: C },
    options: CacheOptions = {},
  ): Promise<C> {
    const engine = await openEngine(options);
    // `this` is Cache or a subclass; its constructor is protected, so the
    // type of `this` cannot say it is constructible.
    const cache = new (this as unknown as new () => C)();
    cache.#engine = engine;
    attachEngine(cache, engine);
    await engine.flushIfAsked();
    return cache;
  }

  /** The namespace given to {@linkcode Cache.connect}, if any. */
  get namespace(): string | undefined {
    return this.#engine.settings.namespace;
  }

  /**
   * Writes `data` under a new random UUID and returns that key. Strings are
   * stored as UTF-8, bytes exactly, numbers and bigints as `String(n)` writes
   * them (so `3.14` reads back as `"3.14"`, and Python's `float()` reads it).
   * A `Uint8Array` is read when the command is sent: do not change it until
   * the returned promise settles.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-store" });
   * const key = await cache.store(42);
   * assert.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
   * assert.equal(await cache.getInt(key), 42);
   * const brief = await cache.store("gone in a minute", { ttl: 60_000 });
   * assert.ok((await cache.ttl(brief))! <= 60_000);
   * ```
   * @param data The value: a string, bytes, a finite number or a bigint.
   * @param options `ttl` in ms (set in the same command), `tags`, `signal`, `timeout`.
   * @returns The new key, a lowercase version 4 UUID.
   * @throws {TypeError} `data` is of another type, or a string with lone surrogates.
   * @throws {RangeError} `data` is `NaN` or infinite, or `ttl` is not a positive whole number.
   * @throws {CacheError} Redis failed or did not answer in time.
   */
  @recordedAs("Cache.store")
  @traced("store", () => 1)
  store(data: Storable, options?: StoreOptions): Promise<string> {
    return this.#engine.writes.store(data, options);
  }

  /**
   * Writes each value under a new random UUID, in one atomic command, and
   * returns the keys in order.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-storemany" });
   * const keys = await cache.storeMany(["a", "b", 3], { ttl: 60_000 });
   * assert.deepEqual(await cache.getMany(keys, (b) => new TextDecoder().decode(b)), ["a", "b", "3"]);
   * ```
   * @param options `ttl` in ms and `tags` for every value, `signal`, `timeout`.
   */
  @traced("storeMany", lengthOfFirst)
  storeMany(
    values: readonly Storable[],
    options?: StoreOptions,
  ): Promise<string[]> {
    return this.#engine.writes.storeMany(values, options);
  }

  /**
   * Writes any JSON value under a new random UUID. Values that JSON would
   * silently change are refused: `NaN`, `Infinity`, `undefined`, functions,
   * class instances such as `Date` or `Map`, and circular structures.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-json" });
   * const key = await cache.storeJson({ id: 7, tags: ["a"], price: 9.5 });
   * assert.deepEqual(await cache.getJson(key), { id: 7, tags: ["a"], price: 9.5 });
   * ```
   * @param value A JSON value: null, boolean, finite number, string, array or plain object.
   * @param options `ttl` in ms, `tags`, `signal`, `timeout`.
   * @throws {TypeError} `value` would not come back from JSON as it went in.
   */
  @traced("storeJson", () => 1)
  storeJson(value: unknown, options?: StoreOptions): Promise<string> {
    return this.#engine.writes.storeJson(value, options);
  }

  /**
   * Reads the bytes stored under `key`, or `null` when there are none.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-get", ttl: 60_000 });
   * const key = await cache.store(new Uint8Array([0, 255]));
   * assert.deepEqual(await cache.get(key), new Uint8Array([0, 255]));
   * // Sliding expiry: a hit resets the expiry to the cache's ttl.
   * await cache.get(key, undefined, { touch: true });
   * ```
   * @param key A key returned by {@linkcode Cache.store}, or any non-empty key
   * of at most {@linkcode MAX_KEY_LENGTH} characters not starting with `__lock:` or `__tag:`.
   * @param fn Leave out, or pass `undefined` to give options.
   * @param options `touch` for sliding expiry, `signal`, `timeout`.
   * @returns The stored bytes, or `null` for a missing key.
   */
  get(
    key: string,
    fn?: undefined,
    options?: GetOptions,
  ): Promise<Uint8Array | null>;
  /**
   * Reads the bytes under `key` converted by `fn`, which may be async and is
   * called for an empty value too; `null` for a missing key, without `fn`.
   */
  get<T>(
    key: string,
    fn: (value: Uint8Array) => T | Promise<T>,
    options?: GetOptions,
  ): Promise<Awaited<T> | null>;
  @traced("get", () => 1, (result) => result === null ? 0 : 1)
  get(key: string, fn?: Convert, options?: GetOptions): Promise<unknown> {
    return this.#engine.reads.get(key, fn, options);
  }

  /**
   * Reads the value under `key` as UTF-8 text.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-getstr" });
   * assert.equal(await cache.getStr(await cache.store("naïve")), "naïve");
   * ```
   * @returns The text, or `null` for a missing key.
   * @throws {DecodeError} The bytes are not valid UTF-8.
   */
  getStr(key: string, options?: GetOptions): Promise<string | null> {
    return this.get(key, (bytes) => decodeUtf8(key, bytes), options);
  }

  /**
   * Reads the value under `key` as an integer, accepting exactly what
   * Python's `int()` accepts: surrounding whitespace, one sign, leading
   * zeros, single underscores between digits.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-getint" });
   * assert.equal(await cache.getInt(await cache.store(" -1_000\n")), -1000);
   * ```
   * @returns The number, or `null` for a missing key.
   * @throws {DecodeError} The value is not an integer (`"3.14"`, `"abc"`, `""`).
   * @throws {RangeError} Its magnitude is 2^53 or more; use {@linkcode Cache.getBigInt}.
   */
  getInt(key: string, options?: GetOptions): Promise<number | null> {
    return this.get(key, (bytes) => decodeInt(key, bytes), options);
  }

  /**
   * Reads the value under `key` as an integer of any size, by the same rules
   * as {@linkcode Cache.getInt}.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-getbigint" });
   * const key = await cache.store(2n ** 64n);
   * assert.equal(await cache.getBigInt(key), 18446744073709551616n);
   * ```
   * @returns The bigint, or `null` for a missing key.
   * @throws {DecodeError} The value is not an integer, or has more than 4 300 digits.
   */
  getBigInt(key: string, options?: GetOptions): Promise<bigint | null> {
    return this.get(key, (bytes) => decodeBigInt(key, bytes), options);
  }

  /**
   * Reads a value written by {@linkcode Cache.storeJson} (or any JSON text).
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-getjson" });
   * const key = await cache.storeJson([1, "one", null]);
   * const value = await cache.getJson<[number, string, null]>(key);
   * assert.deepEqual(value, [1, "one", null]);
   * ```
   * @returns The parsed value, or `null` for a missing key.
   * @throws {DecodeError} The value is not valid UTF-8 JSON.
   */
  getJson<T = unknown>(key: string, options?: GetOptions): Promise<T | null> {
    return this.get(key, (bytes) => parseJson<T>(key, bytes), options);
  }

  /**
   * Reads many keys in one round trip (one `MGET`; on Bun's RedisClient, one
   * per 1000 keys), in order; `null` for a missing key. `fn` converts.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-getmany" });
   * const keys = await cache.storeMany(["x", "y"]);
   * const values = await cache.getMany([keys[0], "missing", keys[1]], (b) => b.length);
   * assert.deepEqual(values, [1, null, 1]);
   * ```
   * @param fn Converts each stored value; may be async.
   * @returns One entry per key.
   */
  getMany(
    keys: readonly string[],
    fn?: undefined,
    options?: ReadOptions,
  ): Promise<(Uint8Array | null)[]>;
  /** Reads many keys in one round trip, each value found converted by `fn` (may be async). */
  getMany<T>(
    keys: readonly string[],
    fn: (value: Uint8Array) => T | Promise<T>,
    options?: ReadOptions,
  ): Promise<(Awaited<T> | null)[]>;
  @traced("getMany", lengthOfFirst, foundIn)
  getMany(
    keys: readonly string[],
    fn?: Convert,
    options?: ReadOptions,
  ): Promise<unknown> {
    return this.#engine.reads.getMany(keys, fn, options);
  }

  /**
   * Whether `key` holds a value.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-has" });
   * assert.equal(await cache.has(await cache.store("x")), true);
   * assert.equal(await cache.has("missing"), false);
   * ```
   * @returns `true` when the key exists.
   */
  @traced("has", () => 1, (result) => result ? 1 : 0)
  has(key: string, options?: ReadOptions): Promise<boolean> {
    return this.#engine.reads.has(key, options);
  }

  /**
   * Removes keys (`UNLINK`, which frees memory off the server's main
   * thread); a final options object may follow the keys.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-delete" });
   * const [a, b] = await cache.storeMany(["a", "b"]);
   * assert.equal(await cache.delete(a, b, "missing"), 2);
   * ```
   * @param keysAndOptions The keys, then optionally `{ signal, timeout }`.
   * @returns How many keys were removed.
   */
  @traced("delete", stringsIn)
  delete(
    ...keysAndOptions: [...string[], CallOptions] | string[]
  ): Promise<number> {
    return this.#engine.keyspace.delete(keysAndOptions);
  }

  /**
   * The time `key` has left, in ms.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-ttl" });
   * assert.equal(await cache.ttl(await cache.store("forever")), Infinity);
   * assert.equal(await cache.ttl("missing"), null);
   * ```
   * @returns Milliseconds left, `Infinity` for a key without expiry, `null` for a missing key.
   */
  @traced("ttl", () => 1)
  ttl(key: string, options?: CallOptions): Promise<number | null> {
    return this.#engine.keyspace.ttl(key, options);
  }

  /**
   * Sets `key` to expire in `ttl` ms, grace included (the last `grace` ms
   * of an entry written with one are stale); a tagged entry's tags follow.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-expire" });
   * assert.equal(await cache.expire(await cache.store("x"), 5_000), true);
   * assert.equal(await cache.expire("missing", 5_000), false);
   * ```
   * @param ttl Milliseconds from now: a positive whole number.
   * @returns Whether the key existed (and so now expires).
   */
  @traced("expire", () => 1)
  expire(key: string, ttl: number, options?: CallOptions): Promise<boolean> {
    return this.#engine.keyspace.expire(key, ttl, options);
  }

  /**
   * Removes this cache's keys: with a namespace, only that namespace's
   * (`SCAN` + `UNLINK` in batches, never `KEYS`); without one, the database.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-clear" });
   * const key = await cache.store("x");
   * await cache.clear();
   * assert.equal(await cache.has(key), false);
   * ```
   * @param options `signal`, `timeout` (per batch).
   */
  @traced("clear", () => 0)
  clear(options?: CallOptions): Promise<void> {
    return this.#engine.keyspace.clear(options);
  }

  /**
   * Removes every entry stored with any of `tags`, from Redis and every L1.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-invalidatetags" });
   * await cache.store("Ada", { tags: ["user:7"] });
   * assert.equal(await cache.invalidateTags("user:7"), 1);
   * ```
   * @returns How many entries were removed.
   */
  @traced("invalidateTags", stringsIn)
  invalidateTags(...tags: string[]): Promise<number> {
    return this.#engine.tags.invalidate(tags);
  }

  /**
   * Makes every entry with any of `tags` stale: left its grace, else removed.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-expiretags" });
   * await cache.getOrStore("home", () => "<h1>", { tags: ["pages"] });
   * assert.equal(await cache.expireTags("pages"), 1);
   * ```
   * @returns How many entries it made stale or removed.
   */
  @traced("expireTags", stringsIn)
  expireTags(...tags: string[]): Promise<number> {
    return this.#engine.tags.expire(tags);
  }

  /**
   * Read-through: the bytes under `key`, or else `loader`'s value, stored;
   * concurrent misses call `loader` once, across processes too (a Redis
   * lock). Grace, timeouts, refresh-ahead: {@linkcode GetOrStoreOptions}.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-getorstore" });
   * let calls = 0, load = () => `page ${++calls}`;
   * const [a, b] = await Promise.all([1, 2].map(() =>
   *   cache.getOrStore("home", load, { ttl: 60_000, grace: 600_000 })));
   * assert.deepEqual([new TextDecoder().decode(a), calls], ["page 1", 1]);
   * assert.deepEqual(a, b);
   * ```
   * @returns The stored bytes; `null` for a negative entry (`negativeTtl`).
   */
  @traced("getOrStore", () => 1)
  getOrStore<R extends Storable | null | undefined = Storable>(
    key: string,
    loader: Loader<R, Uint8Array>,
    options?: GetOrStoreOptions,
  ): Promise<LoadedBytes<R>> {
    return this.#engine.readThrough.loadBytes(key, loader, options);
  }

  /**
   * {@linkcode Cache.getOrStore} of JSON: stored as `storeJson` would, returned parsed.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-getorstorejson" });
   * assert.deepEqual(await cache.getOrStoreJson("user:7", () => ({ id: 7 })), { id: 7 });
   * ```
   */
  @traced("getOrStoreJson", () => 1)
  getOrStoreJson<T>(
    key: string,
    loader: Loader<T>,
    options?: GetOrStoreOptions,
  ): Promise<T> {
    return this.#engine.readThrough.loadJson(key, loader, options);
  }

  /**
   * Read-through of many keys: one read, one `loadMissing` call with the
   * keys that missed (it returns their values in order), one write.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-getorstoremany" });
   * const rows = await cache.getOrStoreMany(["1", "2"], (ids) => ids.map((id) => `row ${id}`));
   * assert.deepEqual(rows.map((b) => new TextDecoder().decode(b!)), ["row 1", "row 2"]);
   * ```
   */
  @traced("getOrStoreMany", lengthOfFirst)
  getOrStoreMany(
    keys: readonly string[],
    loadMissing: ManyLoader<Storable>,
    options?: GetOrStoreOptions,
  ): Promise<(Uint8Array | null)[]> {
    return this.#engine.readThroughMany.load(keys, loadMissing, options);
  }

  /**
   * Checks Redis with one PING, bounded by the timeout; never throws for
   * Redis trouble, so it suits a health endpoint.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-health", flush: false });
   * const { ok, latencyMs } = await cache.health();
   * assert.ok(ok && latencyMs >= 0);
   * ```
   * @param options `signal`, `timeout`.
   * @returns `ok`, the latency in ms, the error when not ok, the breaker's state.
   */
  health(options?: CallOptions): Promise<Health> {
    return this.#engine.runner.health(options);
  }

  /**
   * Counters and latency percentiles since connecting or the last
   * {@linkcode Cache.resetStats}.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-stats" });
   * await cache.get(await cache.store("x"));
   * await cache.get("missing");
   * const { hits, misses, stores, errors } = cache.stats();
   * assert.deepEqual({ hits, misses, stores, errors }, { hits: 1, misses: 1, stores: 1, errors: 0 });
   * ```
   */
  stats(): CacheStats {
    return this.#engine.stats.snapshot(this.#engine.l1);
  }

  /** Sets every counter of {@linkcode Cache.stats} back to zero. */
  resetStats(): void {
    this.#engine.stats.reset(this.#engine.l1);
  }

  /**
   * Stops background refreshes (aborting their loaders), then releases the
   * connection if the cache opened it; later calls reject. Twice is harmless.
   */
  close(): Promise<void> {
    return this.#engine.close();
  }

  /** Same as {@linkcode Cache.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
