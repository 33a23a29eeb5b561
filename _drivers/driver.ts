// The seam between the cache and a Redis client. The cache core speaks only
// to `Driver`; one adapter per client sits beside this file, and the choice
// of adapter is made here and nowhere else.

import { Buffer } from "node:buffer";
import { deadline } from "./deadline.ts";
import { CommandError, ConnectionError, TimeoutError } from "../errors.ts";
import type {
  RedisArgument,
  RedisClientLike,
  TlsOptions,
} from "../redis_client.ts";
import { describeEndpoint, type RedisEndpoint } from "./url.ts";

/** What the cache needs from a Redis client. */
export interface Driver {
  /**
   * Sends one command. Bulk-string replies come back as text, so use it
   * only where text is expected (status replies, integers, key names).
   * Rejects with a {@linkcode CommandError} when Redis answers with an error.
   * `key` picks the node in a cluster for a command without a key of its
   * own (`WAIT` after a write); elsewhere it is ignored.
   */
  send(args: readonly RedisArgument[], key?: string): Promise<unknown>;
  /**
   * `GET key`, binary-safe: the exact bytes, or `null` for a missing key.
   * With `touch`, also resets the key's expiry to `touch` ms on a hit, in the
   * same round trip (`GETEX … PX`).
   */
  getBytes(key: string, touch?: number): Promise<Uint8Array | null>;
  /** `MGET`, binary-safe, in one round trip; `null` for each missing key. */
  getManyBytes(keys: readonly string[]): Promise<(Uint8Array | null)[]>;
  /**
   * `GET` of each key in one command (the {@linkcode GET_EACH} script), with
   * each key's own error, as separate GETs would give; drivers that cannot
   * read script replies as bytes leave it out.
   */
  getEach?(keys: readonly string[]): Promise<(Uint8Array | null | Error)[]>;
  /**
   * Whether commands can go out now. While it is false the cache lets only a
   * bounded number of commands wait for the connection to come back.
   */
  readonly connected: boolean;
  /** Releases the connection if this driver opened it; a client the user passed in stays open. */
  close(): Promise<void>;
  /**
   * Present on Redis Cluster, where keys of one command must share a hash
   * slot and some commands must run on every primary.
   */
  readonly cluster?: ClusterNodes;
  /**
   * Present when the connection has client-side caching on (`CLIENT
   * TRACKING`): registers a listener for each key Redis says has changed
   * since this connection read it, and for `null` when everything read
   * before must be forgotten (a flush, a lost connection).
   */
  readonly watchInvalidations?: (
    listener: (key: string | null) => void,
  ) => void;
}

/** The nodes of a Redis Cluster, for commands each primary must run. */
export interface ClusterNodes {
  /** A driver for each primary (`SCAN` walks one node's keys only). */
  primaries(): Promise<Driver[]>;
}

/** How to open a connection of our own. */
export interface OpenOptions {
  readonly endpoint: RedisEndpoint;
  /** Bound on the whole connect, handshake and authentication included, in ms. */
  readonly connectTimeout: number;
  /** TLS settings; TLS is on for `rediss://` URLs. */
  readonly tls?: TlsOptions;
  /** Turn client-side caching on, for an in-process layer. */
  readonly tracking?: boolean;
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
  if (hasMethods(client, "sendCommand")) {
    const { CommandClientDriver } = await import("./command_client.ts");
    return new CommandClientDriver(client);
  }
  throw new TypeError(
    "client must be a node-redis, ioredis or Bun RedisClient, or have a sendCommand(args) method",
  );
}

/**
 * Waits for a driver's own `connect` within the connect timeout. On failure
 * `release` is called first, so no reconnect loop is left behind to keep the
 * process alive, and the error says which server could not be reached.
 */
export async function connectWithin(
  connecting: Promise<unknown>,
  { endpoint, connectTimeout }: OpenOptions,
  release: () => void,
): Promise<void> {
  const where = describeEndpoint(endpoint);
  try {
    await deadline(
      connecting,
      connectTimeout,
      () =>
        new TimeoutError(
          `connecting to Redis at ${where} timed out after ${connectTimeout} ms`,
        ),
    );
  } catch (error) {
    release();
    if (error instanceof TimeoutError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConnectionError(
      `cannot connect to Redis at ${where}: ${reason}`,
      {
        cause: error,
      },
    );
  }
}

// Backoff between reconnect attempts: doubles from 50 ms, capped at 2 s, with
// jitter so that many processes do not reconnect in lockstep.
const RECONNECT_BASE = 50;
const RECONNECT_CAP = 2_000;

/** How long to wait before reconnect attempt number `attempt` (0-based), in ms. */
export function reconnectDelay(attempt: number): number {
  const ceiling = Math.min(RECONNECT_CAP, RECONNECT_BASE * 2 ** attempt);
  return Math.round(ceiling * (0.5 + Math.random() / 2));
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

/**
 * Turns a client's error into ours: a server reply becomes a
 * {@linkcode CommandError}, anything else means the connection failed.
 */
export function toCacheError(
  error: unknown,
  command: RedisArgument | undefined,
  isServerReply: (error: Error) => boolean,
): Error {
  if (!(error instanceof Error)) {
    return new ConnectionError(
      "the Redis client failed without an error object",
    );
  }
  if (error instanceof CommandError || error instanceof ConnectionError) {
    return error;
  }
  const name = typeof command === "string" ? command.toUpperCase() : "command";
  if (isServerReply(error)) {
    return new CommandError(name, error.message, { cause: error });
  }
  return new ConnectionError(`${name} failed: ${error.message}`, {
    cause: error,
  });
}

/** Redis error replies start with an upper-case code: `ERR`, `WRONGTYPE`, `OOM` … */
export function looksLikeReply(error: Error): boolean {
  return /^[A-Z]{2,}[A-Z_]* /.test(error.message);
}

/**
 * GET of many keys in one command. MGET alone reads a key that holds another
 * type as missing; this checks the type of each key MGET found nothing for,
 * so such a key gives the WRONGTYPE error GET gives. `no-writes` lets it run
 * on replicas and when memory is full. At most {@linkcode GET_EACH_MAX} keys
 * per call (Lua's unpack limit).
 */
export const GET_EACH = `#!lua flags=no-writes
local values = redis.call("MGET", unpack(KEYS))
local errors = {}
for i = 1, #KEYS do
  if not values[i] and redis.call("TYPE", KEYS[i]).ok ~= "none" then
    errors[#errors + 1] = i
    errors[#errors + 1] = "WRONGTYPE Operation against a key holding the wrong kind of value"
  end
end
return {values, errors}`;

/** Most keys one {@linkcode GET_EACH} call takes. */
export const GET_EACH_MAX = 1_000;

/** The command that runs {@linkcode GET_EACH} on `keys`. */
export function getEachCommand(keys: readonly string[]): string[] {
  return ["EVAL", GET_EACH, String(keys.length), ...keys];
}

/**
 * GET of each key in one round trip, the cheap way: `mget` and `exists` of
 * the same keys, sent together. MGET reads a key that holds another type as
 * missing; when EXISTS counts more keys than MGET found, one of them does (or
 * a key changed between the two), and `script`, the {@linkcode GET_EACH}
 * script that checks each key, answers instead. Redis runs MGET and EXISTS of
 * a hundred keys in about a quarter of the script's time. The two are not
 * atomic: a key that changes type between them reads as the one or the other
 * state, as a GET just before or after the change would (with reads from
 * replicas, the two may also reach different replicas).
 */
export async function getEachViaMget(
  mget: () => Promise<(Uint8Array | null)[]>,
  exists: () => Promise<unknown>,
  script: () => Promise<(Uint8Array | null | Error)[]>,
): Promise<(Uint8Array | null | Error)[]> {
  const [values, existing] = await Promise.all([mget(), exists()]);
  let found = 0;
  for (const value of values) if (value !== null) found++;
  return found === Number(existing) ? values : await script();
}

/** Turns the reply of {@linkcode GET_EACH} into one result per key. */
export function parseGetEach(reply: unknown): (Uint8Array | null | Error)[] {
  const [values, errors] = reply as [(Uint8Array | null)[], unknown[]];
  const results: (Uint8Array | null | Error)[] = asByteList(values);
  for (let i = 0; i < errors.length; i += 2) {
    const message = errors[i + 1];
    results[Number(errors[i]) - 1] = new CommandError(
      "GET",
      typeof message === "string"
        ? message
        : new TextDecoder().decode(message as Uint8Array),
    );
  }
  return results;
}

/** The GET or GETEX command for {@linkcode Driver.getBytes}. */
export function getCommand(key: string, touch?: number): string[] {
  return touch === undefined
    ? ["GET", key]
    : ["GETEX", key, "PX", String(touch)];
}

/** A list of values as clients give them (`Buffer` or `null`), turned into plain `Uint8Array`s in place. */
export function asByteList(
  values: readonly (Uint8Array | null)[],
): (Uint8Array | null)[] {
  // In place: the list is the client's fresh reply, and a second array of
  // a thousand entries is measurable in a large getMany.
  const list = values as (Uint8Array | null)[];
  for (let i = 0; i < list.length; i++) {
    const value = list[i];
    if (value !== null) list[i] = asUint8Array(value);
  }
  return list;
}

/** A zero-copy `Uint8Array` view of a Node `Buffer` or other byte view. */
export function asUint8Array(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Node-style clients (node-redis, ioredis) send only strings and `Buffer`s
 * as bytes; a plain `Uint8Array` becomes a zero-copy `Buffer` view of it.
 */
export function asBuffer(argument: RedisArgument): string | Buffer {
  return typeof argument === "string" || argument instanceof Buffer
    ? argument
    : Buffer.from(argument.buffer, argument.byteOffset, argument.byteLength);
}
