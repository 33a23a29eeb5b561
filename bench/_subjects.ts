// The things the comparison measures, each behind one small shape: this
// cache, the raw clients under it, and the peers a user could pick instead
// (Redis layer only). Runs on Deno, Bun and Node alike.

import { Buffer } from "node:buffer";
import { recordedStoreCommand } from "../_history/recorded_store.ts";

/** One thing to measure: the same get/set work, however it is spelled. */
export interface Subject {
  /** Writes `value` for the get cases and returns the key to read it by. */
  prime(key: string, value: string): Promise<string>;
  get(key: string): Promise<unknown>;
  /**
   * Writes `value` under a new key, as `store` does: the set cases. Each
   * subject makes its own key, so each pays for one UUID.
   */
  writeNew(value: string): Promise<unknown>;
  /** Many keys in one call, where the subject has such a call. */
  getMany?(keys: string[]): Promise<unknown>;
  /** The operations worth measuring, when not all of them. */
  readonly ops?: readonly ("get" | "set" | "getMany")[];
  close(): Promise<void>;
}

/** Names of the subjects, in the order the report lists them. */
export const SUBJECTS = [
  "cache",
  "cache (no history)",
  "cache (coalesce off)",
  "cache (l1)",
  "cache (tagged)",
  "node-redis",
  "bun RedisClient",
  "raw client, batched by hand",
  "raw client, store script",
  "ioredis",
  "keyv",
  "cache-manager",
  "bentocache",
] as const;

/** A subject's name. */
export type SubjectName = typeof SUBJECTS[number];

const AS_BYTES = { typeMapping: { 36: Buffer } };

const newKey = () => `bench:${crypto.randomUUID()}`;

// A subject whose set takes a key: primes by setting it, and writes new
// keys of its own making.
function keyed(
  subject: Omit<Subject, "prime" | "writeNew"> & {
    set(key: string, value: string): Promise<unknown>;
  },
): Subject {
  return {
    ...subject,
    prime: (key, value) => subject.set(key, value).then(() => key),
    writeNew: (value) => subject.set(newKey(), value),
  };
}

/** Opens `name` against the Redis at `url`. */
export async function openSubject(
  name: SubjectName,
  url: string,
): Promise<Subject> {
  switch (name) {
    case "cache":
    case "cache (no history)":
    case "cache (coalesce off)":
    case "cache (l1)":
    case "cache (tagged)": {
      const { Cache } = await import("../mod.ts");
      const cache = await Cache.connect({
        url,
        flush: false,
        coalesce: name !== "cache (coalesce off)",
        history: name !== "cache (no history)",
        // Gets after the first come from process memory.
        ...(name === "cache (l1)" ? { l1: {} } : {}),
      });
      // Tagged entries are read as any other; their stores go alone, in
      // the tags' script.
      const options = name === "cache (tagged)"
        ? { tags: ["bench", "bench:other"] }
        : undefined;
      return {
        prime: (_key, value) => cache.store(value, options),
        get: (key) => cache.get(key),
        // The exercise's store picks its own key and records the call.
        writeNew: (value) => cache.store(value, options),
        getMany: (keys) => cache.getMany(keys),
        // The L1 changes only get; its writes and batches are the cache's.
        ...(name === "cache (l1)" ? { ops: ["get"] as const } : {}),
        ...(name === "cache (tagged)" ? { ops: ["get", "set"] as const } : {}),
        close: () => cache.close(),
      };
    }
    case "node-redis": {
      const { client, asBytes } = await openNodeRedis(url);
      return keyed({
        get: (key) => asBytes.sendCommand(["GET", key]),
        set: (key, value) => client.sendCommand(["SET", key, value]),
        getMany: (keys) => asBytes.sendCommand(["MGET", ...keys]),
        close: () => Promise.resolve(client.destroy()),
      });
    }
    case "bun RedisClient": {
      const client = (await openBunRedis(url))!;
      return keyed({
        get: (key) => client.getBuffer(key),
        set: (key, value) => client.set(key, value),
        // Bun's mget decodes values as text; getBuffer per key is its binary-safe batch.
        getMany: (keys) =>
          Promise.all(keys.map((key) => client.getBuffer(key))),
        close: () => Promise.resolve(client.close()),
      });
    }
    case "raw client, batched by hand":
      return await batchedByHand(url);
    case "raw client, store script":
      return await storeScriptByHand(url);
    case "ioredis": {
      const { Redis } = await import("ioredis");
      const client = new Redis(url, { lazyConnect: true });
      client.on("error", () => {});
      await client.connect();
      return keyed({
        get: (key) => client.getBuffer(key),
        set: (key, value) => client.set(key, value),
        getMany: (keys) => client.mgetBuffer(keys),
        close: () => Promise.resolve(client.disconnect()),
      });
    }
    case "keyv": {
      const { default: Keyv } = await import("keyv");
      const { default: KeyvRedis } = await import("@keyv/redis");
      const keyv = new Keyv(new KeyvRedis(url));
      return keyed({
        get: (key) => keyv.get(key),
        set: (key, value) => keyv.set(key, value),
        getMany: (keys) => keyv.getMany(keys),
        close: () => keyv.disconnect(),
      });
    }
    case "cache-manager": {
      const { default: Keyv } = await import("keyv");
      const { default: KeyvRedis } = await import("@keyv/redis");
      const { createCache } = await import("cache-manager");
      const store = new Keyv({ store: new KeyvRedis(url) });
      const cache = createCache({ stores: [store] });
      return keyed({
        get: (key) => cache.get(key),
        set: (key, value) => cache.set(key, value),
        getMany: (keys) => cache.mget(keys),
        close: () => cache.disconnect().then(() => {}),
      });
    }
    case "bentocache": {
      const { BentoCache, bentostore } = await import("bentocache");
      const { redisDriver } = await import("bentocache/drivers/redis");
      const { hostname, port } = new URL(url);
      const bento = new BentoCache({
        default: "redis",
        stores: {
          redis: bentostore().useL2Layer(
            redisDriver({ connection: { host: hostname, port: Number(port) } }),
          ),
        },
      });
      return keyed({
        get: (key) => bento.get({ key }),
        set: (key, value) => bento.set({ key, value }),
        close: () => bento.disconnect(),
      });
    }
  }
}

/**
 * The raw client with the least a batch of gets can cost: the gets of a
 * tick gathered by hand into one MGET (what the cache sends for them once
 * its batches keep finding every key), each caller handed its value,
 * nothing else: no validation, deadline, stats or error per key, and no
 * check for keys of another type. The floor under the cache's coalesced
 * get, measured beside it. On Bun, whose MGET gives text, the values are
 * encoded back to bytes (exact for UTF-8 values such as these).
 */
async function batchedByHand(url: string): Promise<Subject> {
  const bun = await openBunRedis(url);
  let mget: (keys: string[]) => Promise<unknown[]>;
  let set: (key: string, value: string) => Promise<unknown>;
  let close: () => void;
  if (bun !== undefined) {
    const client = bun;
    const encoder = new TextEncoder();
    mget = async (keys) => {
      const values = await client.send("MGET", keys) as (string | null)[];
      return values.map((value) =>
        value === null ? null : encoder.encode(value)
      );
    };
    set = (key, value) => client.set(key, value);
    close = () => client.close();
  } else {
    const { client, asBytes } = await openNodeRedis(url);
    mget = (keys) =>
      asBytes.sendCommand(["MGET", ...keys]) as Promise<unknown[]>;
    set = (key, value) => client.sendCommand(["SET", key, value]);
    close = () => client.destroy();
  }
  const resolved = Promise.resolve();
  let keys: string[] = [];
  let callers: ((value: unknown) => void)[] = [];
  const flush = () => {
    const batch = keys;
    const waiting = callers;
    keys = [];
    callers = [];
    mget(batch).then((values) => {
      for (let i = 0; i < waiting.length; i++) waiting[i](values[i]);
    });
  };
  return keyed({
    get: (key) =>
      new Promise((resolve) => {
        // A resolved promise's then: Node's queueMicrotask costs more.
        if (keys.length === 0) resolved.then(flush);
        keys.push(key);
        callers.push(resolve);
      }),
    set,
    ops: ["get"],
    close: () => Promise.resolve(close()),
  });
}

/**
 * The raw client sending what `store` sends for a call made alone: the
 * script that keeps the Python history (EVALSHA), with a fresh key, the
 * value, its input and its output, and nothing else (no check, deadline or
 * count). redis-benchmark running that script has no runtime or client in
 * its round trip; this is what a store through this client costs before the
 * cache does anything, measured beside the cache.
 */
async function storeScriptByHand(url: string): Promise<Subject> {
  const bun = await openBunRedis(url);
  let send: (args: string[]) => Promise<unknown>;
  let close: () => void;
  if (bun !== undefined) {
    send = ([command, ...args]) => bun.send(command, args);
    close = () => bun.close();
  } else {
    const { client } = await openNodeRedis(url);
    send = (args) => client.sendCommand(args);
    close = () => client.destroy();
  }
  const history = {
    count: "Cache.store",
    inputs: "Cache.store:inputs",
    outputs: "Cache.store:outputs",
  };
  const store = (value: string, loading = false) => {
    const key = newKey();
    const write = {
      redisKey: key,
      value,
      ttl: undefined,
      // What the cache records of store(value) for an ASCII value.
      record: { input: `('${value}',)`, output: key },
    };
    return send(
      recordedStoreCommand(history, [write], loading).map(String),
    ).then(() => key);
  };
  // EVAL once, so that the server has the script for the EVALSHAs after.
  await store("loads the script", true);
  return {
    prime: (_key, value) => store(value),
    get: () => Promise.reject(new Error("this subject only stores")),
    writeNew: (value) => store(value),
    ops: ["set"],
    close: () => Promise.resolve(close()),
  };
}

/** The part of Bun's `RedisClient` the raw subjects use. */
interface BunRedis {
  connect(): Promise<void>;
  getBuffer(key: string): Promise<unknown>;
  send(command: string, args: string[]): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
  close(): void;
}

/** A connected Bun `RedisClient`, or `undefined` off Bun. */
async function openBunRedis(url: string): Promise<BunRedis | undefined> {
  const bun = (globalThis as unknown as {
    Bun?: { RedisClient: new (url: string) => BunRedis };
  }).Bun;
  if (bun === undefined) return undefined;
  const client = new bun.RedisClient(url);
  await client.connect();
  return client;
}

/**
 * A connected node-redis client, configured as the cache configures it,
 * and a view of it that reads bulk strings as bytes.
 */
async function openNodeRedis(url: string) {
  const { createClient } = await import("redis");
  // node-redis's own per-command timeout makes an AbortSignal.timeout per
  // command, whose timers all fire five seconds later and would charge that
  // work to whichever subject is measured then. (The cache bounds commands
  // itself.)
  const client = createClient({ url, commandOptions: { timeout: 0 } });
  client.on("error", () => {});
  await client.connect();
  // Bytes through a view made once with them as its default, as the cache
  // reads them: options passed with each command cost node-redis an object
  // spread and more a call.
  return { client, asBytes: client.withTypeMapping(AS_BYTES.typeMapping) };
}
