/**
 * Method decorators that keep call counts and call histories in Redis under
 * the same keys, and in the same form, as the Python original's
 * `count_calls` and `call_history`, so both can share one Redis.
 *
 * @example Count and record the calls of your own method
 * ```ts
 * import { Cache, callHistory, countCalls, replay } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * class Greeter extends Cache {
 *   @countCalls
 *   @callHistory
 *   async greet(name: string): Promise<string> {
 *     return `hello ${name}`;
 *   }
 * }
 *
 * await using cache = await Greeter.connect({ namespace: "doc-greeter" });
 * await cache.greet("ada");
 * const lines = await replay(cache, "greet", { log: () => {} });
 * assert.deepEqual(lines, [
 *   "Greeter.greet was called 1 times:",
 *   "Greeter.greet(*('ada',)) -> hello ada",
 * ]);
 * ```
 *
 * @module
 */

import { callHistoryAs, countCallsAs } from "./_engine/decorators.ts";
import type { Cache } from "./cache.ts";

/** An async method of a {@linkcode Cache} (or subclass) that a decorator can wrap. */
export type CacheMethod<This extends Cache, Args extends unknown[], Return> = (
  this: This,
  ...args: Args
) => Promise<Return>;

/**
 * Counts every call of the method in Redis: `INCR Class.method` (Python's
 * `__qualname__`, the class that defines the method, also when a subclass
 * calls it) before the method runs, so failed calls count too. The counter
 * goes to Redis in the same round trip as the method's own first command.
 *
 * @example
 * ```ts
 * import { Cache, countCalls } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * class Counter extends Cache {
 *   @countCalls
 *   async ping(): Promise<string> {
 *     return "pong";
 *   }
 * }
 * await using cache = await Counter.connect({ namespace: "doc-count" });
 * await cache.ping();
 * await cache.ping();
 * assert.equal(await cache.getInt("Counter.ping"), 2);
 * ```
 *
 * @param method The async method.
 * @param context The decorator context.
 * @returns The method, wrapped.
 */
export function countCalls<This extends Cache, Args extends unknown[], Return>(
  method: CacheMethod<This, Args, Return>,
  context: ClassMethodDecoratorContext<This, CacheMethod<This, Args, Return>>,
): CacheMethod<This, Args, Return> {
  return countCallsAs(undefined)(method, context);
}

/**
 * Records the history of the method's calls in two Redis lists, as Python's
 * `call_history` does: `RPUSH Class.method:inputs <str(args)>` before the
 * call, and `RPUSH Class.method:outputs <result>` after it. The input is
 * exactly Python's `str()` of the positional arguments as a tuple: `('a',)`,
 * `(42,)`, `(3.14,)`, `(b'\x00',)`; a final plain-object argument is taken
 * as options (Python's keyword arguments) and not recorded. A call that
 * throws records its input and no output.
 *
 * @example
 * ```ts
 * import { Cache, callHistory } from "@redis-basic/cache";
 * import assert from "node:assert/strict";
 *
 * class Doubler extends Cache {
 *   @callHistory
 *   async double(n: number): Promise<number> {
 *     return n * 2;
 *   }
 * }
 * await using cache = await Doubler.connect({ namespace: "doc-history" });
 * assert.equal(await cache.double(21), 42);
 * ```
 *
 * @param method The async method.
 * @param context The decorator context.
 * @returns The method, wrapped.
 */
export function callHistory<This extends Cache, Args extends unknown[], Return>(
  method: CacheMethod<This, Args, Return>,
  context: ClassMethodDecoratorContext<This, CacheMethod<This, Args, Return>>,
): CacheMethod<This, Args, Return> {
  return callHistoryAs(undefined)(method, context);
}
