// The driver for any client with a `sendCommand(args)` method.

import { asUint8Array } from "./bytes.ts";
import { looksLikeReply, toCacheError } from "./client_errors.ts";
import type { Driver } from "./driver.ts";
import type { RedisArgument, RedisCommandClient } from "../redis_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends commands through a user's `sendCommand`, normalising its replies. */
export class CommandClientDriver implements Driver {
  readonly #client: RedisCommandClient;

  constructor(client: RedisCommandClient) {
    this.#client = client;
  }

  async send(args: readonly RedisArgument[]): Promise<unknown> {
    try {
      return toText(await this.#client.sendCommand([...args]));
    } catch (error) {
      throw toCacheError(error, args[0], looksLikeReply);
    }
  }

  // The client's replies as they come, texts encoded: bytes are exact only
  // when the client gives bytes, as for getBytes.
  async sendBytes(args: readonly RedisArgument[]): Promise<unknown> {
    try {
      return toByteReplies(await this.#client.sendCommand([...args]));
    } catch (error) {
      throw toCacheError(error, args[0], looksLikeReply);
    }
  }

  async getBytes(key: string): Promise<Uint8Array | null> {
    let reply: unknown;
    try {
      reply = await this.#client.sendCommand(["GET", key]);
    } catch (error) {
      throw toCacheError(error, "GET", looksLikeReply);
    }
    return toBytes(reply);
  }

  async getManyBytes(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    let replies: unknown;
    try {
      replies = await this.#client.sendCommand(["MGET", ...keys]);
    } catch (error) {
      throw toCacheError(error, "MGET", looksLikeReply);
    }
    if (!Array.isArray(replies)) {
      throw new TypeError("client.sendCommand returned no array for MGET");
    }
    return replies.map(toBytes);
  }

  // Nothing tells us about a user's connection; its own calls will.
  readonly connected = true;

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function toBytes(reply: unknown): Uint8Array | null {
  if (reply === null || reply === undefined) return null;
  if (reply instanceof Uint8Array) return asUint8Array(reply);
  if (typeof reply === "string") return encoder.encode(reply);
  throw new TypeError(
    "client.sendCommand returned neither bytes nor text for a value",
  );
}

// Text replies become bytes, inside arrays too.
function toByteReplies(reply: unknown): unknown {
  if (reply instanceof Uint8Array) return asUint8Array(reply);
  if (typeof reply === "string") return encoder.encode(reply);
  if (Array.isArray(reply)) return reply.map(toByteReplies);
  return reply;
}

// Byte replies become text, inside arrays too (SCAN's key lists).
function toText(reply: unknown): unknown {
  if (reply instanceof Uint8Array) return decoder.decode(reply);
  if (Array.isArray(reply)) return reply.map(toText);
  return reply;
}
