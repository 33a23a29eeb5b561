/**
 * {@linkcode KeyvStore}: this cache as a Keyv storage adapter, so code built
 * on keyv, cache-manager 7 or cacheable can switch its Redis layer without
 * being rewritten.
 *
 * @example Keyv and cache-manager on this cache
 * ```ts
 * import Keyv from "keyv";
 * import { createCache } from "cache-manager";
 * import { Cache } from "@redis-basic/cache";
 * import { KeyvStore } from "@redis-basic/cache/keyv";
 * import assert from "node:assert/strict";
 *
 * await using cache = await Cache.connect({ namespace: "doc-keyv", flush: false });
 * const keyv = new Keyv({ store: new KeyvStore(cache) });
 * await keyv.set("user:7", { name: "Ada" }, 60_000);
 * assert.deepEqual(await keyv.get("user:7"), { name: "Ada" });
 *
 * const manager = createCache({ stores: [keyv] });
 * assert.equal(await manager.wrap("answer", () => 42), 42);
 * ```
 *
 * @module
 */

import { EventEmitter } from "node:events";
import { engineOf } from "./_engine/handle.ts";
import {
  checkKey,
  checkTtl,
  encodeValue,
  escapeGlob,
} from "./_engine/validate.ts";
import type { Cache } from "./cache.ts";
import type { RedisArgument } from "./redis_client.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A value as Keyv hands it to its store: its serialized text, or bytes. */
export type KeyvStoredValue = string | Uint8Array;

/**
 * A Keyv storage adapter on a {@linkcode Cache}: binary-safe, one round trip
 * per batch, bounded by the cache's timeouts, with the cache's errors.
 * Values written as text come back as text; bytes that are not UTF-8 come
 * back as bytes. Keyv's `namespace` is honoured as Keyv expects: its keys
 * arrive prefixed, and `clear()` removes only that namespace (SCAN + UNLINK).
 */
export class KeyvStore extends EventEmitter {
  /** What Keyv reads from its adapters: the dialect enables its iterator. */
  readonly opts: { dialect: "redis"; url: string };
  /** Set by Keyv to its namespace. */
  namespace?: string;
  readonly #cache: Cache;

  /**
   * Wraps a connected cache; the cache stays yours to close.
   *
   * @param cache The cache to store in; its own namespace prefixes every key.
   */
  constructor(cache: Cache) {
    super();
    engineOf(cache);
    this.#cache = cache;
    this.opts = { dialect: "redis", url: "redis://" };
  }

  /**
   * The value under `key`, or `undefined`.
   *
   * @param key The key, as Keyv prefixed it.
   * @returns The value.
   */
  async get(key: string): Promise<KeyvStoredValue | undefined> {
    return toKeyv(await this.#cache.get(key));
  }

  /**
   * The values under `keys`, in order, in one round trip.
   *
   * @param keys The keys.
   * @returns One entry per key.
   */
  async getMany(keys: string[]): Promise<(KeyvStoredValue | undefined)[]> {
    return (await this.#cache.getMany(keys)).map(toKeyv);
  }

  /**
   * Writes `value` under `key`, expiring after `ttl` ms when given.
   *
   * @param key The key.
   * @param value Keyv's serialized text, or bytes.
   * @param ttl Milliseconds; absent or 0 for no expiry, as Keyv means it.
   * @returns `true` once written.
   */
  async set(
    key: string,
    value: KeyvStoredValue,
    ttl?: number,
  ): Promise<boolean> {
    await this.#send([
      "SET",
      this.#key(key),
      encodeValue(value),
      ...expiry(ttl),
    ]);
    return true;
  }

  /**
   * Writes many entries in one round trip.
   *
   * @param entries The keys, values and expiries.
   */
  async setMany(
    entries: { key: string; value: KeyvStoredValue; ttl?: number }[],
  ): Promise<void> {
    const commands = entries.map((
      { key, value, ttl },
    ) => ["SET", this.#key(key), encodeValue(value), ...expiry(ttl)]);
    await Promise.all(commands.map((command) => this.#send(command)));
  }

  /**
   * Removes `key`.
   *
   * @param key The key.
   * @returns Whether it existed.
   */
  async delete(key: string): Promise<boolean> {
    return await this.#cache.delete(key) === 1;
  }

  /**
   * Removes `keys` in one round trip.
   *
   * @param keys The keys.
   * @returns Whether any existed.
   */
  async deleteMany(keys: string[]): Promise<boolean> {
    return keys.length > 0 && await this.#cache.delete(...keys) > 0;
  }

  /**
   * Whether `key` holds a value.
   *
   * @param key The key.
   * @returns `true` when it does.
   */
  has(key: string): Promise<boolean> {
    return this.#cache.has(key);
  }

  /**
   * Whether each of `keys` holds a value, in one round trip.
   *
   * @param keys The keys.
   * @returns One entry per key.
   */
  hasMany(keys: string[]): Promise<boolean[]> {
    // Every key is checked before any is sent, as getMany does.
    try {
      for (const key of keys) checkKey(key);
    } catch (error) {
      return Promise.reject(error);
    }
    // One EXISTS per key, pipelined: no value crosses the wire.
    return Promise.all(keys.map((key) => this.#cache.has(key)));
  }

  /** Removes Keyv's namespace (SCAN + UNLINK), or everything in the cache without one. */
  async clear(): Promise<void> {
    if (this.namespace === undefined) {
      await this.#cache.clear();
      return;
    }
    for await (const keys of this.#scan(this.namespace)) {
      await this.#send(["UNLINK", ...keys]);
    }
  }

  /**
   * Every entry of `namespace` as `[key, value]`, key as Keyv wrote it.
   *
   * @param namespace The namespace to walk.
   * @returns The entries.
   */
  async *iterator(
    namespace?: string,
  ): AsyncGenerator<[string, KeyvStoredValue | undefined], void> {
    const { prefix } = engineOf(this.#cache);
    for await (const keys of this.#scan(namespace)) {
      const bare = keys.map((key) => key.slice(prefix.length));
      const values = await this.getMany(bare);
      for (let i = 0; i < bare.length; i++) yield [bare[i], values[i]];
    }
  }

  /** Leaves the cache open: it belongs to whoever connected it. */
  disconnect(): Promise<void> {
    return Promise.resolve();
  }

  #key(key: string): string {
    return engineOf(this.#cache).prefix + checkKey(key);
  }

  #send(args: readonly RedisArgument[]): Promise<unknown> {
    return engineOf(this.#cache).send(args);
  }

  // Batches of full Redis keys under the cache's prefix and `namespace:`.
  async *#scan(namespace: string | undefined): AsyncGenerator<string[]> {
    const engine = engineOf(this.#cache);
    yield* engine.scan(
      `${escapeGlob(engine.prefix)}${
        namespace === undefined ? "" : `${escapeGlob(namespace)}:`
      }*`,
    );
  }
}

function toKeyv(bytes: Uint8Array | null): KeyvStoredValue | undefined {
  if (bytes === null) return undefined;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return bytes;
  }
}

// Keyv's ttl: milliseconds, where undefined and 0 mean "no expiry".
function expiry(ttl: number | undefined): string[] {
  return ttl === undefined || ttl === 0
    ? []
    : ["PX", String(checkTtl("ttl", ttl))];
}
