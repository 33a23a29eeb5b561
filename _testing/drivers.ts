// Every way a user can give the cache a Redis connection on the runtime that
// runs the tests. The conformance suite runs once per entry, so a driver is
// done when the suite passes on it.

import { Buffer } from "node:buffer";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { createClient, RESP_TYPES } from "redis";
import { Redis as IoRedis } from "ioredis";
import {
  Cache,
  type CacheOptions,
  type DbRedisLikeClient,
  type RedisClientLike,
} from "../mod.ts";
import type { RedisServer } from "./redis_server.ts";

/** A cache on one driver, and whatever must be closed with it. */
export interface DriverCache extends AsyncDisposable {
  cache: Cache;
}

/** One way to connect: a name for test titles and a factory. */
export interface DriverCase {
  name: string;
  /**
   * Whether the cache speaks through Bun's RedisClient, whose `send` and
   * `mget` decode values as text: it reads a lone value with `getBuffer`, a
   * batch as MGETs of at most 1000 keys, and a touch is GET plus a script
   * that sets the expiry (a GETEX whose value it keeps, and the tags'
   * bookkeeping).
   */
  bunClient: boolean;
  /** Connects to `server`, or to anything with a `url()`, such as a proxy's. */
  connect(
    server: Pick<RedisServer, "url">,
    options?: Omit<CacheOptions, "url" | "client">,
  ): Promise<DriverCache>;
}

const BLOB_STRING = 36;

// The cache's own connection: node-redis on Deno and Node, RedisClient on Bun.
const ownConnection: DriverCase = {
  name: "Bun" in globalThis ? "own Bun RedisClient" : "own node-redis",
  bunClient: "Bun" in globalThis,
  async connect(server, options) {
    const cache = await Cache.connect({ ...options, url: server.url() });
    return { cache, [Symbol.asyncDispose]: () => cache.close() };
  },
};

// node-redis 6 bounds each command at 5 s by default, whatever the cache's
// `timeout`; the 100 MB round trip can take longer on a loaded machine, so
// these clients leave bounding to the cache, as the cache's own client does.
const UNBOUNDED = { commandOptions: { timeout: 0 } };

// A user's client may have reply types of its own: this one gives bulk
// strings as Buffers by default, so a text reply the cache reads (SCAN's keys,
// the history's lists) comes back as text only if the cache asks for text.
const nodeRedisClient: DriverCase = {
  name: "node-redis client",
  bunClient: false,
  async connect(server, options) {
    const client = createClient({ url: server.url(), ...UNBOUNDED });
    client.on("error", () => {});
    await client.connect();
    return withClient(
      client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }),
      () => client.destroy(),
      options,
    );
  },
};

const ioredisClient: DriverCase = {
  name: "ioredis client",
  bunClient: false,
  async connect(server, options) {
    const client = new IoRedis(server.url(), { lazyConnect: true });
    client.on("error", () => {});
    await client.connect();
    return withClient(client, () => client.disconnect(), options);
  },
};

// The documented minimal shape, `sendCommand(args)`, built on node-redis the
// way a user would adapt a client the cache does not know.
const sendCommandClient: DriverCase = {
  name: "sendCommand client",
  bunClient: false,
  async connect(server, options) {
    const client = createClient({ url: server.url(), ...UNBOUNDED });
    client.on("error", () => {});
    await client.connect();
    const adapted = {
      sendCommand: (args: (string | Uint8Array)[]) =>
        client.sendCommand(
          args.map((arg) => typeof arg === "string" ? arg : Buffer.from(arg)),
          { typeMapping: { [BLOB_STRING]: Buffer } },
        ),
    };
    return withClient(adapted, () => client.destroy(), options);
  },
};

const bunRedisClient: DriverCase = {
  name: "Bun RedisClient client",
  bunClient: true,
  async connect(server, options) {
    const { RedisClient } = (globalThis as unknown as {
      Bun: {
        RedisClient: new (url: string) => {
          connect(): Promise<void>;
          close(): void;
          getBuffer(key: string): Promise<Uint8Array | null>;
          send(
            command: string,
            args: (string | Uint8Array)[],
          ): Promise<unknown>;
        };
      };
    }).Bun;
    const client = new RedisClient(server.url());
    await client.connect();
    return withClient(client, () => client.close(), options);
  },
};

async function withClient(
  client: RedisClientLike,
  release: () => unknown,
  options?: Omit<CacheOptions, "url" | "client">,
): Promise<DriverCache> {
  try {
    const cache = await Cache.connect({ ...options, client });
    return {
      cache,
      async [Symbol.asyncDispose]() {
        await cache.close();
        await release();
      },
    };
  } catch (error) {
    await release();
    throw error;
  }
}

// @db/redis (denodrivers/redis) comes from JSR, which the project's
// machines cannot reach: its cases run when DB_REDIS_MODULE names its mod.ts
// (a path or a URL), on Deno, the runtime it is written for.
const dbRedisModule = process.env.DB_REDIS_MODULE;

/** Why the @db/redis client cannot be tested here, or `false` when it can. */
export const dbRedisMissing: string | false = !("Deno" in globalThis)
  ? "@db/redis is a Deno client"
  : dbRedisModule === undefined || dbRedisModule === ""
  ? "DB_REDIS_MODULE does not name @db/redis's mod.ts"
  : false;

/** @db/redis's `connect`, when it can be tested here. */
const dbRedis = dbRedisMissing === false
  ? await import(
    /^[a-z]+:/.test(dbRedisModule!)
      ? dbRedisModule!
      : pathToFileURL(dbRedisModule!).href
  ) as {
    connect(options: {
      hostname: string;
      port: number;
      username?: string;
      password?: string;
    }): Promise<
      DbRedisLikeClient & { close(): void }
    >;
  }
  : undefined;

/** A real @db/redis client connected to `server`; see {@linkcode dbRedisMissing}. */
export function connectDbRedis(
  server: Pick<RedisServer, "url">,
): Promise<DbRedisLikeClient & { close(): void }> {
  if (dbRedis === undefined) throw new Error(`no @db/redis: ${dbRedisMissing}`);
  const { hostname, port, username, password } = new URL(server.url());
  return dbRedis.connect({
    hostname,
    port: Number(port),
    // A user's test connects as that user, as the other drivers do.
    ...(username === "" ? {} : { username: decodeURIComponent(username) }),
    ...(password === "" ? {} : { password: decodeURIComponent(password) }),
  });
}

const dbRedisClient: DriverCase = {
  name: "@db/redis client",
  bunClient: false,
  async connect(server, options) {
    const client = await connectDbRedis(server);
    return withClient(client, () => client.close(), options);
  },
};

/** The driver cases of the runtime running the tests. */
export const driverCases: readonly DriverCase[] = "Bun" in globalThis
  ? [ownConnection, bunRedisClient, nodeRedisClient, ioredisClient]
  : [
    ownConnection,
    nodeRedisClient,
    ioredisClient,
    sendCommandClient,
    ...(dbRedis === undefined ? [] : [dbRedisClient]),
  ];
