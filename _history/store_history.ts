// How `store` keeps its Python call history: in the same script as its
// value when it can (one round trip, all or nothing), else as the history's
// own commands around the value's SET, merged per tick.

import type { Driver } from "../_drivers/driver.ts";
import type { RedisArgument } from "../redis_client.ts";
import { countCall, recordCall } from "./call_history.ts";
import {
  lacksScript,
  RECORDED_VALUE_LIMIT,
  recordedStoreCommand,
  type RecordedWrite,
  refusedBeforeRunning,
  refusesScripts,
  type StoreHistoryKeys,
} from "./recorded_store.ts";
import type { HistoryWrites } from "./writes.ts";

/**
 * The outcome of a recorded store whose script the server did not run (an
 * ACL refused it, or the server did not have it): nothing was written, and
 * it goes again as separate commands, which Redis judges one by one as it
 * does Python's.
 */
export const SCRIPT_REFUSED: unique symbol = Symbol("script refused");

/** One cache's store history. */
export class StoreHistory {
  readonly #writes: HistoryWrites;
  readonly #keys: StoreHistoryKeys;
  #scriptWrites = true;
  #scriptLoaded = false;

  constructor(writes: HistoryWrites, keys: StoreHistoryKeys) {
    this.#writes = writes;
    this.#keys = keys;
  }

  // Not in a cluster (the history keys live in other slots), not for large
  // values, and not while a history write sent apart is still to go (its
  // output must land first).
  /** Whether a store's history can go in the script with its value. */
  fitsScript(driver: Driver | undefined, value: RedisArgument): boolean {
    return this.#scriptWrites && driver?.cluster === undefined &&
      value.length <= RECORDED_VALUE_LIMIT &&
      !this.#writes.hasUnsent(this.#keys.outputs);
  }

  /**
   * Counts a store and records its input (unless making it failed), then
   * its output if `call` returns: the history's own commands, merged per tick.
   */
  recordApart(
    input: RedisArgument | undefined,
    call: () => Promise<string>,
  ): Promise<string> {
    const writes = this.#writes;
    const name = this.#keys.count;
    return countCall(
      writes,
      name,
      input === undefined ? call : () => recordCall(writes, name, input, call),
    );
  }

  /**
   * Stores with their Python history in one script, all or none: resolves
   * to SCRIPT_REFUSED when the server did not run it (after which, if an
   * ACL refuses scripting itself, no store tries one again).
   */
  // Not an async function, with handlers made once: a store one at a time
  // goes through here, and an async frame is two promise turns more.
  sendScript(
    driver: Driver,
    writes: readonly RecordedWrite[],
  ): Promise<undefined | typeof SCRIPT_REFUSED> {
    const loading = !this.#scriptLoaded;
    let sent: Promise<unknown>;
    try {
      sent = driver.send(recordedStoreCommand(this.#keys, writes, loading));
    } catch (error) {
      return Promise.resolve().then(() => this.#refused(error));
    }
    return sent.then(this.#ran, this.#refused);
  }

  readonly #ran = (): undefined => {
    this.#scriptLoaded = true;
    return undefined;
  };

  // SCRIPT_REFUSED when the script did not run; other errors pass.
  readonly #refused = (error: unknown): typeof SCRIPT_REFUSED => {
    if (lacksScript(error)) {
      // A new or restarted server, or a SCRIPT FLUSH: nothing ran. The
      // batch goes apart rather than again, since stores made after it may
      // have gone apart already; the next batch loads the script.
      this.#scriptLoaded = false;
      return SCRIPT_REFUSED;
    }
    if (!refusedBeforeRunning(error)) throw error;
    if (refusesScripts(error)) this.#scriptWrites = false;
    return SCRIPT_REFUSED;
  };
}
