// Fills the README's measured figures from the committed files that measured
// them, so no figure in it is typed by hand. A figure is quoted as
//
//   <!--fig:l1_coherence.deno.worstMs-->2.1<!--/fig-->
//
// where the path is a file of bench/figures/ (written by the tests under
// `RECORD_FIGURES=1`, or by `deno task compare`) and the fields inside it.
//
//   deno run --allow-read --allow-write tools/figures.ts --write   fill them in
//   deno run --allow-read tools/figures.ts --check                 fail if stale
//
// `deno task figures` re-runs the measuring tests and then writes.
//
// A figure must not start a line: Markdown takes a line that starts with
// `<!--` for an HTML block, which ends the paragraph there (and `deno fmt`
// keeps prose lines as written, `proseWrap: "preserve"`, so a longer value
// never re-wraps one there). Both modes refuse such a line.

const root = new URL("..", import.meta.url);
const figuresFolder = new URL("bench/figures/", root);
const documents = ["README.md"];

const placeholder = /<!--fig:([a-z0-9_.-]+)-->([\s\S]*?)<!--\/fig-->/gi;

/** A figure as the README prints it: integers of 10 000 and more grouped. */
export function formatFigure(value: unknown, path: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) {
    if (Number.isInteger(value) && Math.abs(value) >= 10_000) {
      return value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, " ");
    }
    return String(value);
  }
  throw new TypeError(`figure ${path} is not a number or a string`);
}

/** Looks `path` (file.field.field…) up in bench/figures/. */
function lookUp(path: string, files: Map<string, unknown>): string {
  const [file, ...fields] = path.split(".");
  if (!files.has(file)) {
    try {
      files.set(
        file,
        JSON.parse(
          Deno.readTextFileSync(new URL(`${file}.json`, figuresFolder)),
        ),
      );
    } catch (error) {
      throw new Error(`figure ${path}: no bench/figures/${file}.json`, {
        cause: error,
      });
    }
  }
  let value = files.get(file);
  for (const field of fields) {
    if (value === null || typeof value !== "object" || !(field in value)) {
      throw new Error(`figure ${path}: no field ${field}`);
    }
    value = (value as Record<string, unknown>)[field];
  }
  return formatFigure(value, path);
}

/** The document with every figure filled in from its file. */
export function fill(text: string, files = new Map<string, unknown>()): string {
  return text.replace(
    placeholder,
    (_, path: string) => `<!--fig:${path}-->${lookUp(path, files)}<!--/fig-->`,
  );
}

/** Lines (1-based) where a figure starts the line, outside a table. */
export function figuresStartingALine(text: string): number[] {
  const lines: number[] = [];
  text.split("\n").forEach((line, i) => {
    if (/^\s*(?:[-*+]\s+|\d+[.)]\s+)?<!--fig:/.test(line)) lines.push(i + 1);
  });
  return lines;
}

// Tables are re-padded by `deno fmt`, so stale means a different text once
// runs of white space are folded.
const folded = (text: string) => text.replace(/[ \t]+/g, " ");

if (import.meta.main) {
  const mode = Deno.args[0];
  if (mode !== "--write" && mode !== "--check") {
    console.error("usage: tools/figures.ts --write | --check");
    Deno.exit(2);
  }
  let stale = 0;
  for (const name of documents) {
    const url = new URL(name, root);
    const text = Deno.readTextFileSync(url);
    const misplaced = figuresStartingALine(text);
    if (misplaced.length > 0) {
      stale++;
      console.error(
        `${name}: a figure starts line ${
          misplaced.join(", ")
        }; Markdown would read it as HTML: move a word before it`,
      );
      continue;
    }
    const filled = fill(text);
    if (folded(filled) === folded(text)) continue;
    if (mode === "--write") {
      Deno.writeTextFileSync(url, filled);
      const fmt = new Deno.Command(Deno.execPath(), {
        args: ["fmt", "--quiet", url.pathname],
      });
      await fmt.output();
      console.log(`${name}: figures filled in`);
    } else {
      stale++;
      console.error(
        `${name}: figures differ from bench/figures/; run tools/figures.ts --write`,
      );
    }
  }
  if (stale > 0) Deno.exit(1);
}
