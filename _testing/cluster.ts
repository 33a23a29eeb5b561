// Test fixtures for Redis Cluster and Redis Sentinel: real redis-server
// processes of the test's own on loopback, which the test can fail over by
// killing a primary. They speak to each server over a plain node-redis
// connection of their own, never through a cluster or sentinel client, so
// what they report does not depend on the code under test. Node APIs and
// node-redis only, so the same code runs on Deno, Bun and Node.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { runChild } from "./child.ts";
import { freePort } from "./free_port.ts";
import { RedisServer } from "./redis_server.ts";
import { waitFor } from "./wait.ts";

const HOST = "127.0.0.1";
const COMMAND_TIMEOUT = 1_000;
const CREATE_TIMEOUT = 30_000;
const READY_TIMEOUT = 20_000;
const FAILOVER_TIMEOUT = 20_000;
const BUS_PORT_OFFSET = 10_000;
const PORT_ATTEMPTS = 50;
const LOWEST_PORT = 10_000;
const EPHEMERAL_PORTS = 32_768;
const SLOTS = 16_384;
const HEALTHY_FLAGS = new Set(["myself", "master", "slave"]);

// Without these, a new replica waits 5 s for more replicas before its full
// sync starts (Redis 7's repl-diskless-sync-delay), and replicas sharing a
// folder would write the same dump.rdb.
function dataArgs(dir: string, port: number): string[] {
  return [
    "--dir",
    dir,
    "--dbfilename",
    `dump-${port}.rdb`,
    "--repl-diskless-sync-delay",
    "0",
  ];
}

/** Options for {@linkcode startCluster}. */
export interface ClusterOptions {
  /** How many primaries share the 16384 slots; Redis needs at least 3. @default {3} */
  primaries?: number;
  /** How many replicas each primary gets. @default {1} */
  replicasPerPrimary?: number;
  /** `cluster-node-timeout` in ms: how soon a silent node counts as failed. @default {1_000} */
  nodeTimeout?: number;
}

/**
 * A Redis Cluster of its own on 127.0.0.1, made with `redis-cli --cluster
 * create`, whose primaries a test can kill to watch a replica take over.
 */
export class RedisClusterSet implements AsyncDisposable {
  /** Every node, primaries and replicas alike, in the order they started. */
  readonly nodes: readonly RedisServer[];
  /** Where a cluster client can start discovering, one entry per node. */
  readonly rootNodes: { url: string }[];
  readonly #dir: string;
  readonly #connections = new AdminConnections();
  // The cluster as the running nodes last agreed on it when healthy or after
  // a failover: it says which replicas may take over from a primary.
  #topology: NodeEntry[] = [];

  private constructor(dir: string, nodes: RedisServer[]) {
    this.#dir = dir;
    this.nodes = nodes;
    this.rootNodes = nodes.map((node) => ({ url: node.url() }));
  }

  /**
   * Starts the nodes, joins them into a cluster and waits until it is
   * healthy; see {@linkcode RedisClusterSet.prototype.waitUntilHealthy}.
   */
  static async start(options: ClusterOptions = {}): Promise<RedisClusterSet> {
    const primaries = options.primaries ?? 3;
    const replicasPerPrimary = options.replicasPerPrimary ?? 1;
    const nodeTimeout = options.nodeTimeout ?? 1_000;
    if (!Number.isInteger(primaries) || primaries < 3) {
      throw new RangeError(`primaries must be 3 or more, got ${primaries}`);
    }
    if (!Number.isInteger(replicasPerPrimary) || replicasPerPrimary < 0) {
      throw new RangeError(
        `replicasPerPrimary must be 0 or more, got ${replicasPerPrimary}`,
      );
    }
    const taken = new Set<number>();
    const ports: number[] = [];
    for (let i = 0; i < primaries * (1 + replicasPerPrimary); i++) {
      ports.push(await freeClusterPort(taken));
    }
    const dir = await mkdtemp(join(tmpdir(), "redis-basic-cluster-"));
    const started = await Promise.allSettled(
      ports.map((port) =>
        RedisServer.start({
          port,
          args: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            join(dir, `nodes-${port}.conf`),
            "--cluster-node-timeout",
            String(nodeTimeout),
            "--cluster-replica-validity-factor",
            "0",
            ...dataArgs(dir, port),
          ],
        })
      ),
    );
    const cluster = new RedisClusterSet(
      dir,
      started.flatMap((result) =>
        result.status === "fulfilled" ? [result.value] : []
      ),
    );
    try {
      const failed = started.find((result) => result.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      await cluster.#create(replicasPerPrimary);
      await cluster.waitUntilHealthy();
      await cluster.#announceReplicas(replicasPerPrimary);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  // Clients learn of replicas from CLUSTER SLOTS, and Redis lists a replica
  // there only once its replication offset is past 0: in a new cluster not
  // before the first write (or the primary's ping, every 10 s), so a client
  // with readFromReplicas would read from primaries alone. FLUSHALL of the
  // still empty primaries is a write each, replicated; then every node must
  // list every replica.
  async #announceReplicas(replicasPerPrimary: number): Promise<void> {
    const primaries = this.#topology.filter(isPrimary);
    await Promise.all(
      primaries.map((entry) => this.#connections.ask(entry.port, "FLUSHALL")),
    );
    const listsEveryReplica = async (port: number) => {
      const ranges = await this.#connections.ask(port, "CLUSTER", "SLOTS");
      return Array.isArray(ranges) && ranges.length > 0 &&
        ranges.every((range) =>
          Array.isArray(range) && range.length === 3 + replicasPerPrimary
        );
    };
    await waitFor(
      async () =>
        (await Promise.all(this.#runningPorts().map(listsEveryReplica)))
          .every(Boolean),
      READY_TIMEOUT,
      "CLUSTER SLOTS did not list every replica",
    );
  }

  /** The node that serves `key` now, as a running node sees the cluster. */
  async primaryFor(key: string): Promise<RedisServer> {
    const port = this.#runningPorts()[0];
    if (port === undefined) throw new Error("no node of the cluster runs");
    const ask = (...args: string[]) => this.#connections.ask(port, ...args);
    const slot = await ask("CLUSTER", "KEYSLOT", key) as number;
    const owner = parseNodes(await ask("CLUSTER", "NODES") as string).find(
      (entry) =>
        isPrimary(entry) && !entry.flags.includes("fail") &&
        entry.slots.some(([first, last]) => first <= slot && slot <= last),
    );
    if (owner === undefined) {
      throw new Error(`no primary serves slot ${slot} (key ${key})`);
    }
    return this.#node(owner.port);
  }

  /** The slot ranges `node` serves now (inclusive), as a running node sees the cluster; none for a replica. */
  async slotsServedBy(node: RedisServer): Promise<[number, number][]> {
    const port = this.#runningPorts()[0];
    if (port === undefined) throw new Error("no node of the cluster runs");
    const entry = parseNodes(
      await this.#connections.askText(port, "CLUSTER", "NODES"),
    ).find((entry) => entry.port === node.port);
    if (entry === undefined) throw new Error(`no node on port ${node.port}`);
    return entry.slots;
  }

  /**
   * Waits until every running node reports `cluster_state:ok` and they all
   * agree on the cluster, every one of them is connected and either a
   * replica that has synced or a primary with slots. A restarted node counts
   * once it has rejoined.
   */
  async waitUntilHealthy(timeout: number = READY_TIMEOUT): Promise<void> {
    await waitFor(
      () => this.#isHealthy(),
      timeout,
      `the cluster on ports ${
        this.#runningPorts().join(", ")
      } was not healthy within ${timeout} ms`,
    );
  }

  /**
   * Once the cluster is healthy, kills a primary with SIGKILL, as a crash
   * would; see {@linkcode RedisClusterSet.prototype.waitForFailover}.
   */
  async killPrimary(node: RedisServer): Promise<void> {
    // Only a healthy cluster says for sure which replicas can take over.
    await this.waitUntilHealthy();
    const [role] = await this.#connections.ask(node.port, "ROLE") as string[];
    if (role !== "master") {
      throw new TypeError(`port ${node.port} is a ${role}, not a primary`);
    }
    await node.kill();
  }

  /**
   * Waits until a replica of the primary that was on `oldPrimaryPort` has
   * taken over its slots and every running node again reports
   * `cluster_state:ok` and agrees on it; returns that replica.
   */
  async waitForFailover(
    oldPrimaryPort: number,
    timeout: number = FAILOVER_TIMEOUT,
  ): Promise<RedisServer> {
    const old = this.#topology.find((entry) => entry.port === oldPrimaryPort);
    if (old === undefined || !isPrimary(old)) {
      throw new TypeError(`port ${oldPrimaryPort} was not a primary`);
    }
    const heirs = this.#topology.filter((entry) => entry.primaryId === old.id)
      .map((entry) => entry.port);
    if (heirs.length === 0) {
      throw new Error(`the primary on port ${oldPrimaryPort} has no replica`);
    }
    let heir: number | undefined;
    await waitFor(
      async () => {
        const view = await this.#agreedView();
        const gone = view?.find((entry) => entry.port === oldPrimaryPort);
        const promoted = view?.find((entry) =>
          heirs.includes(entry.port) && isPrimary(entry) &&
          entry.slots.length > 0
        );
        if (
          view === undefined || !gone?.flags.includes("fail") ||
          gone.slots.length > 0 || promoted === undefined
        ) {
          return false;
        }
        this.#topology = view;
        heir = promoted.port;
        return true;
      },
      timeout,
      `no replica took over from the primary on port ${oldPrimaryPort} within ${timeout} ms`,
    );
    return this.#node(heir!);
  }

  /** Stops every node and removes their folder. */
  async stop(): Promise<void> {
    this.#connections.close();
    await Promise.all(this.nodes.map((node) => node.stop()));
    await rm(this.#dir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #create(replicasPerPrimary: number): Promise<void> {
    const { code, output } = await runChild("redis-cli", [
      "--cluster",
      "create",
      ...this.nodes.map((node) => `${HOST}:${node.port}`),
      "--cluster-replicas",
      String(replicasPerPrimary),
      "--cluster-yes",
    ], CREATE_TIMEOUT);
    if (code !== 0 || !output.includes(`All ${SLOTS} slots covered`)) {
      throw new Error(
        code === null
          ? `redis-cli --cluster create did not finish within ${CREATE_TIMEOUT} ms: ${output}`
          : `redis-cli --cluster create failed: ${output}`,
      );
    }
  }

  async #isHealthy(): Promise<boolean> {
    const view = await this.#agreedView();
    if (view === undefined) return false;
    const running = new Set(this.#runningPorts());
    const live = view.filter((entry) => running.has(entry.port));
    const healthy = live.length === running.size &&
      live.every((entry) =>
        entry.link === "connected" &&
        entry.flags.every((flag) => HEALTHY_FLAGS.has(flag)) &&
        (!isPrimary(entry) || entry.slots.length > 0)
      );
    if (!healthy) return false;
    const synced = await Promise.all(
      live.filter((entry) => !isPrimary(entry)).map((entry) =>
        this.#connections.linkIsUp(entry.port)
      ),
    );
    if (!synced.every(Boolean)) return false;
    this.#topology = view;
    return true;
  }

  // The cluster as every running node sees it, if they all report
  // cluster_state:ok and see the same thing; otherwise undefined.
  async #agreedView(): Promise<NodeEntry[] | undefined> {
    try {
      const views = await Promise.all(
        this.#runningPorts().map(async (port) => {
          const ask = (...args: string[]) =>
            this.#connections.askText(port, ...args);
          const info = fields(await ask("CLUSTER", "INFO"));
          if (info.get("cluster_state") !== "ok") throw new Error("not ok");
          return parseNodes(await ask("CLUSTER", "NODES"));
        }),
      );
      const [first, ...others] = views.map(describe);
      if (first === undefined || others.some((view) => view !== first)) {
        return undefined;
      }
      return views[0];
    } catch {
      return undefined;
    }
  }

  #runningPorts(): number[] {
    return this.nodes.filter((node) => node.running).map((node) => node.port);
  }

  #node(port: number): RedisServer {
    const node = this.nodes.find((node) => node.port === port);
    if (node === undefined) throw new Error(`no node of ours on port ${port}`);
    return node;
  }
}

/** Starts a Redis Cluster for one test file; see {@linkcode RedisClusterSet}. */
export function startCluster(
  options?: ClusterOptions,
): Promise<RedisClusterSet> {
  return RedisClusterSet.start(options);
}

/** Options for {@linkcode startSentinelSet}. */
export interface SentinelOptions {
  /** The name the sentinels know the primary by. @default {"mymaster"} */
  name?: string;
  /** How long in ms the primary must be silent before a sentinel thinks it down. @default {1_000} */
  downAfter?: number;
  /** Sentinel's `failover-timeout` in ms. @default {5_000} */
  failoverTimeout?: number;
}

/**
 * A primary, its replica and three sentinels watching them (quorum 2), all of
 * its own on 127.0.0.1; a test can kill the primary and wait for the
 * sentinels to promote the replica.
 */
export class SentinelSet implements AsyncDisposable {
  /** The name the sentinels know the primary by. */
  readonly name: string;
  /** The server started as primary; after a failover it may not be one. */
  readonly primary: RedisServer;
  /** The server started as replica; after a failover it may be the primary. */
  readonly replica: RedisServer;
  readonly sentinels: readonly RedisServer[];
  /** Where a sentinel client can start, one entry per sentinel. */
  readonly sentinelRootNodes: { host: string; port: number }[];
  readonly #dir: string;
  readonly #connections: AdminConnections;

  private constructor(
    name: string,
    dir: string,
    connections: AdminConnections,
    primary: RedisServer,
    replica: RedisServer,
    sentinels: RedisServer[],
  ) {
    this.name = name;
    this.#dir = dir;
    this.#connections = connections;
    this.primary = primary;
    this.replica = replica;
    this.sentinels = sentinels;
    this.sentinelRootNodes = sentinels.map((sentinel) => ({
      host: HOST,
      port: sentinel.port,
    }));
  }

  /**
   * Starts the primary and the replica, waits until the replica has synced,
   * then starts the sentinels and waits until each knows the primary, the
   * replica and the other two sentinels.
   */
  static async start(options: SentinelOptions = {}): Promise<SentinelSet> {
    const name = options.name ?? "mymaster";
    const dir = await mkdtemp(join(tmpdir(), "redis-basic-sentinel-"));
    const connections = new AdminConnections();
    const started: RedisServer[] = [];
    try {
      const startData = async (replicaOf?: number) => {
        const port = await freePort();
        const replicaArgs = replicaOf === undefined
          ? []
          : ["--replicaof", HOST, String(replicaOf)];
        const server = await RedisServer.start({
          port,
          args: [...dataArgs(dir, port), ...replicaArgs],
        });
        started.push(server);
        return server;
      };
      const primary = await startData();
      const replica = await startData(primary.port);
      // A sentinel learns of replicas from the primary's INFO, which it asks
      // for once on connecting and then only every 10 s: started after the
      // replica is attached, each sentinel finds it at once.
      await waitFor(
        () => connections.linkIsUp(replica.port),
        READY_TIMEOUT,
        `the replica on port ${replica.port} did not sync within ${READY_TIMEOUT} ms`,
      );
      const sentinels: RedisServer[] = [];
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const configFile = join(dir, `sentinel-${port}.conf`);
        // Sentinel rewrites this file as it learns, so it must be its own.
        await writeFile(
          configFile,
          [
            `port ${port}`,
            `bind ${HOST}`,
            `dir ${dir}`,
            `sentinel monitor ${name} ${HOST} ${primary.port} 2`,
            `sentinel down-after-milliseconds ${name} ${
              options.downAfter ?? 1_000
            }`,
            `sentinel failover-timeout ${name} ${
              options.failoverTimeout ?? 5_000
            }`,
            `sentinel parallel-syncs ${name} 1`,
            "",
          ].join("\n"),
        );
        const sentinel = await RedisServer.start({
          port,
          configFile,
          args: ["--sentinel"],
        });
        started.push(sentinel);
        sentinels.push(sentinel);
      }
      const set = new SentinelSet(
        name,
        dir,
        connections,
        primary,
        replica,
        sentinels,
      );
      await set.waitUntilHealthy();
      return set;
    } catch (error) {
      connections.close();
      await Promise.all(started.map((server) => server.stop()));
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The primary's port as the first running sentinel that answers reports it. */
  async currentPrimaryPort(): Promise<number> {
    let lastError: unknown = new Error("no sentinel runs");
    for (const sentinel of this.sentinels.filter((s) => s.running)) {
      try {
        return await this.#primaryPortSeenBy(sentinel.port);
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error("no sentinel told the primary's address", {
      cause: lastError,
    });
  }

  /**
   * Waits until every running sentinel names the same running primary, lists
   * the other running server as a replica it can reach, and knows every
   * other running sentinel, and that replica has synced with the primary. A
   * restarted server counts once a sentinel has made it a replica, which
   * takes about 10 s: sentinels ask a server for INFO only every 10 s.
   */
  async waitUntilHealthy(timeout: number = READY_TIMEOUT): Promise<void> {
    await waitFor(
      () => this.#isHealthy(),
      timeout,
      `the sentinels on ports ${
        this.sentinels.map((sentinel) => sentinel.port).join(", ")
      } did not agree on a synced primary and replica within ${timeout} ms`,
    );
  }

  /**
   * Once the set is healthy, kills the current primary with SIGKILL, as a
   * crash would, and returns its port for
   * {@linkcode SentinelSet.prototype.waitForFailover}.
   */
  async killPrimary(): Promise<number> {
    await this.waitUntilHealthy();
    const port = await this.currentPrimaryPort();
    const server = [this.primary, this.replica].find((s) => s.port === port);
    if (server === undefined) {
      throw new Error(`the sentinels name port ${port}, which is not ours`);
    }
    await server.kill();
    return port;
  }

  /**
   * Waits until every running sentinel names the same primary, not the one
   * on `oldPort`, and that server reports the master role; returns its port.
   */
  async waitForFailover(
    oldPort: number,
    timeout: number = FAILOVER_TIMEOUT,
  ): Promise<number> {
    let newPort: number | undefined;
    await waitFor(
      async () => {
        try {
          const seen = await Promise.all(
            this.sentinels.filter((sentinel) => sentinel.running).map(
              (sentinel) => this.#primaryPortSeenBy(sentinel.port),
            ),
          );
          const [port] = seen;
          if (
            port === undefined || port === oldPort ||
            seen.some((other) => other !== port)
          ) {
            return false;
          }
          const [role] = await this.#connections.ask(port, "ROLE") as string[];
          newPort = port;
          return role === "master";
        } catch {
          return false;
        }
      },
      timeout,
      `the sentinels did not fail over from port ${oldPort} within ${timeout} ms`,
    );
    return newPort!;
  }

  /** Stops the sentinels and both servers, and removes their folder. */
  async stop(): Promise<void> {
    this.#connections.close();
    await Promise.all(
      [...this.sentinels, this.primary, this.replica].map((server) =>
        server.stop()
      ),
    );
    await rm(this.#dir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #isHealthy(): Promise<boolean> {
    const sentinels = this.sentinels.filter((sentinel) => sentinel.running);
    const servers = [this.primary, this.replica].filter((server) =>
      server.running
    );
    if (sentinels.length === 0) return false;
    try {
      const primaryPort = await this.#primaryPortSeenBy(sentinels[0].port);
      if (!servers.some((server) => server.port === primaryPort)) return false;
      const replicas = servers.filter((server) => server.port !== primaryPort);
      const synced = await Promise.all(
        replicas.map((replica) =>
          this.#connections.linkIsUp(replica.port, primaryPort)
        ),
      );
      if (!synced.every(Boolean)) return false;
      const healthy = await Promise.all(sentinels.map(async ({ port }) => {
        const ask = async (...args: string[]) =>
          (await this.#connections.ask(
            port,
            "SENTINEL",
            ...args,
            this.name,
          ) as string[][]).map(record);
        const known = await ask("REPLICAS");
        const others = await ask("SENTINELS");
        const listed = (entries: Map<string, string>[], server: RedisServer) =>
          entries.find((entry) => entry.get("port") === String(server.port));
        return await this.#primaryPortSeenBy(port) === primaryPort &&
          // During a failover sentinels ask replicas for INFO every second,
          // so a stale master-link-status here would not hold one back.
          replicas.every((replica) =>
            listed(known, replica)?.get("flags") === "slave"
          ) &&
          sentinels.filter((other) => other.port !== port).every((other) =>
            listed(others, other)?.get("flags") === "sentinel"
          );
      }));
      return healthy.every(Boolean);
    } catch {
      return false;
    }
  }

  async #primaryPortSeenBy(sentinelPort: number): Promise<number> {
    const address = await this.#connections.ask(
      sentinelPort,
      "SENTINEL",
      "GET-MASTER-ADDR-BY-NAME",
      this.name,
    ) as [string, string] | null;
    if (address === null) throw new Error(`no primary named ${this.name}`);
    return Number(address[1]);
  }
}

/** Starts a primary, a replica and three sentinels; see {@linkcode SentinelSet}. */
export function startSentinelSet(
  options?: SentinelOptions,
): Promise<SentinelSet> {
  return SentinelSet.start(options);
}

/**
 * A port that is free, whose cluster bus port (+10000) is free too, and that
 * clashes with none of `taken`, to which both are added. Both lie below the
 * ephemeral ports (32768 and up on Linux, 49152 on macOS), where `freePort`
 * picks and where every client connection takes its local port, so no
 * passing connection holds them.
 */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = LOWEST_PORT +
      Math.floor(
        Math.random() * (EPHEMERAL_PORTS - BUS_PORT_OFFSET - LOWEST_PORT),
      );
    const bus = port + BUS_PORT_OFFSET;
    if (taken.has(port) || taken.has(bus)) continue;
    if (await canListen(port) && await canListen(bus)) {
      taken.add(port).add(bus);
      return port;
    }
  }
  throw new Error(
    `found no free port pair for a cluster node in ${PORT_ATTEMPTS} tries`,
  );
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** One line of `CLUSTER NODES`. */
interface NodeEntry {
  id: string;
  port: number;
  /** Such as `master`, `slave`, `myself`, `fail?` or `fail`. */
  flags: string[];
  /** The id of its primary, for a replica. */
  primaryId: string | undefined;
  link: string;
  /** Inclusive ranges of the slots it serves. */
  slots: [number, number][];
}

function parseNodes(text: string): NodeEntry[] {
  return text.trim().split("\n").map((line) => {
    const [id, address, flags, primaryId, , , , link, ...slots] = line.trim()
      .split(" ");
    const hostPort = address.split("@")[0];
    return {
      id,
      port: Number(hostPort.slice(hostPort.lastIndexOf(":") + 1)),
      flags: flags.split(","),
      primaryId: primaryId === "-" ? undefined : primaryId,
      link,
      // Slots being migrated show as [slot->-id]; they are not served yet.
      slots: slots.filter((range) => !range.startsWith("[")).map((range) => {
        const [first, last = first] = range.split("-").map(Number);
        return [first, last];
      }),
    };
  });
}

function isPrimary(entry: NodeEntry): boolean {
  return entry.flags.includes("master");
}

// A node's view without what differs from node to node (who is "myself").
function describe(view: NodeEntry[]): string {
  return view.map((entry) =>
    [
      entry.id,
      entry.port,
      entry.flags.filter((flag) => flag !== "myself").sort().join(","),
      entry.primaryId,
      entry.link,
      entry.slots.join(" "),
    ].join(" ")
  ).sort().join("\n");
}

/** The `name:value` lines of an INFO-style reply. */
function fields(text: string): Map<string, string> {
  return new Map(
    text.split("\r\n").filter((line) => line.includes(":")).map((line) => {
      const at = line.indexOf(":");
      return [line.slice(0, at), line.slice(at + 1)];
    }),
  );
}

/** A sentinel's flat `[name, value, name, value, …]` reply as a map. */
function record(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i], flat[i + 1]);
  return map;
}

type Reply = string | number | null | Reply[];

/**
 * One raw connection per port for the fixtures' own commands, opened on
 * first use and kept until `close`. (Polling over a fresh connection each
 * time leaves thousands of closed sockets in TIME_WAIT, whose ports no
 * server can then listen on.)
 */
class AdminConnections {
  readonly #open = new Map<number, AdminConnection>();

  /** Sends a command; an error reply, a lost connection or no reply in time rejects. */
  ask(port: number, ...args: string[]): Promise<Reply> {
    let connection = this.#open.get(port);
    if (connection === undefined || connection.closed) {
      connection = new AdminConnection(port);
      this.#open.set(port, connection);
    }
    return connection.ask(args);
  }

  async askText(port: number, ...args: string[]): Promise<string> {
    const reply = await this.ask(port, ...args);
    if (typeof reply !== "string") throw new Error(`${args[0]}: not text`);
    return reply;
  }

  /**
   * Whether the replica on `port` has finished syncing with its primary, or
   * with the one on `primaryPort` when that is given.
   */
  async linkIsUp(port: number, primaryPort?: number): Promise<boolean> {
    try {
      const info = fields(await this.askText(port, "INFO", "replication"));
      return info.get("master_link_status") === "up" &&
        (primaryPort === undefined ||
          info.get("master_port") === String(primaryPort));
    } catch {
      return false;
    }
  }

  close(): void {
    for (const connection of this.#open.values()) connection.close();
    this.#open.clear();
  }
}

/** A plain node-redis connection to one server, speaking RESP2. */
class AdminConnection {
  readonly #client;
  readonly #connected: Promise<unknown>;
  #closed = false;

  constructor(port: number) {
    this.#client = createClient({
      RESP: 2,
      socket: {
        host: HOST,
        port,
        connectTimeout: COMMAND_TIMEOUT,
        // A server that went away is met with a new connection on the next
        // command (see AdminConnections), not retried in the background.
        reconnectStrategy: false,
      },
      commandOptions: { timeout: COMMAND_TIMEOUT },
    });
    this.#client.on("error", () => {
      this.#closed = true;
    });
    this.#connected = this.#client.connect().catch((error) => {
      this.#closed = true;
      throw error;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  async ask(args: string[]): Promise<Reply> {
    await this.#connected;
    return await this.#client.sendCommand(args) as Reply;
  }

  close(): void {
    this.#closed = true;
    this.#client.destroy();
  }
}
