// Byte conversions between clients' Buffers and the plain Uint8Arrays the
// cache hands out, without copying.

import { Buffer } from "node:buffer";
import type { RedisArgument } from "../redis_client.ts";

/** A list of values as clients give them (`Buffer` or `null`), turned into plain `Uint8Array`s in place. */
export function asByteList(
  values: readonly (Uint8Array | null)[],
): (Uint8Array | null)[] {
  // In place: the list is the client's fresh reply, and a second array of
  // a thousand entries is measurable in a large getMany.
  const list = values as (Uint8Array | null)[];
  for (let i = 0; i < list.length; i++) {
    const value = list[i];
    if (value !== null) list[i] = asUint8Array(value);
  }
  return list;
}

/** A zero-copy `Uint8Array` view of a Node `Buffer` or other byte view. */
export function asUint8Array(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Node-style clients (node-redis, ioredis) send only strings and `Buffer`s
 * as bytes; a plain `Uint8Array` becomes a zero-copy `Buffer` view of it.
 */
export function asBuffer(argument: RedisArgument): string | Buffer {
  return typeof argument === "string" || argument instanceof Buffer
    ? argument
    : Buffer.from(argument.buffer, argument.byteOffset, argument.byteLength);
}
