// Test fixtures: a real redis-server of the test's own on a free loopback
// port, which the test can stop, kill, pause and restart. Node APIs only, so
// the same code runs on Deno, Bun and Node.

import type { Buffer } from "node:buffer";
import { after } from "node:test";
import { type ChildProcess, spawn } from "node:child_process";
import { createConnection } from "node:net";
import process from "node:process";
import { freePort, HOST } from "./free_port.ts";
import { connectRaw, type RawClient } from "./raw_client.ts";
import { killOnUncaught } from "./uncaught.ts";
import { waitFor } from "./wait.ts";

const START_TIMEOUT = 10_000;
const STOP_TIMEOUT = 5_000;
const PORT_ATTEMPTS = 5;

/** Options for {@linkcode startRedisServer}. */
export interface RedisServerOptions {
  /** Listen on this port rather than a free one picked at start (no retry). */
  port?: number;
  /** A config file, which redis-server must get first (a sentinel's). */
  configFile?: string;
  /** Extra `redis-server` arguments, such as `["--requirepass", "secret"]`. */
  args?: string[];
  /** A password the readiness probe must use (with `--requirepass`). */
  password?: string;
  /** Pin the server to this CPU core with taskset (benchmarks). */
  cpu?: number;
}

/** A running redis-server that belongs to one test file. */
export class RedisServer implements AsyncDisposable {
  readonly port: number;
  readonly #options: RedisServerOptions;
  #process: ChildProcess | undefined;

  private constructor(port: number, options: RedisServerOptions) {
    this.port = port;
    this.#options = options;
  }

  /** `redis://127.0.0.1:<port>`, plus `/db` when a database is given. */
  url(database?: number): string {
    return `redis://${HOST}:${this.port}${
      database === undefined ? "" : `/${database}`
    }`;
  }

  /** The process id while the server runs. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** Whether the process is running: started, and not stopped or killed. */
  get running(): boolean {
    return this.#process !== undefined && this.#process.exitCode === null &&
      this.#process.signalCode === null;
  }

  /**
   * Starts redis-server on `options.port`, or on a free port, and waits until
   * it answers PING.
   */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const attempts = options.port === undefined ? PORT_ATTEMPTS : 1;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const server = new RedisServer(options.port ?? await freePort(), options);
      try {
        await server.restart();
        return server;
      } catch (error) {
        if (error instanceof RedisServerMissing) throw error;
        lastError = error;
        await server.kill();
      }
    }
    throw new Error(`redis-server did not start after ${attempts} tries`, {
      cause: lastError,
    });
  }

  /** Starts the server again on the same port, with an empty data set. */
  async restart(): Promise<void> {
    if (this.#process !== undefined) throw new Error("already running");
    const pinned = this.#options.cpu === undefined
      ? []
      : ["taskset", "-c", String(this.#options.cpu)];
    const [command, ...prefix] = [...pinned, "redis-server"];
    const child = spawn(command, [
      ...prefix,
      ...(this.#options.configFile === undefined
        ? []
        : [this.#options.configFile]),
      "--port",
      String(this.port),
      "--bind",
      HOST,
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "warning",
      ...(this.#options.args ?? []),
    ], { stdio: ["ignore", "ignore", "pipe"] });
    this.#process = child;
    killOnUncaught(child);
    const spawned = new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (error: NodeJS.ErrnoException) =>
        reject(
          error.code === "ENOENT" ? new RedisServerMissing() : error,
        ));
    });
    await spawned;
    await waitFor(
      () => ping(this.port, this.#options.password),
      START_TIMEOUT,
      `redis-server on port ${this.port} did not answer PING`,
      () => child.exitCode !== null,
    );
  }

  /**
   * Kills the server at once without waiting, for exit handlers that cannot
   * await (a bench file's `unload`).
   */
  killNow(): void {
    this.#signal("SIGKILL");
  }

  /** Stops the server with SIGTERM and waits for it to exit. */
  stop(): Promise<void> {
    return this.#end("SIGTERM");
  }

  /** Kills the server with SIGKILL, as a crash would, and waits for it to exit. */
  kill(): Promise<void> {
    return this.#end("SIGKILL");
  }

  /** Pauses the process (SIGSTOP): the port accepts connections, nothing answers. */
  pause(): void {
    this.#signal("SIGSTOP");
  }

  /** Resumes a paused process (SIGCONT). */
  resume(): void {
    this.#signal("SIGCONT");
  }

  // process.kill rather than child.kill: Deno's child.kill ignores every
  // signal after the first, and a paused server needs SIGCONT, then SIGTERM.
  #signal(signal: NodeJS.Signals): void {
    const pid = this.#process?.pid;
    if (pid !== undefined && this.#process?.exitCode === null) {
      process.kill(pid, signal);
    }
  }

  async #end(signal: NodeJS.Signals): Promise<void> {
    const child = this.#process;
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      this.#signal("SIGCONT");
      this.#signal(signal);
      await deadlineOrKill(exited, child);
    }
    this.#process = undefined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * The usual start of a test file: its own redis-server and a raw client on
 * it, both closed by an `after` hook when the file's tests are done.
 */
export async function redisForThisFile(
  options?: RedisServerOptions,
): Promise<{ server: RedisServer; raw: RawClient }> {
  const server = await startRedisServer(options);
  const raw = await connectRaw(server.url());
  after(async () => {
    await raw[Symbol.asyncDispose]();
    await server.stop();
  });
  return { server, raw };
}

/** Starts a redis-server for one test file; see {@linkcode RedisServer}. */
export function startRedisServer(
  options?: RedisServerOptions,
): Promise<RedisServer> {
  return RedisServer.start(options);
}

class RedisServerMissing extends Error {
  constructor() {
    super(
      "redis-server is not installed: run `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis`",
    );
    this.name = "RedisServerMissing";
  }
}

async function deadlineOrKill(
  exited: Promise<unknown>,
  child: ChildProcess,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, STOP_TIMEOUT, "late");
  });
  const outcome = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (outcome === "late" && child.pid !== undefined) {
    process.kill(child.pid, "SIGKILL");
    await exited;
  }
}

/** Whether a Redis on `port` answers PING within `within` ms. */
export function ping(
  port: number,
  password?: string,
  within = 1_000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let received = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), within);
    socket.once("error", () => done(false));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      if (received.includes("+PONG\r\n")) done(true);
      else if (received.startsWith("-") && received.endsWith("\r\n")) {
        done(false);
      }
    });
    socket.once("connect", () => {
      socket.write(
        password === undefined ? "PING\r\n" : `AUTH ${password}\r\nPING\r\n`,
      );
    });
  });
}

/**
 * Puts the server on `port` to sleep for `seconds` (`DEBUG SLEEP`, sent by
 * `raw`; the server needs `--enable-debug-command yes`), and resolves once a
 * fresh connection finds it not answering; the returned promise settles
 * when it wakes.
 */
export async function putToSleep(
  raw: { send(...args: string[]): Promise<unknown> },
  port: number,
  seconds: number,
): Promise<{ awake: Promise<unknown> }> {
  const awake = raw.send("DEBUG", "SLEEP", String(seconds));
  await waitFor(
    async () => !(await ping(port, undefined, 50)),
    1_000,
    "the server did not fall asleep",
  );
  return { awake };
}
