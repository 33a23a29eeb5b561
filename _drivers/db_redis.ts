// The driver for an @db/redis client (denodrivers/redis, the Deno client)
// that the user passes in. Its `sendCommand(command, args, options)` gives
// bulk strings as text unless asked for `Uint8Array`s, so values are read
// with `returnUint8Arrays` and everything else as text.

import { asByteList, asUint8Array } from "./bytes.ts";
import { toCacheError } from "./client_errors.ts";
import { getEachCommand, getEachViaMget, parseGetEach } from "./commands.ts";
import type { Driver } from "./driver.ts";
import { CommandError, ConnectionError } from "../errors.ts";
import type { DbRedisLikeClient, RedisArgument } from "../redis_client.ts";

const AS_BYTES = { returnUint8Arrays: true };

/** Sends commands through an @db/redis `Redis` client. */
export class DbRedisDriver implements Driver {
  readonly #client: DbRedisLikeClient;

  constructor(client: DbRedisLikeClient) {
    this.#client = client;
  }

  send([command, ...args]: readonly RedisArgument[]): Promise<unknown> {
    return this.#sent(String(command), args);
  }

  sendBytes([command, ...args]: readonly RedisArgument[]): Promise<unknown> {
    return this.#sent(String(command), args, AS_BYTES);
  }

  async getBytes(key: string): Promise<Uint8Array | null> {
    const reply = await this.#sent("GET", [key], AS_BYTES);
    return reply === null ? null : bytesOf(reply, "GET");
  }

  async getManyBytes(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    const replies = await this.#sent("MGET", [...keys], AS_BYTES);
    if (!Array.isArray(replies)) throw notBytes("MGET");
    for (const reply of replies) if (reply !== null) bytesOf(reply, "MGET");
    return asByteList(replies);
  }

  getEach(
    keys: readonly string[],
    hitsLikely = false,
  ): Promise<(Uint8Array | null | Error)[]> {
    const [command, ...args] = getEachCommand(keys);
    return getEachViaMget(
      keys,
      hitsLikely,
      () => this.getManyBytes(keys),
      (some) => this.#sent("EXISTS", [...some]),
      async () => parseGetEach(await this.#sent(command, args, AS_BYTES)),
    );
  }

  // A closed client is not coming back: calls go straight to #sent, which
  // refuses them at once, instead of waiting out their timeout offline.
  get connected(): boolean {
    return this.#client.isConnected || this.#client.isClosed;
  }

  // One command, its failure as a CacheError named after it.
  async #sent(
    command: string,
    args: RedisArgument[],
    options?: typeof AS_BYTES,
  ): Promise<unknown> {
    if (this.#client.isClosed) {
      throw new ConnectionError(
        `${command.toUpperCase()} was not sent: the @db/redis client is closed`,
      );
    }
    try {
      return await this.#client.sendCommand(command, args, options);
    } catch (error) {
      throw toError(error, command);
    }
  }

  close(): Promise<void> {
    // Never ours to close: @db/redis clients only ever come from the user.
    return Promise.resolve();
  }
}

// A value asked for as bytes that came back as text: a client (or a version
// of it) that ignores returnUint8Arrays would lose bytes silently.
function bytesOf(reply: unknown, command: string): Uint8Array {
  if (reply instanceof Uint8Array) return asUint8Array(reply);
  throw notBytes(command);
}

function notBytes(command: string): TypeError {
  return new TypeError(
    `${command}: the @db/redis client answered text where bytes were asked for (returnUint8Arrays)`,
  );
}

// @db/redis throws an `ErrorReplyError` for an error reply, its message the
// reply line with RESP's leading "-" ("-WRONGTYPE Operation …"); the code
// CommandError reads is the word after it. The message is checked too: a
// bundler may rename the class.
function toError(error: unknown, command: RedisArgument | undefined): Error {
  if (
    error instanceof Error &&
    (error.constructor.name === "ErrorReplyError" ||
      /^-[A-Z]{2,}[A-Z_]* /.test(error.message))
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
