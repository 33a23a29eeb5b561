// Figures a test measured, recorded for the README to quote.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { projectRoot, runtime } from "./runtime.ts";

// The project itself, also on Node (.node_test/ is one folder below it).
const sourceRoot = new URL("../../", import.meta.url);

/**
 * Records figures a test measured, for the README to quote: with
 * `RECORD_FIGURES=1` (as `deno task figures` runs the suite) the values are
 * written under this runtime's name into the committed
 * `bench/figures/<name>.json`; otherwise nothing is written, so an ordinary
 * test run leaves the tree clean. The README quotes them as
 * `<!--fig:name.runtime.field-->…<!--/fig-->`, which `tools/figures.ts`
 * fills in and `deno task check` verifies.
 */
export function recordFigures(
  name: string,
  values: Record<string, number | string>,
): void {
  if (process.env.RECORD_FIGURES !== "1") return;
  if (!/^[a-z0-9_]+$/.test(name)) throw new RangeError(`bad figure ${name}`);
  const folder = fileURLToPath(
    new URL(
      "bench/figures/",
      import.meta.url.endsWith(".js") ? sourceRoot : projectRoot,
    ),
  );
  const file = `${folder}${name}.json`;
  mkdirSync(folder, { recursive: true });
  let figures: Record<string, unknown> = {};
  try {
    figures = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // No figures recorded yet.
  }
  figures[runtime] = { ...values, recorded: new Date().toISOString() };
  writeFileSync(file, JSON.stringify(figures, null, 2) + "\n");
}
