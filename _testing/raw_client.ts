// A raw node-redis client on a test's server, for checking from outside what
// the cache wrote.

import { Buffer } from "node:buffer";
import { createClient } from "redis";
import type { RedisClientLike } from "../redis_client.ts";

/**
 * A node-redis client that reads every bulk string as bytes, for checking
 * from outside what the cache wrote.
 */
export async function connectRaw(url: string): Promise<RawClient> {
  // It reconnects, so it outlives a test that kills and restarts the server.
  const client = createClient({ url, socket: { reconnectStrategy: () => 50 } })
    .withTypeMapping({ 36: Buffer });
  client.on("error", () => {});
  await client.connect();
  return {
    send: (...args: (string | Uint8Array)[]) =>
      client.sendCommand(
        args.map((arg) => typeof arg === "string" ? arg : Buffer.from(arg)),
      ),
    async getBytes(key: string) {
      const reply = await client.sendCommand(["GET", key]);
      return reply === null
        ? null
        : new Uint8Array(reply as unknown as Uint8Array);
    },
    client,
    [Symbol.asyncDispose]() {
      client.destroy();
      return Promise.resolve();
    },
  };
}

/** A raw node-redis connection for tests; see {@linkcode connectRaw}. */
export interface RawClient extends AsyncDisposable {
  /** Sends a command; bulk strings come back as `Buffer`. */
  send(...args: (string | Uint8Array)[]): Promise<unknown>;
  /** The exact bytes under `key`, or `null`. */
  getBytes(key: string): Promise<Uint8Array | null>;
  /** The node-redis client itself, to pass to `Cache.connect({ client })`. */
  client: RedisClientLike;
}
