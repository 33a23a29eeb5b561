// An uncaught error ends a Deno test file's process, after killing the
// redis-servers it started; tolerateUncaught lets a test declare one that is
// its runtime's own. Installed on import: a test file gets it through
// redis_server.ts, or imports this module itself when it starts no server.

import type { ChildProcess } from "node:child_process";

// The redis-server processes this file's process started and has not seen
// end, for the exit below.
const runningServers = new Set<ChildProcess>();

/**
 * Has `child` (a redis-server) killed if an uncaught error ends this
 * process, until it exits.
 */
export function killOnUncaught(child: ChildProcess): void {
  runningServers.add(child);
  child.once("exit", () => runningServers.delete(child));
}

// Errors a test has declared to be its runtime's own (see tolerateUncaught),
// each with how many more of them may pass.
const toleratedErrors: {
  matches: (error: unknown) => boolean;
  why: string;
  left: number;
}[] = [];
// Deno's node:test reports a test as passed though a timer threw while it
// ran (Bun and Node fail the run): an error no test can catch is a failure
// of the run, so on Deno it ends the file's process, which the runner then
// counts as failed.
if ("Deno" in globalThis) {
  globalThis.addEventListener("error", (event) => {
    const tolerated = toleratedErrors.find(({ matches, left }) =>
      left > 0 && matches(event.error)
    );
    if (tolerated !== undefined) {
      tolerated.left--;
      console.error(`tolerated an uncaught error: ${tolerated.why}`);
      event.preventDefault();
      return;
    }
    console.error("uncaught error during the tests:", event.error);
    // Deno.exit skips the files' after() hooks: servers would outlive it.
    for (const child of runningServers) child.kill("SIGKILL");
    (globalThis as unknown as { Deno: { exit(code: number): never } }).Deno
      .exit(1);
  });
}

/**
 * Lets the test go on past at most `limit` uncaught errors that `matches`,
 * until the returned handle is disposed: for a runtime's own fault that no
 * library can handle (on Deno; Bun and Node report such errors to the test
 * themselves). Each one is printed with `why`.
 */
export function tolerateUncaught(
  matches: (error: unknown) => boolean,
  limit: number,
  why: string,
): Disposable {
  const entry = { matches, why, left: limit };
  toleratedErrors.push(entry);
  return {
    [Symbol.dispose]: () => {
      toleratedErrors.splice(toleratedErrors.indexOf(entry), 1);
    },
  };
}
