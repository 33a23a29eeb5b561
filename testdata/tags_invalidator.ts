// Run as a child process by tags_test.ts: the other process of the L1 test.
// Once told to go (through a Redis list), invalidates a tag through a cache
// of its own, and only after that resolves says so on another list, with
// how many entries it removed and when (Date.now()) the call resolved.

import process from "node:process";
import { createClient } from "redis";
import { Cache } from "../mod.ts";

const [url, namespace, tag, list] = process.argv.slice(2);
const WAIT = 20_000;
const client = createClient({ url });
await client.connect();
await using cache = await Cache.connect({ url, namespace, flush: false });

async function pop(name: string): Promise<string> {
  const giveUpAt = Date.now() + WAIT;
  while (Date.now() < giveUpAt) {
    // One second at a time, under node-redis's own 5 s command timeout.
    const reply = await client.sendCommand(["BLPOP", name, "1"]);
    if (Array.isArray(reply)) return String(reply[1]);
  }
  throw new Error(`nothing came on ${name} in ${WAIT} ms`);
}

await client.sendCommand(["RPUSH", `${list}:ready`, "ready"]);
await pop(`${list}:go`);
const removed = await cache.invalidateTags(tag);
// The wall clock is the one both processes share.
await client.sendCommand(["RPUSH", `${list}:done`, `${removed} ${Date.now()}`]);
await client.close();
