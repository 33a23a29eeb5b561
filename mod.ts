/**
 * A small, fast, binary-safe cache on Redis for Deno, Bun and Node: the
 * TypeScript form of the "Redis basic" exercise. `store` writes a value
 * under a fresh random UUID and returns it; `get` reads the bytes back,
 * converted with an optional function, and gives `null` for a missing key.
 *
 * ```ts
 * import { Cache } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * await using cache = await Cache.connect({ namespace: "example" });
 * const key = await cache.store("hello");
 * assert.equal(await cache.getStr(key), "hello");
 * assert.equal(await cache.getInt(await cache.store(42)), 42);
 * assert.equal(await cache.get("no-such-key"), null);
 * ```
 *
 * @module
 */

export * from "./cache.ts";
export * from "./cache_options.ts";
export * from "./call_history.ts";
export * from "./replay.ts";
export * from "./telemetry.ts";
export * from "./errors.ts";
export * from "./redis_client.ts";
