// The driver for node-redis, the official client: ours on Deno and Node (and
// for Cluster and Sentinel on every runtime), or a client the user passes in.

import { Buffer } from "node:buffer";
import { deadline } from "./deadline.ts";
import { isIP } from "node:net";
import { BasicPooledClientSideCache, createClient, ErrorReply } from "redis";
import { asBuffer, asByteList, asUint8Array } from "./bytes.ts";
import { looksLikeReply, rejectionsBy, toCacheError } from "./client_errors.ts";
import { getEachCommand, getEachViaMget, parseGetEach } from "./commands.ts";
import { connectWithin, reconnectDelay } from "./connect.ts";
import type { Driver, OpenOptions } from "./driver.ts";
import type { RedisArgument, TlsOptions } from "../redis_client.ts";
import type { RedisEndpoint } from "./url.ts";

// RESP type code of bulk strings ("$"). Per-command type mappings make GET
// return bytes and everything else text, whatever the client's own setting.
const BLOB_STRING = 36;
const CLOSE_GRACE = 1_000;
const AS_BYTES = { typeMapping: { [BLOB_STRING]: Buffer } };
const AS_TEXT = { typeMapping: {} };

/** How a command's replies are read: blob strings as bytes, or as text. */
export type ReplyMapping = typeof AS_BYTES | typeof AS_TEXT;

const toBytes = (reply: unknown): Uint8Array | null =>
  reply === null ? null : asUint8Array(reply as Buffer);
const failedGet = (error: unknown): never => {
  throw toCacheError(error, "GET", isServerReply);
};

const failedCommand = rejectionsBy(isServerReply);

// The arguments as node-redis takes them: the same array when it holds no
// bytes other than Buffers (node-redis only reads it), else a copy.
function asBuffers(args: readonly RedisArgument[]): (string | Buffer)[] {
  for (const arg of args) {
    if (typeof arg !== "string" && !(arg instanceof Buffer)) {
      return args.map(asBuffer);
    }
  }
  return args as (string | Buffer)[];
}

/** The part of a node-redis (v5+) client this driver uses. */
export interface NodeRedisClient {
  sendCommand(
    args: ReadonlyArray<string | Buffer>,
    options?: object,
  ): Promise<unknown>;
  close?(): Promise<unknown>;
  destroy?(): void;
  readonly isReady?: boolean;
  /** The same connection with other reply types by default (node-redis 5+). */
  withTypeMapping?(typeMapping: object): NodeRedisClient;
}

/**
 * How commands reach Redis through one kind of node-redis client: a single
 * connection, a cluster (routed by `key`) or a Sentinel-managed set (reads
 * may go to replicas when `readonly`).
 */
export interface NodeRedisRoute {
  send(
    args: (string | Buffer)[],
    options: ReplyMapping,
    key: string | undefined,
    readonly: boolean,
  ): Promise<unknown>;
  readonly ready: boolean;
  close(): Promise<unknown>;
  destroy(): void;
}

/**
 * The route of a single node-redis client. Options passed with a command
 * are merged into the client's defaults with object spreads per command,
 * which made node-redis's own work per GET about a fifth more on Node; so
 * each reply mapping gets a view of the client made once with it as its
 * default (the same connection), and commands go without options.
 */
export function singleRoute(client: NodeRedisClient): NodeRedisRoute {
  const asBytes = client.withTypeMapping?.(AS_BYTES.typeMapping);
  const asText = client.withTypeMapping?.(AS_TEXT.typeMapping);
  return {
    send: (args, options) => {
      const mapped = options === AS_BYTES ? asBytes : asText;
      return mapped === undefined
        ? client.sendCommand(args, options)
        : mapped.sendCommand(args);
    },
    get ready() {
      return client.isReady !== false;
    },
    close: () => client.close?.() ?? Promise.resolve(),
    destroy: () => client.destroy?.(),
  };
}

/** Sends commands through a node-redis client, cluster or sentinel. */
export class NodeRedisDriver implements Driver {
  protected readonly route: NodeRedisRoute;
  readonly #owned: boolean;
  readonly watchInvalidations?: Driver["watchInvalidations"];

  constructor(
    route: NodeRedisRoute,
    owned: boolean,
    watchInvalidations?: Driver["watchInvalidations"],
  ) {
    this.route = route;
    this.#owned = owned;
    this.watchInvalidations = watchInvalidations;
  }

  send(args: readonly RedisArgument[], key?: string): Promise<unknown> {
    const failed = failedCommand(args[0]);
    try {
      return this.route.send(asBuffers(args), AS_TEXT, key, false).then(
        undefined,
        failed,
      );
    } catch (error) {
      return Promise.reject(toCacheError(error, args[0], isServerReply));
    }
  }

  // Blob strings as Buffers, through the type-mapped view of the client.
  sendBytes(args: readonly RedisArgument[]): Promise<unknown> {
    const failed = failedCommand(args[0]);
    try {
      return this.route.send(asBuffers(args), AS_BYTES, undefined, false)
        .then(undefined, failed);
    } catch (error) {
      return Promise.reject(toCacheError(error, args[0], isServerReply));
    }
  }

  // Not an async function, with handlers made once: this is every get's
  // path, and an async frame with its closures costs a microsecond here.
  getBytes(key: string): Promise<Uint8Array | null> {
    try {
      return this.route.send(["GET", key], AS_BYTES, key, true)
        .then(toBytes, failedGet);
    } catch (error) {
      return Promise.reject(toCacheError(error, "GET", isServerReply));
    }
  }

  async getManyBytes(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    try {
      const replies = await this.route.send(
        ["MGET", ...keys],
        AS_BYTES,
        keys.length === 1 ? keys[0] : undefined,
        true,
      );
      return asByteList(replies as (Buffer | null)[]);
    } catch (error) {
      throw toCacheError(error, "MGET", isServerReply);
    }
  }

  async getEach(
    keys: readonly string[],
    hitsLikely = false,
  ): Promise<(Uint8Array | null | Error)[]> {
    // keys[0] routes all of them: in a cluster they share one slot.
    const route = this.route;
    try {
      return await getEachViaMget(
        keys,
        hitsLikely,
        async () =>
          asByteList(
            await route.send(["MGET", ...keys], AS_BYTES, keys[0], true) as (
              | Buffer
              | null
            )[],
          ),
        (some) => route.send(["EXISTS", ...some], AS_TEXT, keys[0], true),
        async () =>
          parseGetEach(
            await route.send(getEachCommand(keys), AS_BYTES, keys[0], true),
          ),
      );
    } catch (error) {
      throw toCacheError(error, "MGET", isServerReply);
    }
  }

  get connected(): boolean {
    return this.route.ready;
  }

  async close(): Promise<void> {
    if (!this.#owned) return;
    try {
      // A graceful close waits for queued commands, which never complete
      // while the server is down: give it a moment, then destroy.
      await deadline(
        this.route.close(),
        CLOSE_GRACE,
        () => new Error("close timed out"),
      );
    } catch {
      // Already closed or never fully open: destroying below is enough.
    } finally {
      this.route.destroy();
    }
  }
}

/** Connects a node-redis client of our own. */
export async function openNodeRedisDriver(
  options: OpenOptions,
): Promise<Driver> {
  const { socket, markReady } = socketOptions(options.endpoint, options);
  const relay = options.tracking ? new InvalidationRelay() : undefined;
  const client = createClient({
    url: options.endpoint.url,
    ...COMMAND_OPTIONS,
    ...trackingOptions(relay),
    socket,
  });
  // node-redis emits "error" for every failed (re)connect; without a
  // listener the process would crash. Failures reach callers as rejections.
  client.on("error", () => {});
  await connectWithin(client.connect(), options, () => client.destroy());
  markReady();
  return new NodeRedisDriver(
    singleRoute(client as unknown as NodeRedisClient),
    true,
    relay?.watch,
  );
}

/**
 * Client-side caching, through node-redis's own support for it: every
 * (re)connect of every connection turns `CLIENT TRACKING` on, and Redis
 * pushes invalidations on the same connection, in order with the replies.
 * The relay caches nothing itself (node-redis caches only the replies of
 * its typed commands, never of `sendCommand`); it passes each invalidation
 * on, and `null` when a connection fails or closes, since invalidations may
 * have been missed then.
 */
export class InvalidationRelay extends BasicPooledClientSideCache {
  readonly #listeners: ((key: string | null) => void)[] = [];

  constructor() {
    super({ maxEntries: 1, recordStats: false });
  }

  /** Registers a listener; see {@linkcode Driver.watchInvalidations}. */
  readonly watch = (listener: (key: string | null) => void): void => {
    this.#listeners.push(listener);
  };

  override invalidate(key: unknown): void {
    super.invalidate(
      key as Parameters<BasicPooledClientSideCache["invalidate"]>[0],
    );
    this.#emit(key === null || key === undefined ? null : String(key));
  }

  override clear(resetStats?: boolean): void {
    super.clear(resetStats);
    this.#emit(null);
  }

  override onError(): void {
    super.onError();
    this.#emit(null);
  }

  override onClose(): void {
    super.onClose();
    this.#emit(null);
  }

  override onPoolClose(): void {
    super.onPoolClose();
    this.#emit(null);
  }

  #emit(key: string | null): void {
    for (const listener of this.#listeners) listener(key);
  }
}

/** The client options that turn client-side caching on through `relay`. */
export function trackingOptions(
  relay: InvalidationRelay | undefined,
): object {
  return relay === undefined ? {} : { RESP: 3, clientSideCache: relay };
}

/** A node-redis client's events, as far as invalidations need them. */
export interface EventSource {
  on(event: string, listener: (key?: unknown) => void): unknown;
  readonly options?: { emitInvalidate?: boolean };
}

/**
 * The invalidations of a node-redis client made with `RESP: 3` and
 * `emitInvalidate: true`: each changed key, and `null` (forget everything)
 * for a flush and whenever the connection drops or comes back, since
 * invalidations may have been missed in between.
 */
export function invalidationsOf(
  client: EventSource,
): NonNullable<Driver["watchInvalidations"]> {
  return (listener) => {
    client.on("invalidate", (key) => {
      listener(
        key === null || key === undefined
          ? null
          : Buffer.isBuffer(key)
          ? key.toString("utf8")
          : String(key),
      );
    });
    for (const event of ["error", "end", "reconnecting", "ready"]) {
      client.on(event, () => listener(null));
    }
  };
}

/**
 * The cache bounds every command itself; node-redis's own per-command timer
 * (5 s by default since v6) would only add an AbortSignal per call.
 */
export const COMMAND_OPTIONS = { commandOptions: { timeout: 0 } } as const;

/**
 * Socket options for a connection of ours: the connect timeout, TLS, and a
 * reconnect strategy under which the first connect fails at once (so
 * `connect()` can report why) while a connection lost later is retried
 * until `close()`; call `markReady` once connected.
 */
export function socketOptions(
  endpoint: RedisEndpoint,
  options: { connectTimeout: number; tls?: TlsOptions },
): { socket: Record<string, unknown>; markReady: () => void } {
  let ready = false;
  return {
    socket: {
      ...tlsSocketOptions(endpoint, options.tls),
      connectTimeout: options.connectTimeout,
      // node-redis retries a lost connection at once, then asks with
      // `retries` 1 after that first retry failed: so the first wait is
      // reconnectDelay(0), as on Bun.
      reconnectStrategy: (retries: number) =>
        ready ? reconnectDelay(Math.max(0, retries - 1)) : false,
    },
    markReady: () => {
      ready = true;
    },
  };
}

/**
 * {@linkcode socketOptions} for every node of a cluster or Sentinel set:
 * each is reached at its own address, so no host or SNI name of one node.
 */
export function nodesSocketOptions(
  first: RedisEndpoint,
  options: { connectTimeout: number; tls?: TlsOptions },
): { socket: Record<string, unknown>; markReady: () => void } {
  const shared = socketOptions(first, options);
  delete shared.socket.host;
  delete shared.socket.servername;
  return shared;
}

/** The `username` and `password` client options, for those that are given. */
export function credentials(
  username: string | undefined,
  password: string | undefined,
): { username?: string; password?: string } {
  return {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}

/**
 * Connects a cluster or sentinel client of ours within the connect timeout,
 * its error events silenced (failures reach callers as rejections).
 */
export async function connectOwned(
  client: {
    on(event: "error", listener: () => void): unknown;
    connect(): Promise<unknown>;
    destroy(): void;
  },
  endpoint: RedisEndpoint,
  connectTimeout: number,
): Promise<void> {
  client.on("error", () => {});
  await connectWithin(
    client.connect(),
    { endpoint, connectTimeout },
    () => client.destroy(),
  );
}

// node-redis takes Node's tls.connect options inside `socket`.
function tlsSocketOptions(
  endpoint: RedisEndpoint,
  tls: TlsOptions | undefined,
): object {
  if (!endpoint.tls && tls === undefined) return {};
  return {
    tls: true,
    host: endpoint.host,
    // Node refuses an IP address as SNI name; the certificate is then
    // checked against the IP itself.
    ...(isIP(tls?.servername ?? endpoint.host) === 0
      ? { servername: tls?.servername ?? endpoint.host }
      : {}),
    ...(tls?.ca === undefined ? {} : { ca: pem(tls.ca) }),
    ...(tls?.cert === undefined ? {} : { cert: pem(tls.cert) }),
    ...(tls?.key === undefined ? {} : { key: pem(tls.key) }),
    rejectUnauthorized: tls?.rejectUnauthorized ?? true,
  };
}

function pem(value: string | Uint8Array): string {
  return typeof value === "string" ? value : new TextDecoder().decode(value);
}

function isServerReply(error: Error): boolean {
  return error instanceof ErrorReply || looksLikeReply(error);
}
