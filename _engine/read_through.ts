// Read-through (`getOrStore`): the value under a key, or else the loader's,
// stored and returned. Callers in one process share one load (single
// flight); across processes a short Redis lock keeps it to one loader call
// while the others poll for the value, with a bound on how long they wait.

import type { Loader } from "../cache_options.ts";
import type { CallOptions, GetOrStoreOptions } from "../cache_options.ts";
import { TimeoutError } from "../errors.ts";
import type { RedisArgument } from "../redis_client.ts";
import { parseJson, stringifyExactly } from "./json.ts";
import { tryLock, unlock } from "./lock.ts";
import type { Runner } from "./runner.ts";
import type { Settings } from "./settings.ts";
import type { Stats } from "./stats.ts";
import { type Tagging, taggingFor } from "./tags.ts";
import {
  checkKey,
  checkOptions,
  checkSignal,
  LOCK_PREFIX,
  toBytes,
} from "./validate.ts";
import type { Writes } from "./writes.ts";

// The first poll for another process's value, and the longest gap between
// polls, in ms: the gap doubles from the first.
const POLL_FIRST = 5;
const POLL_LONGEST = 100;

/** What one read-through load found: the bytes, and whether they were already cached. */
interface Loaded {
  bytes: Uint8Array;
  hit: boolean;
}

/** One cache's read-through loads. */
export class ReadThrough {
  readonly #settings: Settings;
  readonly #runner: Runner;
  readonly #stats: Stats;
  readonly #writes: Writes;
  readonly #prefix: string;
  readonly #loading = new Map<string, Promise<Loaded>>();

  constructor(
    settings: Settings,
    runner: Runner,
    stats: Stats,
    writes: Writes,
  ) {
    this.#settings = settings;
    this.#runner = runner;
    this.#stats = stats;
    this.#writes = writes;
    this.#prefix = settings.prefix;
  }

  /** The bytes under `key`, or `loader`'s value encoded by `encode` and stored. */
  async load<T>(
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
    const ttl = this.#settings.ttlFor(call);
    const lockTimeout = this.#settings.lockTimeoutFor(call);
    const tagging = taggingFor(call);
    const signal = checkSignal(call.signal);
    signal?.throwIfAborted();
    // Callers share one load; each can still give up on its own signal.
    let loading = this.#loading.get(redisKey);
    if (loading === undefined) {
      loading = this.#load(
        redisKey,
        loader,
        encode,
        ttl,
        lockTimeout,
        call,
        tagging,
      ).finally(() => this.#loading.delete(redisKey));
      this.#loading.set(redisKey, loading);
    }
    const { bytes, hit } = signal === undefined
      ? await loading
      : await abortable(loading, signal);
    if (hit) this.#stats.hits++;
    else this.#stats.misses++;
    return bytes;
  }

  /** {@linkcode ReadThrough.load} of a JSON value: stored as JSON, returned parsed. */
  async loadJson<T>(
    key: string,
    loader: Loader<T>,
    options: GetOrStoreOptions | undefined,
  ): Promise<T> {
    const bytes = await this.load(key, loader, stringifyExactly, options);
    return parseJson<T>(key, bytes);
  }

  async #load<T>(
    redisKey: string,
    loader: Loader<T>,
    encode: (value: T) => RedisArgument,
    ttl: number | undefined,
    lockTimeout: number,
    call: CallOptions,
    tagging: Tagging | undefined,
  ): Promise<Loaded> {
    const runner = this.#runner;
    const timeout = { timeout: call.timeout };
    const get = () =>
      runner.run("GET", (driver) => driver.getBytes(redisKey), timeout);
    const found = await get();
    if (found !== null) return { bytes: found, hit: true };
    const send = (args: readonly RedisArgument[]) =>
      runner.run(String(args[0]), (driver) => driver.send(args), timeout);
    const lockKey = `${this.#prefix}${LOCK_PREFIX}${
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
          await this.#writes.write(
            redisKey,
            value,
            ttl,
            this.#settings.replicasFor(timeout),
            timeout,
            undefined,
            tagging,
          );
          return { bytes: toBytes(value), hit: false };
        } finally {
          await unlock(send, lockKey, token).catch(() => {});
        }
      }
      const stored = await get();
      if (stored !== null) return { bytes: stored, hit: false };
      if (Date.now() >= givenUpAt) {
        throw runner.failed(
          new TimeoutError(
            `waited ${lockTimeout} ms for another process to load this key`,
          ),
          "GET",
        );
      }
      await sleep(Math.min(POLL_LONGEST, POLL_FIRST * 2 ** attempt));
    }
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
