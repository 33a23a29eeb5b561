// The `@traced` decorator of Cache's methods. It sits apart from the
// instruments in `_telemetry.ts`: it looks the cache's telemetry up in the
// cache internals, which name the `Telemetry` type, and an import back from
// `_telemetry.ts` would make the two a cycle.

import { findInternals } from "./handle.ts";

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
    return function (this: object, ...args: unknown[]): Promise<unknown> {
      const telemetry = findInternals(this)?.telemetry;
      if (telemetry === undefined) return call.apply(this, args);
      return telemetry.run(
        operation,
        keyCount(args),
        () => call.apply(this, args),
        found,
      );
    } as unknown as typeof method;
  };
}
