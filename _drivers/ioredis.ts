// The driver for an ioredis client that the user passes in.

import { asBuffer, asByteList, asUint8Array } from "./bytes.ts";
import { looksLikeReply, toCacheError } from "./client_errors.ts";
import { getEachCommand, getEachViaMget, parseGetEach } from "./commands.ts";
import type { Driver } from "./driver.ts";
import type { IoRedisLikeClient, RedisArgument } from "../redis_client.ts";

/** Sends commands through an ioredis client; `callBuffer` keeps values binary. */
export class IoRedisDriver implements Driver {
  readonly #client: IoRedisLikeClient;

  constructor(client: IoRedisLikeClient) {
    this.#client = client;
  }

  send([command, ...args]: readonly RedisArgument[]): Promise<unknown> {
    return this.#client.call(String(command), args.map(asBuffer)).catch(
      (error) => {
        throw toCacheError(error, command, isServerReply);
      },
    );
  }

  sendBytes([command, ...args]: readonly RedisArgument[]): Promise<unknown> {
    return this.#client.callBuffer(String(command), args.map(asBuffer)).catch(
      (error) => {
        throw toCacheError(error, command, isServerReply);
      },
    );
  }

  async getBytes(key: string): Promise<Uint8Array | null> {
    try {
      const reply = await this.#client.callBuffer("GET", [key]);
      return reply === null ? null : asUint8Array(reply as Uint8Array);
    } catch (error) {
      throw toCacheError(error, "GET", isServerReply);
    }
  }

  async getManyBytes(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    try {
      const replies = await this.#client.callBuffer("MGET", [...keys]);
      return asByteList(replies as (Uint8Array | null)[]);
    } catch (error) {
      throw toCacheError(error, "MGET", isServerReply);
    }
  }

  async getEach(
    keys: readonly string[],
    hitsLikely = false,
  ): Promise<(Uint8Array | null | Error)[]> {
    const [command, ...args] = getEachCommand(keys);
    const client = this.#client;
    try {
      return await getEachViaMget(
        keys,
        hitsLikely,
        async () =>
          asByteList(
            await client.callBuffer("MGET", [...keys]) as (Uint8Array | null)[],
          ),
        (some) => client.call("EXISTS", [...some]),
        async () => parseGetEach(await client.callBuffer(command, args)),
      );
    } catch (error) {
      throw toCacheError(error, "MGET", isServerReply);
    }
  }

  get connected(): boolean {
    const { status } = this.#client as { status?: string };
    return status === undefined || status === "ready";
  }

  close(): Promise<void> {
    // Never ours to close: ioredis clients only ever come from the user.
    return Promise.resolve();
  }
}

function isServerReply(error: Error): boolean {
  return error.name === "ReplyError" || looksLikeReply(error);
}
