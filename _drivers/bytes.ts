// Byte conversions between clients' Buffers and the plain Uint8Arrays the
// cache hands out.

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

// Up to this many bytes a copy is cheaper than a view, where the engine keeps
// small typed arrays in its heap without an ArrayBuffer: a view must ask the
// Buffer for its `.buffer`, a call into the engine's C++. On Node a copy of
// 16 bytes took 26 ns to a view's 40 (65 bytes: 270 ns, an ArrayBuffer of
// its own); Deno's V8 makes an ArrayBuffer for every copy (250 ns), so there
// a view is always cheaper. A copy also keeps no reply chunk alive (a view of
// a 16-byte value holds the client's whole read buffer while it is kept).
const COPY_UP_TO = "Deno" in globalThis ? 0 : 64;

/**
 * A plain `Uint8Array` of the bytes of a Node `Buffer` or other byte view:
 * a copy of a small value, a zero-copy view of a larger one.
 */
export function asUint8Array(bytes: Uint8Array): Uint8Array {
  if (Object.getPrototypeOf(bytes) === Uint8Array.prototype) return bytes;
  return bytes.byteLength <= COPY_UP_TO
    ? new Uint8Array(bytes)
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
