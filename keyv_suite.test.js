// Keyv's own adapter test suite, unchanged, run by vitest on Node against a
// real redis-server this file starts: the test every Keyv adapter must pass.
// Plain JavaScript on the tsc output in .node_test/ (which `deno task test`
// builds first), because vitest's transformer cannot lower the decorators
// cache.ts uses and Node 20 cannot run them.

import * as vitest from "vitest";
import Keyv from "keyv";
import keyvTestSuite, { keyvIteratorTests } from "@keyv/test-suite";
import { Cache } from "./.node_test/mod.js";
import { KeyvStore } from "./.node_test/keyv.js";
import { startRedisServer } from "./.node_test/_testing/redis_server.js";

const server = await startRedisServer();
const cache = await Cache.connect({ url: server.url(), namespace: "keyv-suite" });
vitest.afterAll(async () => {
  await cache.close();
  await server.stop();
});

const store = () => new KeyvStore(cache);
keyvTestSuite(vitest, Keyv, store);
keyvIteratorTests(vitest, Keyv, store);
