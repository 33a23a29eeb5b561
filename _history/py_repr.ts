// Python's repr() of JavaScript values, so call histories written here read
// exactly like those the Python original writes: `('first',)`, `(42,)`,
// `(3.14,)`, `(b'\x00',)`.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Python's `str(args)` of a tuple holding `values`: `('a',)`, `(1, 2)`, `()`. */
export function pyTupleRepr(values: readonly unknown[]): string {
  return decoder.decode(pyTupleReprBytes(values));
}

/**
 * {@linkcode pyTupleRepr} as UTF-8 bytes, built without an intermediate
 * string: a 100 MB `Uint8Array` argument makes a repr of up to 400 MB, which
 * as a JavaScript string built piece by piece would exhaust the heap.
 */
export function pyTupleReprBytes(values: readonly unknown[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode("(")];
  values.forEach((value, index) => {
    if (index > 0) parts.push(encoder.encode(", "));
    parts.push(
      value instanceof Uint8Array
        ? bytesReprBytes(value)
        : encoder.encode(pyRepr(value)),
    );
  });
  parts.push(encoder.encode(values.length === 1 ? ",)" : ")"));
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Python's `repr()` of the value a JavaScript value stands for: strings as
 * `str`, `Uint8Array` as `bytes`, safe integers and bigints as `int`, other
 * numbers as `float`, booleans, `null`/`undefined` as `None`, arrays as lists
 * and plain objects as dicts.
 */
export function pyRepr(value: unknown): string {
  switch (typeof value) {
    case "string":
      return pyStrRepr(value);
    case "number":
      return Number.isSafeInteger(value) && !Object.is(value, -0)
        ? String(value)
        : pyFloatRepr(value);
    case "bigint":
      return String(value);
    case "boolean":
      return value ? "True" : "False";
    case "undefined":
      return "None";
  }
  if (value === null) return "None";
  if (value instanceof Uint8Array) return pyBytesRepr(value);
  // Array.from, not map: a hole in a sparse array is None, not nothing.
  if (Array.isArray(value)) {
    return `[${Array.from(value, pyRepr).join(", ")}]`;
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value).map(([key, item]) =>
      `${pyStrRepr(key)}: ${pyRepr(item)}`
    );
    return `{${entries.join(", ")}}`;
  }
  return pyStrRepr(String(value));
}

/** Whether `value` is an object literal (or `Object.create(null)`), not a class instance. */
export function isPlainObject(
  value: unknown,
): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// Python's repr of a float: the shortest digits that round-trip (as JS also
// finds them), in fixed notation with a ".0" for whole numbers, or in
// exponent notation with a signed exponent of at least two digits when the
// decimal point is more than 16 places right or 4 places left of the digits.
export function pyFloatRepr(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const sign = value < 0 ? "-" : "";
  const [mantissa, exponentText] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exponent = Number(exponentText);
  const pointAt = exponent + 1; // digits are 0.d1d2… × 10^pointAt
  if (pointAt > 16 || pointAt < -3) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : "";
    const magnitude = String(Math.abs(exponent)).padStart(2, "0");
    return `${sign}${digits[0]}${fraction}e${
      exponent < 0 ? "-" : "+"
    }${magnitude}`;
  }
  if (pointAt <= 0) return `${sign}0.${"0".repeat(-pointAt)}${digits}`;
  if (pointAt >= digits.length) {
    return `${sign}${digits}${"0".repeat(pointAt - digits.length)}.0`;
  }
  return `${sign}${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
}

// Characters Python's str.isprintable() rejects, space apart: control,
// format, surrogate, private-use, unassigned and separator code points.
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

// Text that Python's repr leaves as it is, between quotes: printable ASCII
// without quotes or backslashes. Most values are like that, and a large one
// is then copied once instead of examined character by character.
const PLAIN = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;

/** Python's `repr()` of a `str`. */
export function pyStrRepr(text: string): string {
  if (PLAIN.test(text)) return `'${text}'`;
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  // for…of walks code points; a lone surrogate comes as its own unit.
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === quote || char === "\\") out += `\\${char}`;
    else if (char === "\t") out += "\\t";
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x7f || !NOT_PRINTABLE.test(char)) out += char;
    else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
    else if (code <= 0xffff) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out + quote;
}

/** Python's `repr()` of `bytes`. */
export function pyBytesRepr(bytes: Uint8Array): string {
  return decoder.decode(bytesReprBytes(bytes));
}

// For each byte value, the text Python's bytes repr writes for it (1 to 4
// characters), once per quote character, in flat tables: the loop over a
// 100 MB value stays well under a second.
interface ByteReprTable {
  quote: number;
  lengths: Uint8Array;
  texts: Uint8Array; // 4 slots per byte value
}

const SINGLE_QUOTED = byteReprTable("'");
const DOUBLE_QUOTED = byteReprTable('"');

function byteReprTable(quote: string): ByteReprTable {
  const lengths = new Uint8Array(256);
  const texts = new Uint8Array(256 * 4);
  for (let byte = 0; byte < 256; byte++) {
    const char = String.fromCharCode(byte);
    const text = char === quote || char === "\\"
      ? `\\${char}`
      : char === "\t"
      ? "\\t"
      : char === "\n"
      ? "\\n"
      : char === "\r"
      ? "\\r"
      : byte < 0x20 || byte >= 0x7f
      ? `\\x${hex(byte, 2)}`
      : char;
    lengths[byte] = text.length;
    texts.set(encoder.encode(text), byte * 4);
  }
  return { quote: quote.charCodeAt(0), lengths, texts };
}

// Two passes over the bytes: measure, then write into one exact buffer.
function bytesReprBytes(bytes: Uint8Array): Uint8Array {
  const { quote, lengths, texts } =
    bytes.includes(0x27) && !bytes.includes(0x22)
      ? DOUBLE_QUOTED
      : SINGLE_QUOTED;
  let length = 3; // b''
  for (let i = 0; i < bytes.length; i++) length += lengths[bytes[i]];
  const out = new Uint8Array(length);
  out[0] = 0x62; // b
  out[1] = out[length - 1] = quote;
  let at = 2;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    const from = byte * 4;
    const end = from + lengths[byte];
    for (let k = from; k < end; k++) out[at++] = texts[k];
  }
  return out;
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}
