/**
 * {@linkcode Cache}: store a value under a fresh random key and read it back,
 * on a real Redis server.
 *
 * @module
 */

import { registerCache } from "./_engine/handle.ts";
import {
  callInput,
  countCall,
  recordCall,
  recordedAs,
} from "./_history/call_history.ts";
import { type BatchResult, Coalescer } from "./_engine/coalescer.ts";
import { HistoryWrites } from "./_history/writes.ts";
import { scanKeys } from "./_engine/scan.ts";
import { openTelemetry } from "./_engine/telemetry.ts";
import { traced } from "./_engine/decorators.ts";
import { deadline } from "./_drivers/deadline.ts";
import { decodeBigInt, decodeInt, decodeUtf8 } from "./_engine/decode.ts";
import { GET_EACH_MAX } from "./_drivers/commands.ts";
import type { Driver } from "./_drivers/driver.ts";
import { stringifyExactly } from "./_engine/json.ts";
import { LatencyHistogram } from "./_engine/latency.ts";
import { tryLock, unlock } from "./_engine/lock.ts";
import { redact } from "./_drivers/redact.ts";
import { openConnection, planConnection } from "./_drivers/open.ts";
import { groupBySlot } from "./_drivers/key_slot.ts";
import { LocalLayer } from "./_l1/local_layer.ts";
import { ReplicaWaiter } from "./_engine/replicas.ts";
import {
  lacksScript,
  RECORDED_STORE_MAX,
  RECORDED_VALUE_LIMIT,
  recordedStoreCommand,
  type RecordedWrite,
  refusedBeforeRunning,
  refusesScripts,
  type StoreHistoryKeys,
  type StoreRecord,
} from "./_history/recorded_store.ts";
import {
  checkKey,
  checkNamespace,
  checkOptions,
  checkSignal,
  checkTimeout,
  checkTtl,
  encodeValue,
  escapeGlob,
  MAX_KEY_LENGTH,
  toBytes,
} from "./_engine/validate.ts";
import {
  CacheError,
  CommandError,
  ConnectionError,
  DecodeError,
  TimeoutError,
} from "./errors.ts";
import type { RedisArgument } from "./redis_client.ts";

import type {
  CacheOptions,
  CacheStats,
  CallOptions,
  GetOptions,
  GetOrStoreOptions,
  Health,
  L1Options,
  Loader,
  ReadOptions,
  Storable,
  StoreOptions,
  UnavailablePolicy,
} from "./cache_options.ts";

export { MAX_KEY_LENGTH };

const DEFAULT_TIMEOUT = 5_000;
const DEFAULT_LOCK_TIMEOUT = 10_000;
const DEFAULT_OFFLINE_QUEUE = 32;
const POLL_FIRST = 5;
const POLL_LONGEST = 100;

// Stores many values with one expiry atomically, in one command.
const STORE_MANY_WITH_TTL = `for i = 1, #KEYS do
  redis.call("SET", KEYS[i], ARGV[i], "PX", ARGV[#ARGV])
end
return #KEYS`;

// What a get under the "miss" policy gives when Redis is unreachable.
const missing = () => null;

// A store waiting for the end of the tick, to go with the others made in it.
interface PendingWrite {
  redisKey: string;
  value: RedisArgument;
  ttl: number | undefined;
  /** What the call history records of it, when store keeps one. */
  record?: StoreRecord;
}

// The outcome of a recorded store whose script the server did not run (an
// ACL refused it, or the server did not have it): nothing was written, and
// it goes again as separate commands, which Redis judges one by one as it
// does Python's.
const SCRIPT_REFUSED = Symbol("script refused");

function setCommand(
  redisKey: string,
  value: RedisArgument,
  ttl: number | undefined,
): RedisArgument[] {
  return ttl === undefined
    ? ["SET", redisKey, value]
    : ["SET", redisKey, value, "PX", String(ttl)];
}

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
  #driver: Driver | undefined;
  #prefix = "";
  #namespace: string | undefined;
  #timeout = DEFAULT_TIMEOUT;
  #ttl: number | undefined;
  #onError: CacheOptions["onError"];
  #onUnavailable: UnavailablePolicy = "throw";
  #offlineQueue = DEFAULT_OFFLINE_QUEUE;
  #waitingOffline = 0;
  #coalescer: Coalescer<string, Uint8Array | null> | undefined;
  #writes: Coalescer<PendingWrite, unknown> | undefined;
  #batchReads = true;
  #scriptWrites = true;
  #scriptLoaded = false;
  #history = true;
  #historyKeys: StoreHistoryKeys = { count: "", inputs: "", outputs: "" };
  #historyWrites: HistoryWrites | undefined;
  #secrets: readonly string[] = [];
  #waitReplicas = 0;
  #local: LocalLayer | undefined;
  readonly #replicaWaiter = new ReplicaWaiter();
  readonly #loading = new Map<string, Promise<Loaded>>();
  readonly #latency = new LatencyHistogram();
  #hits = 0;
  #misses = 0;
  #stores = 0;
  #errors = 0;

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
   *   timeout: 1_000,
   *   ttl: 60_000,
   *   onError: (error, { command }) => console.error(`${command}: ${error.message}`),
   * });
   * ```
   *
   * @param options Where to connect and how; see {@linkcode CacheOptions}.
   * @returns A connected cache.
   * @throws {TypeError | RangeError} An option is of the wrong type or out of range.
   * @throws {CacheError} Redis could not be reached in time, refused the
   * credentials, or failed to flush.
   */
  static async connect<C extends Cache>(
    this: { prototype: C },
    options: CacheOptions = {},
  ): Promise<C> {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("options must be an object");
    }
    const timeout = checkTimeout("timeout", options.timeout, DEFAULT_TIMEOUT);
    const connectTimeout = checkTimeout(
      "connectTimeout",
      options.connectTimeout,
      DEFAULT_TIMEOUT,
    );
    const namespace = checkNamespace(options.namespace);
    const ttl = options.ttl === undefined
      ? undefined
      : checkTtl("ttl", options.ttl);
    const flush = options.flush ?? true;
    if (typeof flush !== "boolean") {
      throw new TypeError("flush must be a boolean");
    }
    if (
      options.onError !== undefined && typeof options.onError !== "function"
    ) {
      throw new TypeError("onError must be a function");
    }
    const onUnavailable = checkPolicy(options.onUnavailable ?? "throw");
    const offlineQueue = options.offlineQueue ?? DEFAULT_OFFLINE_QUEUE;
    if (!Number.isSafeInteger(offlineQueue) || offlineQueue < 0) {
      throw new RangeError(
        `offlineQueue must be a whole number of commands, 0 or more, got ${offlineQueue}`,
      );
    }
    const waitReplicas = checkReplicas(options.waitReplicas ?? 0);
    const local = options.l1 === undefined
      ? undefined
      : openLocalLayer(options.l1);
    const connection = planConnection(options);
    const telemetry = await openTelemetry(options.telemetry, connection.server);
    const driver = await openConnection(connection, connectTimeout);
    // `this` is Cache or a subclass; its constructor is protected, so the
    // type of `this` cannot say it is constructible.
    const cache = new (this as unknown as new () => C)();
    cache.#driver = driver;
    cache.#namespace = namespace;
    cache.#prefix = namespace === undefined ? "" : `${namespace}:`;
    cache.#timeout = timeout;
    cache.#ttl = ttl;
    cache.#onError = options.onError;
    cache.#onUnavailable = onUnavailable;
    cache.#offlineQueue = offlineQueue;
    if (options.coalesce ?? true) {
      cache.#coalescer = new Coalescer<string, Uint8Array | null>(
        (keys) =>
          cache.#run("GET", (driver) => cache.#getEach(driver, keys)).then(
            (results) =>
              results.map((result) =>
                result instanceof Error
                  ? cache.#failed(
                    redact(result, cache.#secrets) as Error,
                    "GET",
                  )
                  : result
              ),
          ),
        (key) => cache.#run("GET", (driver) => driver.getBytes(key)),
      );
      cache.#writes = new Coalescer<PendingWrite, unknown>(
        (writes) =>
          cache.#run(
            "MSET",
            (driver) => cache.#sendPendingWrites(driver, writes),
          ),
        (write) =>
          write.record === undefined
            ? cache.#run(
              "SET",
              (driver) =>
                driver.send(setCommand(write.redisKey, write.value, write.ttl)),
            )
            : cache.#run(
              "EVAL",
              (driver) => cache.#sendRecorded(driver, [write as RecordedWrite]),
            ),
      );
    }
    cache.#secrets = connection.secrets;
    cache.#waitReplicas = waitReplicas;
    if (local !== undefined) {
      cache.#local = local;
      driver.watchInvalidations?.((key) => local.invalidate(key));
    }
    const send = (args: readonly RedisArgument[]) =>
      cache.#run(String(args[0]), (driver) => driver.send(args));
    const historyWrites = new HistoryWrites(send, options.coalesce ?? true);
    cache.#history = options.history ?? true;
    cache.#historyWrites = historyWrites;
    const storeName = `${cache.#prefix}Cache.store`;
    cache.#historyKeys = {
      count: storeName,
      inputs: `${storeName}:inputs`,
      outputs: `${storeName}:outputs`,
    };
    registerCache(cache, {
      send,
      historyWrites,
      getBytes: (key) => cache.#run("GET", (driver) => driver.getBytes(key)),
      scan: (pattern) => cache.#scan(pattern, {}),
      history: options.history ?? true,
      telemetry,
      prefix: cache.#prefix,
    });
    if (flush) {
      try {
        await cache.#clear({});
      } catch (error) {
        await driver.close();
        throw error;
      }
    }
    return cache;
  }

  /** The namespace given to {@linkcode Cache.connect}, if any. */
  get namespace(): string | undefined {
    return this.#namespace;
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
   *
   * @param data The value: a string, bytes, a finite number or a bigint.
   * @param options `ttl` in ms (set in the same command), `signal`, `timeout`.
   * @returns The new key, a lowercase version 4 UUID.
   * @throws {TypeError} `data` is of another type, or a string with lone surrogates.
   * @throws {RangeError} `data` is `NaN` or infinite, or `ttl` is not a positive whole number.
   * @throws {CacheError} Redis failed or did not answer in time.
   */
  @recordedAs("Cache.store")
  @traced("store", () => 1)
  async store(data: Storable, options?: StoreOptions): Promise<string> {
    // As Python's `@count_calls @call_history`: a call is counted and its
    // input recorded even when it then fails; see #write for the output.
    let input, value, call, ttl, replicas;
    try {
      input = this.#history ? callInput([data, options]) : undefined;
      value = encodeValue(data);
      call = checkOptions(options);
      ttl = this.#ttlFor(call);
      replicas = this.#replicasFor(call);
    } catch (error) {
      if (!this.#history) throw error;
      return await this.#recordStore(input, () => Promise.reject(error));
    }
    const key = crypto.randomUUID();
    const record = input === undefined ? undefined : { input, output: key };
    await this.#write(this.#prefix + key, value, ttl, replicas, call, record);
    return key;
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
   *
   * @param values The values, each as {@linkcode Cache.store} takes it.
   * @param options `ttl` in ms for every value, `signal`, `timeout`.
   * @returns The new keys.
   */
  @traced("storeMany", (args) => (args[0] as unknown[]).length)
  async storeMany(
    values: readonly Storable[],
    options?: StoreOptions,
  ): Promise<string[]> {
    if (!Array.isArray(values)) throw new TypeError("values must be an array");
    const encoded = values.map(encodeValue);
    const call = checkOptions(options);
    const ttl = this.#ttlFor(call);
    const keys = encoded.map(() => crypto.randomUUID());
    if (keys.length === 0) return keys;
    const redisKeys = keys.map((key) => this.#prefix + key);
    const replicas = this.#replicasFor(call);
    await this.#run(
      "MSET",
      (driver) =>
        this.#sendWrites(driver, redisKeys, encoded, ttl, replicas, call),
      call,
    );
    this.#stores += keys.length;
    return keys;
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
   *
   * @param value A JSON value: null, boolean, finite number, string, array or plain object.
   * @param options `ttl` in ms, `signal`, `timeout`.
   * @returns The new key.
   * @throws {TypeError} `value` would not come back from JSON as it went in.
   */
  @traced("storeJson", () => 1)
  async storeJson(value: unknown, options?: StoreOptions): Promise<string> {
    const json = stringifyExactly(value);
    const call = checkOptions(options);
    const ttl = this.#ttlFor(call);
    const replicas = this.#replicasFor(call);
    const key = crypto.randomUUID();
    await this.#write(this.#prefix + key, json, ttl, replicas, call);
    return key;
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
   *
   * @param key A key returned by {@linkcode Cache.store}, or any non-empty key
   * of at most {@linkcode MAX_KEY_LENGTH} characters.
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
   * Reads the bytes stored under `key` and converts them with `fn`; gives
   * `null` for a missing key without calling `fn`. `fn` is called for an
   * empty value.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-get-fn" });
   * const key = await cache.store("abc");
   * const length: number | null = await cache.get(key, (bytes) => bytes.length);
   * assert.equal(length, 3);
   * ```
   *
   * @param key The key.
   * @param fn Converts the stored bytes; may be async.
   * @param options `touch` for sliding expiry, `signal`, `timeout`.
   * @returns What `fn` returns, or `null` for a missing key.
   */
  get<T>(
    key: string,
    fn: (value: Uint8Array) => T | Promise<T>,
    options?: GetOptions,
  ): Promise<Awaited<T> | null>;
  @traced("get", () => 1, (result) => result === null ? 0 : 1)
  async get<T>(
    key: string,
    fn?: (value: Uint8Array) => T | Promise<T>,
    options?: GetOptions,
  ): Promise<Awaited<T> | Uint8Array | null> {
    if (fn !== undefined && typeof fn !== "function") {
      throw new TypeError("fn must be a function");
    }
    const redisKey = this.#prefix + checkKey(key);
    const call = checkOptions(options);
    const touch = this.#touchFor(call);
    const local = this.#local;
    if (local !== undefined) {
      if (touch !== undefined) local.invalidate(redisKey);
      else {
        const held = local.get(redisKey);
        if (held !== undefined) {
          this.#hits++;
          return fn === undefined ? held : await this.#decode(fn, held);
        }
      }
    }
    // Plain gets share one command, one deadline and one latency sample
    // per batch; a touch, a signal or a timeout of its own goes alone.
    // While the connection is down each get counts against offlineQueue.
    const coalescer = touch === undefined && call.signal === undefined &&
        call.timeout === undefined && this.#driver?.connected !== false
      ? this.#coalescer
      : undefined;
    const policy = this.#policyFor(call);
    const bytes = await this.#orFallback(
      policy,
      local !== undefined && touch === undefined
        ? this.#fill(local, redisKey, call)
        : coalescer === undefined
        ? this.#run(
          touch === undefined ? "GET" : "GETEX",
          (driver) => driver.getBytes(redisKey, touch),
          call,
        )
        : coalescer.add(redisKey),
      missing,
    );
    if (bytes === null) {
      this.#misses++;
      return null;
    }
    this.#hits++;
    return fn === undefined ? bytes : await this.#decode(fn, bytes);
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
   *
   * @param key The key.
   * @param options `touch`, `signal`, `timeout`, as for {@linkcode Cache.get}.
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
   *
   * @param key The key.
   * @param options `touch`, `signal`, `timeout`, as for {@linkcode Cache.get}.
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
   *
   * @param key The key.
   * @param options `touch`, `signal`, `timeout`, as for {@linkcode Cache.get}.
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
   *
   * @param key The key.
   * @param options `touch`, `signal`, `timeout`, as for {@linkcode Cache.get}.
   * @returns The parsed value, or `null` for a missing key.
   * @throws {DecodeError} The value is not valid UTF-8 JSON.
   */
  getJson<T = unknown>(key: string, options?: GetOptions): Promise<T | null> {
    return this.get(key, (bytes) => parseJson<T>(key, bytes), options);
  }

  /**
   * Reads many keys in one round trip (`MGET`), in order; `null` for each
   * missing key. `fn` converts each value found.
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
   *
   * @param keys The keys.
   * @param fn Converts each stored value; may be async.
   * @param options `signal`, `timeout`.
   * @returns One entry per key.
   */
  getMany(
    keys: readonly string[],
    fn?: undefined,
    options?: ReadOptions,
  ): Promise<(Uint8Array | null)[]>;
  /**
   * Reads many keys in one round trip and converts each value found with `fn`.
   *
   * @param keys The keys.
   * @param fn Converts each stored value; may be async.
   * @param options `signal`, `timeout`.
   * @returns One entry per key: what `fn` returns, or `null`.
   */
  getMany<T>(
    keys: readonly string[],
    fn: (value: Uint8Array) => T | Promise<T>,
    options?: ReadOptions,
  ): Promise<(Awaited<T> | null)[]>;
  @traced(
    "getMany",
    (args) => (args[0] as unknown[]).length,
    (result) => (result as unknown[]).filter((v) => v !== null).length,
  )
  async getMany<T>(
    keys: readonly string[],
    fn?: (value: Uint8Array) => T | Promise<T>,
    options?: ReadOptions,
  ): Promise<(Awaited<T> | Uint8Array | null)[]> {
    if (!Array.isArray(keys)) throw new TypeError("keys must be an array");
    if (fn !== undefined && typeof fn !== "function") {
      throw new TypeError("fn must be a function");
    }
    for (const key of keys) checkKey(key);
    const prefix = this.#prefix;
    const redisKeys = prefix === "" ? keys : keys.map((key) => prefix + key);
    const call = checkOptions(options);
    if (redisKeys.length === 0) return [];
    const policy = this.#policyFor(call);
    const values = await this.#orFallback(
      policy,
      this.#run("MGET", (driver) => driver.getManyBytes(redisKeys), call),
      () => redisKeys.map(() => null),
    );
    let found = 0;
    for (const bytes of values) if (bytes !== null) found++;
    this.#hits += found;
    this.#misses += values.length - found;
    if (fn === undefined) return values;
    return await Promise.all(
      values.map((bytes) => bytes === null ? null : this.#decode(fn, bytes)),
    );
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
   *
   * @param key The key.
   * @param options `signal`, `timeout`.
   * @returns `true` when the key exists.
   */
  @traced("has", () => 1, (result) => result ? 1 : 0)
  async has(key: string, options?: ReadOptions): Promise<boolean> {
    const redisKey = this.#prefix + checkKey(key);
    const call = checkOptions(options);
    const policy = this.#policyFor(call);
    const reply = await this.#orFallback(
      policy,
      this.#run("EXISTS", (driver) => driver.send(["EXISTS", redisKey]), call),
      () => 0,
    );
    return Number(reply) === 1;
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
   *
   * @param keysAndOptions The keys, then optionally `{ signal, timeout }`.
   * @returns How many keys were removed.
   */
  @traced(
    "delete",
    (args) => args.filter((arg) => typeof arg === "string").length,
  )
  async delete(
    ...keysAndOptions: [...string[], CallOptions] | string[]
  ): Promise<number> {
    const last = keysAndOptions.at(-1);
    const call = typeof last === "object" ? checkOptions(last) : {};
    const keys =
      (typeof last === "object"
        ? keysAndOptions.slice(0, -1)
        : keysAndOptions) as unknown[];
    const redisKeys = keys.map((key) => this.#prefix + checkKey(key));
    if (redisKeys.length === 0) return 0;
    for (const redisKey of redisKeys) this.#local?.invalidate(redisKey);
    const reply = await this.#run(
      "UNLINK",
      (driver) => driver.send(["UNLINK", ...redisKeys]),
      call,
    );
    return Number(reply);
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
   *
   * @param key The key.
   * @param options `signal`, `timeout`.
   * @returns Milliseconds left, `Infinity` for a key without expiry, `null` for a missing key.
   */
  @traced("ttl", () => 1)
  async ttl(key: string, options?: CallOptions): Promise<number | null> {
    const redisKey = this.#prefix + checkKey(key);
    const reply = Number(
      await this.#run(
        "PTTL",
        (driver) => driver.send(["PTTL", redisKey]),
        checkOptions(options),
      ),
    );
    return reply === -2 ? null : reply === -1 ? Infinity : reply;
  }

  /**
   * Sets `key` to expire in `ttl` ms.
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
   *
   * @param key The key.
   * @param ttl Milliseconds from now: a positive whole number.
   * @param options `signal`, `timeout`.
   * @returns Whether the key existed (and so now expires).
   */
  @traced("expire", () => 1)
  async expire(
    key: string,
    ttl: number,
    options?: CallOptions,
  ): Promise<boolean> {
    const redisKey = this.#prefix + checkKey(key);
    const ms = checkTtl("ttl", ttl);
    this.#local?.invalidate(redisKey);
    const reply = await this.#run(
      "PEXPIRE",
      (driver) => driver.send(["PEXPIRE", redisKey, String(ms)]),
      checkOptions(options),
    );
    return Number(reply) === 1;
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
   *
   * @param options `signal`, `timeout` (per batch).
   */
  @traced("clear", () => 0)
  async clear(options?: CallOptions): Promise<void> {
    await this.#clear(checkOptions(options));
  }

  /**
   * Read-through: the value under `key`, or else `loader`'s, stored under
   * `key` and returned. Concurrent misses in one process call `loader` once;
   * across processes, a short Redis lock keeps it to one call while the
   * others wait for the value. A loader that throws stores nothing, and
   * every caller waiting on it gets its error. Returns the bytes as stored,
   * the same on a hit and a miss; see {@linkcode Cache.getOrStoreJson} for
   * typed values.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-getorstore" });
   * let calls = 0;
   * const load = () => `page ${++calls}`;
   * const [a, b] = await Promise.all([
   *   cache.getOrStore("home", load, { ttl: 60_000 }),
   *   cache.getOrStore("home", load, { ttl: 60_000 }),
   * ]);
   * assert.equal(new TextDecoder().decode(a), "page 1");
   * assert.deepEqual(a, b);
   * assert.equal(calls, 1);
   * ```
   *
   * @param key A key of your choosing (1 to 1 024 characters), namespaced like the rest.
   * @param loader Computes the value on a miss: a string, bytes, number or bigint.
   * @param options `ttl`, `lockTimeout`, `signal`, `timeout`.
   * @returns The stored bytes.
   */
  @traced("getOrStore", () => 1)
  getOrStore(
    key: string,
    loader: Loader<Storable>,
    options?: GetOrStoreOptions,
  ): Promise<Uint8Array> {
    return this.#readThrough(key, loader, encodeValue, options);
  }

  /**
   * {@linkcode Cache.getOrStore} for JSON values: the loader's value is
   * stored as JSON (refusing what JSON would change, as
   * {@linkcode Cache.storeJson} does) and the result is parsed, so a hit and
   * a miss give the same value.
   *
   * @example
   * ```ts
   * import { Cache } from "@redis-basic/cache";
   * import assert from "node:assert/strict";
   *
   * await using cache = await Cache.connect({ namespace: "doc-getorstorejson" });
   * const user = await cache.getOrStoreJson("user:7", () => ({ id: 7, name: "Ada" }));
   * assert.deepEqual(user, { id: 7, name: "Ada" });
   * ```
   *
   * @param key A key of your choosing.
   * @param loader Computes the value on a miss.
   * @param options `ttl`, `lockTimeout`, `signal`, `timeout`.
   * @returns The value.
   */
  @traced("getOrStoreJson", () => 1)
  async getOrStoreJson<T>(
    key: string,
    loader: Loader<T>,
    options?: GetOrStoreOptions,
  ): Promise<T> {
    const bytes = await this.#readThrough(
      key,
      loader,
      stringifyExactly,
      options,
    );
    return parseJson<T>(key, bytes);
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
   * assert.equal(ok, true);
   * assert.ok(latencyMs >= 0);
   * ```
   *
   * @param options `signal`, `timeout`.
   * @returns `ok`, the latency in ms, and the error message when not ok.
   */
  async health(options?: CallOptions): Promise<Health> {
    const call = checkOptions(options);
    const started = performance.now();
    try {
      await this.#run("PING", (driver) => driver.send(["PING"]), call);
      return { ok: true, latencyMs: performance.now() - started };
    } catch (error) {
      if (!(error instanceof CacheError)) throw error;
      return {
        ok: false,
        latencyMs: performance.now() - started,
        error: error.message,
      };
    }
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
   *
   * @returns A snapshot.
   */
  stats(): CacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      stores: this.#stores,
      errors: this.#errors,
      latency: {
        p50: this.#latency.percentile(0.5),
        p99: this.#latency.percentile(0.99),
      },
      ...(this.#local === undefined ? {} : { l1: this.#local.stats() }),
    };
  }

  /** Sets every counter of {@linkcode Cache.stats} back to zero. */
  resetStats(): void {
    this.#hits =
      this.#misses =
      this.#stores =
      this.#errors =
        0;
    this.#latency.reset();
    this.#local?.resetStats();
  }

  /**
   * Releases the connection, if the cache opened it. Calls made afterwards
   * reject with a {@linkcode CacheError}. Closing twice is harmless.
   */
  async close(): Promise<void> {
    const driver = this.#driver;
    this.#driver = undefined;
    this.#local?.invalidate(null);
    await driver?.close();
  }

  /** Same as {@linkcode Cache.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // A read that missed the in-process layer: GET and PTTL in one round
  // trip, so the local copy expires when the key does.
  #fill(
    local: LocalLayer,
    redisKey: string,
    call: CallOptions,
  ): Promise<Uint8Array | null> {
    const ticket = local.ticket(redisKey);
    return this.#run(
      "GET",
      (driver) =>
        Promise.all([
          driver.getBytes(redisKey),
          driver.send(["PTTL", redisKey]),
        ]),
      call,
    ).then(([bytes, pttl]) => {
      if (bytes !== null && this.#driver?.connected) {
        const ttl = Number(pttl);
        local.fill(redisKey, ticket, bytes, ttl >= 0 ? ttl : undefined);
      }
      return bytes;
    });
  }

  #ttlFor(options: StoreOptions | GetOrStoreOptions): number | undefined {
    return options.ttl === undefined ? this.#ttl : checkTtl("ttl", options.ttl);
  }

  #touchFor(options: GetOptions): number | undefined {
    const { touch } = options;
    if (touch === undefined || touch === false) return undefined;
    if (touch === true) {
      if (this.#ttl === undefined) {
        throw new RangeError(
          "touch: true needs a default ttl; give Cache.connect a ttl, or touch a number of ms",
        );
      }
      return this.#ttl;
    }
    return checkTtl("touch", touch);
  }

  // One SET, with the expiry in the same command when there is one. Plain
  // writes (no signal, timeout or replicas of their own) made in the same
  // tick share one MSET, one deadline and one latency sample. A store's
  // `record` goes in the same script as its value when it can, else as the
  // history's own commands around the SET.
  #write(
    redisKey: string,
    value: RedisArgument,
    ttl: number | undefined,
    replicas: number,
    call: StoreOptions,
    record?: PendingWrite["record"],
  ): Promise<void> {
    this.#local?.invalidate(redisKey);
    const writes = replicas === 0 && call.signal === undefined &&
        call.timeout === undefined && this.#driver?.connected !== false
      ? this.#writes
      : undefined;
    // A write that goes alone lets those of this tick go first, so writes
    // reach Redis (and the Python history its outputs) in the order made.
    if (writes === undefined) this.#writes?.flush();
    const write = () =>
      this.#writeValue(redisKey, value, ttl, call, replicas, writes);
    if (record === undefined) return write();
    const recordApart = () => {
      // Scripts of this tick go first: their inputs were made first, and
      // inputs and outputs must land in the same order.
      this.#writes?.flush();
      return this.#recordStore(
        record.input,
        () => write().then(() => record.output),
      ).then(() => {});
    };
    if (writes === undefined || !this.#canRecordInScript(value)) {
      return recordApart();
    }
    return writes.add({ redisKey, value, ttl, record }).then((result) => {
      if (result === SCRIPT_REFUSED) return recordApart();
      this.#stores++;
      return undefined;
    });
  }

  // Whether a store's history can go in the script with its value: not in a
  // cluster (the history keys live in other slots), not for large values,
  // and not while a history write sent apart is still to go (its output
  // must land first).
  #canRecordInScript(value: RedisArgument): boolean {
    return this.#scriptWrites && this.#driver?.cluster === undefined &&
      value.length <= RECORDED_VALUE_LIMIT &&
      !this.#historyWrites!.hasUnsent(this.#historyKeys.outputs);
  }

  // Counts a store and records its input (unless making it failed), then
  // its output if `call` returns: the history's own commands, merged per tick.
  #recordStore(
    input: RedisArgument | undefined,
    call: () => Promise<string>,
  ): Promise<string> {
    const writes = this.#historyWrites!;
    const name = this.#historyKeys.count;
    return countCall(
      writes,
      name,
      input === undefined ? call : () => recordCall(writes, name, input, call),
    );
  }

  #writeValue(
    redisKey: string,
    value: RedisArgument,
    ttl: number | undefined,
    call: StoreOptions,
    replicas: number,
    writes: Coalescer<PendingWrite, unknown> | undefined,
  ): Promise<void> {
    const written = writes !== undefined
      ? writes.add({ redisKey, value, ttl })
      : this.#run(
        "SET",
        (driver) =>
          this.#replicated(
            driver,
            driver.send(setCommand(redisKey, value, ttl)),
            [redisKey],
            replicas,
            call,
          ),
        call,
      );
    return written.then(() => {
      this.#stores++;
    });
  }

  // Writes values under their keys atomically: one MSET, or with an expiry
  // one script (per slot, in a cluster: MSET node-redis splits itself).
  #sendWrites(
    driver: Driver,
    redisKeys: readonly string[],
    values: readonly RedisArgument[],
    ttl: number | undefined,
    replicas: number,
    call: CallOptions,
  ): Promise<unknown> {
    const groups = driver.cluster === undefined || ttl === undefined
      ? [redisKeys.map((_, i) => i)]
      : groupBySlot(redisKeys);
    return Promise.all(groups.map((group) => {
      const groupKeys = group.map((i) => redisKeys[i]);
      const written = driver.send(
        ttl === undefined
          ? ["MSET", ...group.flatMap((i) => [redisKeys[i], values[i]])]
          : [
            "EVAL",
            STORE_MANY_WITH_TTL,
            String(group.length),
            ...groupKeys,
            ...group.map((i) => values[i]),
            String(ttl),
          ],
      );
      return this.#replicated(driver, written, groupKeys, replicas, call);
    }));
  }

  // A batch of coalesced writes: the recorded stores in one script, the
  // others in one #sendWrites per expiry among them; a failed command fails
  // only its own writes.
  #sendPendingWrites(
    driver: Driver,
    writes: readonly PendingWrite[],
  ): Promise<BatchResult<unknown>[]> {
    const recorded: number[] = [];
    const byTtl = new Map<number | undefined, number[]>();
    writes.forEach(({ ttl, record }, i) => {
      if (record !== undefined) return void recorded.push(i);
      const group = byTtl.get(ttl);
      if (group === undefined) byTtl.set(ttl, [i]);
      else group.push(i);
    });
    const results: BatchResult<unknown>[] = new Array(writes.length);
    const failAll = (group: number[], command: string) => (error: unknown) => {
      const failed = this.#failed(
        redact(
          error instanceof Error ? error : new CacheError(String(error)),
          this.#secrets,
        ) as Error,
        command,
      );
      group.forEach((i) => results[i] = failed);
    };
    const sent = [...byTtl].map(([ttl, group]) =>
      this.#sendWrites(
        driver,
        group.map((i) => writes[i].redisKey),
        group.map((i) => writes[i].value),
        ttl,
        0,
        {},
      ).then(
        () => group.forEach((i) => results[i] = undefined),
        failAll(group, ttl === undefined ? "MSET" : "EVAL"),
      )
    );
    for (let start = 0; start < recorded.length; start += RECORDED_STORE_MAX) {
      const group = recorded.slice(start, start + RECORDED_STORE_MAX);
      sent.push(
        this.#sendRecorded(
          driver,
          group.map((i) => writes[i] as RecordedWrite),
        ).then(
          (outcome) => group.forEach((i) => results[i] = outcome),
          failAll(group, "EVAL"),
        ),
      );
    }
    return Promise.all(sent).then(() => results);
  }

  // Stores with their Python history in one script, all or none: resolves
  // to SCRIPT_REFUSED when the server did not run it (after which, if an
  // ACL refuses scripting itself, no store tries one again).
  async #sendRecorded(
    driver: Driver,
    writes: readonly RecordedWrite[],
  ): Promise<undefined | typeof SCRIPT_REFUSED> {
    const loading = !this.#scriptLoaded;
    try {
      await driver.send(
        recordedStoreCommand(this.#historyKeys, writes, loading),
      );
      this.#scriptLoaded = true;
      return undefined;
    } catch (error) {
      if (lacksScript(error)) {
        // A new or restarted server, or a SCRIPT FLUSH: nothing ran. The
        // batch goes apart rather than again, since stores made after it may
        // have gone apart already; the next batch loads the script.
        this.#scriptLoaded = false;
        return SCRIPT_REFUSED;
      }
      if (!refusedBeforeRunning(error)) throw error;
      if (refusesScripts(error)) this.#scriptWrites = false;
      return SCRIPT_REFUSED;
    }
  }

  #replicasFor(options: StoreOptions): number {
    return options.waitReplicas === undefined
      ? this.#waitReplicas
      : checkReplicas(options.waitReplicas);
  }

  // A write, then (when replicas are asked for) WAIT on the same connection
  // in the same round trip: on each node the keys live on, in a cluster.
  #replicated(
    driver: Driver,
    written: Promise<unknown>,
    keys: readonly string[],
    replicas: number,
    call: CallOptions,
  ): Promise<unknown> {
    if (replicas === 0) return written;
    // Half the command's bound, so WAIT answers before the call times out.
    const timeout = checkTimeout("timeout", call.timeout, this.#timeout);
    const wait = Math.max(1, Math.floor(timeout / 2));
    const routes = driver.cluster === undefined
      ? [keys[0]]
      : groupBySlot(keys).map(([first]) => keys[first]);
    return Promise.all([
      written,
      ...routes.map((key) =>
        this.#replicaWaiter.after(driver, key, replicas, wait)
      ),
    ]);
  }

  // A conversion that fails with our DecodeError is Redis data trouble and
  // goes to onError; any other error is the caller's fn and passes through.
  async #decode<T>(
    fn: (value: Uint8Array) => T | Promise<T>,
    bytes: Uint8Array,
  ): Promise<Awaited<T>> {
    try {
      return await fn(bytes);
    } catch (error) {
      if (error instanceof DecodeError) this.#failed(error, "GET");
      throw error;
    }
  }

  async #readThrough<T>(
    key: string,
    loader: Loader<T>,
    encode: (value: T) => RedisArgument,
    options: GetOrStoreOptions | undefined,
  ): Promise<Uint8Array> {
    const redisKey = this.#prefix + checkKey(key);
    if (typeof loader !== "function") {
      throw new TypeError("loader must be a function");
    }
    const call = checkOptions(options);
    const ttl = this.#ttlFor(call);
    const lockTimeout = checkTimeout(
      "lockTimeout",
      call.lockTimeout,
      DEFAULT_LOCK_TIMEOUT,
    );
    const signal = checkSignal(call.signal);
    signal?.throwIfAborted();
    // Callers share one load; each can still give up on its own signal.
    let loading = this.#loading.get(redisKey);
    if (loading === undefined) {
      loading = this.#load(redisKey, loader, encode, ttl, lockTimeout, call)
        .finally(() => this.#loading.delete(redisKey));
      this.#loading.set(redisKey, loading);
    }
    const { bytes, hit } = signal === undefined
      ? await loading
      : await abortable(loading, signal);
    if (hit) this.#hits++;
    else this.#misses++;
    return bytes;
  }

  async #load<T>(
    redisKey: string,
    loader: Loader<T>,
    encode: (value: T) => RedisArgument,
    ttl: number | undefined,
    lockTimeout: number,
    call: CallOptions,
  ): Promise<Loaded> {
    const timeout = { timeout: call.timeout };
    const get = () =>
      this.#run("GET", (driver) => driver.getBytes(redisKey), timeout);
    const found = await get();
    if (found !== null) return { bytes: found, hit: true };
    const send = (args: readonly RedisArgument[]) =>
      this.#run(String(args[0]), (driver) => driver.send(args), timeout);
    const lockKey = `${this.#prefix}__lock:${
      redisKey.slice(this.#prefix.length)
    }`;
    const givenUpAt = Date.now() + lockTimeout;
    for (let attempt = 0;; attempt++) {
      const token = await tryLock(send, lockKey, lockTimeout);
      if (token !== undefined) {
        try {
          // Another process may have stored it between our GET and the lock.
          const stored = await get();
          if (stored !== null) return { bytes: stored, hit: false };
          const value = encode(await loader());
          await this.#write(
            redisKey,
            value,
            ttl,
            this.#replicasFor(timeout),
            timeout,
          );
          return { bytes: toBytes(value), hit: false };
        } finally {
          await unlock(send, lockKey, token).catch(() => {});
        }
      }
      const stored = await get();
      if (stored !== null) return { bytes: stored, hit: false };
      if (Date.now() >= givenUpAt) {
        throw this.#failed(
          new TimeoutError(
            `waited ${lockTimeout} ms for another process to load this key`,
          ),
          "GET",
        );
      }
      await sleep(Math.min(POLL_LONGEST, POLL_FIRST * 2 ** attempt));
    }
  }

  async #clear(call: CallOptions): Promise<void> {
    this.#local?.invalidate(null);
    if (this.#namespace === undefined) {
      // In a cluster, node-redis sends FLUSHDB to every primary.
      await this.#run("FLUSHDB", (driver) => driver.send(["FLUSHDB"]), call);
      return;
    }
    for await (
      const keys of this.#scan(`${escapeGlob(this.#namespace)}:*`, call)
    ) {
      await this.#run(
        "UNLINK",
        (driver) => driver.send(["UNLINK", ...keys]),
        call,
      );
    }
  }

  // Batches of keys matching `pattern`, from every primary in a cluster
  // (SCAN walks the node it is sent to, no further).
  async *#scan(
    pattern: string,
    call: CallOptions,
  ): AsyncGenerator<string[]> {
    const nodes = await this.#run(
      "SCAN",
      (driver) => driver.cluster?.primaries() ?? Promise.resolve([driver]),
      call,
    );
    for (const node of nodes) {
      yield* scanKeys(
        (args) => this.#run("SCAN", () => node.send(args), call),
        pattern,
      );
    }
  }

  // Runs one call to Redis within its timeout and signal, records its
  // latency, and reports failures (credentials scrubbed) to onError.
  // Not an async function: on the hot path each await layer costs
  // microtask turns and allocations, so the outcome is chained instead.
  #run<T>(
    command: string,
    call: (driver: Driver) => Promise<T>,
    options: CallOptions = {},
  ): Promise<T> {
    let signal: AbortSignal | undefined;
    let timeout: number;
    let driver: Driver | undefined;
    try {
      signal = checkSignal(options.signal);
      timeout = checkTimeout("timeout", options.timeout, this.#timeout);
      signal?.throwIfAborted();
      driver = this.#driver;
      if (driver === undefined) throw new CacheError("the cache is closed");
    } catch (error) {
      return Promise.reject(error);
    }
    const offline = !driver.connected;
    if (offline && this.#waitingOffline >= this.#offlineQueue) {
      return Promise.reject(this.#failed(
        new ConnectionError(
          `Redis is unreachable and ${this.#waitingOffline} commands are already waiting for it; ${command} was not sent`,
        ),
        command,
      ));
    }
    if (offline) this.#waitingOffline++;
    const started = performance.now();
    const done = () => {
      if (offline) this.#waitingOffline--;
      this.#latency.record(performance.now() - started);
    };
    return deadline(
      call(driver),
      timeout,
      () => new TimeoutError(`${command} timed out after ${timeout} ms`),
      signal,
    ).then((value) => {
      done();
      return value;
    }, (error) => {
      done();
      if (signal?.aborted && error === signal.reason) throw error;
      throw this.#failed(redact(error, this.#secrets), command);
    });
  }

  // One coalesced batch of two or more GETs: MGET with its check for keys
  // of other types when the driver can read its replies as bytes, else (Bun,
  // or a user the server refuses those commands) pipelined GETs.
  async #getEach(
    driver: Driver,
    keys: string[],
  ): Promise<(Uint8Array | null | Error)[]> {
    const getEach = driver.getEach?.bind(driver);
    if (getEach !== undefined && this.#batchReads) {
      try {
        const chunks: string[][] = [];
        for (let i = 0; i < keys.length; i += GET_EACH_MAX) {
          chunks.push(keys.slice(i, i + GET_EACH_MAX));
        }
        return (await Promise.all(chunks.map(getEach))).flat();
      } catch (error) {
        if (!(error instanceof CommandError)) throw error;
        // An ACL that refuses one of the commands, or a server too old for
        // script flags: stop trying. Anything else (LOADING after a restart,
        // BUSY) sends this batch as GETs and the next one as a batch again.
        if (
          error.code === "NOPERM" ||
          /compiling script|unknown command/i.test(error.message)
        ) {
          this.#batchReads = false;
        }
      }
    }
    return await Promise.all(
      keys.map((key) =>
        driver.getBytes(key).catch((error: unknown) =>
          error instanceof Error ? error : new CacheError(String(error))
        )
      ),
    );
  }

  // A read under the "miss" policy: unavailability becomes `fallback` (the
  // error was already counted and reported by #run); other errors pass.
  #orFallback<T>(
    policy: UnavailablePolicy,
    read: Promise<T>,
    fallback: () => T,
  ): Promise<T> {
    if (policy === "throw") return read;
    return read.catch((error) => {
      if (isUnavailable(error)) return fallback();
      throw error;
    });
  }

  // Checked before anything is sent, so a bad policy sends nothing.
  #policyFor(options: ReadOptions): UnavailablePolicy {
    return options.onUnavailable === undefined
      ? this.#onUnavailable
      : checkPolicy(options.onUnavailable);
  }

  #failed<E>(error: E, command: string): E {
    if (error instanceof CacheError) {
      this.#errors++;
      try {
        this.#onError?.(error, { command });
      } catch {
        // A logging hook must not change what the caller sees.
      }
    }
    return error;
  }
}

/** What one read-through load found: the bytes, and whether they were already cached. */
interface Loaded {
  bytes: Uint8Array;
  hit: boolean;
}

const DEFAULT_L1_ENTRIES = 10_000;
const DEFAULT_L1_BYTES = 64 * 1024 * 1024;

function openLocalLayer(options: L1Options): LocalLayer {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("l1 must be an object: { maxEntries, maxBytes }");
  }
  const bound = (name: string, value: unknown, fallback: number) => {
    if (value === undefined) return fallback;
    if (
      typeof value !== "number" || !Number.isSafeInteger(value) || value < 1
    ) {
      throw new RangeError(
        `l1.${name} must be a whole number, 1 or more, got ${value}`,
      );
    }
    return value;
  };
  return new LocalLayer(
    bound("maxEntries", options.maxEntries, DEFAULT_L1_ENTRIES),
    bound("maxBytes", options.maxBytes, DEFAULT_L1_BYTES),
  );
}

function checkReplicas(replicas: unknown): number {
  if (
    typeof replicas !== "number" || !Number.isSafeInteger(replicas) ||
    replicas < 0
  ) {
    throw new RangeError(
      `waitReplicas must be a whole number of replicas, 0 or more, got ${replicas}`,
    );
  }
  return replicas;
}

function checkPolicy(policy: unknown): UnavailablePolicy {
  if (policy !== "throw" && policy !== "miss") {
    throw new TypeError('onUnavailable must be "throw" or "miss"');
  }
  return policy;
}

/** Whether an error means Redis could not be reached or did not answer. */
function isUnavailable(error: unknown): boolean {
  return error instanceof ConnectionError || error instanceof TimeoutError;
}

function parseJson<T>(key: string, bytes: Uint8Array): T {
  const text = decodeUtf8(key, bytes);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new DecodeError(key, "is not valid JSON", { cause: error });
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
