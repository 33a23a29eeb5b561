// getPage against a real HTTP server on loopback that counts its hits, and a
// real redis-server.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Cache, DecodeError } from "./mod.ts";
import { closeDefaultCache, getPage } from "./web.ts";
import { freePort } from "./_testing/free_port.ts";
import { startPageServer } from "./_testing/page_server.ts";
import { connectRaw } from "./_testing/raw_client.ts";
import { startRedisServer } from "./_testing/redis_server.ts";
import { waitFor } from "./_testing/wait.ts";
import { startCountingProxy } from "./_testing/counting_proxy.ts";

const server = await startRedisServer();
const raw = await connectRaw(server.url());
const pages = await startPageServer({
  "/page": { body: "hello page" },
  "/utf8": { body: "naïve ☃ 🎉" },
  "/empty": { body: "" },
  "/missing": { status: 404, body: "not here" },
  "/error": { status: 500, body: "broken" },
  "/slow": { body: "slow page", delay: 200 },
  "/short": { body: "short-lived" },
  "/ns": { body: "namespaced" },
  "/default": { body: "via REDIS_URL" },
  "/counted": { body: "counted page" },
});
const cache = await Cache.connect({ url: server.url(), flush: false });
after(async () => {
  await cache.close();
  await pages[Symbol.asyncDispose]();
  await raw[Symbol.asyncDispose]();
  await server.stop();
});

async function count(url: string, prefix = ""): Promise<number> {
  return Number(await raw.send("GET", `${prefix}count:${url}`) ?? 0);
}

test("the first call fetches and caches for 10 s; later calls come from Redis; every call is counted", async () => {
  const url = `${pages.origin}/page`;
  assert.equal(await getPage(url, { cache }), "hello page");
  const ttl = Number(await raw.send("PTTL", `cached:${url}`));
  assert.ok(ttl > 9_000 && ttl <= 10_000, `PTTL ${ttl}`);
  assert.deepEqual(
    await raw.getBytes(`cached:${url}`),
    new TextEncoder().encode("hello page"),
  );
  assert.equal(await getPage(url, { cache }), "hello page");
  assert.equal(await getPage(url, { cache }), "hello page");
  assert.equal(pages.hits("/page"), 1);
  assert.equal(await count(url), 3);
  assert.equal(
    await raw.send("TTL", `count:${url}`),
    -1,
    "the counter never expires",
  );
});

test("a cached page is one round trip: INCR count:{url} and GET cached:{url} go together", async () => {
  await using proxy = await startCountingProxy(server.port);
  await using proxied = await Cache.connect({
    url: `redis://127.0.0.1:${proxy.port}`,
    flush: false,
  });
  const url = `${pages.origin}/counted`;
  assert.equal(await getPage(url, { cache: proxied }), "counted page");
  proxy.reset();
  assert.equal(await getPage(url, { cache: proxied }), "counted page");
  assert.equal(proxy.turns(), 1);
  assert.deepEqual(
    proxy.commands().map(({ name, key, turn }) => [name, key, turn]),
    [["INCR", `count:${url}`, 1], ["GET", `cached:${url}`, 1]],
  );
  assert.equal(pages.hits("/counted"), 1);
  assert.equal(await count(url), 2);
});

test("ttl sets the expiry in ms; after it the page is fetched again", async () => {
  const url = `${pages.origin}/short`;
  assert.equal(await getPage(url, { cache, ttl: 150 }), "short-lived");
  const ttl = Number(await raw.send("PTTL", `cached:${url}`));
  assert.ok(ttl > 0 && ttl <= 150, `PTTL ${ttl}`);
  await waitFor(
    async () => await raw.send("EXISTS", `cached:${url}`) === 0,
    2_000,
    "the page did not expire",
  );
  assert.equal(await getPage(url, { cache, ttl: 150 }), "short-lived");
  assert.equal(pages.hits("/short"), 2);
  assert.equal(await count(url), 2);
});

test("UTF-8 bodies round-trip; a cached body that is not UTF-8 is a DecodeError", async () => {
  const url = `${pages.origin}/utf8`;
  assert.equal(await getPage(url, { cache }), "naïve ☃ 🎉");
  assert.equal(await getPage(url, { cache }), "naïve ☃ 🎉");
  assert.equal(pages.hits("/utf8"), 1);
  await raw.send("SET", "cached:http://bad.test/", new Uint8Array([0xff]));
  await assert.rejects(getPage("http://bad.test/", { cache }), DecodeError);
});

test("an empty body is a valid hit", async () => {
  const url = `${pages.origin}/empty`;
  assert.equal(await getPage(url, { cache }), "");
  assert.equal(await getPage(url, { cache }), "");
  assert.equal(pages.hits("/empty"), 1);
});

test("a non-2xx response's body is returned and cached, as the original does", async () => {
  for (const path of ["/missing", "/error"]) {
    const url = `${pages.origin}${path}`;
    const first = await getPage(url, { cache });
    assert.equal(await getPage(url, { cache }), first);
    assert.equal(pages.hits(path), 1);
  }
  assert.equal(await getPage(`${pages.origin}/missing`, { cache }), "not here");
});

test("a network error propagates after the count is taken, and nothing is cached", async () => {
  const url = `http://127.0.0.1:${await freePort()}/down`;
  await assert.rejects(getPage(url, { cache }));
  assert.equal(await count(url), 1);
  assert.equal(await raw.send("EXISTS", `cached:${url}`), 0);
});

test("concurrent calls for one URL on a miss cause one fetch, and each is counted", async () => {
  const url = `${pages.origin}/slow`;
  const bodies = await Promise.all(
    Array.from({ length: 10 }, () => getPage(url, { cache })),
  );
  assert.deepEqual(bodies, Array(10).fill("slow page"));
  assert.equal(pages.hits("/slow"), 1);
  assert.equal(await count(url), 10);
});

test("with a namespace both keys are prefixed", async () => {
  await using namespaced = await Cache.connect({
    url: server.url(),
    namespace: "web",
  });
  const url = `${pages.origin}/ns`;
  assert.equal(await getPage(url, { cache: namespaced }), "namespaced");
  assert.equal(await count(url, "web:"), 1);
  assert.equal(await raw.send("EXISTS", `web:cached:${url}`), 1);
  assert.equal(await raw.send("EXISTS", `cached:${url}`, `count:${url}`), 0);
});

test("an injected fetch is used", async () => {
  const seen: string[] = [];
  const fetch = (url: string) => {
    seen.push(url);
    return Promise.resolve(new Response("injected"));
  };
  assert.equal(
    await getPage("http://injected.test/", { cache, fetch }),
    "injected",
  );
  assert.deepEqual(seen, ["http://injected.test/"]);
});

test("without a cache option, getPage connects to REDIS_URL without flushing", async () => {
  await raw.send("SET", "survivor", "1");
  const previous = process.env.REDIS_URL;
  process.env.REDIS_URL = server.url();
  try {
    const url = `${pages.origin}/default`;
    assert.equal(await getPage(url), "via REDIS_URL");
    assert.equal(await getPage(url), "via REDIS_URL");
    assert.equal(pages.hits("/default"), 1);
    assert.equal(await count(url), 2);
    assert.equal(await raw.send("EXISTS", "survivor"), 1);
  } finally {
    await closeDefaultCache();
    if (previous === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = previous;
  }
});

test("bad arguments are rejected before anything is counted", async () => {
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(getPage(42 as any, { cache }), TypeError);
  await assert.rejects(getPage("", { cache }), TypeError);
  await assert.rejects(
    getPage("http://x.test/", { cache, ttl: 0 }),
    RangeError,
  );
  await assert.rejects(
    getPage("http://x.test/", { cache, ttl: 1.5 }),
    RangeError,
  );
  assert.equal(await count("http://x.test/"), 0);
});
