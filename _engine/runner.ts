// Runs each call to Redis: within its deadline and signal, through the
// offline queue while the connection is down, with its latency recorded,
// and with a failure's credentials scrubbed and reported to `onError`.

import { deadline } from "../_drivers/deadline.ts";
import type { Driver } from "../_drivers/driver.ts";
import { redact } from "../_drivers/redact.ts";
import type { CallOptions, ErrorEvent, Health } from "../cache_options.ts";
import {
  CacheError,
  ConnectionError,
  DecodeError,
  TimeoutError,
} from "../errors.ts";
import type { Breaker } from "./breaker.ts";
import type { Settings } from "./settings.ts";
import type { Stats } from "./stats.ts";
import { checkOptions, checkSignal } from "./validate.ts";

/** The one way commands reach a cache's driver. */
export class Runner {
  #driver: Driver | undefined;
  readonly #settings: Settings;
  readonly #stats: Stats;
  #waitingOffline = 0;
  readonly #breaker: Breaker | undefined;
  /** Passwords to scrub from any error message. */
  readonly secrets: readonly string[];

  constructor(
    settings: Settings,
    stats: Stats,
    driver: Driver,
    breaker?: Breaker,
  ) {
    this.#settings = settings;
    this.#stats = stats;
    this.#driver = driver;
    this.#breaker = breaker;
    this.secrets = settings.connection.secrets;
  }

  /** The open connection; `undefined` once the cache is closed. */
  get driver(): Driver | undefined {
    return this.#driver;
  }

  /** Forgets the connection, so calls from now on fail; returns it for closing. */
  detach(): Driver | undefined {
    const driver = this.#driver;
    this.#driver = undefined;
    return driver;
  }

  // Runs one call to Redis within its timeout and signal, records its
  // latency, and reports failures (credentials scrubbed) to onError.
  // Not an async function: on the hot path each await layer costs
  // microtask turns and allocations, so the outcome is chained instead.
  /** Sends `call` to the driver as `command`, within the call's bounds. */
  run<T>(
    command: string,
    call: (driver: Driver) => Promise<T>,
    options: CallOptions = {},
  ): Promise<T> {
    let signal: AbortSignal | undefined;
    let timeout: number;
    let driver: Driver | undefined;
    try {
      signal = checkSignal(options.signal);
      timeout = this.#settings.timeoutFor(options);
      signal?.throwIfAborted();
      driver = this.#driver;
      if (driver === undefined) throw new CacheError("the cache is closed");
    } catch (error) {
      return Promise.reject(error);
    }
    const breaker = this.#breaker;
    // An open breaker refuses at once, without counting or reporting each
    // refusal: onError heard when it opened.
    if (breaker !== undefined && !breaker.allows()) {
      return Promise.reject(breaker.refusal(command));
    }
    const offline = !driver.connected;
    if (offline && this.#waitingOffline >= this.#settings.offlineQueue) {
      return Promise.reject(this.failed(
        new ConnectionError(
          `Redis is unreachable and ${this.#waitingOffline} commands are already waiting for it; ${command} was not sent`,
        ),
        command,
      ));
    }
    if (offline) this.#waitingOffline++;
    const started = performance.now();
    const done = () => {
      if (offline) this.#waitingOffline--;
      this.#stats.latency.record(performance.now() - started);
    };
    return deadline(
      call(driver),
      timeout,
      () => new TimeoutError(`${command} timed out after ${timeout} ms`),
      signal,
    ).then((value) => {
      done();
      breaker?.succeeded();
      return value;
    }, (error) => {
      done();
      if (signal?.aborted && error === signal.reason) {
        breaker?.abandoned();
        throw error;
      }
      const failure = redact(error, this.secrets);
      if (breaker !== undefined) {
        if (isUnavailable(failure)) breaker.failed(failure);
        else breaker.succeeded();
      }
      throw this.failed(failure, command);
    });
  }

  /** Counts a {@linkcode CacheError} and reports it to onError; returns it, to throw. */
  failed<E>(error: E, command: string): E {
    if (error instanceof CacheError) {
      this.#stats.errors++;
      this.report(error, { command });
    }
    return error;
  }

  /** Tells onError, which must not change what the caller sees by throwing. */
  report(error: CacheError, event: ErrorEvent): void {
    try {
      this.#settings.onError?.(error, event);
    } catch {
      // A logging hook must not change what the caller sees.
    }
  }

  // A conversion that fails with our DecodeError is Redis data trouble and
  // goes to onError; any other error is the caller's fn and passes through.
  /** `fn(bytes)`, with a {@linkcode DecodeError} counted and reported. */
  async decode<T>(
    fn: (value: Uint8Array) => T | Promise<T>,
    bytes: Uint8Array,
  ): Promise<Awaited<T>> {
    try {
      return await fn(bytes);
    } catch (error) {
      if (error instanceof DecodeError) this.failed(error, "GET");
      throw error;
    }
  }

  /** One PING within the call's bounds; never throws for Redis trouble. */
  async health(options: CallOptions | undefined): Promise<Health> {
    const call = checkOptions(options);
    const started = performance.now();
    try {
      await this.run("PING", (driver) => driver.send(["PING"]), call);
      return {
        ok: true,
        latencyMs: performance.now() - started,
        ...this.#breakerState(),
      };
    } catch (error) {
      if (!(error instanceof CacheError)) throw error;
      return {
        ok: false,
        latencyMs: performance.now() - started,
        error: error.message,
        ...this.#breakerState(),
      };
    }
  }

  #breakerState(): { breaker?: Health["breaker"] } {
    return this.#breaker === undefined ? {} : { breaker: this.#breaker.state };
  }
}

/** Whether an error means Redis could not be reached or did not answer. */
export function isUnavailable(error: unknown): error is CacheError {
  return error instanceof ConnectionError || error instanceof TimeoutError;
}
