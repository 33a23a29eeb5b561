// The driver seam's own rules, tested directly: the reconnect backoff both
// drivers of ours use (the end-to-end test in reliability_test.ts sees only
// the start of the curve).

import { test } from "node:test";
import assert from "node:assert/strict";
import { reconnectDelay } from "./connect.ts";

test("reconnectDelay: between half and all of 50 ms doubling per attempt, capped at 2 s, jittered", () => {
  for (let attempt = 0; attempt <= 12; attempt++) {
    const ceiling = Math.min(2_000, 50 * 2 ** attempt);
    const delays = Array.from({ length: 500 }, () => reconnectDelay(attempt));
    const least = Math.min(...delays);
    const most = Math.max(...delays);
    assert.ok(
      least >= ceiling / 2 && most <= ceiling,
      `attempt ${attempt}: ${least}–${most} ms, not ${ceiling / 2}–${ceiling}`,
    );
    // Spread over the range, so processes that lost Redis together do not
    // come back in lockstep; 500 uniform draws leave gaps of about 0.2%.
    assert.ok(
      least < ceiling * 0.55 && most > ceiling * 0.95,
      `attempt ${attempt}: only ${least}–${most} ms`,
    );
  }
  assert.ok(reconnectDelay(10_000) <= 2_000, "capped however long it is down");
});
