// `waitReplicas`: a WAIT after writes, shared by the writes of one tick.
//
// WAIT blocks the connection it is sent on until the replicas answer or its
// timeout passes, and it covers every write sent before it on that
// connection. One WAIT per write would, with the replicas gone, queue a
// timeout's worth of blocking per write behind each other (seen in the
// failover tests: reads stalled for 10 s after the failover). One WAIT per
// connection per tick, sent after that tick's writes, covers them all and
// keeps at most one batch's wait in front of the next command.
//
// In a cluster the connection is the primary's that serves the key's slot,
// so the writes of a tick are grouped by that node, not by slot: keys in
// many slots of one primary share its one connection, and a WAIT per slot
// would queue as many waits on it. WAIT is not routed through node-redis's
// cluster client, which sends it to every primary and answers the fewest
// (its command table says "all_shards"): it goes on the one node's
// connection, once the batch's writes have been answered. Before that it
// could overtake them: the cluster client reaches a node's connection
// after some turns, and a tagged write sends its script only after its
// registries' round trip.
//
// A write node-redis sent elsewhere would be counted by the wrong node's
// replicas, so the batch is refused, never confirmed, when that may have
// happened. After a MOVED node-redis learns a new slot table, which then
// names another node for the slot. After an ASK (the slot is migrating) it
// sends the write to the importing node and the table stays as it was, so
// an `EXISTS` of the slot's written keys goes along with the WAIT, in its
// round trip: the node answers it for keys it holds, and with ASK, TRYAGAIN
// or MOVED when some are not its own. A key it lacks in a slot it serves
// and is not migrating (deleted or expired meanwhile) does not refuse the
// batch: a write to that slot had nowhere else to go.

import type { ClusterPrimary, Driver } from "../_drivers/driver.ts";
import { groupBySlot, keySlot } from "../_drivers/key_slot.ts";
import type { CallOptions } from "../cache_options.ts";
import { CommandError, ReplicationError } from "../errors.ts";
import type { Settings } from "./settings.ts";

interface Batch {
  replicas: number;
  timeout: number;
  /** The replicas WAIT counted, or why the writes may have gone to another node. */
  readonly acknowledged: Promise<number | Error>;
}

// A cluster node's batch: the writes it waits for before its WAIT, each
// with the keys of one slot it wrote and that slot's primary.
interface NodeBatch extends Batch {
  readonly written: {
    readonly written: Promise<unknown>;
    readonly keys: readonly string[];
    readonly primary: ClusterPrimary;
  }[];
}

/** Sends the WAITs of one cache. */
export class ReplicaWaiter {
  readonly #batches = new Map<string, Batch>();

  /**
   * Resolves once `replicas` replicas have `written` (sent for `keys`, all
   * of one slot, on its node in a cluster) and the writes sent before it;
   * rejects with a {@linkcode ReplicationError} when fewer have them within
   * `timeout` ms, or when a write may have gone to another node than the
   * WAIT (the topology changed, the slot is migrating). Call it right after
   * sending the write, in the same tick.
   */
  after(
    driver: Driver,
    written: Promise<unknown>,
    keys: readonly string[],
    replicas: number,
    timeout: number,
  ): Promise<void> {
    const batch = driver.cluster === undefined
      ? this.#connectionBatch(driver, keys[0], replicas, timeout)
      : this.#nodeBatch(
        driver.cluster.primaryFor(keys[0]),
        written,
        keys,
        replicas,
        timeout,
      );
    if (batch === undefined) {
      return written.then(() => {
        throw new ReplicationError(0, replicas, { cause: NO_PRIMARY });
      });
    }
    batch.replicas = Math.max(batch.replicas, replicas);
    batch.timeout = Math.max(batch.timeout, timeout);
    return batch.acknowledged.then((acknowledged) => {
      if (acknowledged instanceof Error) {
        throw new ReplicationError(0, replicas, { cause: acknowledged });
      }
      if (acknowledged < replicas) {
        throw new ReplicationError(acknowledged, replicas);
      }
    });
  }

  // One connection: WAIT right behind this tick's writes, in their round trip.
  #connectionBatch(
    driver: Driver,
    key: string,
    replicas: number,
    timeout: number,
  ): Batch {
    const existing = this.#batches.get("");
    if (existing !== undefined) return existing;
    let resolve!: (count: Promise<number>) => void;
    const acknowledged = new Promise<number>((done) => resolve = done);
    const created: Batch = { replicas, timeout, acknowledged };
    this.#batches.set("", created);
    queueMicrotask(() => {
      this.#batches.delete("");
      resolve(
        driver.send(
          ["WAIT", String(created.replicas), String(created.timeout)],
          key,
        ).then(Number),
      );
    });
    return created;
  }

  // A cluster node: WAIT on its connection once this tick's writes to it
  // are answered, with a check that it holds what they wrote.
  #nodeBatch(
    primary: ClusterPrimary | undefined,
    written: Promise<unknown>,
    keys: readonly string[],
    replicas: number,
    timeout: number,
  ): Batch | undefined {
    if (primary === undefined) return undefined;
    const existing = this.#batches.get(primary.address) as
      | NodeBatch
      | undefined;
    if (existing !== undefined) {
      existing.written.push({ written, keys, primary });
      return existing;
    }
    let resolve!: (count: Promise<number | Error>) => void;
    const acknowledged = new Promise<number | Error>((done) => resolve = done);
    const created: NodeBatch = {
      replicas,
      timeout,
      acknowledged,
      written: [{ written, keys, primary }],
    };
    this.#batches.set(primary.address, created);
    queueMicrotask(() => {
      this.#batches.delete(primary.address);
      resolve(
        Promise.all(
          created.written.map(({ written }) =>
            written.then(() => true, () => false)
          ),
        ).then((succeeded) => {
          // Failed writes reject on their own; with none written, no WAIT
          // need block the node (a dead primary's writes all fail).
          const landed = created.written.filter((_, i) => succeeded[i]);
          if (landed.length === 0) return 0;
          if (!landed.every(({ primary }) => primary.current)) return MOVED;
          return waitOn(primary, landed, created.replicas, created.timeout);
        }),
      );
    });
    return created;
  }
}

// The EXISTS of each slot's written keys, then WAIT, in one round trip on
// the node's connection; the reason to refuse as soon as a check fails.
function waitOn(
  primary: ClusterPrimary,
  landed: NodeBatch["written"],
  replicas: number,
  timeout: number,
): Promise<number | Error> {
  const slots = new Map<number, Set<string>>();
  for (const { keys } of landed) {
    const slot = keySlot(keys[0]);
    const held = slots.get(slot) ?? new Set();
    for (const key of keys) held.add(key);
    slots.set(slot, held);
  }
  // The node's answer for keys not its own (ASK, MOVED, TRYAGAIN) refuses
  // the batch; a lost connection fails it as a failed WAIT would.
  const checks = [...slots.values()].map((keys) =>
    primary.send(["EXISTS", ...keys]).then(() => undefined, (error) => {
      if (!(error instanceof CommandError)) throw error;
      return new Error(
        `a write may have gone to another node than ${primary.address}, whose replicas the WAIT counts: ${error.message}`,
        { cause: error },
      );
    })
  );
  const waited = primary.send(["WAIT", String(replicas), String(timeout)])
    .then(Number);
  // A failed check refuses at once, without waiting for the WAIT's timeout.
  const failed = new Promise<Error>((refuse) => {
    for (const check of checks) {
      check.then((error) => error && refuse(error), () => {});
    }
  });
  return Promise.race([
    failed,
    Promise.all([waited, ...checks]).then(([count, ...errors]) =>
      errors.find((error) => error !== undefined) ?? count
    ),
  ]);
}

const NO_PRIMARY = new Error("no primary served the key's slot");
const MOVED = new Error(
  "the cluster's topology changed while the write was routed: it may have gone to another node than the WAIT",
);

/** A cache's writes that wait for replicas. */
export class Replicas {
  readonly #waiter = new ReplicaWaiter();
  readonly #settings: Settings;

  constructor(settings: Settings) {
    this.#settings = settings;
  }

  // On each node the keys live on, in a cluster.
  /**
   * `written`, then (when `replicas` are asked for) WAIT on the same
   * connection: in the same round trip, or in a cluster once the node has
   * answered the writes.
   */
  after(
    driver: Driver,
    written: Promise<unknown>,
    keys: readonly string[],
    replicas: number,
    call: CallOptions,
  ): Promise<unknown> {
    if (replicas === 0) return written;
    // Half the command's bound, so WAIT answers before the call times out.
    const timeout = this.#settings.timeoutFor(call);
    const wait = Math.max(1, Math.floor(timeout / 2));
    const slots = driver.cluster === undefined
      ? [keys]
      : groupBySlot(keys).map((positions) => positions.map((i) => keys[i]));
    return Promise.all([
      written,
      ...slots.map((slotKeys) =>
        this.#waiter.after(driver, written, slotKeys, replicas, wait)
      ),
    ]);
  }
}
