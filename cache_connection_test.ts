// How the cache fails: refused, silent and paused servers, wrong passwords,
// and what a failed connect leaves behind. Real servers and real processes.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Cache, ConnectionError, TimeoutError } from "./mod.ts";
import { runChild } from "./_testing/child.ts";
import { freePort } from "./_testing/free_port.ts";
import { connectRaw } from "./_testing/raw_client.ts";
import { startRedisServer } from "./_testing/redis_server.ts";
import { runtime } from "./_testing/runtime.ts";
import { skipBecause } from "./_testing/skip.ts";

const PASSWORD = "s3cret-Pa55word";
const server = await startRedisServer({
  args: ["--requirepass", PASSWORD],
  password: PASSWORD,
});
const url = `redis://:${PASSWORD}@127.0.0.1:${server.port}`;
const raw = await connectRaw(url);
await raw.send("ACL", "SETUSER", "alice", "on", ">alice-Pa55", "~*", "+@all");
after(async () => {
  await raw[Symbol.asyncDispose]();
  await server.stop();
});

/** Every message and stack in an error's cause chain, as one text. */
function everything(error: unknown): string {
  const parts: string[] = [];
  for (
    let e = error, depth = 0;
    e instanceof Error && depth < 10;
    e = e.cause, depth++
  ) {
    parts.push(e.message, e.stack ?? "", String(e));
  }
  return parts.join("\n");
}

/** A TCP server that accepts connections and never answers. */
async function silentServer(): Promise<
  { port: number; close(): Promise<void> }
> {
  const sockets = new Set<Socket>();
  const listener = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  const port = await freePort();
  await new Promise<void>((resolve) =>
    listener.listen(port, "127.0.0.1", resolve)
  );
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        listener.close(() => resolve());
      }),
  };
}

test("the right password and an ACL user connect", async () => {
  await using cache = await Cache.connect({ url, flush: false });
  assert.equal(await cache.getStr(await cache.store("auth")), "auth");
  await using alice = await Cache.connect({
    url: `redis://alice:alice-Pa55@127.0.0.1:${server.port}`,
    flush: false,
  });
  assert.equal(await alice.getStr(await alice.store("acl")), "acl");
});

test("a wrong password rejects with a ConnectionError that never shows the password", async () => {
  for (
    const wrong of [
      `redis://:wrong-Pa55word-1@127.0.0.1:${server.port}`,
      `redis://alice:wrong-Pa55word-1@127.0.0.1:${server.port}`,
    ]
  ) {
    const error = await Cache.connect({ url: wrong, flush: false }).catch((e) =>
      e
    );
    assert.ok(error instanceof ConnectionError, String(error));
    assert.ok(
      !everything(error).includes("wrong-Pa55word-1"),
      everything(error),
    );
    assert.ok(
      error.message.includes(`127.0.0.1:${server.port}`),
      error.message,
    );
  }
});

test("no password against a protected server rejects with a ConnectionError and flushes nothing", async () => {
  await raw.send("SET", "survives-noauth", "1");
  const error = await Cache.connect({ url: server.url(), flush: true }).catch((
    e,
  ) => e);
  assert.ok(error instanceof ConnectionError, String(error));
  assert.equal(await raw.send("EXISTS", "survives-noauth"), 1);
});

test("a server that accepts but never answers: connect rejects with a TimeoutError within connectTimeout", async () => {
  const silent = await silentServer();
  try {
    const started = Date.now();
    const error = await Cache.connect({
      url: `redis://:${PASSWORD}@127.0.0.1:${silent.port}`,
      connectTimeout: 300,
    }).catch((e) => e);
    const elapsed = Date.now() - started;
    assert.ok(error instanceof TimeoutError, String(error));
    assert.ok(elapsed >= 250 && elapsed < 2_000, `took ${elapsed} ms`);
    assert.ok(!everything(error).includes(PASSWORD));
  } finally {
    await silent.close();
  }
});

test("a paused server: a command rejects with a TimeoutError within timeout, and the cache works again after", async () => {
  await using cache = await Cache.connect({ url, flush: false, timeout: 300 });
  const key = await cache.store("before pause");
  await raw.send("CLIENT", "PAUSE", "1000", "ALL");
  try {
    const started = Date.now();
    const error = await cache.get(key).catch((e) => e);
    const elapsed = Date.now() - started;
    assert.ok(error instanceof TimeoutError, String(error));
    assert.ok(elapsed >= 250 && elapsed < 2_000, `took ${elapsed} ms`);
    assert.match(error.message, /GET timed out after 300 ms/);
  } finally {
    await raw.send("CLIENT", "UNPAUSE");
  }
  assert.equal(await cache.getStr(key), "before pause");
});

test("a stopped process (SIGSTOP): calls settle with a TimeoutError, then work after SIGCONT", async () => {
  await using cache = await Cache.connect({ url, flush: false, timeout: 300 });
  const key = await cache.store("before stop");
  server.pause();
  try {
    const results = await Promise.allSettled([
      cache.get(key),
      cache.store("during stop"),
    ]);
    for (const result of results) {
      assert.equal(result.status, "rejected");
      assert.ok(
        (result as PromiseRejectedResult).reason instanceof TimeoutError,
      );
    }
  } finally {
    server.resume();
  }
  assert.equal(await cache.getStr(key), "before stop");
});

test("a failed connect leaves nothing behind that keeps the process alive", async () => {
  const silent = await silentServer();
  const refused = `redis://127.0.0.1:${await freePort()}`;
  const script = fileURLToPath(
    new URL(
      `./testdata/connect_and_exit${
        import.meta.url.endsWith(".js") ? ".js" : ".ts"
      }`,
      import.meta.url,
    ),
  );
  const args = runtime === "deno" ? ["run", "--allow-all", script] : [script];
  try {
    const { code, output } = await runChild(process.execPath, [
      ...args,
      refused,
      `redis://127.0.0.1:${silent.port}`,
    ], 15_000);
    assert.notEqual(code, null, `the child process did not exit: ${output}`);
    assert.deepEqual(output.trim().split("\n"), [
      "ConnectionError",
      "TimeoutError",
    ], output);
  } finally {
    await silent.close();
  }
});

test("on Deno, the permissions the README lists are enough", {
  skip: skipBecause(
    import.meta.url,
    runtime !== "deno" && "Deno permissions exist only on Deno",
  ),
}, async () => {
  const script = fileURLToPath(
    new URL("./testdata/connect_and_exit.ts", import.meta.url),
  );
  const { code, output } = await runChild(process.execPath, [
    "run",
    `--allow-net=127.0.0.1:${server.port}`,
    "--allow-env=REDIS_URL,REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
    "--no-prompt",
    script,
    url,
  ], 15_000);
  assert.equal(code, 0, output);
  assert.equal(output.trim(), "connected");
});
