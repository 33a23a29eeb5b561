// Runs a read-through loader with its context (signal, stale value, setTtl,
// skip) and its hard timeout, and lets a caller wait for a load at most its
// soft timeout. The hard timeout aborts the loader's signal with a
// TimeoutError and rejects with it, whether or not the loader listens.

import type { Loader, LoaderContext } from "../cache_options.ts";
import { TimeoutError } from "../errors.ts";
import { checkTags } from "./tags.ts";

/** What a loader returned, and what it asked for through its context. */
export interface LoaderResult<T> {
  value: T;
  /** The ttl it set with `setTtl`, in ms, if it did. */
  ttl: number | undefined;
  /** Whether it asked not to store the value. */
  skip: boolean;
  /** The tags it set with `setTags`, checked, if it did. */
  tags: string[] | undefined;
}

/**
 * Calls `loader` with its context, bounded by `hard` ms when given; its
 * signal also aborts when `closing` does (the cache closed).
 */
export async function runLoader<T, S>(
  loader: Loader<T, S>,
  stale: S | null,
  hard: number | undefined,
  closing: AbortSignal,
  onHardTimeout?: () => void,
): Promise<LoaderResult<T>> {
  const controller = new AbortController();
  const onClose = () => controller.abort(closing.reason);
  closing.addEventListener("abort", onClose, { once: true });
  let ttl: number | undefined;
  let skip = false;
  let tags: string[] | undefined;
  const context: LoaderContext<S> = {
    signal: controller.signal,
    stale,
    setTtl(ms: number) {
      if (!Number.isSafeInteger(ms) || ms <= 0) {
        throw new RangeError(
          `setTtl takes a positive whole number of milliseconds, got ${ms}`,
        );
      }
      ttl = ms;
    },
    skip() {
      skip = true;
    },
    // Checked at once, so a bad tag fails the loader and nothing is stored.
    setTags(given: readonly string[]) {
      if (!Array.isArray(given)) {
        throw new TypeError("setTags takes an array of strings");
      }
      tags = checkTags(given);
    },
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const loaded = Promise.resolve().then(() => loader(context));
    const value = hard === undefined ? await loaded : await Promise.race([
      loaded,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new TimeoutError(
            `the loader ran past its hard timeout of ${hard} ms`,
          );
          controller.abort(error);
          onHardTimeout?.();
          reject(error);
        }, hard);
      }),
    ]);
    return { value, ttl, skip, tags };
  } finally {
    clearTimeout(timer);
    closing.removeEventListener("abort", onClose);
  }
}

/**
 * `load`'s value if it settles within `soft` ms, else `undefined` (the load
 * goes on); a load that fails in time gives `undefined` too, so the caller
 * serves its stale value. `soft` undefined or 0: does not wait at all.
 */
export async function withinSoft<T>(
  load: Promise<T>,
  soft: number | undefined,
): Promise<{ value: T } | undefined> {
  if (soft === undefined || soft === 0) return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      load.then((value) => ({ value }), () => undefined),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), soft);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
