// Runs each call to Redis: within its deadline and signal, through the
// offline queue while the connection is down, with its latency recorded,
// and with a failure's credentials scrubbed and reported to `onError`.

import { expireAfter, type Waiter } from "../_drivers/deadline.ts";
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
import { checkOptions, checkSignal, NO_OPTIONS } from "./validate.ts";

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
  /** Sends `call` to the driver as `command`, within the call's bounds. */
  run<T>(
    command: string,
    call: (driver: Driver) => Promise<T>,
    options: CallOptions = NO_OPTIONS,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.runInto(command, call, undefined, options, resolve, reject)
    );
  }

  // Not an async function, and one object per call rather than closures:
  // on the hot path each promise layer costs a microtask turn and each
  // closure an allocation, which add up to microseconds a call.
  /**
   * {@linkcode Runner.run}, settling `resolve` or `reject` instead of a
   * promise of its own: for a caller that already has one to settle. `call`
   * gets `arg`, so that a hot caller needs no closure to pass its key;
   * `settle` sees a value on its way to `resolve`, and only then (not a
   * reply that came after the call's deadline).
   */
  runInto<T, A>(
    command: string,
    call: (driver: Driver, arg: A) => Promise<T>,
    arg: A,
    options: CallOptions,
    resolve: (value: T) => void,
    reject: (error: unknown) => void,
    settle?: (value: T) => T,
  ): void {
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
      reject(error);
      return;
    }
    const breaker = this.#breaker;
    // An open breaker refuses at once, without counting or reporting each
    // refusal: onError heard when it opened.
    if (breaker !== undefined && !breaker.allows()) {
      reject(breaker.refusal(command));
      return;
    }
    const offline = !driver.connected;
    if (offline && this.#waitingOffline >= this.#settings.offlineQueue) {
      reject(this.failed(
        new ConnectionError(
          `Redis is unreachable and ${this.#waitingOffline} commands are already waiting for it; ${command} was not sent`,
        ),
        command,
      ));
      return;
    }
    if (offline) this.#waitingOffline++;
    const attempt = new Attempt(
      this,
      command,
      timeout,
      signal,
      offline,
      resolve,
      reject,
      settle,
    );
    expireAfter(timeout, attempt, attempt.started);
    let sent: Promise<T>;
    try {
      sent = call(driver, arg);
    } catch (error) {
      attempt.error(error);
      return;
    }
    sent.then(
      (value) => attempt.value(value),
      (error) => attempt.error(error),
    );
  }

  /** Counts an attempt's end: how long it took, and what waited offline. */
  ended(attempt: InFlight): void {
    if (attempt.offline) this.#waitingOffline--;
    this.#stats.latency.record(performance.now() - attempt.started);
  }

  /** Tells the breaker a call succeeded. */
  succeeded(): void {
    this.#breaker?.succeeded();
  }

  /**
   * What a call's failure becomes for its caller: an abort passes as it is;
   * anything else with its credentials scrubbed, counted, reported to
   * onError and weighed by the breaker.
   */
  failedAttempt(attempt: InFlight, error: unknown): unknown {
    const breaker = this.#breaker;
    const signal = attempt.signal;
    if (signal?.aborted && error === signal.reason) {
      breaker?.abandoned();
      return error;
    }
    const failure = redact(error, this.secrets);
    if (breaker !== undefined) {
      if (isUnavailable(failure)) breaker.failed(failure);
      else breaker.succeeded();
    }
    return this.failed(failure, attempt.command);
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

// What the runner reads of a call in flight.
type InFlight = Pick<
  Attempt<unknown>,
  "command" | "started" | "signal" | "offline"
>;

// One call in flight: its deadline's entry, and where its outcome goes.
class Attempt<T> implements Waiter {
  expiresAt = 0;
  settled = false;
  readonly started = performance.now();
  readonly #runner: Runner;
  readonly command: string;
  readonly #timeout: number;
  readonly signal: AbortSignal | undefined;
  readonly offline: boolean;
  // Dropped once settled: they hold the caller's promise, and so the reply,
  // which the deadline queue must not keep alive until its next sweep.
  #resolve: ((value: T) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  readonly #settle: ((value: T) => T) | undefined;

  constructor(
    runner: Runner,
    command: string,
    timeout: number,
    signal: AbortSignal | undefined,
    offline: boolean,
    resolve: (value: T) => void,
    reject: (error: unknown) => void,
    settle: ((value: T) => T) | undefined,
  ) {
    this.#runner = runner;
    this.command = command;
    this.#timeout = timeout;
    this.signal = signal;
    this.offline = offline;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#settle = settle;
    signal?.addEventListener("abort", this, { once: true });
  }

  /** At the deadline (the queue has marked it settled). */
  expire(): void {
    this.#fail(
      new TimeoutError(`${this.command} timed out after ${this.#timeout} ms`),
    );
  }

  /** The signal's abort (an EventListener object, so no closure). */
  handleEvent(): void {
    if (this.settled) return;
    this.settled = true;
    this.#fail(this.signal!.reason);
  }

  value(value: T): void {
    if (this.settled) return;
    this.settled = true;
    const resolve = this.#resolve!;
    const settle = this.#settle;
    this.#drop();
    // The caller is answered whatever the bookkeeping throws.
    try {
      this.#runner.ended(this);
      this.#runner.succeeded();
    } finally {
      resolve(settle === undefined ? value : settle(value));
    }
  }

  error(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#fail(error);
  }

  #fail(error: unknown): void {
    const reject = this.#reject!;
    this.#drop();
    let outcome = error;
    try {
      this.#runner.ended(this);
      outcome = this.#runner.failedAttempt(this, error);
    } finally {
      reject(outcome);
    }
  }

  #drop(): void {
    this.#resolve = this.#reject = undefined;
    this.signal?.removeEventListener("abort", this);
  }
}

/** Whether an error means Redis could not be reached or did not answer. */
export function isUnavailable(error: unknown): error is CacheError {
  return error instanceof ConnectionError || error instanceof TimeoutError;
}
