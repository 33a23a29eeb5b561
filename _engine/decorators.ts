// The decorators of Cache's methods, which find the cache's engine through
// `this`: `@traced` (OpenTelemetry), and the scaffolding of `countCalls` and
// `callHistory`. They sit apart from the telemetry instruments and the
// Python history they apply, which the engine handle names: an import back
// from those would make a cycle.

import {
  callInput,
  countCall,
  type Decorator,
  invoke,
  methodName,
  qualifiedName,
  recordCall,
  remember,
} from "../_history/call_history.ts";
import type { HistoryWrites } from "../_history/writes.ts";
import { engineOf, telemetryOf } from "./handle.ts";

/** For `@traced`: the length of the first argument, an array (storeMany's values, getMany's keys). */
export const lengthOfFirst = (args: unknown[]): number =>
  (args[0] as unknown[]).length;

/** For `@traced`: the string arguments (delete's keys, before its options). */
export const stringsIn = (args: unknown[]): number =>
  args.filter((arg) => typeof arg === "string").length;

/** For `@traced`: the entries of a getMany result that were found. */
export const foundIn = (result: unknown): number =>
  (result as unknown[]).filter((value) => value !== null).length;

/**
 * A method decorator: runs the method inside `Telemetry.run` when the cache
 * has telemetry on, and calls it straight through otherwise.
 */
export function traced(
  operation: string,
  keyCount: (args: unknown[]) => number,
  found?: (result: unknown) => number,
): <M extends (this: object, ...args: never[]) => Promise<unknown>>(
  method: M,
  context: ClassMethodDecoratorContext,
) => M {
  return (method) => {
    const call = method as unknown as (
      this: object,
      ...args: unknown[]
    ) => Promise<unknown>;
    return function (this: object): Promise<unknown> {
      // `arguments`, not a rest parameter: passed straight to apply, it is
      // never made into an array, and this wrapper is on every call.
      const args = arguments as unknown as unknown[];
      const telemetry = telemetryOf(this);
      if (telemetry === undefined) return call.apply(this, args);
      const copied = Array.from(args);
      return telemetry.run(
        operation,
        keyCount(copied),
        () => call.apply(this, copied),
        found,
      );
    } as unknown as typeof method;
  };
}

/**
 * The scaffolding both decorators share: find the cache and the key, skip
 * everything when the cache keeps no history, else let `keep` write its
 * bookkeeping around the call.
 */
function bookkeeping(
  fixedName: string | undefined,
  keep: <R>(
    writes: HistoryWrites,
    key: string,
    args: unknown[],
    call: () => Promise<R>,
  ) => Promise<R>,
): Decorator {
  return (method, context) => {
    const name = methodName(context);
    // Not async: without history the call goes straight through, adding no
    // promise and no microtask turn to it.
    const wrapper: typeof method = function (...args) {
      let engine;
      try {
        engine = engineOf(this);
      } catch (error) {
        return Promise.reject(error);
      }
      if (!engine.history) return invoke(method, this, args);
      const key = engine.prefix +
        (fixedName ?? qualifiedName(this, wrapper, name));
      return keep(
        engine.historyWrites,
        key,
        args,
        () => invoke(method, this, args),
      );
    };
    remember(wrapper, method, fixedName);
    return wrapper;
  };
}

/**
 * `countCalls` with a fixed qualified name, for methods whose Redis keys must
 * not depend on the class name a bundler may rename (`Cache.store`).
 */
export function countCallsAs(fixedName: string | undefined): Decorator {
  return bookkeeping(
    fixedName,
    (writes, key, _args, call) => countCall(writes, key, call),
  );
}

/** `callHistory` with a fixed qualified name; see {@linkcode countCallsAs}. */
export function callHistoryAs(fixedName: string | undefined): Decorator {
  return bookkeeping(
    fixedName,
    (writes, key, args, call) => recordCall(writes, key, callInput(args), call),
  );
}
