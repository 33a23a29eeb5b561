/**
 * {@linkcode Cache}: store a value under a fresh random key and read it back,
 * on a real Redis server.
 *
 * @module
 */

import { registerCache } from "./_cache_internal.ts";
import { callHistoryAs, countCallsAs } from "./_call_history.ts";
import { deadline } from "./_deadline.ts";
import { decodeBigInt, decodeInt, decodeUtf8 } from "./_decode.ts";
import { adaptClient, type Driver, openDriver } from "./_driver.ts";
import { readEnv } from "./_env.ts";
import { redact } from "./_redact.ts";
import { parseRedisUrl } from "./_url.ts";
import { CacheError, TimeoutError } from "./errors.ts";
import type { RedisArgument, RedisClientLike } from "./redis_client.ts";

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
   * A connected client to use instead of opening a connection: node-redis,
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
   * {@linkcode TimeoutError}.
   *
   * @default {5000}
   */
  timeout?: number;
}

const DEFAULT_URL = "redis://127.0.0.1:6379";
const DEFAULT_TIMEOUT = 5_000;
// setTimeout fires at once for delays beyond a signed 32-bit integer.
const MAX_TIMEOUT = 2 ** 31 - 1;
const MAX_NAMESPACE_LENGTH = 256;
/** Longest key, in UTF-16 code units, that `get` and friends accept. */
export const MAX_KEY_LENGTH = 1024;
const SCAN_COUNT = 1_000;

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
  #secrets: readonly string[] = [];

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
    const timeout = checkDuration("timeout", options.timeout);
    const connectTimeout = checkDuration(
      "connectTimeout",
      options.connectTimeout,
    );
    const namespace = checkNamespace(options.namespace);
    const flush = options.flush ?? true;
    if (typeof flush !== "boolean") {
      throw new TypeError("flush must be a boolean");
    }
    let driver: Driver;
    let secrets: string[] = [];
    if (options.client !== undefined) {
      driver = await adaptClient(options.client);
    } else {
      const endpoint = parseRedisUrl(
        options.url ?? readEnv("REDIS_URL") ?? DEFAULT_URL,
      );
      secrets = endpoint.password === undefined ? [] : [endpoint.password];
      try {
        driver = await openDriver({ endpoint, connectTimeout });
      } catch (error) {
        throw redact(error, secrets);
      }
    }
    // `this` is Cache or a subclass; its constructor is protected, so the
    // type of `this` cannot say it is constructible.
    const cache = new (this as unknown as new () => C)();
    cache.#driver = driver;
    cache.#namespace = namespace;
    cache.#prefix = namespace === undefined ? "" : `${namespace}:`;
    cache.#timeout = timeout;
    cache.#secrets = secrets;
    registerCache(cache, {
      send: (args) =>
        cache.#run(String(args[0]), (driver) => driver.send(args)),
      getBytes: (key) => cache.#run("GET", (driver) => driver.getBytes(key)),
      prefix: cache.#prefix,
    });
    if (flush) {
      try {
        await cache.#flush();
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
   * ```
   *
   * @param data The value: a string, bytes, a finite number or a bigint.
   * @returns The new key, a lowercase version 4 UUID.
   * @throws {TypeError} `data` is of another type, or a string with lone surrogates.
   * @throws {RangeError} `data` is `NaN` or infinite.
   * @throws {CacheError} Redis failed or did not answer in time.
   */
  @countCallsAs("Cache.store")
  @callHistoryAs("Cache.store")
  async store(data: Storable): Promise<string> {
    const value = encodeValue(data);
    const key = crypto.randomUUID();
    await this.#run(
      "SET",
      (driver) => driver.send(["SET", this.#prefix + key, value]),
    );
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
   * await using cache = await Cache.connect({ namespace: "doc-get" });
   * const key = await cache.store(new Uint8Array([0, 255]));
   * assert.deepEqual(await cache.get(key), new Uint8Array([0, 255]));
   * ```
   *
   * @param key A key returned by {@linkcode Cache.store}, or any non-empty key
   * of at most {@linkcode MAX_KEY_LENGTH} characters.
   * @returns The stored bytes, or `null` for a missing key.
   */
  get(key: string): Promise<Uint8Array | null>;
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
   * @returns What `fn` returns, or `null` for a missing key.
   */
  get<T>(
    key: string,
    fn: (value: Uint8Array) => T | Promise<T>,
  ): Promise<Awaited<T> | null>;
  async get<T>(
    key: string,
    fn?: (value: Uint8Array) => T | Promise<T>,
  ): Promise<Awaited<T> | Uint8Array | null> {
    if (fn !== undefined && typeof fn !== "function") {
      throw new TypeError("fn must be a function");
    }
    const redisKey = this.#redisKey(key);
    const bytes = await this.#run("GET", (driver) => driver.getBytes(redisKey));
    if (bytes === null) return null;
    return fn === undefined ? bytes : await fn(bytes);
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
   * @returns The text, or `null` for a missing key.
   * @throws {DecodeError} The bytes are not valid UTF-8.
   */
  getStr(key: string): Promise<string | null> {
    return this.get(key, (bytes) => decodeUtf8(key, bytes));
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
   * @returns The number, or `null` for a missing key.
   * @throws {DecodeError} The value is not an integer (`"3.14"`, `"abc"`, `""`).
   * @throws {RangeError} Its magnitude is 2^53 or more; use {@linkcode Cache.getBigInt}.
   */
  getInt(key: string): Promise<number | null> {
    return this.get(key, (bytes) => decodeInt(key, bytes));
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
   * @returns The bigint, or `null` for a missing key.
   * @throws {DecodeError} The value is not an integer, or has more than 4 300 digits.
   */
  getBigInt(key: string): Promise<bigint | null> {
    return this.get(key, (bytes) => decodeBigInt(key, bytes));
  }

  /**
   * Releases the connection, if the cache opened it. Calls made afterwards
   * reject with a {@linkcode CacheError}. Closing twice is harmless.
   */
  async close(): Promise<void> {
    const driver = this.#driver;
    this.#driver = undefined;
    await driver?.close();
  }

  /** Same as {@linkcode Cache.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // Clears the namespace with SCAN + UNLINK (never KEYS, which blocks the
  // server), or the whole database when there is no namespace.
  async #flush(): Promise<void> {
    if (this.#namespace === undefined) {
      await this.#run("FLUSHDB", (driver) => driver.send(["FLUSHDB"]));
      return;
    }
    const pattern = `${escapeGlob(this.#namespace)}:*`;
    let cursor = "0";
    do {
      const reply = await this.#run("SCAN", (driver) =>
        driver.send([
          "SCAN",
          cursor,
          "MATCH",
          pattern,
          "COUNT",
          String(SCAN_COUNT),
        ]));
      const [next, keys] = reply as [string, string[]];
      if (keys.length > 0) {
        await this.#run("UNLINK", (driver) => driver.send(["UNLINK", ...keys]));
      }
      cursor = String(next);
    } while (cursor !== "0");
  }

  #redisKey(key: string): string {
    if (typeof key !== "string") throw new TypeError("key must be a string");
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new RangeError(
        `key must be 1 to ${MAX_KEY_LENGTH} characters long, got ${key.length}`,
      );
    }
    if (!key.isWellFormed()) {
      throw new TypeError("key must not contain lone surrogates");
    }
    return this.#prefix + key;
  }

  // Runs one call to Redis within the cache's timeout, with credentials
  // scrubbed from any error.
  async #run<T>(
    command: string,
    call: (driver: Driver) => Promise<T>,
  ): Promise<T> {
    const driver = this.#driver;
    if (driver === undefined) throw new CacheError("the cache is closed");
    try {
      return await deadline(
        call(driver),
        this.#timeout,
        () =>
          new TimeoutError(`${command} timed out after ${this.#timeout} ms`),
      );
    } catch (error) {
      throw redact(error, this.#secrets);
    }
  }
}

function encodeValue(data: Storable): RedisArgument {
  switch (typeof data) {
    case "string":
      if (!data.isWellFormed()) {
        throw new TypeError(
          "cannot store a string with lone surrogates: it has no UTF-8 form",
        );
      }
      return data;
    case "number":
      if (!Number.isFinite(data)) {
        throw new RangeError(`cannot store ${data}: only finite numbers`);
      }
      return String(data);
    case "bigint":
      return String(data);
    case "object":
      if (data instanceof Uint8Array) return data;
  }
  throw new TypeError(
    `cannot store ${
      data === null ? "null" : typeof data
    }: expected a string, Uint8Array, number or bigint`,
  );
}

function checkDuration(name: string, value: number | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT;
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number of milliseconds`);
  }
  if (!(value > 0 && value <= MAX_TIMEOUT)) {
    throw new RangeError(
      `${name} must be more than 0 and at most ${MAX_TIMEOUT} ms, got ${value}`,
    );
  }
  return value;
}

function checkNamespace(namespace: string | undefined): string | undefined {
  if (namespace === undefined) return undefined;
  if (typeof namespace !== "string") {
    throw new TypeError("namespace must be a string");
  }
  if (namespace.length === 0 || namespace.length > MAX_NAMESPACE_LENGTH) {
    throw new RangeError(
      `namespace must be 1 to ${MAX_NAMESPACE_LENGTH} characters long`,
    );
  }
  if (!namespace.isWellFormed()) {
    throw new TypeError("namespace must not contain lone surrogates");
  }
  return namespace;
}

// SCAN MATCH treats * ? [ ] and \ as glob syntax; a namespace is literal.
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}
