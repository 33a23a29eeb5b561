// The Python original (testdata/exercise.py, run by a real python3 with the
// redis package) and this module share one Redis and read each other's
// values, counters, histories and cached pages.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Cache, replay } from "./mod.ts";
import { getPage } from "./web.ts";
import { pyTupleRepr } from "./_history/py_repr.ts";
import { findPython, runChild } from "./_testing/child.ts";
import { startPageServer } from "./_testing/page_server.ts";
import { startRedisServer } from "./_testing/redis_server.ts";
import { skipBecause } from "./_testing/skip.ts";

const python = await findPython("import redis");
// One call per test, so that the run's summary counts each skip.
const skip = () =>
  skipBecause(
    import.meta.url,
    python === undefined &&
      "no python3 with the redis package (apt-get install python3-redis)",
  );

const script = fileURLToPath(
  new URL(
    `./testdata/exercise.py`,
    import.meta.url.replace(/\/\.node_test\//, "/"),
  ),
);
const server = await startRedisServer();
const pages = await startPageServer({
  "/ts-first": { body: "fetched by TypeScript ☃" },
  "/py-first": { body: "fetched by Python 🐍" },
});
after(async () => {
  await pages[Symbol.asyncDispose]();
  await server.stop();
});

type Tagged = { t: "str" | "bytes" | "int" | "float"; v: string };

/** Runs one command of the Python original and returns its output lines. */
async function py(command: string, ...args: string[]): Promise<string[]> {
  const { code, output } = await runChild(
    python!,
    [script, String(server.port), command, ...args],
    20_000,
  );
  assert.equal(code, 0, output);
  return output.trimEnd().split("\n");
}

/** Runs a command whose one line of output is JSON, and parses it. */
async function pyJson(command: string, ...args: string[]): Promise<unknown> {
  const [line] = await py(command, ...args);
  return JSON.parse(line);
}

const tag = (t: Tagged["t"], v: string) => JSON.stringify({ t, v });

test(
  "Python stores, TypeScript replays and reads the values",
  { skip: skip() },
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    const keys = await py(
      "store",
      tag("str", "foo"),
      tag("str", "it's"),
      tag("int", "42"),
      tag("float", "3.14"),
      tag("bytes", "00ff27"),
    );
    const pythonLines = await py("replay");
    const ourLines = await replay(cache, "store", { log: () => {} });
    assert.deepEqual(ourLines, pythonLines);
    assert.equal(pythonLines[0], "Cache.store was called 5 times:");
    assert.equal(pythonLines[1], `Cache.store(*('foo',)) -> ${keys[0]}`);
    assert.equal(await cache.getStr(keys[0]), "foo");
    assert.equal(await cache.getStr(keys[1]), "it's");
    assert.equal(await cache.getInt(keys[2]), 42);
    assert.equal(await cache.getStr(keys[3]), "3.14");
    assert.deepEqual(await cache.get(keys[4]), new Uint8Array([0, 255, 39]));
  },
);

test(
  "TypeScript stores, Python replays and reads the values",
  { skip: skip() },
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    const keys = [
      await cache.store("foo"),
      await cache.store('say "hi"'),
      await cache.store(42),
      await cache.store(3.14),
      await cache.store(1e-5),
      await cache.store(1e16),
      await cache.store(2n ** 70n),
      await cache.store(new Uint8Array([0, 10, 92, 255])),
      await cache.store("naïve ☃"),
    ];
    const ourLines = await replay(cache, "store", { log: () => {} });
    assert.deepEqual(await py("replay"), ourLines);
    assert.equal(await pyJson("get_str", keys[0]), "foo");
    assert.equal(await pyJson("get_str", keys[8]), "naïve ☃");
    assert.deepEqual(await py("get_int", keys[2]), ["42"]);
    assert.deepEqual(await py("get_int", keys[6]), [String(2n ** 70n)]);
  },
);

test(
  "our str(args) matches Python's for awkward values",
  { skip: skip() },
  async () => {
    const strings = [
      "plain",
      "it's",
      'say "hi"',
      `both ' and "`,
      "back\\slash",
      "tab\tnew\nret\r",
      "\x00\x07\x1b\x7f",
      "\x80\x9f\xa0\xad",
      "é☃🎉",
      "\u200b\u2028\u3000\ufeff",
      "\ud800 lone",
      "\udfff",
      "\u{10ffff}\u{e0001}",
      "",
    ];
    const floats = [
      3.14,
      0.1,
      1e-5,
      1e-4,
      1e16,
      1e15 + 0.5,
      1.5e300,
      5e-324,
      -2.5,
      123456789.125,
    ];
    const bytes = [[0, 1, 127, 128, 255], [39], [34, 39], [92, 10, 13, 9], []];
    const ints = ["0", "-7", "9007199254740991"];
    const cases: { tagged: string; ours: string }[] = [
      ...strings.map((s) => ({
        tagged: tag("str", s),
        ours: pyTupleRepr([s]),
      })),
      ...floats.map((f) => ({
        tagged: tag("float", String(f)),
        ours: pyTupleRepr([f]),
      })),
      ...bytes.map((b) => ({
        tagged: tag(
          "bytes",
          b.map((x) => x.toString(16).padStart(2, "0")).join(""),
        ),
        ours: pyTupleRepr([new Uint8Array(b)]),
      })),
      ...ints.map((i) => ({
        tagged: tag("int", i),
        ours: pyTupleRepr([Number(i)]),
      })),
    ];
    const theirs = (await py("repr", ...cases.map((c) => c.tagged))).map((
      line,
    ) => JSON.parse(line));
    assert.deepEqual(cases.map((c) => c.ours), theirs);
  },
);

test(
  "a page cached by TypeScript is served to Python from Redis, and the reverse",
  { skip: skip() },
  async () => {
    await using cache = await Cache.connect({ url: server.url() });
    const tsFirst = `${pages.origin}/ts-first`;
    assert.equal(await getPage(tsFirst, { cache }), "fetched by TypeScript ☃");
    assert.equal(await pyJson("get_page", tsFirst), "fetched by TypeScript ☃");
    assert.equal(pages.hits("/ts-first"), 1);
    assert.equal(await cache.getInt(`count:${tsFirst}`), 2);

    const pyFirst = `${pages.origin}/py-first`;
    assert.equal(await pyJson("get_page", pyFirst), "fetched by Python 🐍");
    assert.equal(await getPage(pyFirst, { cache }), "fetched by Python 🐍");
    assert.equal(pages.hits("/py-first"), 1);
    assert.equal(await cache.getInt(`count:${pyFirst}`), 2);
  },
);
