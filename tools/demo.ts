// `deno task demo`: stores a few values and reads them back. Uses REDIS_URL
// when it is set (in a "demo" namespace, so nothing else is touched), else a
// throwaway redis-server on a free port.

import { Cache } from "../mod.ts";
import { startRedisServer } from "../_testing/redis_server.ts";

const given = Deno.env.get("REDIS_URL");
const server = given === undefined ? await startRedisServer() : undefined;
const url = given ?? server!.url();
try {
  await using cache = await Cache.connect({ url, namespace: "demo" });
  console.log(
    `connected to ${
      given === undefined
        ? `a throwaway redis-server on port ${server!.port}`
        : "REDIS_URL"
    }`,
  );

  const text = await cache.store("hello, Redis");
  const bytes = await cache.store(new Uint8Array([0, 1, 2, 254, 255]));
  const int = await cache.store(42);
  const float = await cache.store(3.14);

  console.log(`store("hello, Redis")          -> ${text}`);
  console.log(`getStr(${text}) -> ${JSON.stringify(await cache.getStr(text))}`);
  console.log(`get(${bytes})    -> ${await cache.get(bytes)}`);
  console.log(`getInt(${int}) -> ${await cache.getInt(int)}`);
  console.log(
    `get(${float}, parseFloat) -> ${await cache.get(
      float,
      (b) => parseFloat(new TextDecoder().decode(b)),
    )}`,
  );
  console.log(`get(<missing key>) -> ${await cache.get(crypto.randomUUID())}`);
} finally {
  await server?.stop();
}
