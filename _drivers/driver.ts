// The seam between the cache and a Redis client. The cache core speaks only
// to `Driver`; one adapter per client sits beside this file. This file is a
// leaf: it names no adapter, and only `open.ts` chooses one.

import type { RedisArgument, TlsOptions } from "../redis_client.ts";
import type { RedisEndpoint } from "./url.ts";

/** What the cache needs from a Redis client. */
export interface Driver {
  /**
   * Sends one command. Bulk-string replies come back as text, so use it
   * only where text is expected (status replies, integers, key names).
   * Rejects with a {@linkcode CommandError} when Redis answers with an error.
   * `key` picks the node in a cluster for a command without a key of its
   * own (`WAIT` after a write); elsewhere it is ignored.
   */
  send(args: readonly RedisArgument[], key?: string): Promise<unknown>;
  /**
   * Sends one command whose bulk-string replies, in arrays too, come back
   * as bytes (`Uint8Array`s), binary-safe: for a script that returns a
   * value (a touch). Absent on a client that reads them only as text (Bun's
   * `RedisClient`, whose one binary-safe read is `getBuffer`).
   */
  sendBytes?(args: readonly RedisArgument[]): Promise<unknown>;
  /** `GET key`, binary-safe: the exact bytes, or `null` for a missing key. */
  getBytes(key: string): Promise<Uint8Array | null>;
  /**
   * The values of `keys`, binary-safe, in one round trip; `null` for each
   * missing key. One `MGET` (on Bun's `RedisClient`, one per 1000 keys, its
   * texts encoded back to bytes where that is exact, a `getBuffer` elsewhere).
   */
  getManyBytes(keys: readonly string[]): Promise<(Uint8Array | null)[]>;
  /**
   * `GET` of each key in one round trip (MGET and EXISTS, then the
   * {@linkcode GET_EACH} script, or on Bun a GET of each key MGET found
   * nothing for, when the counts differ), with each key's own error, as
   * separate GETs would give. With `hitsLikely`, MGET goes first and alone,
   * and EXISTS of the keys it found nothing for only when there are some:
   * one command for a batch of hits, a second round trip for one with misses.
   */
  getEach?(
    keys: readonly string[],
    hitsLikely?: boolean,
  ): Promise<(Uint8Array | null | Error)[]>;
  /**
   * Whether commands can go out now. While it is false the cache lets only a
   * bounded number of commands wait for the connection to come back.
   */
  readonly connected: boolean;
  /** Releases the connection if this driver opened it; a client the user passed in stays open. */
  close(): Promise<void>;
  /**
   * Present on Redis Cluster, where keys of one command must share a hash
   * slot and some commands must run on every primary.
   */
  readonly cluster?: ClusterNodes;
  /**
   * Present when the connection has client-side caching on (`CLIENT
   * TRACKING`): registers a listener for each key Redis says has changed
   * since this connection read it, and for `null` when everything read
   * before must be forgotten (a flush, a lost connection).
   */
  readonly watchInvalidations?: (
    listener: (key: string | null) => void,
  ) => void;
}

/** The nodes of a Redis Cluster, for commands each primary must run. */
export interface ClusterNodes {
  /** A driver for each primary (`SCAN` walks one node's keys only). */
  primaries(): Promise<Driver[]>;
  /**
   * The primary a command for `key` goes to now, as the client's slot table
   * has it, for a command that must run on the node that got earlier ones
   * (`WAIT` after writes); `undefined` while no primary serves the slot.
   */
  primaryFor(key: string): ClusterPrimary | undefined;
}

/** One primary of a cluster, as the client's slot table named it at one moment. */
export interface ClusterPrimary {
  /** `host:port`: the same for every slot the node serves. */
  readonly address: string;
  /**
   * Whether the client's slot table still names this node for the key's
   * slot. Once it names another (after a MOVED, a failover), a command
   * routed since may have gone there.
   */
  readonly current: boolean;
  /** Sends one command on this node's connection, behind what was sent there before; replies as {@linkcode Driver.send}. */
  send(args: readonly RedisArgument[]): Promise<unknown>;
}

/** How to open a connection of our own. */
export interface OpenOptions {
  readonly endpoint: RedisEndpoint;
  /** Bound on the whole connect, handshake and authentication included, in ms. */
  readonly connectTimeout: number;
  /** TLS settings; TLS is on for `rediss://` URLs. */
  readonly tls?: TlsOptions;
  /** Turn client-side caching on, for an in-process layer. */
  readonly tracking?: boolean;
}
