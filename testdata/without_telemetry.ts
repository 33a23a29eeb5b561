// Run as a child process by telemetry_test.ts: makes `@opentelemetry/api` a
// module that throws when it is loaded (a resolve hook on Node, a plugin on
// Bun, the import map the test passes on Deno), then imports the public
// entries and uses a cache. Without the telemetry option every call must
// work; with `telemetry` on the command line, connecting must hit the
// tripwire, which shows that the tripwire is in place on this runtime.

import process from "node:process";
import * as nodeModule from "node:module";

/** The message of the tripwire module, which the test looks for. */
const TRIPWIRE = "@opentelemetry/api was imported";
const TRIPWIRE_SOURCE = `throw new Error(${JSON.stringify(TRIPWIRE)});`;

const [url, mode] = process.argv.slice(2).filter((arg) =>
  arg.startsWith("redis") || arg === "telemetry" || arg === "plain"
);

if ("Bun" in globalThis) {
  const { Bun } = globalThis as unknown as {
    Bun: {
      plugin(plugin: {
        name: string;
        setup(build: {
          onLoad(
            options: { filter: RegExp },
            load: () => { contents: string; loader: "js" },
          ): void;
        }): void;
      }): void;
    };
  };
  // Any file of the package, whichever entry resolution picks.
  Bun.plugin({
    name: "no @opentelemetry/api",
    setup(build) {
      build.onLoad(
        { filter: /[\\/]node_modules[\\/]@opentelemetry[\\/]api[\\/]/ },
        () => ({ contents: TRIPWIRE_SOURCE, loader: "js" }),
      );
    },
  });
} else if (!("Deno" in globalThis)) {
  // Node 20 runs resolve hooks on a thread of their own, so the hook module
  // is passed as source; it sends the package and its subpaths to a module
  // that throws.
  const hooks = `export async function resolve(specifier, context, next) {
  if (/^@opentelemetry\\/api(\\/|$)/.test(specifier)) {
    return {
      url: "data:text/javascript," + encodeURIComponent(${
    JSON.stringify(TRIPWIRE_SOURCE)
  }),
      shortCircuit: true,
    };
  }
  return next(specifier, context);
}`;
  (nodeModule as unknown as {
    register(specifier: string): void;
  }).register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}

// Imported only now, after the tripwire is in place: a static import would
// be evaluated before it.
const { Cache } = await import("../mod.ts");
const { getPage } = await import("../web.ts");
const { KeyvStore } = await import("../keyv.ts");

try {
  await using cache = await Cache.connect({
    url,
    namespace: "without-telemetry",
    ...(mode === "telemetry" ? { telemetry: true } : {}),
  });
  const key = await cache.store("value", { ttl: 60_000 });
  const keys = await cache.storeMany(["a", "b"]);
  const json = await cache.storeJson({ a: [1] });
  const results = [
    await cache.getStr(key),
    await cache.get(key, undefined, { touch: 60_000 }),
    await cache.getMany(keys),
    await cache.getJson(json),
    await cache.has(key),
    await cache.ttl(key),
    await cache.expire(key, 30_000),
    await cache.getOrStore("loaded", () => "loaded"),
    await cache.getOrStoreJson("loaded-json", () => ({ ok: true })),
    await cache.delete(...keys),
    await getPage("http://example.test/", {
      cache,
      fetch: () => Promise.resolve(new Response("page")),
    }),
    await new KeyvStore(cache).get("missing"),
    (await cache.health()).ok,
    cache.stats().errors,
  ];
  await cache.clear();
  console.log(`ok ${results.length}`);
} catch (error) {
  console.log(String(error));
  process.exitCode = 1;
}
