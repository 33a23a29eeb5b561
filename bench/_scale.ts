// The multi-process case of `bench/compare.ts`: 1, 2 and 4 processes per
// runtime (`_scale_worker.ts`), each making 100 gets in flight (lanes)
// against the one redis-server, started together for a fixed time; the
// total gets per second, and the share of one core the server used over
// the same window (`INFO cpu`), show where the server becomes the limit.

import { createClient } from "redis";
import type { ScalePlan, ScaleRound } from "./_scale_worker.ts";

/** One round of the case on one runtime. */
export interface ScaleResult {
  runtime: string;
  processes: number;
  /** Gets per second of all the processes together. */
  opsPerSec: number;
  /**
   * redis-server's CPU time (user + system, `INFO cpu`) over the round's
   * wall time: 1 is one core busy all the time.
   */
  serverCpu: number;
  seconds: number;
}

/** How the compare runs the case. */
export interface ScaleOptions {
  url: string;
  runtimes: { runtime: string; command: (plan: string) => string[] }[];
  /** Process counts, in the order they run; the most is started once. */
  counts: number[];
  inFlight: number;
  durationMs: number;
  warmUpMs: number;
}

const STARTUP_TIMEOUT = 60_000;

// A child's stdout, line by line, each awaited with a bound.
class Lines {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  async next(timeoutMs: number): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no line in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      while (!this.#buffer.includes("\n")) {
        const { done, value } = await Promise.race([this.#reader.read(), late]);
        if (done) throw new Error("the process ended");
        this.#buffer += value;
      }
    } finally {
      clearTimeout(timer);
    }
    const end = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, end);
    this.#buffer = this.#buffer.slice(end + 1);
    return line;
  }

  /** Stops reading: the rest of the output is not wanted. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

interface Child {
  process: Deno.ChildProcess;
  lines: Lines;
  stdin: WritableStreamDefaultWriter<Uint8Array>;
}

/** Runs the case on each runtime in turn. */
export async function measureScale(
  options: ScaleOptions,
): Promise<ScaleResult[]> {
  const admin = createClient({ url: options.url });
  await admin.connect();
  const serverCpu = async () => {
    const info = await admin.info("cpu");
    const field = (name: string) =>
      Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1]);
    return field("used_cpu_user") + field("used_cpu_sys");
  };
  const results: ScaleResult[] = [];
  try {
    for (const { runtime, command } of options.runtimes) {
      const plan: ScalePlan = {
        url: options.url,
        inFlight: options.inFlight,
        warmUpMs: options.warmUpMs,
      };
      const children = start(
        command(JSON.stringify(plan)),
        Math.max(...options.counts),
      );
      try {
        for (const child of children) {
          const line = await child.lines.next(STARTUP_TIMEOUT);
          if (line !== "READY") throw new Error(`${runtime}: ${line}`);
        }
        for (const processes of options.counts) {
          const round = children.slice(0, processes);
          const cpuBefore = await serverCpu();
          const started = performance.now();
          const message = new TextEncoder().encode(
            `RUN ${options.durationMs}\n`,
          );
          await Promise.all(round.map((child) => child.stdin.write(message)));
          const done = await Promise.all(round.map(async (child) => {
            const line = await child.lines.next(options.durationMs + 30_000);
            if (!line.startsWith("SCALE ")) {
              throw new Error(`${runtime}: ${line}`);
            }
            return JSON.parse(line.slice(6)) as ScaleRound;
          }));
          const seconds = (performance.now() - started) / 1000;
          const cpu = await serverCpu() - cpuBefore;
          results.push({
            runtime,
            processes,
            opsPerSec: done.reduce((sum, r) => sum + r.gets / r.seconds, 0),
            serverCpu: cpu / seconds,
            seconds,
          });
        }
      } finally {
        await stop(children);
      }
    }
  } finally {
    admin.destroy();
  }
  return results;
}

function start(command: string[], count: number): Child[] {
  return Array.from({ length: count }, () => {
    const process = new Deno.Command(command[0], {
      args: command.slice(1),
      cwd: new URL("..", import.meta.url).pathname,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return {
      process,
      lines: new Lines(process.stdout),
      stdin: process.stdin.getWriter(),
    };
  });
}

// Asks each child to close, and kills one that has not within a bound.
async function stop(children: Child[]): Promise<void> {
  await Promise.all(children.map(async (child) => {
    try {
      await child.stdin.write(new TextEncoder().encode("EXIT\n"));
      await child.stdin.close();
    } catch {
      // Already gone: its status says how.
    }
    const timer = setTimeout(() => child.process.kill("SIGKILL"), 10_000);
    await child.process.status;
    clearTimeout(timer);
    await child.lines.cancel();
  }));
}
