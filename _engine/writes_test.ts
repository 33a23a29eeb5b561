// The order in which a tick's writes of one key land: as they were made,
// whatever command each goes in and whether it waits for the batch or not.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { redisForThisFile } from "../_testing/redis_server.ts";
import { openEngine } from "./engine.ts";

const { server, raw } = await redisForThisFile();

test("a write sent alone after a batch cut in parts waits for every part, so the last write of a key wins", async () => {
  const engine = await openEngine({
    url: server.url(),
    namespace: "order",
    flush: false,
    history: false,
  });
  after(() => engine.close());
  const key = `${engine.prefix}k`;
  const { writes } = engine;
  // Two writes of the key in one tick that go in different commands (the
  // script of an expiry, then an MSET) cut the batch in two parts, the
  // second sent once the first is answered.
  const batched = [
    writes.write(key, "first, with an expiry", 60_000, 0, {}),
    writes.write(key, "second", undefined, 0, {}),
  ];
  // A timeout of its own sends a write alone, after the batch made first.
  const alone = writes.write(key, "last, alone", undefined, 0, {
    timeout: 5_000,
  });
  await Promise.all([...batched, alone]);
  assert.equal(
    new TextDecoder().decode(await raw.getBytes(key) as Uint8Array),
    "last, alone",
  );
  assert.equal(Number(await raw.send("PTTL", key)), -1);
});
