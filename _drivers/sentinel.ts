// A Sentinel-managed primary and its replicas through node-redis's sentinel
// client, on every runtime. node-redis asks the Sentinels where the primary
// is and moves to the new one after a failover; with replicas on, reads go
// to a replica.

import { createSentinel } from "redis";
import type { Driver } from "./driver.ts";
import {
  COMMAND_OPTIONS,
  connectOwned,
  credentials,
  InvalidationRelay,
  NodeRedisDriver,
  type NodeRedisRoute,
  nodesSocketOptions,
  trackingOptions,
} from "./node_redis.ts";
import type { TlsOptions } from "../redis_client.ts";
import type { RedisEndpoint } from "./url.ts";

/** The part of a node-redis sentinel client this driver uses. */
export interface NodeRedisSentinel {
  sendCommand(
    isReadonly: boolean | undefined,
    args: unknown[],
    options?: object,
  ): Promise<unknown>;
  readonly isReady: boolean;
  close(): Promise<unknown>;
  destroy(): void;
}

/** The route of a node-redis sentinel client. */
export function sentinelRoute(sentinel: NodeRedisSentinel): NodeRedisRoute {
  return {
    send: (args, options, _key, readonly) =>
      sentinel.sendCommand(readonly, args, options),
    get ready() {
      return sentinel.isReady;
    },
    close: () => sentinel.close(),
    destroy: () => sentinel.destroy(),
  };
}

/** How to reach a Sentinel-managed primary. */
export interface OpenSentinelOptions {
  readonly name: string;
  readonly sentinels: readonly RedisEndpoint[];
  readonly username?: string;
  readonly password?: string;
  readonly connectTimeout: number;
  readonly tls?: TlsOptions;
  readonly readFromReplicas: boolean;
  /** Turn client-side caching on, for an in-process layer. */
  readonly tracking: boolean;
}

/** Connects a node-redis sentinel client of our own. */
export async function openSentinelDriver(
  options: OpenSentinelOptions,
): Promise<Driver> {
  const [first] = options.sentinels;
  const { socket, markReady } = nodesSocketOptions(first, options);
  const relay = options.tracking ? new InvalidationRelay() : undefined;
  const sentinel = createSentinel({
    name: options.name,
    sentinelRootNodes: options.sentinels.map(({ host, port }) => ({
      host,
      port,
    })),
    sentinelClientOptions: {
      ...credentials(first.username, first.password),
      socket,
    },
    nodeClientOptions: {
      ...credentials(options.username, options.password),
      socket,
    },
    ...COMMAND_OPTIONS,
    ...trackingOptions(relay),
    // One connection to the primary keeps a write and the WAIT after it on
    // the same connection, as WAIT requires.
    masterPoolSize: 1,
    replicaPoolSize: options.readFromReplicas ? 1 : 0,
  });
  await connectOwned(sentinel, first, options.connectTimeout);
  markReady();
  return new NodeRedisDriver(
    sentinelRoute(sentinel as unknown as NodeRedisSentinel),
    true,
    relay?.watch,
  );
}
