// The call history's bookkeeping writes made in the same tick, merged per
// key: n INCRs of one counter become one INCRBY, n RPUSHes to one list one
// RPUSH of the n values in the order they were made. A hundred concurrent
// stores then cost three bookkeeping commands instead of three hundred.

import type { RedisArgument } from "../redis_client.ts";

type Send = (args: readonly RedisArgument[]) => Promise<unknown>;

interface Merged {
  readonly command: "INCR" | "RPUSH";
  readonly key: string;
  readonly values: RedisArgument[];
  readonly waiters: { resolve(): void; reject(error: unknown): void }[];
}

/** A reserved place in a list; see {@linkcode HistoryWrites.reserve}. */
export interface ListPlace {
  /** Writes `value` in this place, after the places reserved before it. */
  fill(value: RedisArgument): Promise<unknown>;
  /** Gives the place up: the call it was for recorded nothing. */
  cancel(): void;
}

interface Place {
  state: "reserved" | "filled" | "cancelled";
  value?: RedisArgument;
  written?: { resolve(value: unknown): void; reject(error: unknown): void };
}

/** Merges counter increments and list appends made in one tick. */
export class HistoryWrites {
  readonly #send: Send;
  readonly #merge: boolean;
  #pending = new Map<string, Merged>();
  readonly #places = new Map<string, Place[]>();

  /**
   * @param send Sends one command within the cache's bounds.
   * @param merge Whether to merge; without it each write is its own command.
   */
  constructor(send: Send, merge: boolean) {
    this.#send = send;
    this.#merge = merge;
  }

  /** Adds one to the counter at `key`. */
  increment(key: string): Promise<unknown> {
    return this.#merge
      ? this.#add("INCR", key, undefined)
      : this.#send(["INCR", key]);
  }

  /** Appends `value` to the list at `key`. */
  append(key: string, value: RedisArgument): Promise<unknown> {
    return this.#merge
      ? this.#add("RPUSH", key, value)
      : this.#send(["RPUSH", key, value]);
  }

  /**
   * Reserves the next place in the list at `key` for a value known later, so
   * that values land in the order their places were reserved however their
   * calls finish: the n-th output then belongs to the n-th input. `fill`
   * resolves once the value (and every one reserved before it) is written.
   */
  reserve(key: string): ListPlace {
    let places = this.#places.get(key);
    if (places === undefined) this.#places.set(key, places = []);
    const place: Place = { state: "reserved" };
    places.push(place);
    const settle = (state: Place["state"], value?: RedisArgument) => {
      place.state = state;
      place.value = value;
      this.#writeReadyPlaces(key);
    };
    return {
      fill: (value) =>
        new Promise<unknown>((resolve, reject) => {
          place.written = { resolve, reject };
          settle("filled", value);
        }),
      cancel: () => settle("cancelled"),
    };
  }

  /**
   * Whether a value reserved or appended in the list at `key` is still to be
   * sent: a write that goes around this class must then wait its turn.
   */
  hasUnsent(key: string): boolean {
    // Asked before every recorded store, mostly with nothing pending: the
    // sizes spare making (and hashing) the pending entry's name.
    return (this.#places.size !== 0 && this.#places.has(key)) ||
      (this.#pending.size !== 0 && this.#pending.has(`RPUSH ${key}`));
  }

  // Appends the filled places at the head of the list's queue, in order,
  // up to the first one still waiting for its value.
  #writeReadyPlaces(key: string): void {
    const places = this.#places.get(key)!;
    let ready = 0;
    for (; ready < places.length; ready++) {
      const place = places[ready];
      if (place.state === "reserved") break;
      if (place.state === "filled") {
        this.append(key, place.value!).then(
          place.written!.resolve,
          place.written!.reject,
        );
      }
    }
    if (ready === places.length) this.#places.delete(key);
    else places.splice(0, ready);
  }

  #add(
    command: Merged["command"],
    key: string,
    value: RedisArgument | undefined,
  ): Promise<void> {
    if (this.#pending.size === 0) queueMicrotask(() => this.#flush());
    const id = `${command} ${key}`;
    let merged = this.#pending.get(id);
    if (merged === undefined) {
      merged = { command, key, values: [], waiters: [] };
      this.#pending.set(id, merged);
    }
    if (value !== undefined) merged.values.push(value);
    const { waiters } = merged;
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  }

  #flush(): void {
    const pending = this.#pending;
    this.#pending = new Map();
    for (const { command, key, values, waiters } of pending.values()) {
      const args = command === "RPUSH"
        ? ["RPUSH", key, ...values]
        : waiters.length === 1
        ? ["INCR", key]
        : ["INCRBY", key, String(waiters.length)];
      this.#send(args).then(
        () => waiters.forEach((waiter) => waiter.resolve()),
        (error) => waiters.forEach((waiter) => waiter.reject(error)),
      );
    }
  }
}
