// JSON that comes back as it went in: values JSON would silently change
// (NaN → null, a Date → a string, a Map → {}, undefined → dropped) are
// refused instead, with the path to the offending value.

import { DecodeError } from "../errors.ts";
import { decodeUtf8 } from "./decode.ts";

const MAX_DEPTH = 1_000;

/** The JSON value in `bytes`, or a {@linkcode DecodeError} naming `key`. */
export function parseJson<T>(key: string, bytes: Uint8Array): T {
  const text = decodeUtf8(key, bytes);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new DecodeError(key, "is not valid JSON", { cause: error });
  }
}

/** `JSON.stringify(value)`, or a `TypeError` naming what would not round-trip. */
export function stringifyExactly(value: unknown): string {
  check(value, "value", new Set(), 0);
  return JSON.stringify(value);
}

function check(
  value: unknown,
  path: string,
  seen: Set<object>,
  depth: number,
): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) {
        throw new TypeError(`${path} is ${value}, which JSON cannot hold`);
      }
      return;
    case "object":
      break;
    default:
      throw new TypeError(`${path} is ${typeof value}, which JSON cannot hold`);
  }
  if (value === null) return;
  if (depth > MAX_DEPTH) throw new TypeError(`${path} is nested too deeply`);
  if (seen.has(value)) throw new TypeError(`${path} is circular`);
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, index) =>
      check(item, `${path}[${index}]`, seen, depth + 1)
    );
  } else {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      throw new TypeError(
        `${path} is a ${
          value.constructor?.name ?? "class instance"
        }, which would not come back from JSON as one`,
      );
    }
    for (const [key, item] of Object.entries(value)) {
      check(item, `${path}.${key}`, seen, depth + 1);
    }
  }
  seen.delete(value);
}
