// Read-through (`getOrStore`): the value under a key, or else the loader's,
// stored and returned. Callers in one process share one load (single
// flight); across processes a short Redis lock keeps it to one loader call
// while the others poll for the value, with a bound on how long they wait.
// The value is read with its PTTL, which says (grace.ts) whether it is
// fresh, due for a refresh ahead, or stale; stale values are served while
// one background refresh (refreshes.ts) loads the next.

import type { L1 } from "../_l1/l1.ts";
import type {
  GetOrStoreOptions,
  LoadedBytes,
  Loader,
  Storable,
} from "../cache_options.ts";
import { TimeoutError } from "../errors.ts";
import type { RedisArgument } from "../redis_client.ts";
import { freshness, type ReadThroughPolicy, storedExpiry } from "./grace.ts";
import { parseJson, stringifyExactly } from "./json.ts";
import { runLoader, withinSoft } from "./loader_timeouts.ts";
import { tryLock, unlock } from "./lock.ts";
import { isNegative, negativeCommand, negativeKey } from "./negative.ts";
import type { Refreshes } from "./refreshes.ts";
import { isUnavailable, type Runner } from "./runner.ts";
import type { Settings } from "./settings.ts";
import type { Stats } from "./stats.ts";
import { type Tagging, taggingFor } from "./tags.ts";
import {
  checkKey,
  checkOptions,
  checkSignal,
  encodeValue,
  LOCK_PREFIX,
  toBytes,
} from "./validate.ts";
import type { Writes } from "./writes.ts";

// The first poll for another process's value, and the longest gap between
// polls, in ms: the gap doubles from the first.
const POLL_FIRST = 5;
const POLL_LONGEST = 100;

/** What one read-through load found: the bytes (`null`: a negative entry), and whether they were cached. */
interface Loaded {
  bytes: Uint8Array | null;
  hit: boolean;
}

/** A value read with its time left (PTTL) and whether a negative entry stands for it. */
interface Found {
  bytes: Uint8Array | null;
  pttl: number;
  negative: boolean;
}

/** One call's load: its key, loader and options, resolved once. */
interface Job<T, S> {
  redisKey: string;
  loader: Loader<T, S>;
  encode: (value: T) => RedisArgument;
  /** The stale bytes as the loader's `context.stale` gives them. */
  decodeStale: (bytes: Uint8Array) => S | null;
  policy: ReadThroughPolicy;
  timeout: { timeout: number | undefined };
  replicas: number;
  /** The call's tags, each entry keeping its grace for expireTags. */
  tagging: Tagging | undefined;
}

/** One cache's read-through loads. */
export class ReadThrough {
  readonly #settings: Settings;
  readonly #runner: Runner;
  readonly #stats: Stats;
  readonly #writes: Writes;
  readonly #l1: L1 | undefined;
  readonly #refreshes: Refreshes;
  readonly #prefix: string;
  readonly #loading = new Map<string, Promise<Loaded>>();

  constructor(
    settings: Settings,
    runner: Runner,
    stats: Stats,
    writes: Writes,
    l1: L1 | undefined,
    refreshes: Refreshes,
  ) {
    this.#settings = settings;
    this.#runner = runner;
    this.#stats = stats;
    this.#writes = writes;
    this.#l1 = l1;
    this.#refreshes = refreshes;
    this.#prefix = settings.prefix;
  }

  /**
   * The bytes under `key`, or `loader`'s value encoded by `encode` and
   * stored; `null` for a negative entry.
   */
  async load<T, S>(
    key: string,
    loader: Loader<T, S>,
    encode: (value: T) => RedisArgument,
    decodeStale: (bytes: Uint8Array) => S | null,
    options: GetOrStoreOptions | undefined,
  ): Promise<Uint8Array | null> {
    const redisKey = this.#prefix + checkKey(key);
    if (typeof loader !== "function") {
      throw new TypeError("loader must be a function");
    }
    const call = checkOptions(options);
    const policy = this.#settings.readThroughFor(call);
    const tagging = taggingFor(call, policy.grace);
    const signal = checkSignal(call.signal);
    signal?.throwIfAborted();
    // Callers share one load; each can still give up on its own signal.
    let loading = this.#loading.get(redisKey);
    if (loading === undefined) {
      const job: Job<T, S> = {
        redisKey,
        loader,
        encode,
        decodeStale,
        policy,
        timeout: { timeout: call.timeout },
        replicas: this.#settings.replicasFor({ timeout: call.timeout }),
        tagging,
      };
      loading = this.#resolve(job).finally(() =>
        this.#loading.delete(redisKey)
      );
      this.#loading.set(redisKey, loading);
    }
    const { bytes, hit } = signal === undefined
      ? await loading
      : await abortable(loading, signal);
    if (hit) this.#stats.hits++;
    else this.#stats.misses++;
    return bytes;
  }

  /** `Cache.getOrStore`: {@linkcode ReadThrough.load} of a value stored as `store` stores it. */
  loadBytes<R extends Storable | null | undefined>(
    key: string,
    loader: Loader<R, Uint8Array>,
    options: GetOrStoreOptions | undefined,
  ): Promise<LoadedBytes<R>> {
    return this.load(
      key,
      loader,
      encodeValue,
      (bytes) => bytes,
      options,
    ) as Promise<LoadedBytes<R>>;
  }

  /** {@linkcode ReadThrough.load} of a JSON value: stored as JSON, returned parsed. */
  async loadJson<T>(
    key: string,
    loader: Loader<T>,
    options: GetOrStoreOptions | undefined,
  ): Promise<T> {
    const bytes = await this.load(
      key,
      loader,
      stringifyExactly,
      (stale) => {
        try {
          return parseJson<T>(key, stale);
        } catch {
          return null;
        }
      },
      options,
    );
    return (bytes === null ? null : parseJson<T>(key, bytes)) as T;
  }

  async #resolve<T, S>(job: Job<T, S>): Promise<Loaded> {
    let found: Found;
    try {
      found = await this.#read(job);
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      return await this.#unavailable(job, error);
    }
    if (found.bytes === null) {
      if (found.negative) {
        this.#stats.note("negativeHits");
        return { bytes: null, hit: true };
      }
      return await this.#loadMissing(job);
    }
    switch (freshness(job.policy, found.pttl)) {
      case "fresh":
        return { bytes: found.bytes, hit: true };
      case "refresh":
        this.#refresh(job, found.bytes);
        return { bytes: found.bytes, hit: true };
      case "stale":
        return await this.#stale(job, found.bytes);
    }
  }

  // The value and its PTTL (and the negative entry's existence, when
  // negative caching is on) in one round trip; a value found fills the L1
  // for as long as Redis keeps it, so a stale copy obeys the same bound.
  async #read<T, S>(job: Job<T, S>): Promise<Found> {
    const { redisKey, policy } = job;
    const marker = policy.negativeTtl === undefined
      ? undefined
      : negativeKey(this.#prefix, redisKey);
    const l1 = this.#l1;
    const ticket = l1?.ticket(redisKey);
    const [bytes, pttl, negative] = await this.#runner.run(
      "GET",
      (driver) =>
        Promise.all([
          driver.getBytes(redisKey),
          driver.send(["PTTL", redisKey]),
          marker === undefined ? 0 : driver.send(["EXISTS", marker]),
        ]),
      job.timeout,
    );
    const left = Number(pttl);
    if (
      bytes !== null && l1 !== undefined && ticket !== undefined &&
      this.#runner.driver?.connected
    ) {
      l1.fill(redisKey, ticket, bytes, left >= 0 ? left : undefined);
    }
    return { bytes, pttl: left, negative: Number(negative) === 1 };
  }

  // Redis could not be reached (or the breaker is open): the L1's copy,
  // which never outlives ttl + grace; else, under the "miss" policy or
  // with a breaker, the loader's value, returned without caching it.
  async #unavailable<T, S>(job: Job<T, S>, error: unknown): Promise<Loaded> {
    const held = this.#l1?.get(job.redisKey);
    if (held !== undefined) {
      this.#stats.note("staleServed");
      return { bytes: held, hit: true };
    }
    if (
      this.#settings.onUnavailable !== "miss" &&
      this.#stats.breaker === undefined
    ) {
      throw error;
    }
    const { value } = await runLoader(
      job.loader,
      null,
      job.policy.hard,
      this.#refreshes.closing,
      () => this.#stats.note("loaderTimeouts"),
    );
    if (isNegative(value) && job.policy.negativeTtl !== undefined) {
      return { bytes: null, hit: false };
    }
    return { bytes: toBytes(job.encode(value)), hit: false };
  }

  // A miss: the loader runs under the key's Redis lock, so one process
  // loads while the others poll for what it stores.
  async #loadMissing<T, S>(job: Job<T, S>): Promise<Loaded> {
    const { redisKey, policy } = job;
    const runner = this.#runner;
    const get = () =>
      runner.run("GET", (driver) => driver.getBytes(redisKey), job.timeout);
    const send = this.#sender(job);
    const lockKey = this.#lockKey(redisKey);
    const givenUpAt = Date.now() + policy.lockTimeout;
    for (let attempt = 0;; attempt++) {
      const token = await tryLock(send, lockKey, policy.lockTimeout);
      if (token !== undefined) {
        try {
          // Another process may have stored it between our GET and the lock.
          const stored = await get();
          if (stored !== null) return { bytes: stored, hit: false };
          return { bytes: await this.#loadAndStore(job, null), hit: false };
        } finally {
          await unlock(send, lockKey, token).catch(() => {});
        }
      }
      const stored = await get();
      if (stored !== null) return { bytes: stored, hit: false };
      if (Date.now() >= givenUpAt) {
        throw runner.failed(
          new TimeoutError(
            `waited ${policy.lockTimeout} ms for another process to load this key`,
          ),
          "GET",
        );
      }
      await sleep(Math.min(POLL_LONGEST, POLL_FIRST * 2 ** attempt));
    }
  }

  // A stale value: served at once, or after waiting up to the soft timeout
  // for the refresh it starts; a failed refresh leaves the key in backoff,
  // when the stale value is served without calling the loader.
  async #stale<T, S>(job: Job<T, S>, stale: Uint8Array): Promise<Loaded> {
    const { policy, redisKey } = job;
    const refresh = policy.graceRefresh && !this.#refreshes.inBackoff(redisKey)
      ? this.#refresh(job, stale)
      : undefined;
    const fresh = refresh === undefined
      ? undefined
      : await withinSoft(refresh, policy.soft);
    if (fresh !== undefined && fresh.value !== undefined) {
      return { bytes: fresh.value, hit: false };
    }
    this.#stats.note("staleServed");
    return { bytes: stale, hit: true };
  }

  // One background refresh of the key per process (refreshes.ts caps them)
  // and one across processes: without the lock, another process refreshes
  // it, and with it, a value that became fresh meanwhile is kept. Resolves
  // to the new bytes, or `undefined` when another process had it.
  #refresh<T, S>(
    job: Job<T, S>,
    stale: Uint8Array,
  ): Promise<Uint8Array | null | undefined> | undefined {
    const { redisKey, policy } = job;
    const refreshes = this.#refreshes;
    const running = refreshes.running<Uint8Array | null | undefined>(redisKey);
    if (running !== undefined) return running;
    const send = this.#sender(job);
    const lockKey = this.#lockKey(redisKey);
    const started = refreshes.start(redisKey, policy.graceBackoff, async () => {
      const token = await tryLock(send, lockKey, policy.lockTimeout);
      if (token === undefined) return undefined;
      try {
        const now = await this.#read(job);
        if (now.bytes !== null && freshness(policy, now.pttl) === "fresh") {
          return now.bytes;
        }
        return await this.#loadAndStore(job, stale);
      } finally {
        await unlock(send, lockKey, token).catch(() => {});
      }
    });
    if (started === undefined) return undefined;
    this.#stats.note("refreshesStarted");
    started.catch(() => this.#stats.note("refreshesFailed"));
    return started;
  }

  // Calls the loader and stores what it gives: the value with ttl + grace
  // (the loader's own ttl if it set one), a negative entry for nothing when
  // negative caching is on, or nothing when it asked to skip. A load that
  // ends after close() stores nothing.
  async #loadAndStore<T, S>(
    job: Job<T, S>,
    stale: Uint8Array | null,
  ): Promise<Uint8Array | null> {
    const { redisKey, policy } = job;
    const { value, ttl, skip, tags } = await runLoader(
      job.loader,
      stale === null ? null : job.decodeStale(stale),
      policy.hard,
      this.#refreshes.closing,
      () => this.#stats.note("loaderTimeouts"),
    );
    const keep = !skip && !this.#refreshes.closing.aborted;
    if (isNegative(value) && policy.negativeTtl !== undefined) {
      if (keep) {
        const marker = negativeKey(this.#prefix, redisKey);
        await this.#runner.run(
          "SET",
          (driver) => driver.send(negativeCommand(marker, policy.negativeTtl!)),
          job.timeout,
        );
      }
      return null;
    }
    const encoded = job.encode(value);
    if (keep) {
      await this.#writes.write(
        redisKey,
        encoded,
        storedExpiry(policy, ttl ?? policy.ttl),
        job.replicas,
        job.timeout,
        undefined,
        tags === undefined ? job.tagging : taggingFor({ tags }, policy.grace),
      );
    }
    return toBytes(encoded);
  }

  #sender<T, S>(
    job: Job<T, S>,
  ): (args: readonly RedisArgument[]) => Promise<unknown> {
    return (args) =>
      this.#runner.run(
        String(args[0]),
        (driver) => driver.send(args),
        job.timeout,
      );
  }

  #lockKey(redisKey: string): string {
    return `${this.#prefix}${LOCK_PREFIX}${
      redisKey.slice(this.#prefix.length)
    }`;
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
