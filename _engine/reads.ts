// The read path: get (through the in-process layer when it is on, else in
// its tick's batch or alone), getMany, has, and what a read gives under the
// "miss" policy when Redis is unavailable.

import { GET_EACH_MAX } from "../_drivers/commands.ts";
import type { Driver } from "../_drivers/driver.ts";
import { redact } from "../_drivers/redact.ts";
import type { L1 } from "../_l1/l1.ts";
import type {
  CallOptions,
  GetOptions,
  ReadOptions,
  UnavailablePolicy,
} from "../cache_options.ts";
import { CacheError, CommandError } from "../errors.ts";
import { Coalescer } from "./coalescer.ts";
import { isUnavailable, type Runner } from "./runner.ts";
import type { Settings } from "./settings.ts";
import type { Stats } from "./stats.ts";
import type { Tags } from "./tags.ts";
import { checkKey, checkOptions, NO_OPTIONS } from "./validate.ts";

// A lone get's call to the driver, taking its key as an argument: a closure
// over the key would be one more allocation a call.
const getBytes = (driver: Driver, redisKey: string) =>
  driver.getBytes(redisKey);

// Batches in a row that found every key, after which a batch sends MGET
// alone, its EXISTS only when some key is missing: a cache of hot keys
// saves the second command on every batch, and one whose batches miss now
// and then pays no second round trip for them, as one miss ends the streak.
const HIT_STREAK = 8;

/** One cache's reads. */
export class Reads {
  readonly #settings: Settings;
  readonly #runner: Runner;
  readonly #stats: Stats;
  readonly #l1: L1 | undefined;
  readonly #prefix: string;
  readonly #tags: Tags;
  readonly #coalescer: Coalescer<string, Uint8Array | null> | undefined;
  #batchReads = true;
  // Batches in a row whose every key was found.
  #hitStreak = 0;

  constructor(
    settings: Settings,
    runner: Runner,
    stats: Stats,
    l1: L1 | undefined,
    tags: Tags,
  ) {
    this.#tags = tags;
    this.#settings = settings;
    this.#runner = runner;
    this.#stats = stats;
    this.#l1 = l1;
    this.#prefix = settings.prefix;
    // A batch counts its own hits and misses: one pass over its results
    // instead of a promise layer per caller.
    this.#coalescer = settings.coalesce
      ? new Coalescer<string, Uint8Array | null>(
        (keys) =>
          runner.run("GET", (driver) => this.#getEach(driver, keys)).then(
            this.#countBatch,
          ),
        (key, resolve, reject) =>
          runner.runInto(
            "GET",
            getBytes,
            key,
            NO_OPTIONS,
            resolve,
            reject,
            this.#counted,
          ),
      )
      : undefined;
  }

  // Counts a batch's hits and misses, and makes each error in it the
  // caller's: scrubbed, counted and reported.
  readonly #countBatch = (
    results: (Uint8Array | null | Error)[],
  ): (Uint8Array | null | Error)[] => {
    const stats = this.#stats;
    const runner = this.#runner;
    let hits = 0;
    for (let i = 0; i < results.length; i++) {
      const result = results[i];
      if (result === null) stats.misses++;
      else if (result instanceof Error) {
        results[i] = runner.failed(
          redact(result, runner.secrets) as Error,
          "GET",
        );
      } else hits++;
    }
    stats.hits += hits;
    this.#hitStreak = hits === results.length ? this.#hitStreak + 1 : 0;
    return results;
  };

  // Not an async function: a plain get is the hot path, and each await
  // layer there costs a microtask turn and an allocation.
  /** `Cache.get`: the bytes under `key`, converted by `fn`, or `null`. */
  get<T>(
    key: string,
    fn?: (value: Uint8Array) => T | Promise<T>,
    options?: GetOptions,
  ): Promise<Awaited<T> | Uint8Array | null> {
    let read: Promise<Uint8Array | null>;
    try {
      if (fn !== undefined && typeof fn !== "function") {
        throw new TypeError("fn must be a function");
      }
      const redisKey = this.#prefix + checkKey(key);
      const call = checkOptions(options);
      const touch = this.#settings.touchFor(call);
      const l1 = this.#l1;
      if (l1 !== undefined) {
        if (touch !== undefined) l1.invalidate(redisKey);
        else {
          const held = l1.get(redisKey);
          if (held !== undefined) {
            this.#stats.hits++;
            return fn === undefined
              ? Promise.resolve(held)
              : this.#runner.decode(fn, held);
          }
        }
      }
      const policy = this.#settings.policyFor(call);
      // Plain gets share one command, one deadline and one latency sample
      // per batch; a touch, a signal or a timeout of its own goes alone.
      // While the connection is down each get counts against offlineQueue.
      const coalescer = this.#coalescer !== undefined &&
          touch === undefined &&
          this.#settings.sharesBatch(call) &&
          (this.#coalescer.pending || this.#runner.driver?.connected !== false)
        ? this.#coalescer
        : undefined;
      // A batch counts its own hits; a read alone is counted here.
      if (l1 !== undefined && touch === undefined) {
        read = this.#fill(l1, redisKey, call).then(this.#counted);
      } else if (coalescer !== undefined) read = coalescer.add(redisKey);
      else if (touch === undefined) {
        read = this.#runner.run(
          "GET",
          (driver) => driver.getBytes(redisKey),
          call,
        ).then(this.#counted);
      } else {
        // Through the tags: a tagged entry's bookkeeping follows its expiry.
        read = this.#runner.run(
          "GETEX",
          (driver) => this.#tags.touch(driver, redisKey, touch),
          call,
        ).then(this.#counted);
      }
      read = orFallback(policy, read, this.#missed);
    } catch (error) {
      return Promise.reject(error);
    }
    if (fn === undefined) return read;
    return read.then((bytes) =>
      bytes === null ? null : this.#runner.decode(fn, bytes)
    );
  }

  // What a get under the "miss" policy gives when Redis is unreachable: a
  // miss, counted as one.
  readonly #missed = (): null => {
    this.#stats.misses++;
    return null;
  };

  // Counts a read's hit or miss; made once, as the hot path's callback.
  readonly #counted = (bytes: Uint8Array | null): Uint8Array | null => {
    if (bytes === null) this.#stats.misses++;
    else this.#stats.hits++;
    return bytes;
  };

  /** `Cache.getMany`: one entry per key, in order. */
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
    const values = await orFallback(
      this.#settings.policyFor(call),
      this.#runner.run(
        "MGET",
        (driver) => driver.getManyBytes(redisKeys),
        call,
      ),
      () => redisKeys.map(() => null),
    );
    let found = 0;
    for (const bytes of values) if (bytes !== null) found++;
    this.#stats.hits += found;
    this.#stats.misses += values.length - found;
    if (fn === undefined) return values;
    return await Promise.all(
      values.map((bytes) =>
        bytes === null ? null : this.#runner.decode(fn, bytes)
      ),
    );
  }

  /** `Cache.has`: whether `key` holds a value. */
  async has(key: string, options?: ReadOptions): Promise<boolean> {
    const redisKey = this.#prefix + checkKey(key);
    const call = checkOptions(options);
    const reply = await orFallback(
      this.#settings.policyFor(call),
      this.#runner.run(
        "EXISTS",
        (driver) => driver.send(["EXISTS", redisKey]),
        call,
      ),
      () => 0,
    );
    return Number(reply) === 1;
  }

  // A read that missed the in-process layer: GET and PTTL in one round
  // trip, so the copy in the L1 expires when the key does.
  #fill(
    l1: L1,
    redisKey: string,
    call: CallOptions,
  ): Promise<Uint8Array | null> {
    const ticket = l1.ticket(redisKey);
    return this.#runner.run(
      "GET",
      (driver) =>
        Promise.all([
          driver.getBytes(redisKey),
          driver.send(["PTTL", redisKey]),
        ]),
      call,
    ).then(([bytes, pttl]) => {
      if (bytes !== null && this.#runner.driver?.connected) {
        const ttl = Number(pttl);
        l1.fill(redisKey, ticket, bytes, ttl >= 0 ? ttl : undefined);
      }
      return bytes;
    });
  }

  // One coalesced batch of two or more GETs: MGET with its check for keys
  // of other types when the driver can read its replies as bytes, else (Bun,
  // or a user the server refuses those commands) pipelined GETs.
  async #getEach(
    driver: Driver,
    keys: string[],
  ): Promise<(Uint8Array | null | Error)[]> {
    if (driver.getEach !== undefined && this.#batchReads) {
      const hitsLikely = this.#hitStreak >= HIT_STREAK;
      try {
        // Most batches fit one command: no copies, and no flat(), which
        // was a sixth of a batch's own time.
        if (keys.length <= GET_EACH_MAX) {
          return await driver.getEach(keys, hitsLikely);
        }
        const chunks: string[][] = [];
        for (let i = 0; i < keys.length; i += GET_EACH_MAX) {
          chunks.push(keys.slice(i, i + GET_EACH_MAX));
        }
        const replies = await Promise.all(
          chunks.map((chunk) => driver.getEach!(chunk, hitsLikely)),
        );
        return ([] as (Uint8Array | null | Error)[]).concat(...replies);
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
}

// A read under the "miss" policy: unavailability becomes `fallback` (the
// error was already counted and reported by the runner); other errors pass.
function orFallback<T>(
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
