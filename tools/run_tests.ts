// `deno task test`: the same suite on Deno, Bun and Node (compiled to
// JavaScript), against redis-servers the tests start themselves, ending with
// one line of real totals: "N passed, N failed".
//
// The doc examples run too (`deno test --doc`), against a throwaway
// redis-server whose URL they get through REDIS_URL.

import { startRedisServer } from "../_test_util.ts";

const RUNNER_TIMEOUT = 10 * 60_000;

// A test that ran this file again would recurse without end; refuse.
if (Deno.env.get("REDIS_BASIC_CACHE_RUNNER") !== undefined) {
  console.error("tools/run_tests.ts must not run inside itself");
  Deno.exit(2);
}
Deno.env.set("REDIS_BASIC_CACHE_RUNNER", "1");
const root = new URL("..", import.meta.url).pathname;
const bin = (name: string) => `${root}node_modules/.bin/${name}`;

const rootFiles = [...Deno.readDirSync(root)].map((entry) => entry.name).sort();
const testFiles = rootFiles.filter((name) => name.endsWith("_test.ts"));
// Public modules and the README, whose examples run as doc tests.
const docFiles = [
  ...rootFiles.filter((name) =>
    name.endsWith(".ts") && !name.startsWith("_") && !name.endsWith("_test.ts")
  ),
  "README.md",
];

interface Totals {
  passed: number;
  failed: number;
  skipped: number;
}

interface Runner {
  name: string;
  prepare?: () => Promise<void>;
  command: string[];
  parse(output: string): Totals | undefined;
}

const runners: Runner[] = [
  {
    name: "deno",
    // Files are named: discovery would also take tools/*.ts for tests.
    command: [
      Deno.execPath(),
      "test",
      "--allow-all",
      "--doc",
      ...testFiles,
      ...docFiles,
    ],
    parse(output) {
      const match = /(\d+) passed.*?\| (\d+) failed(?:.*?\| (\d+) ignored)?/
        .exec(
          output.split("\n").findLast((line) =>
            / passed .* failed/.test(line)
          ) ?? "",
        );
      return match === null ? undefined : {
        passed: Number(match[1]),
        failed: Number(match[2]),
        skipped: Number(match[3] ?? 0),
      };
    },
  },
  {
    name: "bun",
    command: [bin("bun"), "test", ...testFiles.map((file) => `./${file}`)],
    // " 57 pass", " 0 fail", " 1 skip"
    parse: (output) =>
      countLines(output, (word) => `^\\s*(\\d+) ${word}$`, [
        "pass",
        "fail",
        "skip",
      ]),
  },
  {
    name: "node",
    prepare: async () => {
      await Deno.remove(`${root}.node_test`, { recursive: true }).catch(
        () => {},
      );
      const { code } = await run([bin("tsc"), "-p", "tsconfig.node.json"]);
      if (code !== 0) throw new Error(`tsc exited with ${code}`);
    },
    command: [
      "node",
      "--test",
      ...testFiles.map((file) => `.node_test/${file.replace(/\.ts$/, ".js")}`),
    ],
    // "# pass 57" (TAP) or "ℹ pass 57" (spec)
    parse: (output) =>
      countLines(output, (word) => `^[#ℹ] ${word} (\\d+)$`, [
        "pass",
        "fail",
        "skipped",
      ]),
  },
  {
    // Keyv's own adapter suite, on the tsc output the node runner built.
    name: "vitest",
    command: [bin("vitest"), "run"],
    // " Tests  2 failed | 40 passed | 1 skipped (43)"
    parse(output) {
      const line = /^\s*Tests\s+(.*)$/m.exec(output)?.[1];
      if (line === undefined) return undefined;
      const count = (word: string) =>
        Number(new RegExp(`(\\d+) ${word}`).exec(line)?.[1] ?? 0);
      return {
        passed: count("passed"),
        failed: count("failed"),
        skipped: count("skipped"),
      };
    },
  },
];

/**
 * Totals from a runner's summary lines: `pattern(word)` matches the line for
 * the words that mean passed, failed and skipped, the count in group 1. No
 * pass or fail line means the runner did not finish.
 */
function countLines(
  output: string,
  pattern: (word: string) => string,
  [pass, fail, skip]: string[],
): Totals | undefined {
  const count = (word: string) =>
    Number(new RegExp(pattern(word), "m").exec(output)?.[1]);
  const totals = {
    passed: count(pass),
    failed: count(fail),
    skipped: count(skip) || 0,
  };
  return Number.isNaN(totals.passed) || Number.isNaN(totals.failed)
    ? undefined
    : totals;
}

/** Runs a command in the project folder, echoing its output; returns the output. */
async function run(
  command: string[],
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" }, // added to the inherited environment
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), RUNNER_TIMEOUT);
  let output = "";
  const decoder = new TextDecoder();
  const pump = async (
    stream: ReadableStream<Uint8Array>,
    sink: typeof Deno.stdout,
  ) => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      await sink.write(chunk);
    }
  };
  await Promise.all([
    pump(child.stdout, Deno.stdout),
    pump(child.stderr, Deno.stderr),
  ]);
  const { code } = await child.status;
  clearTimeout(timer);
  return { code, output };
}

const summary: string[] = [];
const total: Totals = { passed: 0, failed: 0, skipped: 0 };
const docServer = await startRedisServer();
Deno.env.set("REDIS_URL", docServer.url());
try {
  for (const runner of runners) {
    console.log(`\n=== ${runner.name}: ${testFiles.join(" ")}\n`);
    let totals: Totals | undefined;
    try {
      await runner.prepare?.();
      const { code, output } = await run(runner.command);
      totals = runner.parse(output);
      // A runner that failed without reporting a failed test still failed.
      if (totals !== undefined && code !== 0 && totals.failed === 0) {
        totals.failed = 1;
      }
    } catch (error) {
      console.error(`${runner.name} could not run: ${error}`);
    }
    totals ??= { passed: 0, failed: 1, skipped: 0 };
    summary.push(
      `  ${runner.name.padEnd(5)} ${String(totals.passed).padStart(4)} passed ${
        String(totals.failed).padStart(3)
      } failed ${String(totals.skipped).padStart(3)} skipped`,
    );
    total.passed += totals.passed;
    total.failed += totals.failed;
    total.skipped += totals.skipped;
  }
} finally {
  await docServer.stop();
}

console.log(`\n${summary.join("\n")}`);
console.log(
  `${total.passed} passed, ${total.failed} failed${
    total.skipped > 0 ? `, ${total.skipped} skipped` : ""
  }`,
);
if (total.failed > 0) Deno.exitCode = 1;
