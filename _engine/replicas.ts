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
// registries' round trip. A write node-redis sent elsewhere (after a MOVED)
// would be counted by the wrong node's replicas; that takes a new slot
// table, so a batch whose table changed is refused, never confirmed.

import type { ClusterPrimary, Driver } from "../_drivers/driver.ts";
import { groupBySlot } from "../_drivers/key_slot.ts";
import type { CallOptions } from "../cache_options.ts";
import { ReplicationError } from "../errors.ts";
import type { Settings } from "./settings.ts";

interface Batch {
  replicas: number;
  timeout: number;
  /** The replicas WAIT counted; `undefined` when the writes may have gone to another node. */
  readonly acknowledged: Promise<number | undefined>;
}

// A cluster node's batch: the writes it waits for before its WAIT.
interface NodeBatch extends Batch {
  readonly written: Set<Promise<unknown>>;
}

/** Sends the WAITs of one cache. */
export class ReplicaWaiter {
  readonly #batches = new Map<string, Batch>();

  /**
   * Resolves once `replicas` replicas have `written` (sent for `key`, on
   * its node in a cluster) and the writes sent before it; rejects with a
   * {@linkcode ReplicationError} when fewer have them within `timeout` ms,
   * or when the cluster's topology changed while they were routed. Call it
   * right after sending the write, in the same tick.
   */
  after(
    driver: Driver,
    written: Promise<unknown>,
    key: string,
    replicas: number,
    timeout: number,
  ): Promise<void> {
    const batch = driver.cluster === undefined
      ? this.#connectionBatch(driver, key, replicas, timeout)
      : this.#nodeBatch(
        driver.cluster.primaryFor(key),
        written,
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
      if (acknowledged === undefined) {
        throw new ReplicationError(0, replicas, { cause: MOVED });
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
  // are answered, if the slot table that routed them is still the one.
  #nodeBatch(
    primary: ClusterPrimary | undefined,
    written: Promise<unknown>,
    replicas: number,
    timeout: number,
  ): Batch | undefined {
    if (primary === undefined) return undefined;
    const existing = this.#batches.get(primary.address) as
      | NodeBatch
      | undefined;
    if (existing !== undefined) {
      existing.written.add(written);
      return existing;
    }
    let resolve!: (count: Promise<number | undefined>) => void;
    const acknowledged = new Promise<number | undefined>((done) =>
      resolve = done
    );
    const created: NodeBatch = {
      replicas,
      timeout,
      acknowledged,
      written: new Set([written]),
    };
    this.#batches.set(primary.address, created);
    queueMicrotask(() => {
      this.#batches.delete(primary.address);
      resolve(
        Promise.allSettled(created.written).then((outcomes) => {
          // Failed writes reject on their own; with none written, no WAIT
          // need block the node (a dead primary's writes all fail).
          if (outcomes.every(({ status }) => status === "rejected")) return 0;
          if (!primary.current) return undefined;
          return primary.send([
            "WAIT",
            String(created.replicas),
            String(created.timeout),
          ]).then(Number);
        }),
      );
    });
    return created;
  }
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
    const routes = driver.cluster === undefined
      ? [keys[0]]
      : groupBySlot(keys).map(([first]) => keys[first]);
    return Promise.all([
      written,
      ...routes.map((key) =>
        this.#waiter.after(driver, written, key, replicas, wait)
      ),
    ]);
  }
}
