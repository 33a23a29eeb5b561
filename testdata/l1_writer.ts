// Run as a child process by l1_test.ts: the other process of the coherence
// test. Writes 1, 2, … n to one key over its own connection and, after each
// write is acknowledged, notes the value and the time (`performance.now()`,
// this process's clock), printing them all at the end, so the reader can
// tell which values had become stale and when.
//
// The two processes' clocks have different origins, so before the first
// write and after the last the writer answers the reader's pings through
// Redis with its clock's reading: each ping brackets that reading between
// two of the reader's, which tells the reader the offset between the clocks
// to within the ping's round trip.

import process from "node:process";
import { createClient } from "redis";

const [url, key, count, pause, pings] = process.argv.slice(2);
const PING_WAIT = 20_000;
const client = createClient({ url });
await client.connect();

async function pop(list: string): Promise<string> {
  const giveUpAt = Date.now() + PING_WAIT;
  while (Date.now() < giveUpAt) {
    // One second at a time, under node-redis's own 5 s command timeout.
    const reply = await client.sendCommand(["BLPOP", list, "1"]);
    if (Array.isArray(reply)) return String(reply[1]);
  }
  throw new Error(`nothing came on ${list} in ${PING_WAIT} ms`);
}

async function answerPings(): Promise<void> {
  for (let ping = 0; ping < Number(pings); ping++) {
    await pop(`${key}:ping`);
    const now = performance.now();
    await client.sendCommand(["RPUSH", `${key}:pong`, String(now)]);
  }
}

await client.sendCommand(["RPUSH", `${key}:pong`, "ready"]);
await answerPings();
const lines: string[] = [];
for (let value = 1; value <= Number(count); value++) {
  await client.sendCommand(["SET", key, String(value)]);
  lines.push(`${value} ${performance.now()}`);
  // A short pause between writes lets the reader see most values.
  await new Promise((resolve) => setTimeout(resolve, Number(pause)));
}
await answerPings();
console.log(lines.join("\n"));
await client.close();
