// Redis Cluster through node-redis's cluster client, on every runtime (Bun's
// RedisClient has no cluster support). node-redis routes each command by its
// first key, follows MOVED/ASK and failovers, and splits MGET, MSET and
// UNLINK across slots itself; what it cannot split (scripts) is split here.

import { createCluster } from "redis";
import { groupBySlot, keySlot } from "./key_slot.ts";
import type { ClusterPrimary, Driver } from "./driver.ts";
import {
  COMMAND_OPTIONS,
  connectOwned,
  credentials,
  InvalidationRelay,
  type NodeRedisClient,
  NodeRedisDriver,
  type NodeRedisRoute,
  nodesSocketOptions,
  singleRoute,
  trackingOptions,
} from "./node_redis.ts";
import type { TlsOptions } from "../redis_client.ts";
import type { RedisEndpoint } from "./url.ts";

/** The part of a node-redis cluster client this driver uses. */
export interface NodeRedisCluster {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: unknown[],
    options?: object,
  ): Promise<unknown>;
  readonly masters: readonly object[];
  /** The slot table: a new array each time the client learns the topology. */
  readonly slots: readonly ({ readonly master: ClusterNode } | undefined)[];
  nodeClient(node: object): Promise<unknown>;
  readonly isReady: boolean;
  close(): Promise<unknown>;
  destroy(): void;
}

/** A node in node-redis's slot table. */
export interface ClusterNode {
  readonly address: string;
}

const TOPOLOGY_REFRESH = 500;

// Commands that take several keys, which node-redis splits per slot when
// no first key is given, and commands that take none.
const MULTI_KEY = new Set(["MGET", "MSET", "UNLINK", "DEL", "EXISTS", "TOUCH"]);
const KEYLESS = new Set([
  "PING",
  "FLUSHDB",
  "FLUSHALL",
  "SCAN",
  "DBSIZE",
  "WAIT",
]);

/** The route of a node-redis cluster client: each command goes by its key. */
export function clusterRoute(cluster: NodeRedisCluster): NodeRedisRoute {
  return {
    send: (args, options, key, readonly) =>
      cluster.sendCommand(key ?? routingKey(args), readonly, args, options),
    get ready() {
      return cluster.isReady;
    },
    close: () => cluster.close(),
    destroy: () => cluster.destroy(),
  };
}

// The key that decides the node: the first key of a single-key command or
// a script; none for keyless and multi-key commands (node-redis then sends
// keyless ones to any node, or to every primary when they must go there).
function routingKey(args: readonly unknown[]): string | undefined {
  const command = String(args[0]).toUpperCase();
  if (command === "EVAL" || command === "EVALSHA") {
    return Number(args[2]) > 0 ? String(args[3]) : undefined;
  }
  if (KEYLESS.has(command)) return undefined;
  if (MULTI_KEY.has(command) && args.length > 2) return undefined;
  return args[1] === undefined ? undefined : String(args[1]);
}

/** A cluster: scripts of many keys go once per slot; SCAN once per primary. */
export class ClusterDriver extends NodeRedisDriver {
  readonly #cluster: NodeRedisCluster;

  constructor(
    route: NodeRedisRoute,
    cluster: NodeRedisCluster,
    owned: boolean,
    watchInvalidations?: Driver["watchInvalidations"],
  ) {
    super(route, owned, watchInvalidations);
    this.#cluster = cluster;
  }

  override async getEach(
    keys: readonly string[],
    hitsLikely = false,
  ): Promise<(Uint8Array | null | Error)[]> {
    const results: (Uint8Array | null | Error)[] = new Array(keys.length);
    await Promise.all(
      groupBySlot(keys).map(async (positions) => {
        const slotKeys = positions.map((i) => keys[i]);
        const found = slotKeys.length === 1
          ? [await this.getBytes(slotKeys[0]).catch((error: Error) => error)]
          : await super.getEach(slotKeys, hitsLikely);
        positions.forEach((position, i) => results[position] = found[i]);
      }),
    );
    return results;
  }

  readonly cluster = {
    primaries: async (): Promise<Driver[]> => {
      const clients = await Promise.all(
        this.#cluster.masters.map((node) => this.#cluster.nodeClient(node)),
      );
      return clients.map((client) =>
        new NodeRedisDriver(singleRoute(client as NodeRedisClient), false)
      );
    },
    primaryFor: (key: string): ClusterPrimary | undefined => {
      const cluster = this.#cluster;
      const slot = keySlot(key);
      const node = cluster.slots[slot]?.master;
      if (node === undefined) return undefined;
      return {
        address: node.address,
        // node-redis learns a new table after a MOVED, before it sends the
        // command again, and rewrites slots in place on a maintenance
        // event: either way the slot's entry names the node it now uses.
        // A refresh that left this slot where it was changes nothing here.
        get current() {
          return cluster.slots[slot]?.master.address === node.address;
        },
        send: async (args) =>
          await new NodeRedisDriver(
            singleRoute(await cluster.nodeClient(node) as NodeRedisClient),
            false,
          ).send(args),
      };
    },
  };
}

/** How to reach a cluster: some of its nodes; the rest is discovered. */
export interface OpenClusterOptions {
  readonly rootNodes: readonly RedisEndpoint[];
  readonly connectTimeout: number;
  readonly tls?: TlsOptions;
  readonly readFromReplicas: boolean;
  /** Turn client-side caching on, for an in-process layer. */
  readonly tracking: boolean;
}

/** Connects a node-redis cluster client of our own. */
export async function openClusterDriver(
  options: OpenClusterOptions,
): Promise<Driver> {
  const [first] = options.rootNodes;
  const { socket, markReady } = nodesSocketOptions(first, options);
  const relay = options.tracking ? new InvalidationRelay() : undefined;
  const cluster = createCluster({
    rootNodes: options.rootNodes.map(({ url }) => ({ url })),
    // Discovered nodes get only these settings, not the root nodes' URLs.
    defaults: { ...credentials(first.username, first.password), socket },
    ...COMMAND_OPTIONS,
    ...trackingOptions(relay),
    useReplicas: options.readFromReplicas,
    // While a node cannot be reached, ask the others for the topology every
    // half second (node-redis waits 5 s by default), so that after a
    // failover the promoted replica gets the dead primary's commands soon.
    topologyRefreshOnReconnectionAttemptStrategy: TOPOLOGY_REFRESH,
  });
  await connectOwned(cluster, first, options.connectTimeout);
  markReady();
  const handle = cluster as unknown as NodeRedisCluster;
  return new ClusterDriver(clusterRoute(handle), handle, true, relay?.watch);
}
