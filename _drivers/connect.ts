// How adapters that open their own connection bound the connect and space
// their reconnect attempts, the same for every client.

import { deadline } from "./deadline.ts";
import type { OpenOptions } from "./driver.ts";
import { ConnectionError, TimeoutError } from "../errors.ts";
import { describeEndpoint } from "./url.ts";

/**
 * Waits for a driver's own `connect` within the connect timeout. On failure
 * `release` is called first, so no reconnect loop is left behind to keep the
 * process alive, and the error says which server could not be reached.
 */
export async function connectWithin(
  connecting: Promise<unknown>,
  { endpoint, connectTimeout }: OpenOptions,
  release: () => void,
): Promise<void> {
  const where = describeEndpoint(endpoint);
  try {
    await deadline(
      connecting,
      connectTimeout,
      () =>
        new TimeoutError(
          `connecting to Redis at ${where} timed out after ${connectTimeout} ms`,
        ),
    );
  } catch (error) {
    release();
    if (error instanceof TimeoutError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConnectionError(
      `cannot connect to Redis at ${where}: ${reason}`,
      {
        cause: error,
      },
    );
  }
}

// Backoff between reconnect attempts: doubles from 50 ms, capped at 2 s, with
// jitter so that many processes do not reconnect in lockstep.
const RECONNECT_BASE = 50;
const RECONNECT_CAP = 2_000;

/** How long to wait before reconnect attempt number `attempt` (0-based), in ms. */
export function reconnectDelay(attempt: number): number {
  const ceiling = Math.min(RECONNECT_CAP, RECONNECT_BASE * 2 ** attempt);
  return Math.round(ceiling * (0.5 + Math.random() / 2));
}
