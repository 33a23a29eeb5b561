// The driver for Bun's built-in RedisClient, ours on Bun. Its `send` decodes
// bulk strings as text, so values are read with the binary-safe `getBuffer`.
//
// Our own client runs with Bun's autoReconnect off: with it on, Bun 1.4's
// `connect()` never settles while the server refuses connections, and one
// failed handshake (a wrong password, a silent peer) leaves the client failed
// for good. Instead, a lost connection is replaced by a new client when the
// next command needs one, with backoff between failed attempts.

import { asUint8Array } from "./bytes.ts";
import { looksLikeReply, toCacheError } from "./client_errors.ts";
import { connectWithin, reconnectDelay } from "./connect.ts";
import type { Driver, OpenOptions } from "./driver.ts";
import { ConnectionError } from "../errors.ts";
import type { BunLikeRedisClient, RedisArgument } from "../redis_client.ts";

const BUN_TIMEOUT_MARGIN = 250;
// Up to this size a copy is cheaper than a view on Bun: JavaScriptCore keeps
// small typed arrays without an ArrayBuffer, and asking a Buffer for its
// `.buffer` (as a view must) makes one and moves the bytes into it.
const COPY_BELOW = 4 * 1024;

// The reply as a plain Uint8Array, not a Buffer (whose slice shares memory).
function ownBytes(reply: Uint8Array): Uint8Array {
  return reply.byteLength < COPY_BELOW
    ? new Uint8Array(reply)
    : asUint8Array(reply);
}

/** The part of Bun's `RedisClient` this driver uses. */
interface BunRedisClient extends BunLikeRedisClient {
  readonly connected?: boolean;
  connect?(): Promise<void>;
  close?(): void;
}

interface BunRedisClientConstructor {
  new (url: string, options: {
    connectionTimeout: number;
    autoReconnect: boolean;
    enableAutoPipelining: boolean;
    tls?: boolean | object;
  }): BunRedisClient;
}

/** Sends commands through a Bun `RedisClient`. */
export class BunDriver implements Driver {
  #client: BunRedisClient;
  // Set for our own client: opens a replacement after the connection is lost.
  readonly #reopen: (() => Promise<BunRedisClient>) | undefined;
  #reopening: Promise<BunRedisClient> | undefined;
  #failedAttempts = 0;
  #nextAttemptAt = 0;

  constructor(
    client: BunRedisClient,
    reopen?: () => Promise<BunRedisClient>,
  ) {
    this.#client = client;
    this.#reopen = reopen;
  }

  send([command, ...args]: readonly RedisArgument[]): Promise<unknown> {
    const client = this.#client;
    const reply = this.#isUsable(client)
      ? client.send(String(command), args)
      : this.#reopened().then((fresh) => fresh.send(String(command), args));
    return reply.catch((error) => {
      throw toCacheError(error, command, isServerReply);
    });
  }

  // Bun's getex and mget decode values as text, so reads go through the
  // binary-safe getBuffer; auto-pipelining sends a batch of them (and the
  // PEXPIRE of a touch) in one round trip.
  getBytes(key: string, touch?: number): Promise<Uint8Array | null> {
    const client = this.#client;
    if (touch !== undefined || !this.#isUsable(client)) {
      return this.#getBytesSlowly(key, touch);
    }
    // The common case without an async frame or Promise.all: a lone get
    // is most of what a cache does.
    return client.getBuffer(key).then(
      (reply) => reply === null ? null : ownBytes(reply),
      (error) => {
        throw toCacheError(error, "GET", isServerReply);
      },
    );
  }

  async #getBytesSlowly(
    key: string,
    touch: number | undefined,
  ): Promise<Uint8Array | null> {
    try {
      const client = await this.#usable();
      const [reply] = await Promise.all([
        client.getBuffer(key),
        touch === undefined
          ? undefined
          : client.send("PEXPIRE", [key, String(touch)]),
      ]);
      return reply === null ? null : ownBytes(reply);
    } catch (error) {
      throw toCacheError(
        error,
        touch === undefined ? "GET" : "GETEX",
        isServerReply,
      );
    }
  }

  async getManyBytes(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    try {
      const client = await this.#usable();
      const replies = await Promise.all(
        keys.map((key) => client.getBuffer(key)),
      );
      return replies.map((reply) => reply === null ? null : ownBytes(reply));
    } catch (error) {
      throw toCacheError(error, "MGET", isServerReply);
    }
  }

  #usable(): BunRedisClient | Promise<BunRedisClient> {
    return this.#isUsable(this.#client) ? this.#client : this.#reopened();
  }

  get connected(): boolean {
    return this.#client.connected !== false;
  }

  close(): Promise<void> {
    if (this.#reopen !== undefined) this.#client.close?.();
    return Promise.resolve();
  }

  #isUsable(client: BunRedisClient): boolean {
    return this.#reopen === undefined || client.connected !== false;
  }

  // One reconnect at a time, shared by every command that needs it; after a
  // failure, commands fail fast until the backoff has passed.
  #reopened(): Promise<BunRedisClient> {
    this.#reopening ??= this.#reopenOnce().finally(() => {
      this.#reopening = undefined;
    });
    return this.#reopening;
  }

  async #reopenOnce(): Promise<BunRedisClient> {
    const wait = this.#nextAttemptAt - Date.now();
    if (wait > 0) {
      throw new ConnectionError(
        `the connection to Redis is down; the next reconnect attempt is in ${wait} ms`,
      );
    }
    try {
      const client = await this.#reopen!();
      this.#client.close?.();
      this.#client = client;
      this.#failedAttempts = 0;
      return client;
    } catch (error) {
      this.#nextAttemptAt = Date.now() + reconnectDelay(this.#failedAttempts++);
      throw error;
    }
  }
}

/** Connects a Bun `RedisClient` of our own. */
export async function openBunDriver(options: OpenOptions): Promise<Driver> {
  const open = () => openBunClient(options);
  return new BunDriver(await open(), open);
}

async function openBunClient(options: OpenOptions): Promise<BunRedisClient> {
  const { RedisClient } = (globalThis as unknown as {
    Bun: { RedisClient: BunRedisClientConstructor };
  }).Bun;
  const { endpoint, tls } = options;
  const client = new RedisClient(endpoint.url, {
    // A little longer than our own bound, so that a server that never
    // answers is always reported as our TimeoutError, not as Bun's close.
    connectionTimeout: options.connectTimeout + BUN_TIMEOUT_MARGIN,
    autoReconnect: false,
    enableAutoPipelining: true,
    ...(endpoint.tls || tls !== undefined
      ? {
        tls: {
          ...(tls?.ca === undefined ? {} : { ca: pem(tls.ca) }),
          ...(tls?.cert === undefined ? {} : { cert: pem(tls.cert) }),
          ...(tls?.key === undefined ? {} : { key: pem(tls.key) }),
          ...(tls?.servername === undefined
            ? {}
            : { serverName: tls.servername }),
          rejectUnauthorized: tls?.rejectUnauthorized ?? true,
        },
      }
      : {}),
  });
  await connectWithin(
    client.connect?.() ?? Promise.resolve(),
    options,
    () => client.close?.(),
  );
  return client;
}

function pem(value: string | Uint8Array): string {
  return typeof value === "string" ? value : new TextDecoder().decode(value);
}

function isServerReply(error: Error): boolean {
  return (error as { code?: unknown }).code === "ERR_REDIS_SERVER_ERROR" ||
    looksLikeReply(error);
}
