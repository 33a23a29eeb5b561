// `waitReplicas`: a WAIT after writes, shared by the writes of one tick.
//
// WAIT blocks the connection it is sent on until the replicas answer or its
// timeout passes, and it covers every write sent before it on that
// connection. One WAIT per write would, with the replicas gone, queue a
// timeout's worth of blocking per write behind each other (seen in the
// failover tests: reads stalled for 10 s after the failover). One WAIT per
// connection per tick, sent after that tick's writes, covers them all and
// keeps at most one batch's wait in front of the next command.

import type { Driver } from "../_drivers/driver.ts";
import { groupBySlot, keySlot } from "../_drivers/key_slot.ts";
import type { CallOptions } from "../cache_options.ts";
import { ReplicationError } from "../errors.ts";
import type { Settings } from "./settings.ts";

interface Batch {
  replicas: number;
  timeout: number;
  readonly acknowledged: Promise<number>;
}

/** Sends the WAITs of one cache. */
export class ReplicaWaiter {
  readonly #batches = new Map<string, Batch>();

  /**
   * Resolves once `replicas` replicas have the writes already sent for
   * `key` (on its node, in a cluster); rejects with a
   * {@linkcode ReplicationError} when fewer have them within `timeout` ms.
   * Call it right after sending the write, in the same tick.
   */
  after(
    driver: Driver,
    key: string,
    replicas: number,
    timeout: number,
  ): Promise<void> {
    // A cluster has a connection per node; elsewhere there is one.
    const connection = driver.cluster === undefined ? "" : String(keySlot(key));
    let batch = this.#batches.get(connection);
    if (batch === undefined) {
      let resolve!: (count: Promise<number>) => void;
      const acknowledged = new Promise<number>((done) => resolve = done);
      const created: Batch = { replicas, timeout, acknowledged };
      batch = created;
      this.#batches.set(connection, created);
      queueMicrotask(() => {
        this.#batches.delete(connection);
        resolve(
          driver.send(
            ["WAIT", String(created.replicas), String(created.timeout)],
            key,
          ).then(Number),
        );
      });
    } else {
      batch.replicas = Math.max(batch.replicas, replicas);
      batch.timeout = Math.max(batch.timeout, timeout);
    }
    return batch.acknowledged.then((acknowledged) => {
      if (acknowledged < replicas) {
        throw new ReplicationError(acknowledged, replicas);
      }
    });
  }
}

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
   * connection in the same round trip.
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
      ...routes.map((key) => this.#waiter.after(driver, key, replicas, wait)),
    ]);
  }
}
