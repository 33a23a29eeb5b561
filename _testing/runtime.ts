// Which runtime runs the tests, and the folder they run from.

/** Which runtime runs the tests. */
export const runtime: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/**
 * The folder the tests run from: the project on Deno and Bun, the compiled
 * copy in .node_test/ on Node (this module is `_testing/runtime.js` there).
 */
export const projectRoot: URL = new URL("../", import.meta.url);
