// The driver for Bun's built-in RedisClient, ours on Bun. Its `send` decodes
// bulk strings as text, so a lone value is read with the binary-safe
// `getBuffer`, and a batch is one MGET whose texts are encoded back to their
// bytes where that is exact (`text_replies.ts`), a `getBuffer` each elsewhere.
//
// Our own client runs with Bun's autoReconnect off: with it on, Bun 1.4's
// `connect()` never settles while the server refuses connections, and one
// failed handshake (a wrong password, a silent peer) leaves the client failed
// for good. Instead, a lost connection is replaced by a new client when the
// next command needs one, with backoff between failed attempts.

import { asUint8Array } from "./bytes.ts";
import { looksLikeReply, rejectionsBy, toCacheError } from "./client_errors.ts";
import { GET_EACH_MAX, missingKeys } from "./commands.ts";
import { connectWithin, reconnectDelay } from "./connect.ts";
import type { Driver, OpenOptions } from "./driver.ts";
import { TextReplies } from "./text_replies.ts";
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

const failedCommand = rejectionsBy(isServerReply);

// A lone get's reply handlers, made once.
const ownBytesOrNull = (reply: Uint8Array | null): Uint8Array | null =>
  reply === null ? null : ownBytes(reply);
const failedGet = (error: unknown): never => {
  throw toCacheError(error, "GET", isServerReply);
};

/** Sends commands through a Bun `RedisClient`. */
export class BunDriver implements Driver {
  #client: BunRedisClient;
  // Set for our own client: opens a replacement after the connection is lost.
  readonly #reopen: (() => Promise<BunRedisClient>) | undefined;
  #reopening: Promise<BunRedisClient> | undefined;
  #failedAttempts = 0;
  #nextAttemptAt = 0;
  readonly #texts = new TextReplies();

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
    return reply.then(undefined, failedCommand(command));
  }

  // Bun's send decodes values as text, so a read goes through the
  // binary-safe getBuffer (and a touch pairs it with a script that sets the
  // expiry, which auto-pipelining sends in the same round trip), and there
  // is no sendBytes.
  getBytes(key: string): Promise<Uint8Array | null> {
    const client = this.#client;
    if (!this.#isUsable(client)) return this.#getBytesSlowly(key);
    // The common case without an async frame, Promise.all or closures: a
    // lone get is most of what a cache does.
    return client.getBuffer(key).then(ownBytesOrNull, failedGet);
  }

  async #getBytesSlowly(key: string): Promise<Uint8Array | null> {
    try {
      const reply = await (await this.#usable()).getBuffer(key);
      return reply === null ? null : ownBytes(reply);
    } catch (error) {
      throw toCacheError(error, "GET", isServerReply);
    }
  }

  async getManyBytes(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    try {
      const client = await this.#usable();
      if (keys.length <= GET_EACH_MAX) return await this.#mget(client, keys);
      // In chunks, so that Bun parses the first reply while Redis writes
      // the next: faster than one reply of 10 000 values, one round trip.
      const chunks: Promise<(Uint8Array | null)[]>[] = [];
      for (let i = 0; i < keys.length; i += GET_EACH_MAX) {
        chunks.push(this.#mget(client, keys.slice(i, i + GET_EACH_MAX)));
      }
      return (await Promise.all(chunks)).flat();
    } catch (error) {
      throw toCacheError(error, "MGET", isServerReply);
    }
  }

  async #mget(
    client: BunRedisClient,
    keys: readonly string[],
  ): Promise<(Uint8Array | null)[]> {
    if (!this.#texts.next()) {
      // A key of another type reads as missing, as MGET reads it.
      const values = await Promise.all(
        keys.map((key) => bytesOrMissing(client, key)),
      );
      this.#texts.bytesRead(values);
      return values;
    }
    return await this.#texts.toBytes(
      await client.send("MGET", keys as string[]) as unknown[],
      (i) => bytesOrMissing(client, keys[i]),
    );
  }

  /**
   * GET of each key in one round trip, each with its own outcome: MGET with
   * an EXISTS of the same keys. MGET reads a key of another type as missing;
   * when EXISTS counts other than the keys MGET found (more: a key of another
   * type; fewer: a key changed between the two), each key MGET found nothing
   * for is read again with `getBuffer`, which gives that key's WRONGTYPE (the
   * script other drivers use instead replies as text here).
   */
  getEach(
    keys: readonly string[],
    hitsLikely = false,
  ): Promise<(Uint8Array | null | Error)[]> {
    const client = this.#client;
    // Without an async frame: a burst's batch is the common case.
    const each = this.#isUsable(client)
      ? this.#getEachOn(client, keys, hitsLikely)
      : this.#reopened().then((fresh) =>
        this.#getEachOn(fresh, keys, hitsLikely)
      );
    return each.catch((error) => {
      throw toCacheError(error, "MGET", isServerReply);
    });
  }

  #getEachOn(
    client: BunRedisClient,
    keys: readonly string[],
    hitsLikely: boolean,
  ): Promise<(Uint8Array | null | Error)[]> {
    const readAgain = (i: number) =>
      client.getBuffer(keys[i]).then(bytesOrNull, getError);
    if (!this.#texts.next()) {
      return Promise.all(keys.map((_, i) => readAgain(i))).then((values) => {
        this.#texts.bytesRead(values);
        return values;
      });
    }
    if (hitsLikely) {
      // MGET alone; EXISTS after it only of the keys it found nothing for.
      return (client.send("MGET", keys as string[]) as Promise<unknown[]>)
        .then((texts) => {
          const missing = missingKeys(keys, texts);
          if (missing.length === 0) {
            return this.#texts.toBytes(texts, readAgain);
          }
          return client.send("EXISTS", missing).then((existing) =>
            this.#texts.toBytes(texts, readAgain, Number(existing) !== 0)
          );
        });
    }
    return Promise.all([
      client.send("MGET", keys as string[]) as Promise<unknown[]>,
      client.send("EXISTS", keys as string[]),
    ]).then(([texts, existing]) => {
      let found = 0;
      for (const text of texts) if (text !== null) found++;
      return this.#texts.toBytes(texts, readAgain, found !== Number(existing));
    });
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

function bytesOrNull(reply: Uint8Array | null): Uint8Array | null {
  return reply === null ? null : ownBytes(reply);
}

// A GET of a batch's key that failed: the error for that key alone.
function getError(error: unknown): Error {
  return toCacheError(error, "GET", isServerReply);
}

// A value MGET could not give as bytes, read again for a getMany: a key that
// now holds another type reads as missing, as MGET reads it.
function bytesOrMissing(
  client: BunRedisClient,
  key: string,
): Promise<Uint8Array | null> {
  return client.getBuffer(key).then(bytesOrNull, missingIfWrongType);
}

// A key of another type as MGET reads it; any other error passes.
function missingIfWrongType(error: unknown): null {
  if (
    error instanceof Error && isServerReply(error) &&
    error.message.startsWith("WRONGTYPE")
  ) return null;
  throw error;
}

function pem(value: string | Uint8Array): string {
  return typeof value === "string" ? value : new TextDecoder().decode(value);
}

function isServerReply(error: Error): boolean {
  return (error as { code?: unknown }).code === "ERR_REDIS_SERVER_ERROR" ||
    looksLikeReply(error);
}
