// Run as a child process by cache_connection_test.ts: tries to connect to
// each URL given on the command line, prints one line per attempt, then
// returns. A reconnect loop or timer left behind by a failed connect would
// keep this process alive, and the test would see it not exit.

import process from "node:process";
import { Cache } from "../mod.ts";

for (
  const url of process.argv.slice(2).filter((arg) => arg.startsWith("redis"))
) {
  try {
    const cache = await Cache.connect({
      url,
      connectTimeout: 500,
      flush: false,
    });
    await cache.close();
    console.log("connected");
  } catch (error) {
    console.log((error as Error).name);
  }
}
