// The circuit breaker: after `failures` Redis failures in a row it opens and
// refuses every command for `openFor` ms, then lets one probe through; the
// probe's success closes it, its failure opens it again. Only unavailability
// counts (no connection, no answer in time): a server error is an answer.

import type { BreakerOptions, BreakerStats } from "../cache_options.ts";
import { ConnectionError } from "../errors.ts";
import { checkTimeout } from "./validate.ts";

/** What the breaker tells its owner when it changes state. */
export type BreakerListener = (
  change: "opened" | "closed",
  error: ConnectionError,
) => void;

/** One cache's circuit breaker. */
export class Breaker {
  readonly #failures: number;
  readonly #openFor: number;
  readonly #listener: BreakerListener;
  #failed = 0;
  #openUntil = 0;
  #probing = false;
  #state: BreakerStats["state"] = "closed";
  opened = 0;
  closed = 0;

  constructor(options: BreakerOptions, listener: BreakerListener) {
    this.#failures = options.failures;
    this.#openFor = options.openFor;
    this.#listener = listener;
  }

  /** `"closed"`, `"open"` or `"half-open"` (a probe is out). */
  get state(): BreakerStats["state"] {
    return this.#state;
  }

  /**
   * Whether a command may go out now. Once `openFor` has passed, the first
   * caller becomes the probe and the others are still refused.
   */
  allows(): boolean {
    if (this.#state === "closed") return true;
    if (this.#probing || Date.now() < this.#openUntil) return false;
    this.#probing = true;
    this.#state = "half-open";
    return true;
  }

  /** A command got an answer. */
  succeeded(): void {
    this.#failed = 0;
    if (this.#state === "closed") return;
    this.#probing = false;
    this.#state = "closed";
    this.closed++;
    this.#listener(
      "closed",
      new ConnectionError("circuit breaker closed: Redis answered again"),
    );
  }

  /**
   * A command ended without telling whether Redis is there (its caller's
   * signal aborted it): a probe's turn passes to the next caller.
   */
  abandoned(): void {
    if (!this.#probing) return;
    this.#probing = false;
    this.#state = "open";
    this.#openUntil = 0;
  }

  /** A command found Redis unavailable. */
  failed(error: Error): void {
    this.#failed++;
    if (this.#state === "closed" && this.#failed < this.#failures) return;
    const wasClosed = this.#state === "closed";
    this.#probing = false;
    this.#state = "open";
    this.#openUntil = Date.now() + this.#openFor;
    if (!wasClosed) return;
    this.opened++;
    this.#listener(
      "opened",
      new ConnectionError(
        `circuit breaker opened after ${this.#failed} failures in a row; no command is sent for ${this.#openFor} ms`,
        { cause: error },
      ),
    );
  }

  /** The error a refused command fails with. */
  refusal(command: string): ConnectionError {
    return new ConnectionError(
      `circuit breaker is open: ${command} was not sent`,
    );
  }

  /** The state and counts, for stats(). */
  snapshot(): BreakerStats {
    return { state: this.#state, opened: this.opened, closed: this.closed };
  }
}

/** The `breaker` option of `Cache.connect`, checked. */
export function checkBreaker(options: unknown): BreakerOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("breaker must be an object: { failures, openFor }");
  }
  const { failures, openFor } = options as BreakerOptions;
  if (
    typeof failures !== "number" || !Number.isSafeInteger(failures) ||
    failures < 1
  ) {
    throw new RangeError(
      `breaker.failures must be a whole number, 1 or more, got ${failures}`,
    );
  }
  return { failures, openFor: checkTimeout("breaker.openFor", openFor, 0) };
}
