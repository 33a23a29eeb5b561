// One bound for every wait on Redis, whatever the driver offers itself, and
// cancellation by an AbortSignal.

/**
 * Settles like `promise`, or rejects with `onTimeout()` once `ms` have
 * passed, or with `signal.reason` as soon as `signal` aborts. The timer and
 * the listener are removed as soon as `promise` settles, so neither keeps a
 * process alive.
 */
export function deadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
  signal?: AbortSignal,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    if (signal !== undefined) {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  return Promise.race([promise, expired]).finally(() => {
    clearTimeout(timer);
    if (onAbort !== undefined) signal!.removeEventListener("abort", onAbort);
  });
}
