// Waits with a bound: for a promise to settle, or for a condition to hold.

/**
 * `work`, failing with "not settled within `ms` ms" if it has not settled
 * by then: a call left pending fails its test instead of hanging it.
 */
export async function settlesWithin<T>(
  ms: number,
  work: Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not settled within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `condition` until it holds, every 20 ms, failing with `message` once
 * `timeout` ms have passed or `gaveUp()` says waiting is pointless. A
 * message given as a function is asked for then, so it can say what the
 * wait saw by the time it gave up.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeout: number,
  message: string | (() => string),
  gaveUp: () => boolean = () => false,
): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await condition())) {
    if (gaveUp() || Date.now() > end) {
      throw new Error(typeof message === "string" ? message : message());
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
