// Child processes of `bench/compare.ts`: commands run to their end with a
// bound, and the core pinning every client process of the compare shares.

const root = new URL("..", import.meta.url).pathname;

/** Whether `name` is a command on this machine's PATH. */
export async function hasCommand(name: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Runs `command` from the project folder and returns its stdout; kills it
 * after `timeoutMs`, and throws unless it exits with 0.
 */
export async function run(
  command: string[],
  timeoutMs: number,
): Promise<string> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code, stdout } = await child.output();
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${command.join(" ")} exited with ${code}`);
  return new TextDecoder().decode(stdout);
}

/**
 * Where the compare puts its processes: redis-server alone on core 1, and
 * the clients on core 0 (every other core, for the processes of the
 * multi-process case, which can use more than one), when the machine has
 * two cores or more and taskset: unpinned, sequential round trips flip
 * between two speeds depending on whether both land on one core.
 */
export interface Pinning {
  /** The core redis-server runs on, when pinned. */
  serverCore: number | undefined;
  /** `command` run on the clients' core. */
  onClientCore(command: string[]): string[];
  /** `command` run on any core but the server's. */
  offServerCore(command: string[]): string[];
}

/** The pinning this machine allows. */
export async function pinning(): Promise<Pinning> {
  const cores = navigator.hardwareConcurrency;
  if (cores < 2 || !await hasCommand("taskset")) {
    return {
      serverCore: undefined,
      onClientCore: (command) => command,
      offServerCore: (command) => command,
    };
  }
  const others = cores === 2 ? "0" : `0,2-${cores - 1}`;
  return {
    serverCore: 1,
    onClientCore: (command) => ["taskset", "-c", "0", ...command],
    offServerCore: (command) => ["taskset", "-c", others, ...command],
  };
}

/** A runtime the compare measures, as its processes are started. */
export type Runtime = "deno" | "bun" | "node";

/**
 * The command that runs `bench/<script>.ts` on `runtime`: the TypeScript on
 * Deno and Bun, its compiled JavaScript in .node_test/ on Node. With
 * `exposeGc`, V8's `gc()` is handed out (Bun has `Bun.gc` anyway).
 */
export function runtimeCommand(
  runtime: Runtime,
  script: string,
  exposeGc = false,
): string[] {
  switch (runtime) {
    case "deno":
      return [
        Deno.execPath(),
        "run",
        "--allow-all",
        ...(exposeGc ? ["--v8-flags=--expose-gc"] : []),
        `bench/${script}.ts`,
      ];
    case "bun":
      return [`${root}node_modules/.bin/bun`, `bench/${script}.ts`];
    case "node":
      return [
        "node",
        ...(exposeGc ? ["--expose-gc"] : []),
        `.node_test/bench/${script}.js`,
      ];
  }
}
