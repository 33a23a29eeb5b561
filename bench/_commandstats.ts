// Redis's own time for the commands the cache sends for a batch of 100, read
// from `INFO commandstats` around bursts made for that alone: what a
// coalesced batch costs the server, whatever the client spends around it.

import { createClient } from "redis";
import { Cache } from "../mod.ts";

/** Redis µs per command, each measured over `bursts` bursts of `batch` calls. */
export interface ServerTime {
  batch: number;
  bursts: number;
  /** The MGET of a batch of gets, and the EXISTS sent with it. */
  mgetUs: number;
  existsUs: number;
  /** The script that answers instead when a key holds another type. */
  getEachScriptUs: number;
  /** The script of a batch of stores keeping the Python history. */
  storeScriptUs: number;
  /** The MSET of a batch of stores with `history: false`. */
  msetUs: number;
  /**
   * Commands per burst, by phase and command ("gets mget"): 1 when each
   * burst went as one batch.
   */
  callsPerBurst: Record<string, number>;
}

// The two commands this needs of the admin connection.
interface Admin {
  sendCommand(args: string[]): Promise<unknown>;
  flushDb(): Promise<unknown>;
}

interface Stat {
  calls: number;
  usec: number;
}

// `cmdstat_mget:calls=2,usec=30,usec_per_call=15.00,…`, one line per command.
async function commandstats(admin: Admin): Promise<Map<string, Stat>> {
  const text = String(await admin.sendCommand(["INFO", "commandstats"]));
  const stats = new Map<string, Stat>();
  for (
    const match of text.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)
  ) {
    stats.set(match[1], { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

// The server's stats for what `bursts` bursts of `burst()` sent, after a
// few unmeasured ones (the scripts get loaded then).
async function measured(
  admin: Admin,
  bursts: number,
  burst: () => Promise<unknown>,
): Promise<Map<string, Stat>> {
  for (let i = 0; i < 5; i++) await burst();
  await admin.sendCommand(["CONFIG", "RESETSTAT"]);
  for (let i = 0; i < bursts; i++) await burst();
  return await commandstats(admin);
}

function usPerCall(stats: Map<string, Stat>, ...commands: string[]): number {
  let calls = 0;
  let usec = 0;
  for (const command of commands) {
    calls += stats.get(command)?.calls ?? 0;
    usec += stats.get(command)?.usec ?? 0;
  }
  if (calls === 0) {
    throw new Error(`commandstats: no ${commands.join(" or ")} was sent`);
  }
  return usec / calls;
}

/**
 * Measures the commands of batches of `batch` gets and stores of `value`
 * made by the cache at `url`, on a database it empties before and after: one Redis of
 * the benchmark's own, not shared.
 */
export async function measureServerTime(
  url: string,
  batch: number,
  bursts: number,
  value: string,
): Promise<ServerTime> {
  const admin = createClient({ url, commandOptions: { timeout: 0 } });
  await admin.connect();
  const withHistory = await Cache.connect({ url, flush: false });
  const withoutHistory = await Cache.connect({
    url,
    flush: false,
    history: false,
  });
  const keys = Array.from({ length: batch }, (_, i) => `commandstats:${i}`);
  const callsPerBurst: Record<string, number> = {};
  const count = (
    phase: string,
    stats: Map<string, Stat>,
    ...commands: string[]
  ) => {
    for (const command of commands) {
      callsPerBurst[`${phase} ${command}`] = (stats.get(command)?.calls ?? 0) /
        bursts;
    }
  };
  try {
    await admin.flushDb();
    await admin.sendCommand(["MSET", ...keys.flatMap((key) => [key, value])]);
    const gets = await measured(
      admin,
      bursts,
      () => Promise.all(keys.map((key) => withHistory.get(key))),
    );
    count("gets", gets, "mget", "exists", "get");
    // One key of the batch holds a list: EXISTS counts one key more than
    // MGET found, and the script answers for the batch.
    await admin.sendCommand(["DEL", keys[0]]);
    await admin.sendCommand(["RPUSH", keys[0], value]);
    const script = await measured(
      admin,
      bursts,
      () => Promise.allSettled(keys.map((key) => withHistory.get(key))),
    );
    count("gets of a list", script, "mget", "exists", "eval");
    const stores = (cache: Cache) => () =>
      Promise.all(keys.map(() => cache.store(value)));
    const recorded = await measured(admin, bursts, stores(withHistory));
    const plain = await measured(admin, bursts, stores(withoutHistory));
    count("stores", recorded, "evalsha", "eval", "set");
    count("stores (history: false)", plain, "mset", "set");
    return {
      batch,
      bursts,
      mgetUs: usPerCall(gets, "mget"),
      existsUs: usPerCall(gets, "exists"),
      getEachScriptUs: usPerCall(script, "eval", "evalsha"),
      storeScriptUs: usPerCall(recorded, "evalsha", "eval"),
      msetUs: usPerCall(plain, "mset"),
      callsPerBurst,
    };
  } finally {
    await admin.flushDb();
    await withHistory.close();
    await withoutHistory.close();
    admin.destroy();
  }
}
