// The Python call history as redis-py keeps it: the counter and the input
// and output lists of a call, the Python-style qualified name of a method,
// and inputs and outputs encoded as redis-py would. The decorators that
// apply it to a cache's methods are in `_engine/decorators.ts`.

import { isPlainObject, pyRepr, pyTupleReprBytes } from "./py_repr.ts";
import type { HistoryWrites } from "./writes.ts";
import type { RedisArgument } from "../redis_client.ts";

/**
 * An async method the decorators wrap. Typed on any object rather than on
 * `Cache`, so this module need not import the class it decorates (which
 * imports it): the public `call_history.ts` narrows it to `Cache`.
 */
export type AsyncMethod<This, Args extends unknown[], Return> = (
  this: This,
  ...args: Args
) => Promise<Return>;

export type Decorator = <This extends object, Args extends unknown[], Return>(
  method: AsyncMethod<This, Args, Return>,
  context: ClassMethodDecoratorContext<This, AsyncMethod<This, Args, Return>>,
) => AsyncMethod<This, Args, Return>;

/**
 * Marks a method that keeps its own Python history under `fixedName`, so
 * {@linkcode recordedName} finds it; the method is returned as it is.
 */
export function recordedAs(fixedName: string): Decorator {
  return (method) => {
    remember(method, undefined, fixedName);
    return method;
  };
}

/** Counts one call at `key`, as `countCalls` does, around `call`. */
export function countCall<R>(
  writes: HistoryWrites,
  key: string,
  call: () => Promise<R>,
): Promise<R> {
  return afterBoth(writes.increment(key), call());
}

/**
 * Records `input`, then the output of `call` if it returns, in the lists at
 * `key:inputs` and `key:outputs`, as `callHistory` does.
 */
export async function recordCall<R>(
  writes: HistoryWrites,
  key: string,
  input: RedisArgument,
  call: () => Promise<R>,
): Promise<R> {
  // Outputs keep the order of the inputs whatever order calls finish in,
  // so replay pairs each input with its own output.
  const place = writes.reserve(`${key}:outputs`);
  let output;
  try {
    // The input is sent before the call starts, in the same round trip.
    output = await afterBoth(writes.append(`${key}:inputs`, input), call());
  } catch (error) {
    place.cancel();
    throw error;
  }
  await place.fill(encodeOutput(output));
  return output;
}

// Each wrapper we make, with the function it wraps and the name it was given,
// so the defining class can be found through stacked decorators.
const wrapped = new WeakMap<
  object,
  { inner: object | undefined; fixedName: string | undefined }
>();
const qualifiedNames = new WeakMap<object, string>();

/** Notes that `wrapper` wraps `inner` under `fixedName`, for {@linkcode recordedName}. */
export function remember(
  wrapper: object,
  inner: object | undefined,
  fixedName: string | undefined,
): void {
  wrapped.set(wrapper, { inner, fixedName });
}

/** The decorated method's name; only public instance methods with string names. */
export function methodName(
  context: { static: boolean; private: boolean; name: string | symbol },
): string {
  if (context.static || context.private || typeof context.name !== "string") {
    throw new TypeError(
      "countCalls and callHistory decorate public instance methods with string names",
    );
  }
  return context.name;
}

/**
 * The `Class.method` name Python's `__qualname__` gives: the class whose
 * prototype holds the decorated method, found once per wrapper.
 */
export function qualifiedName(
  instance: object,
  wrapper: object,
  name: string,
): string {
  let qualified = qualifiedNames.get(wrapper);
  if (qualified === undefined) {
    qualified = `${definingClass(instance, wrapper, name)}.${name}`;
    qualifiedNames.set(wrapper, qualified);
  }
  return qualified;
}

function definingClass(
  instance: object,
  wrapper: object,
  name: string,
): string {
  for (
    let prototype = Object.getPrototypeOf(instance);
    prototype !== null;
    prototype = Object.getPrototypeOf(prototype)
  ) {
    if (!Object.hasOwn(prototype, name)) continue;
    for (
      let layer: object | undefined = prototype[name];
      layer !== undefined;
      layer = wrapped.get(layer)?.inner
    ) {
      if (layer === wrapper) return prototype.constructor.name;
    }
  }
  return instance.constructor.name;
}

/**
 * The qualified name under which `cache`'s method `name` records its calls:
 * the fixed name or defining class of its outermost decorator, else
 * `Class.name` of the cache's own class.
 */
export function recordedName(cache: object, name: string): string {
  if (name.includes(".")) return name;
  for (
    let prototype = Object.getPrototypeOf(cache);
    prototype !== null;
    prototype = Object.getPrototypeOf(prototype)
  ) {
    if (!Object.hasOwn(prototype, name)) continue;
    const layer = wrapped.get(prototype[name]);
    if (layer !== undefined) {
      return layer.fixedName ?? `${prototype.constructor.name}.${name}`;
    }
  }
  return `${cache.constructor.name}.${name}`;
}

/**
 * What redis-py writes for the arguments of a call: Python's `str()` of their
 * tuple, as text, or as bytes when an argument is bytes.
 */
export function callInput(args: readonly unknown[]): RedisArgument {
  const values = positional(args);
  if (values.some((value) => value instanceof Uint8Array)) {
    return pyTupleReprBytes(values);
  }
  // One argument, as every store has: no list of reprs to join.
  if (values.length === 1) return `(${pyRepr(values[0])},)`;
  return `(${values.map((value) => pyRepr(value)).join(", ")})`;
}

// Python passes options as keyword arguments, which are not part of `args`.
function positional(args: readonly unknown[]): unknown[] {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  if (end > 0 && isPlainObject(args[end - 1])) end--;
  return args.slice(0, end);
}

// What redis-py writes for a returned value: text and bytes as they are,
// numbers as their repr; anything else as its repr too.
function encodeOutput(output: unknown): RedisArgument {
  return typeof output === "string" || output instanceof Uint8Array
    ? output
    : pyRepr(output);
}

/** Calls `method`, a synchronous throw becoming a rejection. */
export function invoke<This, Args extends unknown[], Return>(
  method: (this: This, ...args: Args) => Promise<Return>,
  self: This,
  args: Args,
): Promise<Return> {
  try {
    return Promise.resolve(method.apply(self, args));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Waits for a bookkeeping write sent ahead of the call and for the call
 * itself. As in Python, where the write comes first and a failed write stops
 * the call, the write's error wins; otherwise the call's outcome is returned.
 */
async function afterBoth<T>(
  bookkeeping: Promise<unknown>,
  call: Promise<T>,
): Promise<T> {
  const [written, result] = await Promise.allSettled([bookkeeping, call]);
  if (written.status === "rejected") throw written.reason;
  if (result.status === "rejected") throw result.reason;
  return result.value;
}
