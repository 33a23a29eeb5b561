// Turning a client's errors into the cache's own, for every adapter.

import { CommandError, ConnectionError } from "../errors.ts";
import type { RedisArgument } from "../redis_client.ts";

/**
 * Turns a client's error into ours: a server reply becomes a
 * {@linkcode CommandError}, anything else means the connection failed.
 */
export function toCacheError(
  error: unknown,
  command: RedisArgument | undefined,
  isServerReply: (error: Error) => boolean,
): Error {
  if (!(error instanceof Error)) {
    return new ConnectionError(
      "the Redis client failed without an error object",
    );
  }
  if (error instanceof CommandError || error instanceof ConnectionError) {
    return error;
  }
  const name = typeof command === "string" ? command.toUpperCase() : "command";
  if (isServerReply(error)) {
    return new CommandError(name, error.message, { cause: error });
  }
  return new ConnectionError(`${name} failed: ${error.message}`, {
    cause: error,
  });
}

/** Redis error replies start with an upper-case code: `ERR`, `WRONGTYPE`, `OOM` … */
export function looksLikeReply(error: Error): boolean {
  return /^[A-Z]{2,}[A-Z_]* /.test(error.message);
}

/**
 * The rejection handlers of a driver's commands, one per command name and
 * made once (a closure per command would be an allocation per call): each
 * throws the client's error turned into ours by {@linkcode toCacheError}.
 */
export function rejectionsBy(
  isServerReply: (error: Error) => boolean,
): (command: RedisArgument) => (error: unknown) => never {
  const handlers = new Map<RedisArgument, (error: unknown) => never>();
  return (command) => {
    let handler = handlers.get(command);
    if (handler === undefined) {
      handler = (error) => {
        throw toCacheError(error, command, isServerReply);
      };
      // The cache's own commands are a handful of names; anything else
      // (bytes, or a name never seen) is not kept.
      if (typeof command === "string" && handlers.size < 256) {
        handlers.set(command, handler);
      }
    }
    return handler;
  };
}
