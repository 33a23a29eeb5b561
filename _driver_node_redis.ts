// The driver for node-redis, the official client: ours on Deno and Node, or
// a client the user passes in on any runtime.

import { Buffer } from "node:buffer";
import { deadline } from "./_deadline.ts";
import { isIP } from "node:net";
import { createClient, ErrorReply } from "redis";
import {
  asBuffer,
  asByteList,
  asUint8Array,
  connectWithin,
  type Driver,
  getCommand,
  getEachCommand,
  looksLikeReply,
  type OpenOptions,
  parseGetEach,
  reconnectDelay,
  toCacheError,
} from "./_driver.ts";
import type { RedisArgument } from "./redis_client.ts";

// RESP type code of bulk strings ("$"). Per-command type mappings make GET
// return bytes and everything else text, whatever the client's own setting.
const BLOB_STRING = 36;
const CLOSE_GRACE = 1_000;
const AS_BYTES = { typeMapping: { [BLOB_STRING]: Buffer } };
const AS_TEXT = { typeMapping: {} };

/** The part of a node-redis (v5+) client this driver uses. */
export interface NodeRedisClient {
  sendCommand(
    args: ReadonlyArray<string | Buffer>,
    options?: object,
  ): Promise<unknown>;
  close?(): Promise<unknown>;
  destroy?(): void;
  readonly isReady?: boolean;
}

/** Sends commands through a node-redis client. */
export class NodeRedisDriver implements Driver {
  readonly #client: NodeRedisClient;
  readonly #owned: boolean;

  constructor(client: NodeRedisClient, owned: boolean) {
    this.#client = client;
    this.#owned = owned;
  }

  send(args: readonly RedisArgument[]): Promise<unknown> {
    return this.#client.sendCommand(args.map(asBuffer), AS_TEXT).catch(
      (error) => {
        throw toCacheError(error, args[0], isServerReply);
      },
    );
  }

  async getBytes(key: string, touch?: number): Promise<Uint8Array | null> {
    const command = getCommand(key, touch);
    try {
      const reply = await this.#client.sendCommand(command, AS_BYTES);
      return reply === null ? null : asUint8Array(reply as Buffer);
    } catch (error) {
      throw toCacheError(error, command[0], isServerReply);
    }
  }

  async getManyBytes(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    try {
      const replies = await this.#client.sendCommand(
        ["MGET", ...keys],
        AS_BYTES,
      );
      return asByteList(replies as (Buffer | null)[]);
    } catch (error) {
      throw toCacheError(error, "MGET", isServerReply);
    }
  }

  async getEach(
    keys: readonly string[],
  ): Promise<(Uint8Array | null | Error)[]> {
    try {
      return parseGetEach(
        await this.#client.sendCommand(getEachCommand(keys), AS_BYTES),
      );
    } catch (error) {
      throw toCacheError(error, "EVAL", isServerReply);
    }
  }

  get connected(): boolean {
    return this.#client.isReady !== false;
  }

  async close(): Promise<void> {
    if (!this.#owned) return;
    try {
      // A graceful close waits for queued commands, which never complete
      // while the server is down: give it a moment, then destroy.
      await deadline(
        this.#client.close?.() ?? Promise.resolve(),
        CLOSE_GRACE,
        () => new Error("close timed out"),
      );
    } catch {
      // Already closed or never fully open: destroying below is enough.
    } finally {
      this.#client.destroy?.();
    }
  }
}

/** Connects a node-redis client of our own. */
export async function openNodeRedisDriver(
  options: OpenOptions,
): Promise<Driver> {
  let ready = false;
  const client = createClient({
    url: options.endpoint.url,
    // The cache bounds every command itself; node-redis's own per-command
    // timer (5 s by default since v6) would only add an AbortSignal per call.
    commandOptions: { timeout: 0 },
    socket: {
      ...tlsSocketOptions(options),
      connectTimeout: options.connectTimeout,
      // The first connect fails at once so `connect()` can report why; after
      // that, a lost connection is retried until `close()`.
      reconnectStrategy: (retries: number) =>
        ready ? reconnectDelay(retries) : false,
    },
  });
  // node-redis emits "error" for every failed (re)connect; without a
  // listener the process would crash. Failures reach callers as rejections.
  client.on("error", () => {});
  await connectWithin(client.connect(), options, () => client.destroy());
  ready = true;
  return new NodeRedisDriver(client as NodeRedisClient, true);
}

// node-redis takes Node's tls.connect options inside `socket`.
function tlsSocketOptions({ endpoint, tls }: OpenOptions): object {
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
