// Argument checks shared by every method: they run before anything is sent,
// so bad input is a TypeError or RangeError and writes nothing.

import type { RedisArgument } from "../redis_client.ts";

/** setTimeout fires at once for delays beyond a signed 32-bit integer. */
const MAX_TIMEOUT = 2 ** 31 - 1;
const MAX_NAMESPACE_LENGTH = 256;
/** Longest key, in UTF-16 code units, that the cache accepts. */
export const MAX_KEY_LENGTH = 1024;

const encoder = new TextEncoder();

/** A timeout in ms: more than 0, at most 2^31 - 1; `fallback` when undefined. */
export function checkTimeout(
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number of milliseconds`);
  }
  if (!(value > 0 && value <= MAX_TIMEOUT)) {
    throw new RangeError(
      `${name} must be more than 0 and at most ${MAX_TIMEOUT} ms, got ${value}`,
    );
  }
  return value;
}

/**
 * An expiry in ms: a positive whole number. Zero, negative, fractional and
 * NaN values are errors rather than a silent "forever".
 */
export function checkTtl(name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number of milliseconds`);
  }
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(
      `${name} must be a positive whole number of milliseconds, got ${value}`,
    );
  }
  return value;
}

/** A namespace: 1 to 256 characters of well-formed text. */
export function checkNamespace(
  namespace: string | undefined,
): string | undefined {
  if (namespace === undefined) return undefined;
  if (typeof namespace !== "string") {
    throw new TypeError("namespace must be a string");
  }
  if (namespace.length === 0 || namespace.length > MAX_NAMESPACE_LENGTH) {
    throw new RangeError(
      `namespace must be 1 to ${MAX_NAMESPACE_LENGTH} characters long`,
    );
  }
  if (!namespace.isWellFormed()) {
    throw new TypeError("namespace must not contain lone surrogates");
  }
  return namespace;
}

/**
 * What getOrStore's lock on key `k` is named, inside the namespace:
 * `LOCK_PREFIX + k`. Keys starting with it are refused, so that no value can
 * take a lock's place, nor a delete free someone else's lock.
 */
export const LOCK_PREFIX = "__lock:";

/**
 * What the tags' bookkeeping keys start with, inside the namespace. Keys
 * starting with it are refused, so that no value can take an index's place
 * nor a delete drop one.
 */
export const TAG_PREFIX = "__tag:";

/**
 * What getOrStore's negative entry for key `k` is named, inside the
 * namespace: `NEGATIVE_PREFIX + k`. Refused as a key for the same reason.
 */
export const NEGATIVE_PREFIX = "__miss:";

/**
 * A key: 1 to {@linkcode MAX_KEY_LENGTH} characters of well-formed text (a
 * lone surrogate would be written as U+FFFD and collide with other keys),
 * not starting with {@linkcode LOCK_PREFIX}, {@linkcode TAG_PREFIX} or
 * {@linkcode NEGATIVE_PREFIX}.
 */
export function checkKey(key: unknown): string {
  if (typeof key !== "string") throw new TypeError("key must be a string");
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new RangeError(
      `key must be 1 to ${MAX_KEY_LENGTH} characters long, got ${key.length}`,
    );
  }
  if (!key.isWellFormed()) {
    throw new TypeError("key must not contain lone surrogates");
  }
  // One test of the first character keeps the common key at one compare.
  if (key.charCodeAt(0) === 95 && key.charCodeAt(1) === 95) {
    if (key.startsWith(LOCK_PREFIX)) {
      throw new RangeError(
        `key must not start with "${LOCK_PREFIX}": such keys are getOrStore's locks`,
      );
    }
    if (key.startsWith(NEGATIVE_PREFIX)) {
      throw new RangeError(
        `key must not start with "${NEGATIVE_PREFIX}": such keys are getOrStore's negative entries`,
      );
    }
    if (key.startsWith(TAG_PREFIX)) {
      throw new RangeError(
        `key must not start with "${TAG_PREFIX}": such keys are the tags' bookkeeping`,
      );
    }
  }
  return key;
}

/** The options of every call made without any; frozen, since it is shared. */
export const NO_OPTIONS: Readonly<Record<string, never>> = Object.freeze({});

/** An options argument: an object, or undefined. */
export function checkOptions<T extends object>(options: T | undefined): T {
  if (options === undefined) return NO_OPTIONS as T;
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object");
  }
  return options;
}

/** An AbortSignal, or undefined. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError("signal must be an AbortSignal");
  }
  return signal;
}

/** A value to store, as the argument to send: the exact form `store` documents. */
export function encodeValue(data: unknown): RedisArgument {
  switch (typeof data) {
    case "string":
      if (!data.isWellFormed()) {
        throw new TypeError(
          "cannot store a string with lone surrogates: it has no UTF-8 form",
        );
      }
      return data;
    case "number":
      if (!Number.isFinite(data)) {
        throw new RangeError(`cannot store ${data}: only finite numbers`);
      }
      return String(data);
    case "bigint":
      return String(data);
    case "object":
      if (data instanceof Uint8Array) return data;
  }
  throw new TypeError(
    `cannot store ${
      data === null ? "null" : typeof data
    }: expected a string, Uint8Array, number or bigint`,
  );
}

/** The bytes Redis holds for an encoded value. */
export function toBytes(value: RedisArgument): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}

/** `text` with SCAN MATCH's glob characters (`* ? [ ] \`) escaped, so it matches literally. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}
