// Makes a source checkout of @db/redis runnable without JSR, so that its
// driver cases can run here: `DB_REDIS_MODULE=<redis>/mod.ts deno task test
// cache_test.ts`. @db/redis imports @std packages from JSR (`jsr:@std/io@…`),
// and each @std package imports the others by workspace name (`@std/bytes/…`);
// both become absolute paths into a checkout of denoland/std from a release
// that still has the modules @db/redis uses (io's BufReader went in 2024.10).
//
//   deno run --allow-read --allow-write tools/db_redis_from_source.ts <std> <redis>
//
// Both folders are throwaway copies (git archive of each repository): this
// rewrites their imports in place and copies nothing into this project.

const [std, redis] = Deno.args;
if (std === undefined || redis === undefined) {
  console.error(
    "usage: db_redis_from_source.ts <denoland/std checkout> <denodrivers/redis checkout>",
  );
  Deno.exit(2);
}

// The file an @std specifier names: the package's export of that sub-path.
function stdFile(pkg: string, subPath: string | undefined): string | undefined {
  let config: { exports?: string | Record<string, string> };
  try {
    config = JSON.parse(Deno.readTextFileSync(`${std}/${pkg}/deno.json`));
  } catch {
    return undefined;
  }
  const exports = typeof config.exports === "string"
    ? { ".": config.exports }
    : config.exports ?? {};
  const file = exports[subPath === undefined ? "." : `./${subPath}`];
  return file === undefined
    ? undefined
    : new URL(file, `file://${Deno.realPathSync(`${std}/${pkg}`)}/`).pathname;
}

// `"jsr:@std/io@0.224.5/buf-reader"` (in @db/redis) and `"@std/bytes/copy"`
// (in @std itself) in import and export statements; doc examples untouched.
const FROM_JSR = /"jsr:@std\/([a-z-]+)@[^/"]+(?:\/([^"]+))?"/g;
const FROM_WORKSPACE = /"@std\/([a-z-]+)(?:\/([^"]+))?"/g;
const STATEMENT = /^\s*(?:import|export|\} from)\b.*"(?:jsr:)?@std\//;

function rewrite(root: string, specifier: RegExp): number {
  let files = 0;
  for (const path of walk(root)) {
    const lines = Deno.readTextFileSync(path).split("\n");
    let changed = false;
    for (let i = 0; i < lines.length; i++) {
      if (!STATEMENT.test(lines[i])) continue;
      const line = lines[i].replace(specifier, (whole, pkg, subPath) => {
        const file = stdFile(pkg, subPath);
        return file === undefined ? whole : JSON.stringify(file);
      });
      if (line !== lines[i]) {
        lines[i] = line;
        changed = true;
      }
    }
    if (changed) {
      Deno.writeTextFileSync(path, lines.join("\n"));
      files++;
    }
  }
  return files;
}

function* walk(folder: string): Generator<string> {
  for (const entry of Deno.readDirSync(folder)) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile && entry.name.endsWith(".ts")) yield path;
  }
}

const inStd = rewrite(std, FROM_WORKSPACE);
const inRedis = rewrite(redis, FROM_JSR);
console.log(
  `${inRedis} files of @db/redis and ${inStd} of @std now import by path; ` +
    `DB_REDIS_MODULE=${Deno.realPathSync(redis)}/mod.ts`,
);
