// `getOrStoreMany`: read-through of many keys. One round trip reads them all
// (MGET, which node-redis splits per slot in a cluster, with each key's
// PTTL pipelined beside it), the loader is called once with the keys that
// missed, and one round trip stores what it returned. Keys another call in
// this process is loading are awaited rather than loaded twice. There is no
// cross-process lock: N locks would cost more than the load they guard.

import type {
  GetOrStoreOptions,
  ManyLoader,
  Storable,
} from "../cache_options.ts";
import type { RedisArgument } from "../redis_client.ts";
import { freshness, storedExpiry } from "./grace.ts";
import { runLoader } from "./loader_timeouts.ts";
import { isNegative, negativeCommand, negativeKey } from "./negative.ts";
import type { Refreshes } from "./refreshes.ts";
import { isUnavailable, type Runner } from "./runner.ts";
import type { Settings } from "./settings.ts";
import type { Stats } from "./stats.ts";
import {
  checkKey,
  checkOptions,
  checkSignal,
  encodeValue,
  toBytes,
} from "./validate.ts";
import { type Tagging, taggingFor } from "./tags.ts";
import { setCommand } from "./set_commands.ts";
import type { Writes } from "./writes.ts";

/** One cache's many-key read-through loads. */
export class ManyReadThrough {
  readonly #settings: Settings;
  readonly #runner: Runner;
  readonly #stats: Stats;
  readonly #writes: Writes;
  readonly #refreshes: Refreshes;
  readonly #prefix: string;
  readonly #loading = new Map<string, Promise<Uint8Array | null>>();

  constructor(
    settings: Settings,
    runner: Runner,
    stats: Stats,
    writes: Writes,
    refreshes: Refreshes,
  ) {
    this.#settings = settings;
    this.#runner = runner;
    this.#stats = stats;
    this.#writes = writes;
    this.#refreshes = refreshes;
    this.#prefix = settings.prefix;
  }

  /** The bytes of each key, in order: found, else loaded and stored; `null` for none. */
  async load(
    keys: readonly string[],
    loadMissing: ManyLoader<Storable>,
    options: GetOrStoreOptions | undefined,
  ): Promise<(Uint8Array | null)[]> {
    if (!Array.isArray(keys)) throw new TypeError("keys must be an array");
    for (const key of keys) checkKey(key);
    if (typeof loadMissing !== "function") {
      throw new TypeError("loadMissing must be a function");
    }
    const call = checkOptions(options);
    const policy = this.#settings.readThroughFor(call);
    const tagging = taggingFor(call, policy.grace);
    checkSignal(call.signal)?.throwIfAborted();
    if (keys.length === 0) return [];
    const prefix = this.#prefix;
    const redisKeys = keys.map((key) => prefix + key);
    const timeout = { timeout: call.timeout, signal: call.signal };
    const markers = policy.negativeTtl === undefined
      ? undefined
      : redisKeys.map((key) => negativeKey(prefix, key));
    let found: [(Uint8Array | null)[], unknown[], unknown[]];
    try {
      found = await this.#runner.run(
        "MGET",
        (driver) =>
          Promise.all([
            driver.getManyBytes(redisKeys),
            Promise.all(redisKeys.map((key) => driver.send(["PTTL", key]))),
            markers === undefined
              ? []
              : Promise.all(markers.map((key) => driver.send(["EXISTS", key]))),
          ]),
        timeout,
      );
    } catch (error) {
      if (
        !isUnavailable(error) ||
        (this.#settings.onUnavailable !== "miss" &&
          this.#stats.breaker === undefined)
      ) {
        throw error;
      }
      // Redis is unavailable: the loader's values, not cached.
      this.#stats.misses += keys.length;
      const values = await this.#callLoader(
        loadMissing,
        [...keys],
        policy.hard,
      );
      return values.map((value) =>
        isNegative(value) ? null : toBytes(encodeValue(value))
      );
    }
    const [values, pttls, negatives] = found;
    const results: (Uint8Array | null)[] = new Array(keys.length);
    const stale = new Map<number, Uint8Array>();
    const waits: Promise<void>[] = [];
    // Positions to load, and the first position of each key among them.
    const missing: number[] = [];
    const firstOf = new Map<string, number>();
    redisKeys.forEach((redisKey, i) => {
      const bytes = values[i];
      if (bytes !== null) {
        if (freshness(policy, Number(pttls[i])) !== "stale") {
          results[i] = bytes;
          this.#stats.hits++;
          return;
        }
        stale.set(i, bytes);
      } else if (Number(negatives[i]) === 1) {
        results[i] = null;
        this.#stats.hits++;
        this.#stats.note("negativeHits");
        return;
      }
      const loading = this.#loading.get(redisKey);
      if (loading !== undefined && !firstOf.has(redisKey)) {
        this.#stats.misses++;
        waits.push(loading.then((bytes) => void (results[i] = bytes)));
        return;
      }
      this.#stats.misses++;
      if (!firstOf.has(redisKey)) {
        firstOf.set(redisKey, i);
        missing.push(i);
      }
    });
    if (missing.length > 0) {
      const loaded = this.#loadAndStore(
        missing,
        keys,
        redisKeys,
        markers,
        loadMissing,
        policy,
        timeout,
        tagging,
      );
      missing.forEach((position, j) => {
        const redisKey = redisKeys[position];
        const one = loaded.then((all) => all[j]);
        one.catch(() => {});
        this.#loading.set(redisKey, one);
        loaded.finally(() => {
          if (this.#loading.get(redisKey) === one) {
            this.#loading.delete(redisKey);
          }
        }).catch(() => {});
      });
      try {
        const all = await loaded;
        redisKeys.forEach((redisKey, i) => {
          const first = firstOf.get(redisKey);
          if (first !== undefined) results[i] = all[missing.indexOf(first)];
        });
      } catch (error) {
        // A failed load is served stale where every key it had to load has
        // a stale value; a key without one has nothing to give.
        if (missing.some((i) => !stale.has(i))) throw error;
        redisKeys.forEach((redisKey, i) => {
          const first = firstOf.get(redisKey);
          if (first !== undefined) results[i] = stale.get(first)!;
        });
        this.#stats.note("staleServed");
      }
    }
    await Promise.all(waits);
    return results;
  }

  async #loadAndStore(
    missing: readonly number[],
    keys: readonly string[],
    redisKeys: readonly string[],
    markers: readonly string[] | undefined,
    loadMissing: ManyLoader<Storable>,
    policy: ReturnType<Settings["readThroughFor"]>,
    call: { timeout: number | undefined },
    tagging: Tagging | undefined,
  ): Promise<(Uint8Array | null)[]> {
    const values = await this.#callLoader(
      loadMissing,
      missing.map((i) => keys[i]),
      policy.hard,
    );
    const commands: RedisArgument[][] = [];
    // Tagged values go with their memberships, in the tags' own script.
    const tagged: { redisKeys: string[]; values: RedisArgument[] } = {
      redisKeys: [],
      values: [],
    };
    let stored = 0;
    const bytes = missing.map((position, j) => {
      const value = values[j];
      if (isNegative(value)) {
        if (markers !== undefined) {
          commands.push(
            negativeCommand(markers[position], policy.negativeTtl!),
          );
        }
        return null;
      }
      const encoded = encodeValue(value);
      if (tagging !== undefined) {
        tagged.redisKeys.push(redisKeys[position]);
        tagged.values.push(encoded);
        return toBytes(encoded);
      }
      commands.push(
        setCommand(
          redisKeys[position],
          encoded,
          storedExpiry(policy, policy.ttl),
        ),
      );
      stored++;
      return toBytes(encoded);
    });
    if (!this.#refreshes.closing.aborted) {
      await Promise.all([
        this.#writes.writeEach(commands, stored, call),
        tagging === undefined || tagged.redisKeys.length === 0
          ? undefined
          : this.#writes.writeTagged(
            tagged.redisKeys,
            tagged.values,
            storedExpiry(policy, policy.ttl),
            tagging,
            0,
            call,
          ),
      ]);
    }
    return bytes;
  }

  // The loader once for `keys`; it must give one value per key, in order.
  async #callLoader(
    loadMissing: ManyLoader<Storable>,
    keys: string[],
    hard: number | undefined,
  ): Promise<readonly (Storable | null | undefined)[]> {
    const { value } = await runLoader(
      () => loadMissing(keys),
      null,
      hard,
      this.#refreshes.closing,
      () => this.#stats.note("loaderTimeouts"),
    );
    if (!Array.isArray(value) || value.length !== keys.length) {
      throw new TypeError(
        `loadMissing must return an array of ${keys.length} values, one per missing key, in order`,
      );
    }
    return value;
  }
}
