// One bound for every wait on Redis, whatever the driver offers itself.

/**
 * Settles like `promise`, or rejects with `onTimeout()` once `ms` have
 * passed. The timer is cleared as soon as `promise` settles, so it never
 * keeps a process alive.
 */
export function deadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
