// The driver for an @db/redis client (denodrivers/redis, the Deno client)
// that the user passes in. Its `sendCommand(command, args, options)` gives
// bulk strings as text unless asked for `Uint8Array`s, so values are read
// with `returnUint8Arrays` and everything else as text.

import { asByteList, asUint8Array } from "./bytes.ts";
import { toCacheError } from "./client_errors.ts";
import {
  getCommand,
  getEachCommand,
  getEachViaMget,
  parseGetEach,
} from "./commands.ts";
import type { Driver } from "./driver.ts";
import { CommandError } from "../errors.ts";
import type { DbRedisLikeClient, RedisArgument } from "../redis_client.ts";

const AS_BYTES = { returnUint8Arrays: true };

/** Sends commands through an @db/redis `Redis` client. */
export class DbRedisDriver implements Driver {
  readonly #client: DbRedisLikeClient;

  constructor(client: DbRedisLikeClient) {
    this.#client = client;
  }

  send([command, ...args]: readonly RedisArgument[]): Promise<unknown> {
    return this.#client.sendCommand(String(command), args).catch((error) => {
      throw toError(error, command);
    });
  }

  async getBytes(key: string, touch?: number): Promise<Uint8Array | null> {
    const [command, ...args] = getCommand(key, touch);
    try {
      const reply = await this.#client.sendCommand(command, args, AS_BYTES);
      return reply === null ? null : asUint8Array(reply as Uint8Array);
    } catch (error) {
      throw toError(error, command);
    }
  }

  async getManyBytes(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    try {
      const replies = await this.#client.sendCommand(
        "MGET",
        [...keys],
        AS_BYTES,
      );
      return asByteList(replies as (Uint8Array | null)[]);
    } catch (error) {
      throw toError(error, "MGET");
    }
  }

  async getEach(
    keys: readonly string[],
  ): Promise<(Uint8Array | null | Error)[]> {
    const [command, ...args] = getEachCommand(keys);
    const client = this.#client;
    try {
      return await getEachViaMget(
        () => this.getManyBytes(keys),
        () => client.sendCommand("EXISTS", [...keys]),
        async () =>
          parseGetEach(await client.sendCommand(command, args, AS_BYTES)),
      );
    } catch (error) {
      throw toError(error, "MGET");
    }
  }

  get connected(): boolean {
    return this.#client.isConnected;
  }

  close(): Promise<void> {
    // Never ours to close: @db/redis clients only ever come from the user.
    return Promise.resolve();
  }
}

// @db/redis throws an `ErrorReplyError` for an error reply, its message the
// reply line with RESP's leading "-" ("-WRONGTYPE Operation …"); the code
// CommandError reads is the word after it.
function toError(error: unknown, command: RedisArgument | undefined): Error {
  if (
    error instanceof Error && error.constructor.name === "ErrorReplyError"
  ) {
    const name = typeof command === "string"
      ? command.toUpperCase()
      : "command";
    return new CommandError(name, error.message.replace(/^-/, ""), {
      cause: error,
    });
  }
  return toCacheError(error, command, () => false);
}
