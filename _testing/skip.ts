// A test's skip, with why, logged for the runner's summary.

import { appendFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { projectRoot, runtime } from "./runtime.ts";

/**
 * The `skip` option of tests that cannot run here: `reason`, or `false` when
 * they can. A reason is also written to the runner's skip log
 * (`REDIS_BASIC_SKIP_LOG`), so that the run's summary lists every skip with
 * why, and a skip without a logged reason fails the run.
 *
 * @example `test("…", { skip: skipBecause(import.meta.url, reason) }, fn)`
 */
export function skipBecause(
  testFile: string,
  reason: string | false | undefined,
): string | false {
  if (!reason) return false;
  const log = process.env.REDIS_BASIC_SKIP_LOG;
  const file = testFileName(testFile);
  if (log) appendFileSync(log, `${runtime}\t${file}\t${reason}\n`);
  return reason;
}

/**
 * A test file's path from the project folder, as the runner names it
 * (`cache_test.ts`, `_engine/settings_test.ts`), also for the compiled `.js`.
 */
export function testFileName(testFile: string): string {
  const path = fileURLToPath(testFile);
  const base = fileURLToPath(projectRoot);
  return (path.startsWith(base) ? path.slice(base.length) : path)
    .replace(/\.js$/, ".ts");
}
