/**
 * Errors thrown by {@linkcode Cache}. Wrong arguments are reported with the
 * built-in `TypeError` and `RangeError`; everything that goes wrong on the
 * way to Redis, at Redis, or while converting a stored value is a
 * {@linkcode CacheError}, so one `instanceof` check catches all of it.
 *
 * @module
 */

/**
 * Base class of every error about Redis or a stored value. The underlying
 * error, with any credentials removed, is kept as `cause`.
 *
 * @example Telling cache trouble apart from a bug
 * ```ts
 * import { CacheError } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * const error = new CacheError("Redis is unavailable");
 * assert.ok(error instanceof Error);
 * assert.equal(error.name, "CacheError");
 * ```
 */
export class CacheError extends Error {
  /**
   * Creates a cache error.
   *
   * @param message What went wrong, without values or credentials.
   * @param options `cause`: the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CacheError";
  }
}

/**
 * Redis could not be reached, refused the credentials, or the connection was
 * lost or closed.
 *
 * @example
 * ```ts
 * import { CacheError, ConnectionError } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * const error = new ConnectionError("connection refused by 127.0.0.1:6379");
 * assert.ok(error instanceof CacheError);
 * assert.equal(error.name, "ConnectionError");
 * ```
 */
export class ConnectionError extends CacheError {
  /**
   * Creates a connection error.
   *
   * @param message What went wrong, naming the server but never a password.
   * @param options `cause`: the driver's error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionError";
  }
}

/**
 * A wait for Redis ran past its bound: the `connectTimeout` while
 * connecting, or the `timeout` of a command.
 *
 * @example
 * ```ts
 * import { CacheError, TimeoutError } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * const error = new TimeoutError("GET timed out after 5000 ms");
 * assert.ok(error instanceof CacheError);
 * assert.equal(error.name, "TimeoutError");
 * ```
 */
export class TimeoutError extends CacheError {
  /**
   * Creates a timeout error.
   *
   * @param message Which wait ran out, and its bound in milliseconds.
   * @param options `cause`: the underlying error, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TimeoutError";
  }
}

/**
 * Redis answered a command with an error, such as `WRONGTYPE` for a key that
 * holds a list or `OOM` when `maxmemory` is reached.
 *
 * @example
 * ```ts
 * import { CacheError, CommandError } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * const error = new CommandError("GET", "WRONGTYPE Operation against a key holding the wrong kind of value");
 * assert.ok(error instanceof CacheError);
 * assert.equal(error.code, "WRONGTYPE");
 * ```
 */
export class CommandError extends CacheError {
  /** The error code Redis sent, the first word of its reply (`WRONGTYPE`, `OOM`, `ERR` …). */
  readonly code: string;

  /**
   * Creates a command error from the server's reply.
   *
   * @param command The command's name, such as `GET`.
   * @param reply The error text Redis sent.
   * @param options `cause`: the driver's error.
   */
  constructor(command: string, reply: string, options?: ErrorOptions) {
    super(`Redis rejected ${command}: ${reply}`, options);
    this.name = "CommandError";
    this.code = /^[A-Z]+/.exec(reply)?.[0] ?? "ERR";
  }
}

/**
 * A stored value could not be converted as asked: `getStr` of bytes that are
 * not UTF-8, `getInt` of text that is not an integer. The message names the
 * key, never the value.
 *
 * @example
 * ```ts
 * import { CacheError, DecodeError } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * const error = new DecodeError("5e752f2b-ecd8-4925-a3ce-e2efdb7253d6", "is not an integer");
 * assert.ok(error instanceof CacheError);
 * assert.equal(error.key, "5e752f2b-ecd8-4925-a3ce-e2efdb7253d6");
 * ```
 */
export class DecodeError extends CacheError {
  /** The key whose value could not be converted, as the caller gave it. */
  readonly key: string;

  /**
   * Creates a decode error.
   *
   * @param key The key as the caller gave it.
   * @param problem What is wrong with the value, such as "is not valid UTF-8".
   * @param options `cause`: the underlying error.
   */
  constructor(key: string, problem: string, options?: ErrorOptions) {
    super(`the value of key "${key}" ${problem}`, options);
    this.name = "DecodeError";
    this.key = key;
  }
}

/**
 * A write reached the primary, but fewer replicas than `waitReplicas` asked
 * for acknowledged it in time: a failover now could lose it.
 *
 * @example
 * ```ts
 * import { CacheError, ReplicationError } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * const error = new ReplicationError(0, 1);
 * assert.ok(error instanceof CacheError);
 * assert.deepEqual([error.acknowledged, error.required], [0, 1]);
 * ```
 */
export class ReplicationError extends CacheError {
  /** How many replicas acknowledged the write. */
  readonly acknowledged: number;
  /** How many were asked for. */
  readonly required: number;

  /**
   * Creates a replication error.
   *
   * @param acknowledged Replicas that have the write.
   * @param required Replicas that were asked for.
   * @param options `cause`: the underlying error.
   */
  constructor(acknowledged: number, required: number, options?: ErrorOptions) {
    super(
      `the primary has the write, but only ${acknowledged} of ${required} replicas acknowledged it in time`,
      options,
    );
    this.name = "ReplicationError";
    this.acknowledged = acknowledged;
    this.required = required;
  }
}
