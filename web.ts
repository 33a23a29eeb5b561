/**
 * {@linkcode getPage}: the Python original's web page cache. Every call
 * counts the URL's accesses in `count:{url}`; the page body is cached in
 * `cached:{url}` for ten seconds by default, so Python and TypeScript
 * programs sharing one Redis share the counts and the cached pages.
 *
 * @example
 * ```ts ignore
 * import { getPage } from "@redis-basic/cache/web";
 *
 * const html = await getPage("http://127.0.0.1:8000/"); // fetched, then cached for 10 s
 * const again = await getPage("http://127.0.0.1:8000/"); // from Redis, no fetch
 * ```
 *
 * @module
 */

import { engineOf } from "./_engine/handle.ts";
import { decodeUtf8 } from "./_engine/decode.ts";
import { Cache } from "./cache.ts";

/** Options for {@linkcode getPage}. */
export interface GetPageOptions {
  /**
   * How long the body stays cached, in ms.
   *
   * @default {10000}
   */
  ttl?: number;
  /**
   * The `fetch` to use.
   *
   * @default {globalThis.fetch}
   */
  fetch?: (url: string) => Promise<Response>;
  /**
   * The cache to use. Without one, a cache is connected on first use from
   * `REDIS_URL` (else `redis://127.0.0.1:6379`) without flushing; close it
   * with {@linkcode closeDefaultCache}.
   */
  cache?: Cache;
}

const DEFAULT_TTL = 10_000;

// Fetches in progress, per cache and URL: concurrent misses share one fetch.
const inFlight = new WeakMap<Cache, Map<string, Promise<string>>>();
let defaultCache: Promise<Cache> | undefined;

/**
 * Returns the body of `url` as text, from Redis when cached, else fetched and
 * cached for `ttl` ms (in one `SET … PX` command). Every call increments
 * `count:{url}` (the URL verbatim; never reset, never expired) before
 * anything else, in the same round trip as the cache lookup. A response that
 * is not 2xx is returned and cached as it is, as the original does; an empty
 * body is a valid hit; a network error propagates after the count was taken.
 * With a namespace, both keys are prefixed.
 *
 * @example
 * ```ts
 * import { Cache } from "@redis-basic/cache";
 * import { getPage } from "@redis-basic/cache/web";
 * import assert from "node:assert/strict";
 *
 * await using cache = await Cache.connect({ namespace: "doc-web" });
 * let fetches = 0;
 * const fetch = (_url: string) => Promise.resolve(new Response(`page ${++fetches}`));
 * assert.equal(await getPage("http://example.test/", { cache, fetch }), "page 1");
 * assert.equal(await getPage("http://example.test/", { cache, fetch }), "page 1");
 * assert.equal(fetches, 1);
 * assert.equal(await cache.getInt("count:http://example.test/"), 2);
 * ```
 *
 * @param url The page's URL, used verbatim in the keys.
 * @param options The cache, `fetch` and expiry to use.
 * @returns The body, decoded as UTF-8.
 * @throws {TypeError | RangeError} `url` is not a non-empty string, or `ttl` is not a positive whole number of ms.
 * @throws {CacheError} Redis failed, or the cached body is not UTF-8 (`DecodeError`).
 */
export async function getPage(
  url: string,
  options: GetPageOptions = {},
): Promise<string> {
  if (typeof url !== "string" || url === "") {
    throw new TypeError("url must be a non-empty string");
  }
  const ttl = options.ttl ?? DEFAULT_TTL;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new RangeError(
      `ttl must be a positive whole number of ms, got ${ttl}`,
    );
  }
  const fetchPage = options.fetch ?? globalThis.fetch;
  if (typeof fetchPage !== "function") {
    throw new TypeError("options.fetch must be a function");
  }
  const cache = options.cache ?? await connectDefaultCache();
  const engine = engineOf(cache);
  const { prefix } = engine;
  const cachedKey = `${prefix}cached:${url}`;
  const [, cached] = await Promise.all([
    engine.send(["INCR", `${prefix}count:${url}`]),
    engine.getBytes(cachedKey),
  ]);
  if (cached !== null) return decodeUtf8(`cached:${url}`, cached);

  let pages = inFlight.get(cache);
  if (pages === undefined) inFlight.set(cache, pages = new Map());
  let page = pages.get(url);
  if (page === undefined) {
    page = (async () => {
      const body = await (await fetchPage(url)).text();
      await engine.send(["SET", cachedKey, body, "PX", String(ttl)]);
      return body;
    })().finally(() => pages.delete(url));
    pages.set(url, page);
  }
  return await page;
}

/**
 * Closes the cache that {@linkcode getPage} connects when no `cache` option
 * is given, so the process can exit. The next `getPage` connects again.
 *
 * @example
 * ```ts ignore
 * import { closeDefaultCache, getPage } from "@redis-basic/cache/web";
 *
 * console.log(await getPage("http://127.0.0.1:8000/"));
 * await closeDefaultCache();
 * ```
 */
export async function closeDefaultCache(): Promise<void> {
  const cache = defaultCache;
  defaultCache = undefined;
  await (await cache?.catch(() => undefined))?.close();
}

function connectDefaultCache(): Promise<Cache> {
  defaultCache ??= Cache.connect({ flush: false }).catch((error) => {
    defaultCache = undefined;
    throw error;
  });
  return defaultCache;
}
