// A full garbage collection on demand, on every runtime.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

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
