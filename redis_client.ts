/**
 * The shapes of Redis clients that {@linkcode Cache.connect} accepts as
 * `client`, so an application can share the connection it already has.
 *
 * @module
 */

/** A value sent to Redis as one argument of a command. */
export type RedisArgument = string | Uint8Array;

/**
 * The smallest client shape: one method that sends a command and resolves
 * with its reply, rejecting when Redis answers with an error. node-redis
 * (v5 and later) clients have it, and any other client can be adapted to it
 * in a few lines.
 *
 * For binary safety, bulk-string replies should come back as `Uint8Array`;
 * a client that returns them as strings still works, but the cache can only
 * re-encode such text as UTF-8, so values that are not UTF-8 are not read
 * back exactly.
 *
 * @example Adapting a client that has another method name
 * ```ts ignore
 * import { Cache, type RedisCommandClient } from "@redis-basic/cache";
 *
 * const client: RedisCommandClient = {
 *   sendCommand: ([command, ...args]) => other.call(command, args, { bytes: true }),
 * };
 * await using cache = await Cache.connect({ client, flush: false });
 * ```
 */
export interface RedisCommandClient {
  /**
   * Sends `args` (the command name first) and resolves with the reply.
   *
   * @param args The command and its arguments, such as `["GET", "key"]`.
   * @returns The reply: `null` for a missing value, bytes or text for bulk strings.
   */
  sendCommand(args: readonly RedisArgument[]): Promise<unknown>;
}

/**
 * An ioredis client (`new Redis()` from the `ioredis` package): the cache
 * uses `callBuffer` for binary-safe reads and `call` for the rest.
 */
export interface IoRedisLikeClient {
  /**
   * Sends a command; bulk strings come back as `Buffer`.
   *
   * @param command The command name.
   * @param args Its arguments.
   * @returns The reply.
   */
  callBuffer(
    command: string,
    args: (string | number | Uint8Array)[],
  ): Promise<unknown>;
  /**
   * Sends a command; bulk strings come back as text.
   *
   * @param command The command name.
   * @param args Its arguments.
   * @returns The reply.
   */
  call(
    command: string,
    args: (string | number | Uint8Array)[],
  ): Promise<unknown>;
}

/**
 * Bun's built-in `RedisClient` (`import { RedisClient } from "bun"`). Its
 * `send` returns bulk strings as text, so the cache reads a lone value with
 * the binary-safe `getBuffer`, and a batch with `send("MGET")`, encoding back
 * each text that decoded losslessly and reading the others with `getBuffer`.
 */
export interface BunLikeRedisClient {
  /**
   * Reads a key as bytes.
   *
   * @param key The key.
   * @returns The bytes, or `null` when the key is missing.
   */
  getBuffer(key: string): Promise<Uint8Array | null>;
  /**
   * Sends any command.
   *
   * @param command The command name.
   * @param args Its arguments.
   * @returns The reply.
   */
  send(command: string, args: RedisArgument[]): Promise<unknown>;
}

/**
 * An `@db/redis` client (denodrivers/redis, `connect()` from
 * `jsr:@db/redis`): the cache asks its `sendCommand` for `Uint8Array`
 * replies when it reads values, so they come back byte for byte. It is told
 * apart from other `sendCommand` clients by its `isConnected` and `isClosed`.
 */
export interface DbRedisLikeClient {
  /**
   * Sends a command.
   *
   * @param command The command name.
   * @param args Its arguments.
   * @param options `returnUint8Arrays: true` for bulk strings as bytes.
   * @returns The reply.
   */
  sendCommand(
    command: string,
    args?: RedisArgument[],
    options?: { returnUint8Arrays?: boolean },
  ): Promise<unknown>;
  /** Whether the connection is up. */
  readonly isConnected: boolean;
  /** Whether the client was closed. */
  readonly isClosed: boolean;
}

/** Any client that {@linkcode Cache.connect} can use in place of a URL. */
export type RedisClientLike =
  | RedisCommandClient
  | IoRedisLikeClient
  | BunLikeRedisClient
  | DbRedisLikeClient;

/**
 * TLS settings for `rediss://` connections: a private CA, a client
 * certificate for servers that require one, and the name to verify.
 */
export interface TlsOptions {
  /** PEM certificate(s) of the CA that signed the server's certificate. @default {The system's CAs} */
  ca?: string | Uint8Array;
  /** PEM client certificate, for servers with `tls-auth-clients yes`. */
  cert?: string | Uint8Array;
  /** PEM private key of the client certificate. */
  key?: string | Uint8Array;
  /** The name to check the server's certificate against. @default {The URL's host} */
  servername?: string;
  /**
   * Whether to refuse a server whose certificate does not verify.
   *
   * @default {true}
   */
  rejectUnauthorized?: boolean;
}
