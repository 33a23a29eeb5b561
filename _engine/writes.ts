// The write path. Every write of a value goes through `write`, which picks
// one of two ways: in this tick's batch (one MSET, or one script with the
// Python history, for all the plain writes of a tick; one tags' script for
// the tagged ones, whatever their tags) or alone (its own SET or tags'
// script, and WAIT when replicas are asked for). `store` adds its call
// history, in the batch's script when it fits, else as the history's own
// commands.

import type { Driver } from "../_drivers/driver.ts";
import { groupBySlot } from "../_drivers/key_slot.ts";
import { callInput } from "../_history/call_history.ts";
import {
  RECORDED_STORE_MAX,
  type RecordedWrite,
  type StoreRecord,
} from "../_history/recorded_store.ts";
import {
  SCRIPT_REFUSED,
  type StoreHistory,
} from "../_history/store_history.ts";
import { redact } from "../_drivers/redact.ts";
import type { L1 } from "../_l1/l1.ts";
import type { CallOptions, Storable, StoreOptions } from "../cache_options.ts";
import { CacheError } from "../errors.ts";
import type { RedisArgument } from "../redis_client.ts";
import { cutsOf } from "./batch_parts.ts";
import { InFlight } from "./in_flight.ts";
import { setCommand, STORE_MANY_WITH_TTL } from "./set_commands.ts";
import { type BatchResult, Coalescer } from "./coalescer.ts";
import { stringifyExactly } from "./json.ts";
import type { Replicas } from "./replicas.ts";
import type { Runner } from "./runner.ts";
import type { Settings } from "./settings.ts";
import type { Stats } from "./stats.ts";
import {
  type TaggedWrite,
  type Tagging,
  taggingFor,
  type Tags,
} from "./tags.ts";
import { checkOptions, encodeValue, NO_OPTIONS } from "./validate.ts";

// How many tagged writes of a batch one tags' script takes at most: a tick
// of thousands is cut into calls the server runs one after another, each
// short enough not to hold up other clients' commands for long.
const TAGGED_PER_SCRIPT = 1_000;

// A store waiting for the end of the tick, to go with the others made in it.
interface PendingWrite {
  redisKey: string;
  value: RedisArgument;
  ttl: number | undefined;
  /** What the call history records of it, when store keeps one. */
  record?: StoreRecord;
  /** Its tags, when it has some: it goes in the tags' script. */
  tagging?: Tagging;
}

// A lone write's call to the driver, taking the write as an argument: a
// closure over it would be one more allocation a call.
const sendSet = (driver: Driver, write: PendingWrite) =>
  driver.send(setCommand(write.redisKey, write.value, write.ttl));

/** One cache's writes. */
export class Writes {
  readonly #settings: Settings;
  readonly #runner: Runner;
  readonly #stats: Stats;
  readonly #replicas: Replicas;
  readonly #l1: L1 | undefined;
  readonly #history: StoreHistory;
  readonly #tags: Tags;
  readonly #prefix: string;
  readonly #batch: Coalescer<PendingWrite, unknown> | undefined;
  // Whether the batch holds a store recorded in the history script, which a
  // store recording its history apart must let go first.
  #recordedInBatch = false;
  // Whether the batch holds a tagged write.
  #taggedInBatch = false;
  readonly #inFlight = new InFlight();

  constructor(
    settings: Settings,
    runner: Runner,
    stats: Stats,
    replicas: Replicas,
    l1: L1 | undefined,
    history: StoreHistory,
    tags: Tags,
  ) {
    this.#tags = tags;
    this.#settings = settings;
    this.#runner = runner;
    this.#stats = stats;
    this.#replicas = replicas;
    this.#l1 = l1;
    this.#history = history;
    this.#prefix = settings.prefix;
    this.#batch = settings.coalesce
      // Plain and tagged writes are counted by their batch, on their way to
      // their callers: one pass instead of a promise layer each. Those with
      // a record count themselves, after their script's verdict. A batch is
      // named (for its deadline and onError) after its first write's command.
      ? new Coalescer<PendingWrite, unknown>(
        (writes) => {
          this.#recordedInBatch = false;
          const tagged = this.#taggedInBatch;
          this.#taggedInBatch = false;
          const cuts = cutsOf(writes, TAGGED_PER_SCRIPT);
          const sent = runner.run(
            writes[0].tagging === undefined ? "MSET" : "EVALSHA",
            (driver) => this.#sendBatch(driver, writes, cuts),
          );
          if (tagged || cuts.length > 0) this.#inFlight.track(sent);
          return sent.then((results) => {
            writes.forEach((write, i) => {
              if (
                write.record === undefined && !(results[i] instanceof Error)
              ) {
                this.#stats.stores++;
              }
            });
            return results;
          });
        },
        (write, resolve, reject) => {
          this.#recordedInBatch = false;
          this.#taggedInBatch = false;
          if (write.record !== undefined) {
            runner.runInto(
              "EVAL",
              this.#sendRecorded,
              write,
              NO_OPTIONS,
              resolve,
              reject,
            );
          } else if (write.tagging === undefined) {
            runner.runInto(
              "SET",
              sendSet,
              write,
              NO_OPTIONS,
              resolve,
              reject,
              this.#countStore,
            );
          } else {
            // Alone, its WRITE still waits in a cluster for the registry.
            this.#inFlight.track(
              runner.run("EVALSHA", (driver) => this.#sendTagged(driver, write))
                .then(
                  this.#countStore,
                ).then(resolve, reject),
            );
          }
        },
      )
      : undefined;
    tags.waitFor(this.#settle);
  }

  // Sends this tick's batch, and what of it is not yet sent in full (tagged
  // writes, parts): a call about the same keys made after its writes and
  // sent at once (invalidateTags, expireTags, a lone tagged write, a
  // writeEach) goes after them, as it did when each went alone at once.
  readonly #settle = (): Promise<unknown> | undefined => {
    if (this.#batch === undefined) return undefined;
    this.#batch.flush();
    return this.#inFlight.pending;
  };

  // Not an async function: without history this is the hot path, where
  // each await layer costs a microtask turn and an allocation.
  /** `Cache.store`: writes `data` under a new key, with its call history. */
  store(data: Storable, options?: StoreOptions): Promise<string> {
    // As Python's `@count_calls @call_history`: a call is counted and its
    // input recorded even when it then fails; see `write` for the output.
    const keepHistory = this.#settings.history;
    let input, value, call, ttl, replicas, tagging;
    try {
      input = keepHistory ? callInput([data, options]) : undefined;
      value = encodeValue(data);
      call = checkOptions(options);
      ttl = this.#settings.ttlFor(call);
      replicas = this.#settings.replicasFor(call);
      tagging = taggingFor(call);
    } catch (error) {
      if (!keepHistory) return Promise.reject(error);
      return this.#history.recordApart(input, () => Promise.reject(error));
    }
    const key = crypto.randomUUID();
    const record = input === undefined ? undefined : { input, output: key };
    return this.write(
      this.#prefix + key,
      value,
      ttl,
      replicas,
      call,
      record,
      tagging,
    ).then(() => key);
  }

  /** `Cache.storeJson`: writes a JSON value under a new key. */
  async storeJson(value: unknown, options?: StoreOptions): Promise<string> {
    const json = stringifyExactly(value);
    const call = checkOptions(options);
    const key = crypto.randomUUID();
    await this.write(
      this.#prefix + key,
      json,
      this.#settings.ttlFor(call),
      this.#settings.replicasFor(call),
      call,
      undefined,
      taggingFor(call),
    );
    return key;
  }

  /** `Cache.storeMany`: writes each value under a new key, atomically. */
  async storeMany(
    values: readonly Storable[],
    options?: StoreOptions,
  ): Promise<string[]> {
    if (!Array.isArray(values)) throw new TypeError("values must be an array");
    const encoded = values.map(encodeValue);
    const call = checkOptions(options);
    const ttl = this.#settings.ttlFor(call);
    const tagging = taggingFor(call);
    const keys = encoded.map(() => crypto.randomUUID());
    if (keys.length === 0) return keys;
    const redisKeys = keys.map((key) => this.#prefix + key);
    const replicas = this.#settings.replicasFor(call);
    if (tagging !== undefined) {
      await this.writeTagged(redisKeys, encoded, ttl, tagging, replicas, call);
      return keys;
    }
    await this.#runner.run(
      "MSET",
      (driver) =>
        this.#setMany(driver, redisKeys, encoded, ttl, replicas, call),
      call,
    );
    this.#stats.stores += keys.length;
    return keys;
  }

  /**
   * Writes one value: one SET, with the expiry in the same command when
   * there is one, or with tags the tags' script. Plain writes (no signal,
   * timeout or replicas of their own) made in the same tick share one
   * MSET, one deadline and one latency sample, and those with tags one
   * tags' script. A store's `record` goes in the same script as its value
   * when it can, else as the history's own commands around the write.
   */
  write(
    redisKey: string,
    value: RedisArgument,
    ttl: number | undefined,
    replicas: number,
    call: StoreOptions,
    record?: StoreRecord,
    tagging?: Tagging,
  ): Promise<unknown> {
    this.#l1?.invalidate(redisKey);
    const batch = this.#batch !== undefined && replicas === 0 &&
        this.#settings.sharesBatch(call) &&
        (this.#batch.pending || this.#runner.driver?.connected !== false)
      ? this.#batch
      : undefined;
    // A write that goes alone lets those of this tick go first, so writes
    // reach Redis (and the Python history its outputs) in the order made; a
    // plain one waits for a batch still sent in parts too (as writeTagged).
    if (batch === undefined) this.#batch?.flush();
    if (tagging !== undefined) {
      // The batch counts what it writes.
      const send = () => {
        if (batch === undefined) {
          return this.writeTagged(
            [redisKey],
            [value],
            ttl,
            tagging,
            replicas,
            call,
          );
        }
        this.#taggedInBatch = true;
        return batch.add({ redisKey, value, ttl, tagging });
      };
      return record === undefined ? send() : this.#recordApart(record, send);
    }
    if (record === undefined) {
      const earlier = batch === undefined ? this.#inFlight.pending : undefined;
      if (earlier === undefined) {
        return this.#send(redisKey, value, ttl, call, replicas, batch);
      }
      return earlier.then(() =>
        this.#send(redisKey, value, ttl, call, replicas, undefined)
      );
    }
    const send = () => this.#send(redisKey, value, ttl, call, replicas, batch);
    if (
      batch === undefined ||
      !this.#history.fitsScript(this.#runner.driver, value)
    ) {
      return this.#recordApart(record, send);
    }
    this.#recordedInBatch = true;
    return batch.add({ redisKey, value, ttl, record }).then((result) => {
      if (result === SCRIPT_REFUSED) return this.#recordApart(record, send);
      this.#stats.stores++;
      return undefined;
    });
  }

  // A store with its history as the history's own commands around `send`.
  // Stores recorded in the batch's script go first: their inputs were made
  // first, and inputs and outputs must land in the same order.
  #recordApart(
    record: StoreRecord,
    send: () => Promise<unknown>,
  ): Promise<unknown> {
    if (this.#recordedInBatch) this.#batch?.flush();
    return this.#history.recordApart(
      record.input,
      () => send().then(() => record.output),
    ).then(() => {});
  }

  /** Values with their tag memberships, in the tags' script(s). */
  writeTagged(
    redisKeys: readonly string[],
    values: readonly RedisArgument[],
    ttl: number | undefined,
    tagging: Tagging,
    replicas: number,
    call: StoreOptions,
  ): Promise<void> {
    const earlier = this.#settle();
    if (earlier !== undefined) {
      return earlier.then(() =>
        this.#writeTagged(redisKeys, values, ttl, tagging, replicas, call)
      );
    }
    return this.#writeTagged(redisKeys, values, ttl, tagging, replicas, call);
  }

  #writeTagged(
    redisKeys: readonly string[],
    values: readonly RedisArgument[],
    ttl: number | undefined,
    tagging: Tagging,
    replicas: number,
    call: StoreOptions,
  ): Promise<void> {
    const writes = redisKeys.map((redisKey, i) => ({
      redisKey,
      value: values[i],
      ttl,
      tagging,
    }));
    return this.#runner.run(
      "EVALSHA",
      (driver) =>
        this.#replicas.after(
          driver,
          this.#tags.write(driver, writes),
          redisKeys,
          replicas,
          call,
        ),
      call,
    ).then(() => {
      this.#stats.stores += redisKeys.length;
    });
  }

  /**
   * Writes each command (a SET with its own expiry, or a negative entry's
   * SET) in one round trip: pipelined, so in a cluster each goes to its
   * slot's node. `values` counts the values among them, for stats.
   */
  async writeEach(
    commands: readonly RedisArgument[][],
    values: number,
    call: CallOptions,
  ): Promise<void> {
    if (commands.length === 0) return;
    for (const command of commands) this.#l1?.invalidate(String(command[1]));
    const earlier = this.#settle();
    if (earlier !== undefined) await earlier;
    await this.#runner.run(
      "SET",
      (driver) => Promise.all(commands.map((command) => driver.send(command))),
      call,
    );
    this.#stats.stores += values;
  }

  // One value without its history: in `batch` when it has one, else alone.
  #send(
    redisKey: string,
    value: RedisArgument,
    ttl: number | undefined,
    call: StoreOptions,
    replicas: number,
    batch: Coalescer<PendingWrite, unknown> | undefined,
  ): Promise<unknown> {
    // The batch counts what it writes.
    if (batch !== undefined) return batch.add({ redisKey, value, ttl });
    const written = this.#runner.run(
      "SET",
      (driver) =>
        this.#replicas.after(
          driver,
          driver.send(setCommand(redisKey, value, ttl)),
          [redisKey],
          replicas,
          call,
        ),
      call,
    );
    return written.then(this.#counted);
  }

  // A lone recorded store, and a lone tagged write, of the batch; made once,
  // as the hot path's callbacks.
  readonly #sendRecorded = (driver: Driver, write: PendingWrite) =>
    this.#history.sendScript(driver, [write as RecordedWrite]);
  readonly #sendTagged = (driver: Driver, write: PendingWrite) =>
    this.#tags.write(driver, [write as TaggedWrite]);

  // Counts a store; made once, as the hot path's callback.
  readonly #counted = (): void => {
    this.#stats.stores++;
  };

  // Counts a lone store on its way to its caller, passing its reply on.
  readonly #countStore = (reply: unknown): unknown => {
    this.#stats.stores++;
    return reply;
  };

  // Writes values under their keys atomically: one MSET, or with an expiry
  // one script (per slot, in a cluster: MSET node-redis splits itself).
  #setMany(
    driver: Driver,
    redisKeys: readonly string[],
    values: readonly RedisArgument[],
    ttl: number | undefined,
    replicas: number,
    call: CallOptions,
  ): Promise<unknown> {
    const groups = driver.cluster === undefined || ttl === undefined
      ? [redisKeys.map((_, i) => i)]
      : groupBySlot(redisKeys);
    return Promise.all(groups.map((group) => {
      const groupKeys = group.map((i) => redisKeys[i]);
      const written = driver.send(
        ttl === undefined
          ? ["MSET", ...group.flatMap((i) => [redisKeys[i], values[i]])]
          : [
            "EVAL",
            STORE_MANY_WITH_TTL,
            String(group.length),
            ...groupKeys,
            ...group.map((i) => values[i]),
            String(ttl),
          ],
      );
      return this.#replicas.after(driver, written, groupKeys, replicas, call);
    }));
  }

  // A tick's batch, in parts when it must be cut (`batch_parts.ts`), each
  // part sent once the one before it has been answered.
  #sendBatch(
    driver: Driver,
    writes: readonly PendingWrite[],
    cuts: readonly number[],
  ): Promise<BatchResult<unknown>[]> {
    const results: BatchResult<unknown>[] = new Array(writes.length);
    if (cuts.length === 0) {
      return this.#sendPart(driver, writes, 0, writes.length, results).then(
        () => results,
      );
    }
    // Every recorded store of the batch goes in the first part, sent at
    // once: a store recording its history apart, made after them, flushes
    // the batch and sends its own INCR and RPUSH straight after, so the
    // history's outputs keep the order of its inputs. Their keys are new,
    // so no write of an earlier part can cross them.
    const recorded: number[] = [];
    writes.forEach((write, i) => {
      if (write.record !== undefined) recorded.push(i);
    });
    return (async () => {
      let from = 0;
      for (const to of [...cuts, writes.length]) {
        await this.#sendPart(
          driver,
          writes,
          from,
          to,
          results,
          from === 0 ? recorded : [],
        );
        from = to;
      }
      return results;
    })();
  }

  // The writes from `from` to `to` of a batch: the recorded stores in one
  // script, the tagged writes in one tags' script, the others in one
  // #setMany per expiry among them; a failed command fails only its own
  // writes, each of their callers with the same scrubbed error. `given`:
  // the recorded stores this part sends instead of its own.
  #sendPart(
    driver: Driver,
    writes: readonly PendingWrite[],
    from: number,
    to: number,
    results: BatchResult<unknown>[],
    given?: readonly number[],
  ): Promise<unknown> {
    const recorded: number[] = given === undefined ? [] : [...given];
    const tagged: number[] = [];
    const byTtl = new Map<number | undefined, number[]>();
    for (let i = from; i < to; i++) {
      const { ttl, record, tagging } = writes[i];
      if (record !== undefined) {
        if (given === undefined) recorded.push(i);
      } else if (tagging !== undefined) tagged.push(i);
      else {
        const group = byTtl.get(ttl);
        if (group === undefined) byTtl.set(ttl, [i]);
        else group.push(i);
      }
    }
    const failAll = (group: number[], command: string) => (error: unknown) => {
      const failed = this.#runner.failed(
        redact(
          error instanceof Error ? error : new CacheError(String(error)),
          this.#runner.secrets,
        ) as Error,
        command,
      );
      group.forEach((i) => results[i] = failed);
    };
    const sent = [...byTtl].map(([ttl, group]) =>
      this.#setMany(
        driver,
        group.map((i) => writes[i].redisKey),
        group.map((i) => writes[i].value),
        ttl,
        0,
        {},
      ).then(
        () => group.forEach((i) => results[i] = undefined),
        failAll(group, ttl === undefined ? "MSET" : "EVAL"),
      )
    );
    if (tagged.length > 0) {
      // Each caller settles with its own write's outcome.
      sent.push(
        this.#tags.writeSettled(
          driver,
          tagged.map((i) => writes[i] as TaggedWrite),
        ).then((outcomes) => {
          // One report per failed script: its writes share its error.
          const failed = new Map<Error, number[]>();
          outcomes.forEach((error, j) => {
            if (error === undefined) results[tagged[j]] = undefined;
            else failed.set(error, [...failed.get(error) ?? [], tagged[j]]);
          });
          for (const [error, group] of failed) {
            failAll(group, "EVALSHA")(error);
          }
        }),
      );
    }
    for (let start = 0; start < recorded.length; start += RECORDED_STORE_MAX) {
      const group = recorded.slice(start, start + RECORDED_STORE_MAX);
      sent.push(
        this.#history.sendScript(
          driver,
          group.map((i) => writes[i] as RecordedWrite),
        ).then(
          (outcome) => group.forEach((i) => results[i] = outcome),
          failAll(group, "EVAL"),
        ),
      );
    }
    return Promise.all(sent);
  }
}
