// Every option, checked once and resolved in one place: those of
// `Cache.connect` into a `Settings` when it connects, those of a call by the
// methods below when the call starts. A call's options are not resolved into
// an object of their own, as bentocache's are, because that would be an
// allocation on every get and store; each method answers one question.

import { type Connection, planConnection } from "../_drivers/open.ts";
import type { StoreHistoryKeys } from "../_history/recorded_store.ts";
import type {
  BreakerOptions,
  CacheOptions,
  CallOptions,
  GetOptions,
  GetOrStoreOptions,
  ReadOptions,
  StoreOptions,
  UnavailablePolicy,
} from "../cache_options.ts";
import { checkBreaker } from "./breaker.ts";
import { type ReadThroughPolicy, resolvePolicy } from "./grace.ts";
import { checkNamespace, checkTimeout, checkTtl } from "./validate.ts";

const DEFAULT_TIMEOUT = 5_000;
const DEFAULT_OFFLINE_QUEUE = 32;
const DEFAULT_L1_ENTRIES = 10_000;
const DEFAULT_L1_BYTES = 64 * 1024 * 1024;

/** How much the in-process layer may hold. */
export interface L1Bounds {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

/** The options of `Cache.connect`, checked, with their defaults filled in. */
export class Settings {
  /** Bound on each call, in ms. */
  readonly timeout: number;
  /** Bound on connecting, in ms. */
  readonly connectTimeout: number;
  readonly namespace: string | undefined;
  /** `namespace:`, or `""` without a namespace: what every key starts with. */
  readonly prefix: string;
  /** The default expiry in ms, if any. */
  readonly ttl: number | undefined;
  readonly flush: boolean;
  readonly onError: CacheOptions["onError"];
  readonly onUnavailable: UnavailablePolicy;
  /** How many commands may wait while Redis is unreachable. */
  readonly offlineQueue: number;
  readonly waitReplicas: number;
  /** Whether calls of one tick share commands. */
  readonly coalesce: boolean;
  /** Whether the Python call history is kept. */
  readonly history: boolean;
  /** Where `store` keeps its Python call history. */
  readonly historyKeys: StoreHistoryKeys;
  /** The in-process layer's bounds, when it is on. */
  readonly l1: L1Bounds | undefined;
  /** Which connection to open, and the secrets to keep out of errors. */
  readonly connection: Connection;
  readonly telemetry: CacheOptions["telemetry"];
  /** The circuit breaker's bounds, when it is on. */
  readonly breaker: BreakerOptions | undefined;
  /** The read-through options every getOrStore starts from. */
  readonly readThrough: ReadThroughPolicy;

  /** Checks `options`; throws a TypeError or RangeError before anything connects. */
  constructor(options: CacheOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("options must be an object");
    }
    this.timeout = checkTimeout("timeout", options.timeout, DEFAULT_TIMEOUT);
    this.connectTimeout = checkTimeout(
      "connectTimeout",
      options.connectTimeout,
      DEFAULT_TIMEOUT,
    );
    this.namespace = checkNamespace(options.namespace);
    this.prefix = this.namespace === undefined ? "" : `${this.namespace}:`;
    this.ttl = options.ttl === undefined
      ? undefined
      : checkTtl("ttl", options.ttl);
    const flush = options.flush ?? true;
    if (typeof flush !== "boolean") {
      throw new TypeError("flush must be a boolean");
    }
    this.flush = flush;
    if (
      options.onError !== undefined && typeof options.onError !== "function"
    ) {
      throw new TypeError("onError must be a function");
    }
    this.onError = options.onError;
    this.onUnavailable = checkPolicy(options.onUnavailable ?? "throw");
    const offlineQueue = options.offlineQueue ?? DEFAULT_OFFLINE_QUEUE;
    if (!Number.isSafeInteger(offlineQueue) || offlineQueue < 0) {
      throw new RangeError(
        `offlineQueue must be a whole number of commands, 0 or more, got ${offlineQueue}`,
      );
    }
    this.offlineQueue = offlineQueue;
    this.waitReplicas = checkReplicas(options.waitReplicas ?? 0);
    this.l1 = options.l1 === undefined ? undefined : checkL1(options.l1);
    this.connection = planConnection(options);
    this.telemetry = options.telemetry;
    this.breaker = options.breaker === undefined
      ? undefined
      : checkBreaker(options.breaker);
    const readThrough = options.readThrough ?? {};
    if (typeof readThrough !== "object" || readThrough === null) {
      throw new TypeError("readThrough must be an object");
    }
    this.readThrough = resolvePolicy(
      { ...readThrough, ttl: undefined },
      undefined,
      this.ttl,
    );
    this.coalesce = options.coalesce ?? true;
    this.history = options.history ?? true;
    const storeName = `${this.prefix}Cache.store`;
    this.historyKeys = {
      count: storeName,
      inputs: `${storeName}:inputs`,
      outputs: `${storeName}:outputs`,
    };
  }

  /** A call's bound in ms: its own `timeout`, else the cache's. */
  timeoutFor(call: CallOptions): number {
    return checkTimeout("timeout", call.timeout, this.timeout);
  }

  /** A call's expiry in ms: its own `ttl`, else the cache's; `undefined` for none. */
  ttlFor(call: StoreOptions | GetOrStoreOptions): number | undefined {
    return call.ttl === undefined ? this.ttl : checkTtl("ttl", call.ttl);
  }

  /** The expiry a get resets on a hit, in ms; `undefined` when it resets none. */
  touchFor(call: GetOptions): number | undefined {
    const { touch } = call;
    if (touch === undefined || touch === false) return undefined;
    if (touch === true) {
      if (this.ttl === undefined) {
        throw new RangeError(
          "touch: true needs a default ttl; give Cache.connect a ttl, or touch a number of ms",
        );
      }
      return this.ttl;
    }
    return checkTtl("touch", touch);
  }

  /** How many replicas a write waits for. */
  replicasFor(call: StoreOptions): number {
    return call.waitReplicas === undefined
      ? this.waitReplicas
      : checkReplicas(call.waitReplicas);
  }

  /** What a read gives when Redis is unavailable; checked before anything is sent. */
  policyFor(call: ReadOptions): UnavailablePolicy {
    return call.onUnavailable === undefined
      ? this.onUnavailable
      : checkPolicy(call.onUnavailable);
  }

  /** A read-through call's options over the cache's defaults; checked. */
  readThroughFor(call: GetOrStoreOptions): ReadThroughPolicy {
    return resolvePolicy(call, this.readThrough, this.ttl);
  }

  /**
   * Whether a call may go in its tick's batch: one with a signal or a
   * timeout of its own goes alone, since a batch has one deadline.
   */
  sharesBatch(call: CallOptions): boolean {
    return call.signal === undefined && call.timeout === undefined;
  }
}

function checkL1(options: CacheOptions["l1"]): L1Bounds {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("l1 must be an object: { maxEntries, maxBytes }");
  }
  const bound = (name: string, value: unknown, fallback: number) => {
    if (value === undefined) return fallback;
    if (
      typeof value !== "number" || !Number.isSafeInteger(value) || value < 1
    ) {
      throw new RangeError(
        `l1.${name} must be a whole number, 1 or more, got ${value}`,
      );
    }
    return value;
  };
  return {
    maxEntries: bound("maxEntries", options.maxEntries, DEFAULT_L1_ENTRIES),
    maxBytes: bound("maxBytes", options.maxBytes, DEFAULT_L1_BYTES),
  };
}

function checkReplicas(replicas: unknown): number {
  if (
    typeof replicas !== "number" || !Number.isSafeInteger(replicas) ||
    replicas < 0
  ) {
    throw new RangeError(
      `waitReplicas must be a whole number of replicas, 0 or more, got ${replicas}`,
    );
  }
  return replicas;
}

function checkPolicy(policy: unknown): UnavailablePolicy {
  if (policy !== "throw" && policy !== "miss") {
    throw new TypeError('onUnavailable must be "throw" or "miss"');
  }
  return policy;
}
