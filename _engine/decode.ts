// Conversions of stored bytes that behave as the Python original's do, so a
// value written by either side reads back the same on the other.

import { DecodeError } from "../errors.ts";

// `ignoreBOM: true` keeps a leading U+FEFF, as Python's bytes.decode("utf-8")
// does; `fatal: true` throws instead of inserting U+FFFD.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 exactly, or throws a {@linkcode DecodeError} naming `key`. */
export function decodeUtf8(key: string, bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch (error) {
    throw new DecodeError(key, "is not valid UTF-8", { cause: error });
  }
}

// Python's int() on ASCII text: whitespace (" \t\n\v\f\r") around one sign and
// decimal digits, with single underscores allowed between digits.
const PYTHON_INT = /^[ \t\n\v\f\r]*([+-]?)(\d+(?:_\d+)*)[ \t\n\v\f\r]*$/;

// Python refuses to convert strings of more digits than this (its default
// sys.int_info.str_digits_check_threshold); so do we, which also bounds the
// work a hostile value can cause.
const MAX_DIGITS = 4300;

/** Parses bytes as Python's `int()` would, into a bigint, or throws {@linkcode DecodeError}. */
export function decodeBigInt(key: string, bytes: Uint8Array): bigint {
  const text = decodeAscii(bytes);
  const match = text === undefined ? null : PYTHON_INT.exec(text);
  if (match === null) throw new DecodeError(key, "is not an integer");
  const digits = match[2].replaceAll("_", "");
  if (digits.length > MAX_DIGITS) {
    throw new DecodeError(key, `has more than ${MAX_DIGITS} digits`);
  }
  const magnitude = BigInt(digits);
  return match[1] === "-" ? -magnitude : magnitude;
}

/**
 * Parses bytes as Python's `int()` would, into a number; a magnitude of 2^53
 * or more is a `RangeError` rather than a silently rounded number.
 */
export function decodeInt(key: string, bytes: Uint8Array): number {
  const value = decodeBigInt(key, bytes);
  if (value >= TWO_TO_53 || value <= -TWO_TO_53) {
    throw new RangeError(
      `the value of key "${key}" is beyond ±2^53 and cannot be a number exactly; use getBigInt`,
    );
  }
  // `+ 0` turns -0 (from "-0") into 0, as Python's int("-0") is 0.
  return Number(value) + 0;
}

const TWO_TO_53 = 2n ** 53n;

function decodeAscii(bytes: Uint8Array): string | undefined {
  for (const byte of bytes) if (byte > 0x7f) return undefined;
  return strictUtf8.decode(bytes);
}
