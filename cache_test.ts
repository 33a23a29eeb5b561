// The conformance suite: every rule of `Cache`, against a real redis-server,
// once per driver of the runtime running it (Deno, Bun or Node).

import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import {
  Cache,
  CacheError,
  CommandError,
  ConnectionError,
  DecodeError,
} from "./mod.ts";
import { userWithoutScripts } from "./_testing/acl.ts";
import { connectRaw } from "./_testing/raw_client.ts";
import { redisForThisFile } from "./_testing/redis_server.ts";
import { runtime } from "./_testing/runtime.ts";
import { skipBecause } from "./_testing/skip.ts";
import {
  type CountingProxy,
  startCountingProxy,
} from "./_testing/counting_proxy.ts";
import {
  connectDbRedis,
  dbRedisMissing,
  driverCases,
} from "./_testing/drivers.ts";

const UUID_V4 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const encoder = new TextEncoder();

const { server, raw } = await redisForThisFile();

function allByteValues(): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, i) => i);
}

/** Where a driver connects to reach the server through `proxy`. */
function proxyAt(proxy: CountingProxy): { url(): string } {
  return { url: () => `redis://127.0.0.1:${proxy.port}` };
}

/** How many times each command ran on the server since CONFIG RESETSTAT. */
async function commandCalls(): Promise<Record<string, number>> {
  // RESP3 sends INFO as a verbatim string, which node-redis gives as text.
  const reply = await raw.send("INFO", "commandstats");
  const info = reply instanceof Uint8Array
    ? new TextDecoder().decode(reply)
    : String(reply);
  return Object.fromEntries(
    [...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map((
      [, name, calls],
    ) => [name, Number(calls)]),
  );
}

for (const driver of driverCases) {
  const on = `[${driver.name}]`;

  test(`${on} store returns a fresh lowercase v4 UUID and writes the exact UTF-8 bytes`, async () => {
    await using connection = await driver.connect(server);
    const text = "héllo wörld ☃ 🎉 \u0000 \ufeff";
    const keys = await Promise.all(
      [1, 2, 3].map(() => connection.cache.store(text)),
    );
    for (const key of keys) assert.match(key, UUID_V4);
    assert.equal(new Set(keys).size, 3);
    assert.deepEqual(await raw.getBytes(keys[0]), encoder.encode(text));
    assert.equal(await connection.cache.getStr(keys[0]), text);
  });

  test(`${on} all 256 byte values and a random 1 MiB buffer round-trip exactly`, async () => {
    await using connection = await driver.connect(server);
    const { cache } = connection;
    for (
      const bytes of [allByteValues(), new Uint8Array(randomBytes(1 << 20))]
    ) {
      const key = await cache.store(bytes);
      assert.deepEqual(await raw.getBytes(key), bytes, "bytes in Redis");
      const read = await cache.get(key);
      assert.ok(read instanceof Uint8Array);
      assert.equal(Object.getPrototypeOf(read), Uint8Array.prototype);
      assert.deepEqual(read, bytes, "bytes read back");
    }
  });

  test(
    `${on} a small value read keeps no reply buffer alive: its bytes are its own`,
    {
      skip: skipBecause(
        import.meta.url,
        runtime === "deno"
          ? "on Deno a copy costs an ArrayBuffer each (ten times a view), so small values stay views of the reply there"
          : driver.name === "@db/redis client" &&
            "@db/redis replies are plain Uint8Arrays, handed out as they are",
      ),
    },
    async () => {
      await using connection = await driver.connect(server);
      const { cache } = connection;
      const keys = await cache.storeMany(
        Array.from({ length: 3 }, (_, i) => `sixteen bytes #${i}`),
      );
      const reads = [
        await cache.get(keys[0]),
        ...await Promise.all(keys.map((key) => cache.get(key))),
        ...await cache.getMany(keys),
      ];
      // The lone get, the coalesced batch, then getMany.
      const expected = [0, 0, 1, 2, 0, 1, 2].map((i) => `sixteen bytes #${i}`);
      for (const [i, bytes] of reads.entries()) {
        assert.ok(bytes !== null);
        assert.equal(new TextDecoder().decode(bytes), expected[i]);
        // A view of the client's reply would hold its whole read buffer.
        assert.equal(bytes.buffer.byteLength, bytes.byteLength, `read ${i}`);
      }
    },
  );

  test(`${on} bytes written by another client read back exactly, a Buffer stores as its bytes`, async () => {
    await using connection = await driver.connect(server, { flush: false });
    const bytes = new Uint8Array(randomBytes(4096));
    await raw.send("SET", "written-raw", bytes);
    assert.deepEqual(await connection.cache.get("written-raw"), bytes);
    const slice = Buffer.from(bytes).subarray(10, 20);
    const key = await connection.cache.store(slice);
    assert.deepEqual(await raw.getBytes(key), bytes.slice(10, 20));
  });

  test(`${on} 200 concurrent gets of distinct values each get their own bytes`, async () => {
    await using connection = await driver.connect(server);
    const values = Array.from(
      { length: 200 },
      (_, i) => new Uint8Array(randomBytes(100 + i * 37)),
    );
    const keys = await Promise.all(
      values.map((value) => connection.cache.store(value)),
    );
    const read = await Promise.all(
      keys.map((key) => connection.cache.get(key)),
    );
    read.forEach((bytes, i) =>
      assert.deepEqual(bytes, values[i], `value ${i}`)
    );
  });

  test(`${on} numbers and bigints are stored as String(n) writes them`, async () => {
    await using connection = await driver.connect(server);
    const { cache } = connection;
    const cases: [number | bigint, string][] = [
      [42, "42"],
      [-7, "-7"],
      [3.14, "3.14"],
      [1e-7, "1e-7"],
      [1e21, "1e+21"],
      [-0, "0"],
      [2n ** 70n, "1180591620717411303424"],
    ];
    for (const [value, text] of cases) {
      const key = await cache.store(value);
      assert.deepEqual(await raw.getBytes(key), encoder.encode(text), text);
      assert.equal(await cache.getStr(key), text);
    }
    assert.equal(await cache.getInt(await cache.store(42)), 42);
    assert.equal(
      await cache.getBigInt(await cache.store(2n ** 70n)),
      2n ** 70n,
    );
  });

  test(`${on} get gives null for a missing key and does not call fn`, async () => {
    await using connection = await driver.connect(server);
    const { cache } = connection;
    let calls = 0;
    const missing = crypto.randomUUID();
    assert.equal(await cache.get(missing), null);
    assert.equal(await cache.get(missing, () => ++calls), null);
    assert.equal(await cache.getStr(missing), null);
    assert.equal(await cache.getInt(missing), null);
    assert.equal(await cache.getBigInt(missing), null);
    assert.equal(calls, 0);
  });

  test(`${on} fn is called for an empty value, and async fn results are awaited`, async () => {
    await using connection = await driver.connect(server);
    const { cache } = connection;
    const key = await cache.store("");
    assert.deepEqual(await raw.getBytes(key), new Uint8Array());
    assert.equal(
      await cache.get(key, (bytes) => `length ${bytes.length}`),
      "length 0",
    );
    assert.equal(await cache.getStr(key), "");
    const bytesKey = await cache.store(new Uint8Array());
    assert.deepEqual(await cache.get(bytesKey), new Uint8Array());
    const doubled: number | null = await cache.get(
      await cache.store("21"),
      (bytes) => Promise.resolve(Number(new TextDecoder().decode(bytes)) * 2),
    );
    assert.equal(doubled, 42);
  });

  test(`${on} getStr rejects invalid UTF-8 with a DecodeError naming the key, not the value`, async () => {
    await using connection = await driver.connect(server);
    const secret = new Uint8Array([
      0x73,
      0x65,
      0x63,
      0x72,
      0x65,
      0x74,
      0xff,
      0xfe,
    ]);
    const key = await connection.cache.store(secret);
    const error = await connection.cache.getStr(key).catch((e) => e);
    assert.ok(error instanceof DecodeError, String(error));
    assert.ok(error instanceof CacheError);
    assert.equal(error.key, key);
    assert.ok(error.message.includes(key));
    assert.ok(!error.message.includes("secret"));
    // A leading byte-order mark is kept, as Python's bytes.decode does.
    const bomKey = await connection.cache.store(
      new Uint8Array([0xef, 0xbb, 0xbf, 0x61]),
    );
    assert.equal(await connection.cache.getStr(bomKey), "\ufeffa");
  });

  test(`${on} namespace prefixes keys in Redis while store returns the bare UUID`, async () => {
    await using connection = await driver.connect(server, {
      namespace: "ns-test",
    });
    const { cache } = connection;
    assert.equal(cache.namespace, "ns-test");
    const key = await cache.store("inside");
    assert.match(key, UUID_V4);
    assert.deepEqual(
      await raw.getBytes(`ns-test:${key}`),
      encoder.encode("inside"),
    );
    assert.equal(await raw.getBytes(key), null);
    assert.equal(await cache.getStr(key), "inside");
  });

  test(`${on} a server-side error such as WRONGTYPE rejects with a CommandError`, async () => {
    await using connection = await driver.connect(server, { flush: false });
    await raw.send("DEL", "a-list");
    await raw.send("RPUSH", "a-list", "x");
    const error = await connection.cache.get("a-list").catch((e) => e);
    assert.ok(error instanceof CommandError, String(error));
    assert.equal(error.code, "WRONGTYPE");
    assert.ok(error instanceof CacheError);
  });

  test(`${on} getMany reads exact bytes in order, missing keys as null`, async () => {
    await using connection = await driver.connect(server);
    const { cache } = connection;
    const values = [
      allByteValues(),
      new Uint8Array(),
      new Uint8Array(randomBytes(70_000)),
    ];
    const keys = await cache.storeMany(values);
    const read = await cache.getMany([keys[0], "missing", keys[1], keys[2]]);
    assert.deepEqual(read, [values[0], null, values[1], values[2]]);
    for (const bytes of read) {
      if (bytes !== null) {
        assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
      }
    }
  });

  // Bun's client gives MGET's values as text: these are the values whose
  // text does not tell their bytes, and the ones it does.
  test(`${on} getMany and coalesced gets return exactly the stored bytes of text and non-text values, WRONGTYPE for a list key alone`, async () => {
    const values: Record<string, Uint8Array> = {
      "0x80": Uint8Array.of(0x80),
      "0xff": Uint8Array.of(0xff),
      "lone continuation": Uint8Array.of(0x61, 0x80, 0x62),
      "truncated sequence": Uint8Array.of(0x61, 0xe2, 0x82),
      "real U+FFFD": Uint8Array.of(0x61, 0xef, 0xbf, 0xbd, 0x62),
      "encoded surrogate": Uint8Array.of(0xed, 0xa0, 0x80),
      "overlong NUL": Uint8Array.of(0xc0, 0x80),
      "leading BOM": Uint8Array.of(0xef, 0xbb, 0xbf, 0x41),
      "BOM alone": Uint8Array.of(0xef, 0xbb, 0xbf),
      "NUL bytes": Uint8Array.of(0, 0x41, 0),
      "empty": new Uint8Array(),
      "4-byte UTF-8": encoder.encode("😀 ok 😀"),
      "other UTF-8": encoder.encode("naïve ☃ 東京"),
      "ASCII": encoder.encode("plain"),
      "1 MiB random": new Uint8Array(randomBytes(1 << 20)),
    };
    const names = Object.keys(values);
    const keys = names.map((name) => `exact:${name}`);
    for (const [i, name] of names.entries()) {
      await raw.send("SET", keys[i], values[name]);
    }
    await raw.send("DEL", "exact-list");
    await raw.send("RPUSH", "exact-list", "x");
    const expected = [...names.map((name) => values[name]), null];
    const check = (read: unknown[], how: string) =>
      read.forEach((bytes, i) => {
        assert.deepEqual(bytes, expected[i], `${how}: ${names[i] ?? "a miss"}`);
        if (bytes !== null) {
          assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
        }
      });

    // A connection of its own for each: its first batch reads as text.
    await using forMany = await driver.connect(server, { flush: false });
    const many = await forMany.cache.getMany([...keys, "exact-missing"]);
    check(many, "getMany");
    // MGET reads a key of another type as missing.
    assert.deepEqual(
      await forMany.cache.getMany(["exact-list", keys[0]]),
      [null, values["0x80"]],
    );

    await using forEach = await driver.connect(server, { flush: false });
    const outcomes = await Promise.allSettled([
      ...keys.map((key) => forEach.cache.get(key)),
      forEach.cache.get("exact-missing"),
      forEach.cache.get("exact-list"),
    ]);
    const list = outcomes.pop() as PromiseRejectedResult;
    assert.equal(list.status, "rejected");
    assert.ok(list.reason instanceof CommandError, String(list.reason));
    assert.equal(list.reason.code, "WRONGTYPE");
    check(
      outcomes.map((outcome) => {
        assert.equal(outcome.status, "fulfilled", String(outcome));
        return (outcome as PromiseFulfilledResult<unknown>).value;
      }),
      "coalesced gets",
    );
    await raw.send("DEL", "exact-list", ...keys);
  });

  test(`${on} getMany of values whose text does not tell their bytes, or of large values, reads them with getBuffer for a while on Bun's client, then tries MGET again`, async () => {
    await using connection = await driver.connect(server);
    const { cache } = connection;
    const binary = Array.from(
      { length: 100 },
      (_, i) => Uint8Array.of(0xff, i),
    );
    const binaryKeys = await cache.storeMany(binary);
    const textValues = ["a", "b", "c"].map((t) => encoder.encode(t));
    const text = await cache.storeMany(textValues);
    await raw.send("DEL", "policy-list");
    await raw.send("RPUSH", "policy-list", "x");
    const calls = async (keys: string[], expected: unknown[]) => {
      await raw.send("CONFIG", "RESETSTAT");
      assert.deepEqual(await cache.getMany(keys), expected);
      const ran = await commandCalls();
      return [ran.mget ?? 0, ran.get ?? 0];
    };
    const rounds = [];
    // A key of another type reads as missing however the batch is read.
    for (let i = 0; i < 5; i++) {
      rounds.push(
        await calls([...binaryKeys, "policy-list"], [...binary, null]),
      );
    }
    for (let i = 0; i < 3; i++) rounds.push(await calls(text, textValues));
    assert.deepEqual(
      rounds,
      driver.bunClient
        ? [
          // MGET, then each value again: the next batch skips MGET; the try
          // after it fails again, and the next two skip it. The GET of the
          // list fails alone: each key is read once.
          [1, 100],
          [0, 101],
          [1, 100],
          [0, 101],
          [0, 101],
          // Text again: the first batch that tries MGET reads them all.
          [1, 0],
          [1, 0],
          [1, 0],
        ]
        : Array(8).fill([1, 0]),
    );

    // Large values: text does not pay for them whatever they hold, so no
    // MGET is tried while a batch read as bytes finds them large.
    await using fresh = await driver.connect(server, { flush: false });
    const large = Array.from(
      { length: 10 },
      (_, i) => encoder.encode(String(i).repeat(4096)),
    );
    const largeKeys = await fresh.cache.storeMany(large);
    const sizes = [];
    for (let i = 0; i < 4; i++) {
      await raw.send("CONFIG", "RESETSTAT");
      assert.deepEqual(await fresh.cache.getMany(largeKeys), large);
      const ran = await commandCalls();
      sizes.push([ran.mget ?? 0, ran.get ?? 0]);
    }
    for (let i = 0; i < 2; i++) {
      await raw.send("CONFIG", "RESETSTAT");
      assert.deepEqual(await fresh.cache.getMany(text), textValues);
      const ran = await commandCalls();
      sizes.push([ran.mget ?? 0, ran.get ?? 0]);
    }
    assert.deepEqual(
      sizes,
      driver.bunClient
        ? [[1, 0], [0, 10], [0, 10], [0, 10], [0, 3], [1, 0]]
        : Array(6).fill([1, 0]),
    );
  });

  test(`${on} getMany of 1000 keys is one MGET, of 10 000 keys one round trip: one MGET, or with Bun's client one MGET per 1000 keys`, async () => {
    await using proxy = await startCountingProxy(server.port);
    await using connection = await driver.connect(proxyAt(proxy));
    const { cache } = connection;
    const many = Array.from({ length: 10_000 }, (_, i) => `v${i} ☃`);
    const manyKeys = await cache.storeMany(many);
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    proxy.reset();
    await raw.send("CONFIG", "RESETSTAT");
    assert.deepEqual(
      await cache.getMany(manyKeys.slice(0, 1000), decode),
      many.slice(0, 1000),
    );
    assert.deepEqual(
      proxy.commands().map(({ name, key, arguments: count }) => [
        name,
        key,
        count,
      ]),
      [["MGET", manyKeys[0], 1000]],
    );
    const first = await commandCalls();
    assert.deepEqual([first.mget, first.get], [1, undefined]);

    proxy.reset();
    await raw.send("CONFIG", "RESETSTAT");
    assert.deepEqual(await cache.getMany(manyKeys, decode), many);
    const sent = proxy.commands();
    assert.equal(proxy.turns(), 1);
    const ran = await commandCalls();
    if (driver.bunClient) {
      // Chunked, so that Bun parses one reply while Redis writes the next.
      assert.deepEqual(
        sent.map(({ name, key, arguments: count }) => [name, key, count]),
        manyKeys.filter((_, i) => i % 1000 === 0).map((key) => [
          "MGET",
          key,
          1000,
        ]),
      );
      assert.deepEqual([ran.mget, ran.get], [10, undefined]);
    } else {
      assert.deepEqual(
        sent.map(({ name, key, arguments: count }) => [name, key, count]),
        [["MGET", manyKeys[0], 10_000]],
      );
      assert.deepEqual([ran.mget, ran.get], [1, undefined]);
    }
  });

  test(`${on} storeMany writes exact bytes, with an expiry when asked`, async () => {
    await using connection = await driver.connect(server);
    const { cache } = connection;
    const values = [allByteValues(), "naïve", 42];
    const plain = await cache.storeMany(values);
    const expiring = await cache.storeMany(values, { ttl: 60_000 });
    for (const keys of [plain, expiring]) {
      assert.deepEqual(await raw.getBytes(keys[0]), allByteValues());
      assert.deepEqual(await raw.getBytes(keys[1]), encoder.encode("naïve"));
      assert.deepEqual(await raw.getBytes(keys[2]), encoder.encode("42"));
    }
    assert.equal(await raw.send("PTTL", plain[0]), -1);
    const ttl = Number(await raw.send("PTTL", expiring[2]));
    assert.ok(ttl > 50_000 && ttl <= 60_000, `PTTL ${ttl}`);
  });

  test(`${on} get with touch resets the expiry in the same round trip: one script (GETEX, and tags' bookkeeping for a tagged key), or with Bun's client GET and the expiry's script`, async () => {
    await using proxy = await startCountingProxy(server.port);
    await using connection = await driver.connect(proxyAt(proxy), {
      ttl: 60_000,
    });
    const { cache } = connection;
    const key = await cache.store(allByteValues(), { ttl: 1_000 });
    proxy.reset();
    assert.deepEqual(
      await cache.get(key, undefined, { touch: true }),
      allByteValues(),
    );
    assert.equal(proxy.turns(), 1);
    // The first call of a script sends it (EVAL), the script where a
    // command's key would be.
    assert.deepEqual(
      proxy.commands().map(({ name, key, turn }) => [
        name,
        name === "EVAL" ? "(script)" : key,
        turn,
      ]),
      driver.bunClient
        ? [["GET", key, 1], ["EVAL", "(script)", 1]]
        : [["EVAL", "(script)", 1]],
    );
    const reset = Number(await raw.send("PTTL", key));
    assert.ok(reset > 50_000, `PTTL ${reset}`);
    assert.deepEqual(
      await cache.get(key, undefined, { touch: 5_000 }),
      allByteValues(),
    );
    const shorter = Number(await raw.send("PTTL", key));
    assert.ok(shorter > 0 && shorter <= 5_000, `PTTL ${shorter}`);
    assert.equal(await cache.get("missing", undefined, { touch: 5_000 }), null);
    assert.equal(await raw.send("EXISTS", "missing"), 0);
  });

  test(`${on} a touch of a key of another type fails as GETEX does: WRONGTYPE, named after GETEX and not a script, and its expiry untouched`, async () => {
    await using connection = await driver.connect(server);
    const { cache } = connection;
    const list = `touched-list-${driver.name}`;
    await raw.send("RPUSH", list, "x");
    for (let call = 0; call < 2; call++) {
      const error = await cache.get(list, undefined, { touch: 5_000 }).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.ok(error instanceof CommandError, String(error));
      assert.equal(error.code, "WRONGTYPE");
      assert.match(error.message, /^Redis rejected GETEX: WRONGTYPE /);
      assert.doesNotMatch(error.message, /script/i);
      assert.equal(await raw.send("PTTL", list), -1);
    }
    // PEXPIRE sets any key's expiry, so expire does too.
    assert.equal(await cache.expire(list, 60_000), true);
    assert.ok(Number(await raw.send("PTTL", list)) > 50_000);
  });

  test(`${on} expire and touch work for a user who may not run scripts: the bare PEXPIRE and GETEX (Bun's client: GET and PEXPIRE), sent at once after the first refusal`, async () => {
    // A name that can sit in a URL ("@db/redis client" cannot).
    const user = `noscripts-${driver.name.replaceAll(/[^a-z0-9]+/gi, "-")}`;
    const password = await userWithoutScripts(raw, user);
    await using proxy = await startCountingProxy(server.port);
    await using connection = await driver.connect({
      url: () => `redis://${user}:${password}@127.0.0.1:${proxy.port}`,
    }, { history: false });
    const { cache } = connection;
    const key = await cache.store(allByteValues(), { ttl: 1_000 });
    for (let call = 0; call < 2; call++) {
      proxy.reset();
      assert.deepEqual(
        await cache.get(key, undefined, { touch: 30_000 + call }),
        allByteValues(),
      );
      const touched = Number(await raw.send("PTTL", key));
      assert.ok(touched > 25_000 && touched <= 30_001, `PTTL ${touched}`);
      assert.equal(await cache.expire(key, 40_000), true);
      const expiring = Number(await raw.send("PTTL", key));
      assert.ok(expiring > 35_000 && expiring <= 40_000, `PTTL ${expiring}`);
      if (call === 1) {
        // Remembered: no script is tried again.
        assert.deepEqual(
          proxy.commands().map(({ name, key, turn }) => [name, key, turn]),
          driver.bunClient
            ? [["GET", key, 1], ["PEXPIRE", key, 1], ["PEXPIRE", key, 2]]
            : [["GETEX", key, 1], ["PEXPIRE", key, 2]],
        );
      }
    }
    assert.equal(await cache.expire("missing", 40_000), false);
    assert.equal(await cache.get("missing", undefined, { touch: 1_000 }), null);
    assert.equal(cache.stats().errors, 0);
  });

  test(`${on} gets in the same tick are coalesced, and each gets its own value, miss or WRONGTYPE`, async () => {
    await using connection = await driver.connect(server);
    const { cache } = connection;
    const values = Array.from(
      { length: 50 },
      (_, i) => new Uint8Array(randomBytes(i * 7)),
    );
    const keys = await cache.storeMany(values);
    await raw.send("RPUSH", "coalesced-list", "x");
    const outcomes = await Promise.allSettled([
      ...keys.map((key) => cache.get(key)),
      cache.get("coalesced-missing"),
      cache.get("coalesced-list"),
    ]);
    values.forEach((value, i) =>
      assert.deepEqual(outcomes[i], { status: "fulfilled", value })
    );
    assert.deepEqual(outcomes[50], { status: "fulfilled", value: null });
    const listOutcome = outcomes[51] as PromiseRejectedResult;
    assert.equal(listOutcome.status, "rejected");
    assert.ok(
      listOutcome.reason instanceof CommandError,
      String(listOutcome.reason),
    );
    assert.equal(listOutcome.reason.code, "WRONGTYPE");
  });

  // Bun's test runner stops a test after 5 s unless told otherwise.
  test(`${on} a 100 MB value round-trips`, { timeout: 60_000 }, async () => {
    // The Python-compatible history also records the input's repr (up to
    // 400 MB here), so the default 5 s bound is too tight on a loaded machine.
    await using connection = await driver.connect(server, { timeout: 30_000 });
    const big = new Uint8Array(100_000_000);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    big[big.length - 1] = 0xab;
    const key = await connection.cache.store(big);
    // Read from outside first: a store and a get that were both wrong in the
    // same way would still agree with each other.
    const inRedis = await raw.getBytes(key);
    assert.equal(inRedis?.length, big.length, "length in Redis");
    assert.ok(Buffer.from(inRedis!).equals(Buffer.from(big)), "bytes in Redis");
    const read = await connection.cache.get(key);
    assert.equal(read?.length, big.length);
    assert.ok(Buffer.from(read!).equals(Buffer.from(big)), "bytes read back");
    await raw.send("DEL", key);
  });
}

// With DB_REDIS_MODULE set, the whole suite above also runs on @db/redis.
test(
  "an @db/redis client is recognised as one, reads values byte for byte, and stays open when the cache closes",
  {
    skip: skipBecause(import.meta.url, dbRedisMissing),
  },
  async () => {
    const client = await connectDbRedis(server);
    try {
      const cache = await Cache.connect({ client, flush: false });
      const bytes = allByteValues();
      const key = await cache.store(bytes);
      assert.deepEqual(await raw.getBytes(key), bytes, "bytes in Redis");
      assert.deepEqual(await cache.get(key), bytes, "bytes read back");
      assert.deepEqual(await cache.getMany([key, "missing"]), [bytes, null]);
      await raw.send("RPUSH", "a-list", "x");
      await assert.rejects(
        cache.get("a-list"),
        (error) => error instanceof CommandError && error.code === "WRONGTYPE",
      );
      await cache.close();
      assert.equal(client.isConnected, true, "the user's client is left open");
    } finally {
      client.close();
    }
  },
);

test("flush defaults to true and clears the database, flush: false keeps it", async () => {
  await raw.send("SET", "keep-or-flush", "x");
  await (await Cache.connect({ url: server.url(), flush: false })).close();
  assert.deepEqual(await raw.getBytes("keep-or-flush"), encoder.encode("x"));
  await (await Cache.connect({ url: server.url() })).close();
  assert.equal(await raw.getBytes("keep-or-flush"), null);
});

test("with a namespace, flush clears only that namespace, even with glob characters in it", async () => {
  await raw.send("SET", "outside", "1");
  await raw.send("SET", "n*s:inside", "1");
  await raw.send("SET", "nXs:lookalike", "1");
  await raw.send("SET", "n*s-other", "1");
  for (let i = 0; i < 2500; i++) await raw.send("SET", `n*s:bulk-${i}`, "1");
  await using cache = await Cache.connect({
    url: server.url(),
    namespace: "n*s",
  });
  assert.equal(await raw.send("EXISTS", "n*s:inside"), 0);
  assert.equal(await raw.send("EXISTS", "n*s:bulk-2499"), 0);
  assert.equal(
    await raw.send("EXISTS", "outside", "nXs:lookalike", "n*s-other"),
    3,
  );
  assert.equal(cache.namespace, "n*s");
});

test("the database number in the URL is selected", async () => {
  await using cache = await Cache.connect({ url: server.url(3), flush: false });
  const key = await cache.store("in db 3");
  assert.equal(await raw.getBytes(key), null);
  await using raw3 = await connectRaw(server.url(3));
  assert.deepEqual(await raw3.getBytes(key), encoder.encode("in db 3"));
});

test("REDIS_URL is used when no url is given", async () => {
  const previous = process.env.REDIS_URL;
  process.env.REDIS_URL = server.url(5);
  try {
    await using cache = await Cache.connect({ flush: false });
    const key = await cache.store("via env");
    await using raw5 = await connectRaw(server.url(5));
    assert.deepEqual(await raw5.getBytes(key), encoder.encode("via env"));
  } finally {
    if (previous === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = previous;
  }
});

test("getInt accepts exactly what Python's int() accepts", async () => {
  await using cache = await Cache.connect({ url: server.url(), flush: false });
  const accepted: [string, number][] = [
    ["42", 42],
    ["-7", -7],
    ["+5", 5],
    ["007", 7],
    ["  12\n", 12],
    ["\t\v\f\r 3 \r\n", 3],
    ["1_000", 1000],
    ["0_0", 0],
    ["-0", 0],
    ["9007199254740991", Number.MAX_SAFE_INTEGER],
    ["-9007199254740991", -Number.MAX_SAFE_INTEGER],
  ];
  for (const [text, value] of accepted) {
    await raw.send("SET", "int", text);
    assert.ok(
      Object.is(await cache.getInt("int"), value),
      JSON.stringify(text),
    );
  }
  const rejected = [
    "3.14",
    "abc",
    "",
    " ",
    "1__0",
    "_1",
    "1_",
    "+_1",
    "--1",
    "+-1",
    "1e3",
    "0x10",
    "١٢",
    "\u00a012",
    "\x1c12",
    "12 3",
    "Infinity",
    "NaN",
    "1\u0000",
  ];
  for (const text of rejected) {
    await raw.send("SET", "int", text);
    const error = await cache.getInt("int").catch((e) => e);
    assert.ok(
      error instanceof DecodeError,
      `${JSON.stringify(text)}: ${error}`,
    );
    assert.equal(error.key, "int");
  }
});

test("getInt refuses magnitudes of 2^53 or more; getBigInt reads them", async () => {
  await using cache = await Cache.connect({ url: server.url(), flush: false });
  for (
    const text of [
      "9007199254740992",
      "-9007199254740992",
      "1" + "0".repeat(30),
    ]
  ) {
    await raw.send("SET", "big", text);
    await assert.rejects(cache.getInt("big"), RangeError);
    assert.equal(await cache.getBigInt("big"), BigInt(text));
  }
  await raw.send("SET", "big", "9".repeat(4301));
  await assert.rejects(cache.getBigInt("big"), DecodeError);
});

test("bad input to store is a TypeError or RangeError and writes nothing", async () => {
  await using cache = await Cache.connect({ url: server.url() });
  const bad: [unknown, typeof TypeError | typeof RangeError][] = [
    [NaN, RangeError],
    [Infinity, RangeError],
    [-Infinity, RangeError],
    [true, TypeError],
    [null, TypeError],
    [undefined, TypeError],
    [{}, TypeError],
    [[1, 2], TypeError],
    [new DataView(new ArrayBuffer(2)), TypeError],
    [new Uint16Array(2), TypeError],
    [Symbol("s"), TypeError],
    ["lone \ud800 surrogate", TypeError],
  ];
  for (const [value, kind] of bad) {
    // deno-lint-ignore no-explicit-any -- deliberately the wrong type
    await assert.rejects(cache.store(value as any), kind, String(typeof value));
  }
  // Only the call bookkeeping of the Python original: no value was written.
  const keys = (await raw.send("KEYS", "*") as Uint8Array[])
    .map((key) => new TextDecoder().decode(key)).sort();
  assert.deepEqual(keys, ["Cache.store", "Cache.store:inputs"]);
});

test("get validates its arguments", async () => {
  await using cache = await Cache.connect({ url: server.url(), flush: false });
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(cache.get(42 as any), TypeError);
  await assert.rejects(cache.get(""), RangeError);
  await assert.rejects(cache.get("k".repeat(1025)), RangeError);
  assert.equal(await cache.get("k".repeat(1024)), null);
  await assert.rejects(cache.get("\udc00"), TypeError);
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(cache.get("k", "not a function" as any), TypeError);
});

test("connect validates its options before connecting", async () => {
  const url = server.url();
  await assert.rejects(Cache.connect({ url, timeout: 0 }), RangeError);
  await assert.rejects(Cache.connect({ url, timeout: -1 }), RangeError);
  await assert.rejects(Cache.connect({ url, timeout: NaN }), RangeError);
  await assert.rejects(
    Cache.connect({ url, connectTimeout: 2 ** 31 }),
    RangeError,
  );
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(Cache.connect({ url, timeout: "5" as any }), TypeError);
  await assert.rejects(Cache.connect({ url, namespace: "" }), RangeError);
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(Cache.connect({ url, flush: "yes" as any }), TypeError);
  await assert.rejects(
    Cache.connect({ url: "http://127.0.0.1:6379" }),
    TypeError,
  );
  await assert.rejects(Cache.connect({ url: `${url}/db` }), RangeError);
  // deno-lint-ignore no-explicit-any -- deliberately the wrong type
  await assert.rejects(Cache.connect({ client: {} as any }), TypeError);
  const error = await Cache.connect({ url: "redis://user:hunter2 x@[bad" })
    .catch((e) => e);
  assert.ok(error instanceof TypeError);
  assert.ok(!String(error.message).includes("hunter2"), error.message);
});

test("a refused connection rejects promptly with a ConnectionError", async () => {
  const { freePort } = await import("./_testing/free_port.ts");
  const port = await freePort();
  const started = Date.now();
  const error = await Cache.connect({ url: `redis://127.0.0.1:${port}` }).catch(
    (e) => e,
  );
  assert.ok(error instanceof ConnectionError, String(error));
  assert.ok(error.message.includes(`127.0.0.1:${port}`), error.message);
  assert.ok(Date.now() - started < 4_000, "took too long");
});

test("Cache.connect on a subclass returns that subclass", async () => {
  class TaggedCache extends Cache {
    tag(): string {
      return "tagged";
    }
  }
  await using cache = await TaggedCache.connect({
    url: server.url(),
    flush: false,
  });
  assert.ok(cache instanceof TaggedCache);
  assert.equal(cache.tag(), "tagged");
  assert.match(await cache.store("x"), UUID_V4);
});

test("close releases the cache; later calls reject with a CacheError; closing twice is harmless", async () => {
  const cache = await Cache.connect({ url: server.url(), flush: false });
  const key = await cache.store("x");
  await cache.close();
  await cache.close();
  await assert.rejects(cache.get(key), CacheError);
  await assert.rejects(cache.store("y"), CacheError);
});

test("the cache never closes a client it did not create", async () => {
  await using other = await connectRaw(server.url());
  const cache = await Cache.connect({
    client: other.client,
    flush: false,
  });
  const key = await cache.store("shared");
  await cache.close();
  assert.deepEqual(await other.getBytes(key), encoder.encode("shared"));
});
