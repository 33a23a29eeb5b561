// Opens the connection `Cache.connect` asks for: a client the user passed
// in, a Redis Cluster, a Sentinel-managed primary, or one server by URL.
// The options are checked here, before anything connects. This is the only
// module that picks an adapter; each is imported when it is needed.

import type { Driver, OpenOptions } from "./driver.ts";
import { readEnv } from "./env.ts";
import { redact } from "./redact.ts";
import { parseRedisUrl, type RedisEndpoint } from "./url.ts";
import type {
  CacheOptions,
  ClusterOptions,
  SentinelOptions,
} from "../cache_options.ts";
import type { DbRedisLikeClient, RedisClientLike } from "../redis_client.ts";

const DEFAULT_URL = "redis://127.0.0.1:6379";

/** What the connection needs before it is opened. */
export interface Connection {
  /** Opens it: credentials never appear in the errors it throws. */
  open(connectTimeout: number): Promise<Driver>;
  /** Passwords to scrub from any error message. */
  readonly secrets: readonly string[];
  /** The server, for telemetry attributes (the first node of several). */
  readonly server: { address?: string; port?: number; database?: number };
}

/** Checks which connection the options ask for; throws before connecting. */
export function planConnection(options: CacheOptions): Connection {
  const given = (["client", "cluster", "sentinel"] as const).filter((name) =>
    options[name] !== undefined
  );
  if (given.length > 1) {
    throw new TypeError(
      `give one of client, cluster and sentinel, not ${given.join(" and ")}`,
    );
  }
  const tracking = options.l1 !== undefined;
  if (options.client !== undefined) {
    const client = options.client;
    return {
      open: async () => {
        const driver = await adaptClient(client);
        if (tracking && driver.watchInvalidations === undefined) {
          throw new TypeError(
            "l1 needs invalidations from Redis: pass a node-redis client made with RESP: 3 and emitInvalidate: true, or let the cache connect",
          );
        }
        return driver;
      },
      secrets: [],
      server: {},
    };
  }
  const readFromReplicas = (
    setting: ClusterOptions | SentinelOptions,
    name: string,
  ) => {
    const value = setting.readFromReplicas ?? false;
    if (typeof value !== "boolean") {
      throw new TypeError(`${name}.readFromReplicas must be a boolean`);
    }
    return value;
  };
  if (options.cluster !== undefined) {
    const cluster = checkObject(options.cluster, "cluster");
    const rootNodes = checkUrls(cluster.rootNodes, "cluster.rootNodes");
    const replicas = readFromReplicas(cluster, "cluster");
    return {
      open: (connectTimeout) =>
        import("./cluster.ts").then(({ openClusterDriver }) =>
          openClusterDriver({
            rootNodes,
            connectTimeout,
            tls: options.tls,
            readFromReplicas: replicas,
            tracking,
          })
        ),
      secrets: passwords(rootNodes),
      server: serverOf(rootNodes[0]),
    };
  }
  if (options.sentinel !== undefined) {
    const sentinel = checkObject(options.sentinel, "sentinel");
    if (typeof sentinel.name !== "string" || sentinel.name === "") {
      throw new TypeError("sentinel.name must be a non-empty string");
    }
    const sentinels = checkUrls(sentinel.sentinels, "sentinel.sentinels");
    for (const field of ["username", "password"] as const) {
      if (
        sentinel[field] !== undefined && typeof sentinel[field] !== "string"
      ) {
        throw new TypeError(`sentinel.${field} must be a string`);
      }
    }
    const replicas = readFromReplicas(sentinel, "sentinel");
    return {
      open: (connectTimeout) =>
        import("./sentinel.ts").then(({ openSentinelDriver }) =>
          openSentinelDriver({
            name: sentinel.name,
            sentinels,
            username: sentinel.username,
            password: sentinel.password,
            connectTimeout,
            tls: options.tls,
            readFromReplicas: replicas,
            tracking,
          })
        ),
      secrets: [
        ...passwords(sentinels),
        ...(sentinel.password === undefined ? [] : [sentinel.password]),
      ],
      server: serverOf(sentinels[0]),
    };
  }
  const endpoint = parseRedisUrl(
    options.url ?? readEnv("REDIS_URL") ?? DEFAULT_URL,
  );
  return {
    open: (connectTimeout) =>
      openDriver({ endpoint, connectTimeout, tls: options.tls, tracking }),
    secrets: passwords([endpoint]),
    server: serverOf(endpoint),
  };
}

/** Opens the connection, with credentials scrubbed from any error. */
export async function openConnection(
  connection: Connection,
  connectTimeout: number,
): Promise<Driver> {
  try {
    return await connection.open(connectTimeout);
  } catch (error) {
    throw redact(error, connection.secrets);
  }
}

function checkObject<T>(value: T, name: string): T {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${name} must be an object`);
  }
  return value;
}

function checkUrls(urls: unknown, name: string): RedisEndpoint[] {
  if (!Array.isArray(urls) || urls.length === 0) {
    throw new TypeError(`${name} must be a non-empty array of Redis URLs`);
  }
  return urls.map((url) => {
    if (typeof url !== "string") {
      throw new TypeError(`${name} must hold Redis URLs as strings`);
    }
    return parseRedisUrl(url);
  });
}

function passwords(endpoints: readonly RedisEndpoint[]): string[] {
  return endpoints.flatMap(({ password }) =>
    password === undefined ? [] : [password]
  );
}

function serverOf(
  { host, port, database }: RedisEndpoint,
): Connection["server"] {
  return { address: host, port, database };
}

/**
 * Opens a connection with the best client for this runtime; with
 * `tracking`, node-redis on every runtime (Bun's client does not pass
 * invalidation pushes on).
 */
export async function openDriver(options: OpenOptions): Promise<Driver> {
  if (isBun() && !options.tracking) {
    const { openBunDriver } = await import("./bun.ts");
    return await openBunDriver(options);
  }
  const { openNodeRedisDriver } = await import("./node_redis.ts");
  return await openNodeRedisDriver(options);
}

/** Wraps a client the user passed in; the cache never closes it. */
export async function adaptClient(client: RedisClientLike): Promise<Driver> {
  if (typeof client !== "object" || client === null) {
    throw new TypeError("client must be a Redis client object");
  }
  if (hasMethods(client, "getBuffer", "send")) {
    const { BunDriver } = await import("./bun.ts");
    return new BunDriver(client);
  }
  if (hasMethods(client, "callBuffer", "call")) {
    const { IoRedisDriver } = await import("./ioredis.ts");
    return new IoRedisDriver(client);
  }
  if (hasMethods(client, "sendCommand", "getMasters", "nodeClient")) {
    const { ClusterDriver, clusterRoute } = await import(
      "./cluster.ts"
    );
    // deno-lint-ignore no-explicit-any -- node-redis's generics are not part of our surface
    return new ClusterDriver(clusterRoute(client as any), client as any, false);
  }
  if (hasMethods(client, "sendCommand", "acquire", "withTypeMapping")) {
    const { sentinelRoute } = await import("./sentinel.ts");
    const { NodeRedisDriver } = await import("./node_redis.ts");
    // deno-lint-ignore no-explicit-any -- node-redis's generics are not part of our surface
    return new NodeRedisDriver(sentinelRoute(client as any), false);
  }
  if (hasMethods(client, "sendCommand", "withTypeMapping")) {
    const { invalidationsOf, NodeRedisDriver, singleRoute } = await import(
      "./node_redis.ts"
    );
    // deno-lint-ignore no-explicit-any -- node-redis's generics are not part of our surface
    const nodeRedis = client as any;
    return new NodeRedisDriver(
      singleRoute(nodeRedis),
      false,
      nodeRedis.options?.emitInvalidate === true
        ? invalidationsOf(nodeRedis)
        : undefined,
    );
  }
  if (
    hasMethods(client, "sendCommand") && "isConnected" in client &&
    "isClosed" in client
  ) {
    const { DbRedisDriver } = await import("./db_redis.ts");
    return new DbRedisDriver(client as unknown as DbRedisLikeClient);
  }
  if (hasMethods(client, "sendCommand")) {
    const { CommandClientDriver } = await import("./command_client.ts");
    return new CommandClientDriver(client);
  }
  throw new TypeError(
    "client must be a node-redis, ioredis, @db/redis or Bun RedisClient, or have a sendCommand(args) method",
  );
}

function isBun(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun === "object";
}

function hasMethods<K extends string>(
  value: object,
  ...names: K[]
): value is Record<K, (...args: never[]) => unknown> {
  return names.every((name) =>
    typeof (value as Record<string, unknown>)[name] === "function"
  );
}
