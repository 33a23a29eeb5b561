// Part of `deno task check`: fails when the project's own modules import
// each other in a cycle or against the flow of the layers (RANKS), when a
// published source file is over MAX_LINES long, or when the README's Layout
// section names a file that is not there or leaves out a private folder.
//
// The import graph comes from `deno info --json` of each public entry, so
// type-only imports and dynamic imports count as edges too: a type cycle is
// still two modules that cannot be understood one without the other.
//
//   deno run --allow-read --allow-run tools/check_layout.ts

const MAX_LINES = 600;

// Which way imports flow: a module may import modules of its own rank or
// lower, never higher (entries → cache.ts → _engine/ → _history/, _l1/ →
// _drivers/ → the public leaves). A file of the root not named here is an
// entry or cache.ts, the top.
const RANKS: Record<string, number> = {
  "_engine": 2,
  "_history": 1,
  "_l1": 1,
  "_drivers": 0,
  "errors.ts": -1,
  "redis_client.ts": -1,
  "cache_options.ts": -1,
  "telemetry.ts": -1,
};
const TOP = 3;

/** The rank of a module of the project, by its folder or (at the root) its name. */
export function rankOf(module: string): number {
  return RANKS[module.split("/")[0]] ?? TOP;
}

// Files allowed over MAX_LINES for now, each with why; the list only shrinks.
const OVERSIZED: Record<string, string> = {};

const root = new URL("..", import.meta.url);
const rootPath = decodeURIComponent(root.pathname);

// Not published, so not held to the size limit (deno.json's publish.exclude).
const UNPUBLISHED_FOLDERS = new Set([
  "_testing",
  "bench",
  "tools",
  "testdata",
  "node_modules",
]);

interface DenoInfo {
  modules: {
    specifier: string;
    dependencies?: {
      code?: { specifier: string };
      type?: { specifier: string };
    }[];
  }[];
}

/** The project's own modules reached from `entries`, each with the project modules it imports. */
export async function importGraph(
  entries: readonly string[],
): Promise<Map<string, Set<string>>> {
  const graph = new Map<string, Set<string>>();
  const own = (specifier: string) =>
    specifier.startsWith(root.href) &&
    !specifier.slice(root.href.length).startsWith("node_modules/");
  for (const entry of entries) {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: rootPath,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(
        `deno info ${entry} failed: ${new TextDecoder().decode(stderr)}`,
      );
    }
    const info = JSON.parse(new TextDecoder().decode(stdout)) as DenoInfo;
    for (const module of info.modules) {
      if (!own(module.specifier)) continue;
      const name = module.specifier.slice(root.href.length);
      const imports = graph.get(name) ?? new Set<string>();
      graph.set(name, imports);
      for (const dependency of module.dependencies ?? []) {
        for (const target of [dependency.code, dependency.type]) {
          if (target !== undefined && own(target.specifier)) {
            imports.add(target.specifier.slice(root.href.length));
          }
        }
      }
    }
  }
  return graph;
}

/**
 * Each import cycle of `graph`, as the path that closes it (`a.ts → b.ts →
 * a.ts`): one per strongly connected component (Tarjan's algorithm).
 */
export function findCycles(
  graph: Map<string, Set<string>>,
): { members: string[]; path: string[] }[] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    lowLink.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        lowLink.set(node, Math.min(lowLink.get(node)!, lowLink.get(next)!));
      } else if (onStack.has(next)) {
        lowLink.set(node, Math.min(lowLink.get(node)!, index.get(next)!));
      }
    }
    if (lowLink.get(node) === index.get(node)) {
      const component: string[] = [];
      let member;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.has(node)) {
        components.push(component);
      }
    }
  };
  for (const node of [...graph.keys()].sort()) {
    if (!index.has(node)) visit(node);
  }
  return components.map((component) => ({
    members: component.sort(),
    path: cyclePath(graph, component),
  }));
}

// The shortest way round a component from its first member back to itself,
// so the message names the imports to look at.
function cyclePath(
  graph: Map<string, Set<string>>,
  component: string[],
): string[] {
  const members = new Set(component);
  const start = [...component].sort()[0];
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at = node; at !== start; at = cameFrom.get(at)!) {
          path.splice(1, 0, at);
        }
        return [...path, start];
      }
      if (!cameFrom.has(next)) {
        cameFrom.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start];
}

/** The published `.ts` source files (tests and unpublished folders left out), each with its line count. */
export function sourceSizes(folder = ""): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const entry of Deno.readDirSync(rootPath + folder)) {
    const path = folder + entry.name;
    if (entry.isDirectory) {
      if (!entry.name.startsWith(".") && !UNPUBLISHED_FOLDERS.has(entry.name)) {
        for (const [file, lines] of sourceSizes(`${path}/`)) {
          sizes.set(file, lines);
        }
      }
    } else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      const text = Deno.readTextFileSync(rootPath + path);
      sizes.set(path, text.split("\n").length - (text.endsWith("\n") ? 1 : 0));
    }
  }
  return sizes;
}

/**
 * What the README's Layout section names that the tree does not have, and
 * the private folders of the tree it does not name: the block of text under
 * `## Layout`, whose indented lines name files of the folder above them.
 */
export function layoutDrift(readme: string): string[] {
  const block = /^## Layout\n+```text\n([\s\S]*?)\n```/m.exec(readme)?.[1];
  if (block === undefined) return ["README.md has no ## Layout block"];
  const problems: string[] = [];
  const named = new Set<string>();
  let folder = "";
  for (const line of block.split("\n")) {
    const indented = line.startsWith("  ");
    // The names come before the description, which starts after two spaces.
    const names = line.trim().split(/\s{2,}/)[0].split(/\s+/);
    for (const name of names) {
      if (!/^[\w.]+(\.ts|\/)$/.test(name)) continue;
      if (!indented && name.endsWith("/")) folder = name;
      const path = indented ? folder + name : name;
      named.add(path);
      try {
        Deno.statSync(rootPath + path);
      } catch {
        problems.push(`README's Layout names ${path}, which does not exist`);
      }
    }
  }
  for (const entry of Deno.readDirSync(rootPath)) {
    if (
      entry.isDirectory && entry.name.startsWith("_") &&
      !named.has(`${entry.name}/`)
    ) {
      problems.push(`README's Layout does not name ${entry.name}/`);
    }
  }
  return problems;
}

if (import.meta.main) {
  const config = JSON.parse(Deno.readTextFileSync(`${rootPath}deno.json`));
  const entries = Object.values(config.exports as Record<string, string>);
  const problems: string[] = [];
  const graph = await importGraph(entries);
  for (const { members, path } of findCycles(graph)) {
    problems.push(
      `import cycle among ${members.join(", ")}: ${path.join(" → ")}`,
    );
  }
  for (const [module, imports] of graph) {
    for (const imported of imports) {
      if (rankOf(imported) > rankOf(module)) {
        problems.push(`${module} imports ${imported}, which is above it`);
      }
    }
  }
  problems.push(...layoutDrift(Deno.readTextFileSync(`${rootPath}README.md`)));
  for (const [file, lines] of sourceSizes()) {
    if (lines > MAX_LINES && !(file in OVERSIZED)) {
      problems.push(`${file} has ${lines} lines, more than ${MAX_LINES}`);
    }
  }
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    Deno.exit(1);
  }
  const allowed = Object.entries(OVERSIZED).map(([file, why]) =>
    `, ${file} allowed over it for now: ${why}`
  ).join("");
  console.log(
    `layout: ${graph.size} modules, imports flow down, no cycle, README's Layout matches the tree, no ${
      allowed === "" ? "" : "other "
    }source file over ${MAX_LINES} lines${allowed}`,
  );
}
