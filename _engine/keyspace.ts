// The keys as a whole: delete, their expiry, and walking them with SCAN
// (every primary in a cluster) to clear a namespace.

import type { L1 } from "../_l1/l1.ts";
import type { CallOptions } from "../cache_options.ts";
import { negativeKey } from "./negative.ts";
import type { Runner } from "./runner.ts";
import { scanKeys } from "./scan.ts";
import type { Settings } from "./settings.ts";
import type { Tags } from "./tags.ts";
import { checkKey, checkOptions, checkTtl, escapeGlob } from "./validate.ts";

/** One cache's keys. */
export class Keyspace {
  readonly #runner: Runner;
  readonly #l1: L1 | undefined;
  readonly #prefix: string;
  readonly #namespace: string | undefined;
  readonly #tags: Tags;

  constructor(
    settings: Settings,
    runner: Runner,
    l1: L1 | undefined,
    tags: Tags,
  ) {
    this.#tags = tags;
    this.#runner = runner;
    this.#l1 = l1;
    this.#prefix = settings.prefix;
    this.#namespace = settings.namespace;
  }

  /** `Cache.delete`: UNLINK of the keys and their negative entries; options may follow. */
  async delete(
    keysAndOptions: [...string[], CallOptions] | string[],
  ): Promise<number> {
    const last = keysAndOptions.at(-1);
    const call = typeof last === "object" ? checkOptions(last) : {};
    const keys =
      (typeof last === "object"
        ? keysAndOptions.slice(0, -1)
        : keysAndOptions) as unknown[];
    const redisKeys = keys.map((key) => this.#prefix + checkKey(key));
    if (redisKeys.length === 0) return 0;
    for (const redisKey of redisKeys) this.#l1?.invalidate(redisKey);
    // The keys' negative entries go too, in the same round trip, so that a
    // delete is a full invalidation for getOrStore; the count is the values'.
    const markers = redisKeys.map((key) => negativeKey(this.#prefix, key));
    const [reply] = await this.#runner.run(
      "UNLINK",
      (driver) =>
        Promise.all([
          driver.send(["UNLINK", ...redisKeys]),
          driver.send(["UNLINK", ...markers]),
        ]),
      call,
    );
    return Number(reply);
  }

  /** `Cache.ttl`: ms left, `Infinity` without expiry, `null` for a missing key. */
  async ttl(key: string, options?: CallOptions): Promise<number | null> {
    const redisKey = this.#prefix + checkKey(key);
    const reply = Number(
      await this.#runner.run(
        "PTTL",
        (driver) => driver.send(["PTTL", redisKey]),
        checkOptions(options),
      ),
    );
    return reply === -2 ? null : reply === -1 ? Infinity : reply;
  }

  /**
   * `Cache.expire`: whether the key existed and now expires in `ttl` ms
   * (its whole Redis expiry, grace included), a tagged key's bookkeeping
   * with it (`Tags.setExpiry`).
   */
  async expire(
    key: string,
    ttl: number,
    options?: CallOptions,
  ): Promise<boolean> {
    const redisKey = this.#prefix + checkKey(key);
    const ms = checkTtl("ttl", ttl);
    this.#l1?.invalidate(redisKey);
    return await this.#runner.run(
      "PEXPIRE",
      (driver) => this.#tags.setExpiry(driver, redisKey, ms),
      checkOptions(options),
    );
  }

  /** `Cache.clear`: the namespace's keys, or without one the database. */
  async clear(options?: CallOptions): Promise<void> {
    const call = checkOptions(options);
    this.#l1?.invalidate(null);
    if (this.#namespace === undefined) {
      // In a cluster, node-redis sends FLUSHDB to every primary.
      await this.#runner.run(
        "FLUSHDB",
        (driver) => driver.send(["FLUSHDB"]),
        call,
      );
      return;
    }
    for await (
      const keys of this.scan(`${escapeGlob(this.#namespace)}:*`, call)
    ) {
      await this.#runner.run(
        "UNLINK",
        (driver) => driver.send(["UNLINK", ...keys]),
        call,
      );
    }
  }

  /**
   * Batches of full keys matching `pattern`, from every primary in a
   * cluster (SCAN walks the node it is sent to, no further).
   */
  async *scan(
    pattern: string,
    call: CallOptions,
  ): AsyncGenerator<string[]> {
    const runner = this.#runner;
    const nodes = await runner.run(
      "SCAN",
      (driver) => driver.cluster?.primaries() ?? Promise.resolve([driver]),
      call,
    );
    for (const node of nodes) {
      yield* scanKeys(
        (args) => runner.run("SCAN", () => node.send(args), call),
        pattern,
      );
    }
  }
}
