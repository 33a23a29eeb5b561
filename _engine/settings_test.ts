// The options of connect and of each call, as the engine resolves them:
// what a call falls back to, what it may override, and the Redis key names
// that the Python history lives under, which must never change.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Settings } from "./settings.ts";

const url = "redis://127.0.0.1:1";

test("a call's ttl, touch, replicas, policy and timeout fall back to the cache's, and its own win", () => {
  const settings = new Settings({
    url,
    ttl: 60_000,
    waitReplicas: 1,
    onUnavailable: "miss",
    timeout: 1_000,
  });
  assert.equal(settings.ttlFor({}), 60_000);
  assert.equal(settings.ttlFor({ ttl: 5 }), 5);
  assert.equal(settings.touchFor({}), undefined);
  assert.equal(settings.touchFor({ touch: false }), undefined);
  assert.equal(settings.touchFor({ touch: true }), 60_000);
  assert.equal(settings.touchFor({ touch: 7 }), 7);
  assert.equal(settings.replicasFor({}), 1);
  assert.equal(settings.replicasFor({ waitReplicas: 0 }), 0);
  assert.equal(settings.policyFor({}), "miss");
  assert.equal(settings.policyFor({ onUnavailable: "throw" }), "throw");
  assert.equal(settings.timeoutFor({}), 1_000);
  assert.equal(settings.timeoutFor({ timeout: 20 }), 20);
  assert.equal(settings.readThroughFor({}).lockTimeout, 10_000);
});

test("a call's own options are checked when the call starts", () => {
  const settings = new Settings({ url });
  assert.equal(settings.ttlFor({}), undefined);
  assert.throws(() => settings.ttlFor({ ttl: 0 }), RangeError);
  assert.throws(
    () => settings.touchFor({ touch: true }),
    /needs a default ttl/,
  );
  assert.throws(() => settings.replicasFor({ waitReplicas: -1 }), RangeError);
  assert.throws(
    // @ts-expect-error: a policy that does not exist
    () => settings.policyFor({ onUnavailable: "maybe" }),
    TypeError,
  );
  assert.throws(() => settings.timeoutFor({ timeout: 0 }), RangeError);
});

test("only a call without a signal or a timeout of its own shares its tick's batch", () => {
  const settings = new Settings({ url });
  assert.equal(settings.sharesBatch({}), true);
  assert.equal(settings.sharesBatch({ timeout: 5 }), false);
  assert.equal(
    settings.sharesBatch({ signal: new AbortController().signal }),
    false,
  );
});

test("the namespace prefixes every key, the Python history's too", () => {
  const plain = new Settings({ url });
  assert.equal(plain.prefix, "");
  assert.deepEqual(plain.historyKeys, {
    count: "Cache.store",
    inputs: "Cache.store:inputs",
    outputs: "Cache.store:outputs",
  });
  const named = new Settings({ url, namespace: "app" });
  assert.equal(named.prefix, "app:");
  assert.deepEqual(named.historyKeys, {
    count: "app:Cache.store",
    inputs: "app:Cache.store:inputs",
    outputs: "app:Cache.store:outputs",
  });
});

test("connect's options are checked before anything connects, with their defaults filled in", () => {
  const settings = new Settings({ url });
  assert.equal(settings.timeout, 5_000);
  assert.equal(settings.connectTimeout, 5_000);
  assert.equal(settings.offlineQueue, 32);
  assert.equal(settings.flush, true);
  assert.equal(settings.coalesce, true);
  assert.equal(settings.history, true);
  assert.equal(settings.l1, undefined);
  assert.deepEqual(new Settings({ url, l1: {} }).l1, {
    maxEntries: 10_000,
    maxBytes: 64 * 1024 * 1024,
  });
  assert.throws(() => new Settings({ url, l1: { maxEntries: 0 } }), RangeError);
  assert.throws(() => new Settings({ url, offlineQueue: -1 }), RangeError);
  // @ts-expect-error: flush is a boolean
  assert.throws(() => new Settings({ url, flush: "yes" }), TypeError);
  assert.throws(
    () => new Settings({ url, client: {} as never, cluster: {} as never }),
    /give one of client, cluster and sentinel/,
  );
});
