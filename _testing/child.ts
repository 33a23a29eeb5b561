// Real child processes for tests: run one to its end with a bound, the
// command line for a testdata script, and a python3 that can run a check.

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { projectRoot, runtime } from "./runtime.ts";

/** How a child process ended: its exit code, or `null` if it had to be killed. */
export interface ChildResult {
  code: number | null;
  output: string;
}

/**
 * Runs a real child process to its end, collecting stdout and stderr; kills
 * it and reports `code: null` if it has not exited after `timeout` ms.
 */
export function runChild(
  command: string,
  args: string[],
  timeout: number,
): Promise<ChildResult> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => output += chunk);
  child.stderr!.on("data", (chunk) => output += chunk);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ code: null, output });
    }, timeout);
    // A command that cannot be started (not found) emits no exit.
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * The command line that runs `testdata/<name>` as a child process on the
 * runtime running the tests: the `.ts` file on Deno and Bun, its compiled
 * `.js` beside the compiled tests on Node.
 */
export function testdataCommand(name: string): [string, string[]] {
  const script = fileURLToPath(
    new URL(
      `testdata/${name}${import.meta.url.endsWith(".js") ? ".js" : ".ts"}`,
      projectRoot,
    ),
  );
  return [
    process.execPath,
    runtime === "deno" ? ["run", "--allow-all", script] : [script],
  ];
}

/**
 * The first of Debian's python3 and the python3 on PATH that can run
 * `python3 -c "<check>"` (e.g. `import redis`: Debian's python3-redis belongs
 * to Debian's own python3, which need not be the first on PATH), or
 * `undefined` when none can.
 */
export async function findPython(check = "pass"): Promise<string | undefined> {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    const { code } = await runChild(candidate, ["-c", check], 10_000)
      .catch(() => ({ code: -1 }));
    if (code === 0) return candidate;
  }
  return undefined;
}
