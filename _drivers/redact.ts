// Errors from drivers are passed on as `cause`; this keeps credentials out of
// them, however deep in the chain they appear.

import { CacheError } from "../errors.ts";

const MAX_DEPTH = 8;

/**
 * Returns `error` with every secret in its message, stack and causes replaced
 * by `***`. Our own errors are edited in place; a driver's error is copied,
 * so objects the driver holds are left alone.
 */
export function redact(
  error: unknown,
  secrets: readonly string[],
  depth = 0,
): unknown {
  if (secrets.length === 0 || !(error instanceof Error) || depth > MAX_DEPTH) {
    return error;
  }
  const scrub = (text: string) =>
    secrets.reduce((result, secret) => result.replaceAll(secret, "***"), text);
  const cause = redact(error.cause, secrets, depth + 1);
  const message = scrub(error.message);
  const stack = error.stack === undefined ? undefined : scrub(error.stack);
  if (error instanceof CacheError) {
    error.message = message;
    error.stack = stack;
    if (cause !== error.cause) error.cause = cause;
    return error;
  }
  if (
    message === error.message && stack === error.stack && cause === error.cause
  ) {
    return error;
  }
  const copy = new Error(message, cause === undefined ? undefined : { cause });
  copy.name = error.name;
  copy.stack = stack;
  return copy;
}
