// Run as a child process by l1_test.ts: the other process of the coherence
// test. Writes 1, 2, … n to one key over its own connection and, after each
// write is acknowledged, prints the value and the time it was acknowledged
// (epoch ms), so the reader can tell which values had become stale and when.

import process from "node:process";
import { createClient } from "redis";

const [url, key, count, pause] = process.argv.slice(2);
const client = createClient({ url });
await client.connect();
const lines: string[] = [];
for (let value = 1; value <= Number(count); value++) {
  await client.sendCommand(["SET", key, String(value)]);
  lines.push(`${value} ${performance.timeOrigin + performance.now()}`);
  // A short pause between writes lets the reader see most values.
  await new Promise((resolve) => setTimeout(resolve, Number(pause)));
}
console.log(lines.join("\n"));
await client.close();
