// Test fixtures: a real redis-server of the test's own on a free loopback
// port, which the test can stop, kill and restart, and raw clients to check
// what the cache wrote. Node APIs only, so the same code runs on Deno, Bun
// and Node.

import { Buffer } from "node:buffer";
import { after } from "node:test";
import { type ChildProcess, spawn } from "node:child_process";
import {
  appendFileSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { createConnection, createServer } from "node:net";
import process from "node:process";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import type { RedisClientLike } from "../redis_client.ts";

// Deno's node:test reports a test as passed though a timer threw while it
// ran (Bun and Node fail the run): an error no test can catch is a failure
// of the run, so on Deno it ends the file's process, which the runner then
// counts as failed.
// The redis-server processes this file's process started and has not seen
// end, for the exit above.
const runningServers = new Set<ChildProcess>();
// Errors a test has declared to be its runtime's own (see tolerateUncaught),
// each with how many more of them may pass.
const toleratedErrors: {
  matches: (error: unknown) => boolean;
  why: string;
  left: number;
}[] = [];
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

const HOST = "127.0.0.1";
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
    runningServers.add(child);
    child.once("exit", () => runningServers.delete(child));
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

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port"))
      );
    });
  });
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
 * `work`, failing with "not settled within `ms` ms" if it has not settled
 * by then: a call left pending fails its test instead of hanging it.
 */
export async function settlesWithin<T>(
  ms: number,
  work: Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not settled within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
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

/**
 * Polls `condition` until it holds, every 20 ms, failing with `message` once
 * `timeout` ms have passed or `gaveUp()` says waiting is pointless. A
 * message given as a function is asked for then, so it can say what the
 * wait saw by the time it gave up.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeout: number,
  message: string | (() => string),
  gaveUp: () => boolean = () => false,
): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await condition())) {
    if (gaveUp() || Date.now() > end) {
      throw new Error(typeof message === "string" ? message : message());
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A node-redis client that reads every bulk string as bytes, for checking
 * from outside what the cache wrote.
 */
export async function connectRaw(url: string): Promise<RawClient> {
  // It reconnects, so it outlives a test that kills and restarts the server.
  const client = createClient({ url, socket: { reconnectStrategy: () => 50 } })
    .withTypeMapping({ 36: Buffer });
  client.on("error", () => {});
  await client.connect();
  return {
    send: (...args: (string | Uint8Array)[]) =>
      client.sendCommand(
        args.map((arg) => typeof arg === "string" ? arg : Buffer.from(arg)),
      ),
    async getBytes(key: string) {
      const reply = await client.sendCommand(["GET", key]);
      return reply === null
        ? null
        : new Uint8Array(reply as unknown as Uint8Array);
    },
    client,
    [Symbol.asyncDispose]() {
      client.destroy();
      return Promise.resolve();
    },
  };
}

/** A raw node-redis connection for tests; see {@linkcode connectRaw}. */
export interface RawClient extends AsyncDisposable {
  /** Sends a command; bulk strings come back as `Buffer`. */
  send(...args: (string | Uint8Array)[]): Promise<unknown>;
  /** The exact bytes under `key`, or `null`. */
  getBytes(key: string): Promise<Uint8Array | null>;
  /** The node-redis client itself, to pass to `Cache.connect({ client })`. */
  client: RedisClientLike;
}

/** A real HTTP server on loopback that counts the requests for each path. */
export interface PageServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** How many requests reached `path`. */
  hits(path: string): number;
}

/** A page: status, body, and a delay before answering in ms. */
export interface Page {
  status?: number;
  body: string;
  delay?: number;
}

/** Starts an HTTP server on a free loopback port serving `pages` by path. */
export async function startPageServer(
  pages: Record<string, Page>,
): Promise<PageServer> {
  const { createServer: createHttpServer } = await import("node:http");
  const hits = new Map<string, number>();
  const server = createHttpServer((request, response) => {
    const path = request.url ?? "/";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const page = pages[path] ?? { status: 404, body: "no such page" };
    setTimeout(() => {
      response.writeHead(page.status ?? 200, {
        "content-type": "text/plain; charset=utf-8",
      });
      response.end(page.body);
    }, page.delay ?? 0);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
  return {
    origin: `http://${HOST}:${port}`,
    hits: (path) => hits.get(path) ?? 0,
    [Symbol.asyncDispose]: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** PEM files of a throwaway CA, a server certificate and a client certificate. */
export interface Certificates {
  dir: string;
  /** The CA certificate's PEM text, and its file for redis-server. */
  ca: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/**
 * Makes a CA and server and client certificates for 127.0.0.1 with openssl,
 * in a temporary folder, valid for a day.
 */
export async function makeCertificates(): Promise<Certificates> {
  const { mkdtemp, readFile, writeFile } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = await mkdtemp(join(tmpdir(), "redis-basic-tls-"));
  const path = (name: string) => join(dir, name);
  const openssl = async (...args: string[]) => {
    const { code, output } = await runChild("openssl", args, 30_000);
    if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${output}`);
  };
  await writeFile(path("san.ext"), "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=redis-basic test CA",
    "-keyout",
    path("ca.key"),
    "-out",
    path("ca.crt"),
  );
  for (const name of ["server", "client"]) {
    await openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=127.0.0.1`,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.csr`),
    );
    await openssl(
      "x509",
      "-req",
      "-days",
      "1",
      "-in",
      path(`${name}.csr`),
      "-CA",
      path("ca.crt"),
      "-CAkey",
      path("ca.key"),
      "-CAcreateserial",
      "-extfile",
      path("san.ext"),
      "-out",
      path(`${name}.crt`),
    );
  }
  const read = (name: string) => readFile(path(name), "utf8");
  return {
    dir,
    ca: await read("ca.crt"),
    caFile: path("ca.crt"),
    serverCert: path("server.crt"),
    serverKey: path("server.key"),
    clientCert: await read("client.crt"),
    clientKey: await read("client.key"),
  };
}

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

// The folder the tests run from: the project on Deno and Bun, the compiled
// copy in .node_test/ on Node (this module is `_testing/redis_server.js` there).
const projectRoot = new URL("../", import.meta.url);
// The project itself, also on Node (.node_test/ is one folder below it).
const sourceRoot = new URL("../../", import.meta.url);

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

/** Which runtime runs the tests. */
export const runtime: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

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

/** A deterministic random source, so that a failure names the same values every run. */
export function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A full garbage collection on demand: Bun's own, else V8's `gc`, which V8
 * hands out once the flag is set (as `node --expose-gc` would).
 */
export function garbageCollector(): () => void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) return () => bun.gc(true);
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc");
}
