// A read-through call's options, resolved once per call against the cache's
// defaults, and the one rule grace rests on: a value with ttl T and grace G
// is stored with a Redis expiry of T + G, so the PTTL read with it says
// whether it is fresh (more than G left), stale (0 to G left) or due for a
// refresh ahead of time. No envelope: the stored bytes stay the value's own.

import type { ReadThroughDefaults } from "../cache_options.ts";
import { checkTimeout, checkTtl } from "./validate.ts";

const DEFAULT_LOCK_TIMEOUT = 10_000;
const DEFAULT_GRACE_BACKOFF = 10_000;

/** One call's read-through options, checked, with the cache's defaults filled in. */
export interface ReadThroughPolicy {
  /** Fresh for this long, in ms; `undefined`: forever (grace then does nothing). */
  readonly ttl: number | undefined;
  /** Kept this long after `ttl` to be served stale, in ms (0: no grace). */
  readonly grace: number;
  readonly graceRefresh: boolean;
  readonly graceBackoff: number;
  readonly soft: number | undefined;
  readonly hard: number | undefined;
  /** Share of `ttl` after which a hit refreshes in the background. */
  readonly refreshAhead: number | undefined;
  readonly jitter: number;
  readonly negativeTtl: number | undefined;
  readonly lockTimeout: number;
}

/** What a read-through read found, judged by the reader's own policy. */
export type Freshness = "fresh" | "refresh" | "stale";

/** Checks a set of read-through options; `base` fills in what `options` leaves out. */
export function resolvePolicy(
  options: ReadThroughDefaults & { ttl?: number },
  base: ReadThroughPolicy | undefined,
  defaultTtl: number | undefined,
): ReadThroughPolicy {
  const ttl = options.ttl === undefined
    ? (base?.ttl ?? defaultTtl)
    : checkTtl("ttl", options.ttl);
  const grace = options.grace === undefined
    ? (base?.grace ?? 0)
    : checkWhole("grace", options.grace);
  const graceRefresh = options.graceRefresh ?? base?.graceRefresh ?? true;
  if (typeof graceRefresh !== "boolean") {
    throw new TypeError("graceRefresh must be a boolean");
  }
  const timeouts = options.loaderTimeout;
  if (
    timeouts !== undefined &&
    (typeof timeouts !== "object" || timeouts === null)
  ) {
    throw new TypeError("loaderTimeout must be an object: { soft, hard }");
  }
  const soft = timeouts?.soft === undefined
    ? (timeouts === undefined ? base?.soft : undefined)
    : checkTimeout("loaderTimeout.soft", timeouts.soft, 0);
  const hard = timeouts?.hard === undefined
    ? (timeouts === undefined ? base?.hard : undefined)
    : checkTimeout("loaderTimeout.hard", timeouts.hard, 0);
  if (soft !== undefined && hard !== undefined && soft >= hard) {
    throw new RangeError(
      `loaderTimeout.soft (${soft} ms) must be less than loaderTimeout.hard (${hard} ms)`,
    );
  }
  const refreshAhead = options.refreshAhead === undefined
    ? base?.refreshAhead
    : checkShare("refreshAhead", options.refreshAhead, false);
  const jitter = options.jitter === undefined
    ? (base?.jitter ?? 0)
    : checkShare("jitter", options.jitter, true);
  const negativeTtl = options.negativeTtl === undefined
    ? base?.negativeTtl
    : checkTtl("negativeTtl", options.negativeTtl);
  return {
    ttl,
    grace,
    graceRefresh,
    graceBackoff: checkTimeout(
      "graceBackoff",
      options.graceBackoff,
      base?.graceBackoff ?? DEFAULT_GRACE_BACKOFF,
    ),
    soft,
    hard,
    refreshAhead,
    jitter,
    negativeTtl,
    lockTimeout: checkTimeout(
      "lockTimeout",
      options.lockTimeout,
      base?.lockTimeout ?? DEFAULT_LOCK_TIMEOUT,
    ),
  };
}

/**
 * The Redis expiry to write, in ms: the ttl (the loader's own, else the
 * call's) spread by the jitter, plus the grace. `undefined` for no expiry.
 */
export function storedExpiry(
  policy: ReadThroughPolicy,
  ttl: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  if (ttl === undefined) return undefined;
  const spread = policy.jitter === 0
    ? ttl
    : Math.round(ttl * (1 + policy.jitter * (2 * random() - 1)));
  return Math.max(1, spread) + policy.grace;
}

/**
 * Whether a value with `pttl` ms left (Redis' PTTL: -1 for no expiry) is
 * fresh, fresh but due for a refresh ahead, or stale.
 */
export function freshness(policy: ReadThroughPolicy, pttl: number): Freshness {
  if (pttl < 0) return "fresh";
  // Judged without the ttl, which the loader may have set for itself.
  const freshLeft = pttl - policy.grace;
  if (freshLeft <= 0) return "stale";
  // Compared as time passed, not time left: 1 - 0.8 is 0.19999… in floats.
  if (
    policy.ttl !== undefined && policy.refreshAhead !== undefined &&
    policy.ttl - freshLeft >= policy.ttl * policy.refreshAhead
  ) {
    return "refresh";
  }
  return "fresh";
}

function checkWhole(name: string, value: unknown): number {
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < 0
  ) {
    throw new RangeError(
      `${name} must be a whole number of milliseconds, 0 or more, got ${value}`,
    );
  }
  return value;
}

function checkShare(name: string, value: unknown, zeroOk: boolean): number {
  if (
    typeof value !== "number" || !(zeroOk ? value >= 0 : value > 0) ||
    !(zeroOk ? value <= 1 : value < 1)
  ) {
    throw new RangeError(
      `${name} must be a share ${
        zeroOk ? "from 0 to 1" : "more than 0 and less than 1"
      }, got ${value}`,
    );
  }
  return value;
}
