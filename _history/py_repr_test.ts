// Python's repr(), as the call history writes it for the Python original
// to read: the rules on their own (quotes, escapes, printability, floats,
// bytes, containers), then whole tables against a real python3's output.
// python_interop_test.ts checks single values through the Python original;
// this file covers every code point, thousands of floats and all bytes.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  isPlainObject,
  pyBytesRepr,
  pyFloatRepr,
  pyRepr,
  pyStrRepr,
  pyTupleRepr,
  pyTupleReprBytes,
} from "./py_repr.ts";
import { findPython, runChild } from "../_testing/child.ts";
import { seededRandom } from "../_testing/seeded_random.ts";
import { skipBecause } from "../_testing/skip.ts";
// On Deno, an uncaught error (a timer's) must fail this file, not pass it.
import "../_testing/uncaught.ts";

const decoder = new TextDecoder();

test("str: single quotes unless the text has a ' and no \"; quotes and backslashes escaped as Python does", () => {
  const cases: [string, string][] = [
    ["", "''"],
    ["plain text", "'plain text'"],
    ["'", `"'"`],
    ['"', `'"'`],
    [`'"`, `'\\'"'`],
    [`it's "q" \\`, `'it\\'s "q" \\\\'`],
    ["\\", "'\\\\'"],
    ["it's", `"it's"`],
  ];
  for (const [text, repr] of cases) assert.equal(pyStrRepr(text), repr, repr);
});

test("str: control characters, DEL and C1 controls are escaped, \\t \\n \\r by name", () => {
  const cases: [string, string][] = [
    ["\x00\x01\x1f\x7f", "'\\x00\\x01\\x1f\\x7f'"],
    ["\t\n\r\x0b\x0c", "'\\t\\n\\r\\x0b\\x0c'"],
    // U+0080..U+009F are controls, U+00A0 a space separator and U+00AD a
    // format character: escaped; U+00A1 and U+00FF are printable.
    ["\x80\x9f\xa0\xa1\xad\xff", "'\\x80\\x9f\\xa0¡\\xadÿ'"],
    ["\xa0x", "'\\xa0x'"],
    [" ", "' '"],
  ];
  for (const [text, repr] of cases) assert.equal(pyStrRepr(text), repr, repr);
});

test("str: printable non-ASCII as it is, the rest of str.isprintable()'s exclusions as \\x, \\u or \\U", () => {
  const cases: [string, string][] = [
    ["é☃🎉中", "'é☃🎉中'"],
    // Format, line and paragraph separators, ideographic space, BOM,
    // private use, a noncharacter and an unassigned code point.
    [
      "\u200b\u2028\u2029\u3000\ufeff\ue000\uffff\u0378",
      "'\\u200b\\u2028\\u2029\\u3000\\ufeff\\ue000\\uffff\\u0378'",
    ],
    [
      "\u{e0001}\u{10ffff}\u{f0000}\u{1f600}",
      "'\\U000e0001\\U0010ffff\\U000f0000😀'",
    ],
  ];
  for (const [text, repr] of cases) assert.equal(pyStrRepr(text), repr, repr);
});

test("str: lone surrogates are escaped one by one; a pair is one code point", () => {
  const cases: [string, string][] = [
    ["\ud800", "'\\ud800'"],
    ["\udfff\ud800", "'\\udfff\\ud800'"],
    ["a\ud83cb", "'a\\ud83cb'"],
    ["\ud83c\udf89", "'🎉'"],
  ];
  for (const [text, repr] of cases) assert.equal(pyStrRepr(text), repr, repr);
});

test("float: shortest round-trip digits, exponent beyond 16 digits left or 4 zeros right, inf and nan", () => {
  const cases: [number, string][] = [
    [1e16, "1e+16"],
    [1e15, "1000000000000000.0"],
    [2 ** 53, "9007199254740992.0"],
    [123456789012345678, "1.2345678901234568e+17"],
    [1e-5, "1e-05"],
    [0.0001, "0.0001"],
    [-0, "-0.0"],
    [0, "0.0"],
    [100, "100.0"],
    [2.5, "2.5"],
    [0.1 + 0.2, "0.30000000000000004"],
    [Number.MAX_VALUE, "1.7976931348623157e+308"],
    [Number.MIN_VALUE, "5e-324"],
    [Infinity, "inf"],
    [-Infinity, "-inf"],
    [NaN, "nan"],
  ];
  for (const [value, repr] of cases) {
    assert.equal(pyFloatRepr(value), repr, repr);
  }
});

test("numbers: safe integers are ints, other numbers floats; bigints ints; booleans and null/undefined", () => {
  const cases: [unknown, string][] = [
    [42, "42"],
    [-7, "-7"],
    [Number.MAX_SAFE_INTEGER, "9007199254740991"],
    [2 ** 53, "9007199254740992.0"],
    [1e16, "1e+16"],
    [-0, "-0.0"],
    [0, "0"],
    [3.14, "3.14"],
    [NaN, "nan"],
    [2n ** 70n, "1180591620717411303424"],
    [-5n, "-5"],
    [true, "True"],
    [false, "False"],
    [null, "None"],
    [undefined, "None"],
  ];
  for (const [value, repr] of cases) assert.equal(pyRepr(value), repr, repr);
});

test("bytes: b'' with the str quote rule, printable ASCII as it is, everything else as \\x", () => {
  const cases: [number[], string][] = [
    [[], "b''"],
    [[0x27], `b"'"`],
    [[0x22], `b'"'`],
    [[0x27, 0x22], `b'\\'"'`],
    [[0x5c], "b'\\\\'"],
    [[0x7f, 0x80, 0xff, 9, 10, 13, 0], "b'\\x7f\\x80\\xff\\t\\n\\r\\x00'"],
  ];
  for (const [bytes, repr] of cases) {
    assert.equal(pyBytesRepr(new Uint8Array(bytes)), repr, repr);
    assert.equal(pyRepr(new Uint8Array(bytes)), repr, repr);
  }
});

test("lists, dicts and tuples nest, with Python's separators and str keys", () => {
  assert.equal(
    pyRepr([1, "a", [true, null, false], { k: [1.5, {}], "it's": [] }, []]),
    `[1, 'a', [True, None, False], {'k': [1.5, {}], "it's": []}, []]`,
  );
  assert.equal(pyRepr({}), "{}");
  assert.equal(
    pyRepr(Object.assign(Object.create(null), { a: 1 })),
    "{'a': 1}",
  );
  assert.equal(pyTupleRepr([]), "()");
  assert.equal(pyTupleRepr([1]), "(1,)");
  assert.equal(pyTupleRepr(["a", new Uint8Array([0])]), "('a', b'\\x00')");
});

test("a hole in an array is None, as undefined is, so the repr stays Python", () => {
  // deno-lint-ignore no-sparse-arrays
  const sparse = [1, , 3];
  assert.equal(pyRepr(sparse), "[1, None, 3]");
  assert.equal(pyRepr(new Array(2)), "[None, None]");
});

test("pyTupleReprBytes is pyTupleRepr's text as UTF-8, for str and bytes alike", () => {
  const values = ["naïve ☃", new Uint8Array([0, 255, 0x27]), 3.5, "\ud800"];
  assert.equal(decoder.decode(pyTupleReprBytes(values)), pyTupleRepr(values));
  assert.equal(
    pyTupleRepr(values),
    `('naïve ☃', b"\\x00\\xff'", 3.5, '\\ud800')`,
  );
});

test("isPlainObject: object literals and null-prototype objects only", () => {
  assert.equal(isPlainObject({}), true);
  assert.equal(isPlainObject(Object.create(null)), true);
  for (
    const value of [null, [], new Date(0), new Map(), new Uint8Array(), "s"]
  ) {
    assert.equal(isPlainObject(value), false, String(value));
  }
});

// ---------------------------------------------------------------------------
// Against a real python3: Debian's, else the first on PATH.

const python = await findPython();
// One call per test, so that the run's summary counts each skip.
const skip = () =>
  skipBecause(
    import.meta.url,
    python === undefined && "no python3 (apt-get install python3)",
  );

// Reads a request file, prints one line of JSON: Python's answers, and which
// code points its repr escapes and its Unicode database leaves unassigned.
const PYTHON_SCRIPT = `
import json, struct, sys, unicodedata
with open(sys.argv[1], encoding="ascii") as f:
    request = json.load(f)

def ranges(predicate):
    found, start = [], None
    for cp in range(0x110000):
        if predicate(cp):
            if start is None:
                start = cp
        elif start is not None:
            found.append([start, cp - 1])
            start = None
    if start is not None:
        found.append([start, 0x10FFFF])
    return found

print(json.dumps({
    "unicode": unicodedata.unidata_version,
    "escaped": ranges(lambda cp: repr(chr(cp))[1:-1] != chr(cp)),
    "unassigned": ranges(lambda cp: unicodedata.category(chr(cp)) == "Cn"),
    "strings": [repr(s) for s in request["strings"]],
    "floats": [repr(struct.unpack("<d", bytes.fromhex(h))[0]) for h in request["floats"]],
    "bytes": [repr(bytes.fromhex(h)) for h in request["bytes"]],
    "values": [repr(v) for v in request["values"]],
    "tuples": [str(tuple(t)) for t in request["tuples"]],
}))
`;

interface PythonRequest {
  strings: string[];
  floats: string[];
  bytes: string[];
  values: unknown[];
  tuples: unknown[][];
}

interface PythonAnswer {
  unicode: string;
  escaped: [number, number][];
  unassigned: [number, number][];
  strings: string[];
  floats: string[];
  bytes: string[];
  values: string[];
  tuples: string[];
}

async function askPython(request: PythonRequest): Promise<PythonAnswer> {
  const dir = await mkdtemp(join(tmpdir(), "redis-basic-py-repr-"));
  try {
    const file = join(dir, "request.json");
    // ASCII only, so that no locale of the child changes what it reads.
    await writeFile(
      file,
      JSON.stringify(request).replace(
        /[\u007f-\uffff]/g,
        (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
      ),
    );
    const { code, output } = await runChild(
      python!,
      ["-c", PYTHON_SCRIPT, file],
      60_000,
    );
    assert.equal(code, 0, output);
    return JSON.parse(output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function floatHex(value: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value, true);
  return [...new Uint8Array(view.buffer)]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function floatFromHex(hex: string): number {
  const bytes = Uint8Array.from(
    hex.match(/../g)!,
    (pair) => parseInt(pair, 16),
  );
  return new DataView(bytes.buffer).getFloat64(0, true);
}

function bytesHex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function buildRequest(): PythonRequest {
  const random = seededRandom(14);
  const codePoints = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => String.fromCodePoint(from + i))
      .join("");
  // Runs of 64 consecutive code points: every one below U+0800, then runs
  // at random places over the whole range, surrogates included.
  const strings: string[] = [];
  for (let from = 0; from < 0x800; from += 64) {
    strings.push(codePoints(from, 64));
  }
  for (let i = 0; i < 200; i++) {
    strings.push(codePoints(Math.floor(random() * (0x110000 - 64)), 64));
  }
  strings.push(
    codePoints(0xd7e0, 64),
    codePoints(0xdbe0, 64),
    codePoints(0xdfe0, 64),
  );
  strings.push("'", '"', `'"`, "it's", 'say "hi"', "\\'", "");

  const floats: number[] = [
    1e16,
    1e16 - 2,
    9999999999999998,
    1e15,
    1e-4,
    0.00009999999999999999,
    1e-5,
    2 ** 53,
    2 ** 53 + 2,
    -0,
    0,
    Infinity,
    -Infinity,
    NaN,
    Number.MIN_VALUE,
    2.2250738585072014e-308,
    Number.MAX_VALUE,
    Number.EPSILON,
  ];
  const view = new DataView(new ArrayBuffer(8));
  for (let i = 0; i < 2_000; i++) {
    // Any bit pattern: every exponent, subnormals and NaNs.
    view.setUint32(0, Math.floor(random() * 2 ** 32));
    view.setUint32(4, Math.floor(random() * 2 ** 32));
    floats.push(view.getFloat64(0));
  }
  for (let i = 0; i < 1_000; i++) {
    // Numbers people write: a few digits, the point anywhere.
    const digits = Math.floor(random() * 10 ** (1 + Math.floor(random() * 9)));
    floats.push(digits / 10 ** Math.floor(random() * 30 - 10));
  }

  const bytes = [
    Uint8Array.from({ length: 256 }, (_, i) => i),
    ...Array.from({ length: 256 }, (_, i) => new Uint8Array([i])),
    ...Array.from({ length: 256 }, (_, i) => new Uint8Array([0x27, i])),
    new Uint8Array([0x27, 0x22, 0x5c]),
    new Uint8Array(),
  ];

  // JSON carries these to Python unchanged: safe integers, non-integer
  // floats, text (lone surrogates too), booleans, null, lists and dicts.
  const values: unknown[] = [
    [1, "a", [true, null, false], { k: [1.5, {}], "it's": [] }, []],
    { "": "", 'say "hi"': ["\ud800", "é☃", 0.1], nested: { deeper: [[]] } },
    [-7, 2.5e-7, 1.5e300, "\x00\x7f\u200b"],
    {},
    [],
  ];
  const tuples: unknown[][] = [
    [],
    ["one"],
    ["a", 1, 2.5, true, null, "it's"],
    [[1, 2], { a: "b" }],
  ];
  return {
    strings,
    floats: floats.map(floatHex),
    bytes: bytes.map(bytesHex),
    values,
    tuples,
  };
}

function inRanges(ranges: [number, number][], cp: number): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (cp < ranges[middle][0]) high = middle - 1;
    else if (cp > ranges[middle][1]) low = middle + 1;
    else return true;
  }
  return false;
}

const UNASSIGNED = /\p{Cn}/u;

test(
  "against python3: every code point from U+0000 to U+10FFFF is escaped or kept as Python's repr does",
  {
    skip: skip(),
    timeout: 120_000,
  },
  async () => {
    const answer = await askPython(buildRequest());
    const differing: string[] = [];
    let newerHere = 0;
    let newerInPython = 0;
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      const char = String.fromCodePoint(cp);
      const escapedHere = pyStrRepr(char).slice(1, -1) !== char;
      const escapedInPython = inRanges(answer.escaped, cp);
      if (escapedHere === escapedInPython) continue;
      // Which characters are printable depends on the Unicode version: this
      // runtime's regular expressions and Python's database may be of
      // different ones. A code point one of them does not know yet is not a
      // difference in the rules.
      const unassignedInPython = inRanges(answer.unassigned, cp);
      const unassignedHere = UNASSIGNED.test(char);
      if (unassignedInPython && !unassignedHere) newerHere++;
      else if (unassignedHere && !unassignedInPython) newerInPython++;
      else {
        differing.push(
          `U+${cp.toString(16).toUpperCase()}: ${
            escapedHere ? "escaped" : "kept"
          } here, ${escapedInPython ? "escaped" : "kept"} by Python`,
        );
      }
    }
    assert.deepEqual(differing.slice(0, 20), [], `${differing.length} differ`);
    console.log(
      `Unicode ${answer.unicode} in Python: ${newerHere} code points assigned only here, ${newerInPython} only in Python`,
    );
  },
);

test(
  "against python3: str reprs of runs of code points, floats, bytes, nested values and tuples are Python's",
  {
    skip: skip(),
    timeout: 120_000,
  },
  async () => {
    const request = buildRequest();
    const answer = await askPython(request);
    const mismatches = <T>(
      inputs: T[],
      theirs: string[],
      ours: (input: T) => string,
      show: (input: T) => string = (input) => JSON.stringify(input),
    ) =>
      inputs.flatMap((input, i) => {
        const repr = ours(input);
        return repr === theirs[i]
          ? []
          : [`${show(input)}: ${repr}, Python ${theirs[i]}`];
      });
    // Code points Python's database does not know are escaped there and may
    // not be here (the test above counts them): leave those runs out.
    const known = request.strings.filter((text) =>
      ![...text].some((char) =>
        inRanges(answer.unassigned, char.codePointAt(0)!) &&
        !UNASSIGNED.test(char)
      )
    );
    assert.ok(known.length > 150, `${known.length} runs to compare`);
    assert.deepEqual(
      mismatches(
        known,
        known.map((text) => answer.strings[request.strings.indexOf(text)]),
        pyStrRepr,
      ),
      [],
    );
    assert.deepEqual(
      mismatches(
        request.floats,
        answer.floats,
        (hex) => pyFloatRepr(floatFromHex(hex)),
      ),
      [],
    );
    // A float with a whole value is a float to pyFloatRepr but an int to
    // pyRepr; every other float is the same to both.
    const fractional = request.floats.filter((hex) => {
      const value = floatFromHex(hex);
      return !Number.isSafeInteger(value) || Object.is(value, -0);
    });
    assert.deepEqual(
      mismatches(
        fractional,
        fractional.map((hex) => answer.floats[request.floats.indexOf(hex)]),
        (hex) => pyRepr(floatFromHex(hex)),
      ),
      [],
    );
    const bytes = request.bytes.map((hex) =>
      Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16))
    );
    assert.deepEqual(
      mismatches(bytes, answer.bytes, pyBytesRepr, bytesHex),
      [],
    );
    assert.deepEqual(mismatches(request.values, answer.values, pyRepr), []);
    assert.deepEqual(
      mismatches(request.tuples, answer.tuples, pyTupleRepr),
      [],
    );
    assert.deepEqual(
      mismatches(
        request.tuples,
        answer.tuples,
        (values) => decoder.decode(pyTupleReprBytes(values)),
      ),
      [],
    );
  },
);
