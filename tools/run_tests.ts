// `deno task test`: the same suite on Deno, Bun and Node (compiled to
// JavaScript), against redis-servers the tests start themselves, ending with
// one line per runtime and one line of real totals: "N passed, N failed".
//
// Counts come from each runner's JUnit report, test file by test file, so
// that the run can fail when a test file ran no test on a runtime (every one
// of its tests skipped, or none found). Every skip must say why through
// `skipBecause` (`_testing/skip.ts`), which writes the reason to a log this
// runner reads: the summary lists each, and a skip without a logged reason
// fails the run.
//
// The doc examples run too (`deno test --doc`), against a throwaway
// redis-server whose URL they get through REDIS_URL.

import { startRedisServer } from "../_testing/redis_server.ts";

const RUNNER_TIMEOUT = 10 * 60_000;

// A test that ran this file again would recurse without end; refuse.
if (Deno.env.get("REDIS_BASIC_CACHE_RUNNER") !== undefined) {
  console.error("tools/run_tests.ts must not run inside itself");
  Deno.exit(2);
}
Deno.env.set("REDIS_BASIC_CACHE_RUNNER", "1");
const root = new URL("..", import.meta.url).pathname;
const bin = (name: string) => `${root}node_modules/.bin/${name}`;
const reports = Deno.makeTempDirSync({ prefix: "redis-basic-tests-" });

// Folders that hold no test of the library (or hold other projects' tests).
const NOT_SEARCHED = new Set([
  "node_modules",
  "bench",
  "tools",
  "testdata",
]);

/** Every `*_test.ts` under `folder`, as paths from the project folder. */
function findTestFiles(folder: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(root + folder)) {
    const path = folder + entry.name;
    if (entry.isDirectory) {
      if (!entry.name.startsWith(".") && !NOT_SEARCHED.has(entry.name)) {
        found.push(...findTestFiles(`${path}/`));
      }
    } else if (entry.name.endsWith("_test.ts")) found.push(path);
  }
  return found;
}

const rootFiles = [...Deno.readDirSync(root)].map((entry) => entry.name).sort();
// `deno task test a_test.ts _l1/b_test.ts` runs only those files (no doc
// tests); test files are named by their path from the project folder.
const only = Deno.args.map((name) => name.replace(/^\.\//, ""));
const testFiles = findTestFiles("").sort().filter((path) =>
  only.length === 0 || only.includes(path)
);
// Public modules and the README, whose examples run as doc tests.
const docFiles = [
  ...rootFiles.filter((name) =>
    name.endsWith(".ts") && !name.startsWith("_") && !name.endsWith("_test.ts")
  ),
  "README.md",
].filter(() => only.length === 0);

type Outcome = "passed" | "failed" | "skipped";

/** One test case of a JUnit report. */
interface TestCase {
  file: string;
  name: string;
  outcome: Outcome;
}

interface Runner {
  name: string;
  /** The test files whose every test must not be skipped. */
  files: string[];
  prepare?: () => Promise<void>;
  /** Command lines to run in turn, and the JUnit report each writes. */
  commands(): { command: string[]; report: string; file?: string }[];
}

const runners: Runner[] = [
  {
    name: "deno",
    files: testFiles,
    // Files are named: discovery would also take tools/*.ts for tests.
    commands: () => [{
      command: [
        Deno.execPath(),
        "test",
        "--allow-all",
        "--doc",
        `--junit-path=${reports}/deno.xml`,
        ...testFiles,
        ...docFiles,
      ],
      report: `${reports}/deno.xml`,
    }],
  },
  {
    name: "bun",
    files: testFiles,
    commands: () => [{
      command: [
        bin("bun"),
        "test",
        "--reporter=junit",
        `--reporter-outfile=${reports}/bun.xml`,
        ...testFiles.map((file) => `./${file}`),
      ],
      report: `${reports}/bun.xml`,
    }],
  },
  {
    name: "node",
    files: testFiles,
    prepare: async () => {
      await Deno.remove(`${root}.node_test`, { recursive: true }).catch(
        () => {},
      );
      const { code } = await run([bin("tsc"), "-p", "tsconfig.node.json"]);
      if (code !== 0) throw new Error(`tsc exited with ${code}`);
    },
    // Node's JUnit report does not name the file of a test: one run a file.
    // A file in a folder keeps its path in the report's name, "/" escaped.
    commands: () =>
      testFiles.map((file) => {
        const report = `${reports}/node-${encodeURIComponent(file)}.xml`;
        return {
          command: [
            "node",
            "--test",
            "--test-reporter=tap",
            "--test-reporter-destination=stdout",
            "--test-reporter=junit",
            `--test-reporter-destination=${report}`,
            `.node_test/${file.replace(/\.ts$/, ".js")}`,
          ],
          report,
          file,
        };
      }),
  },
  {
    // Keyv's own adapter suite, on the tsc output the node runner built.
    name: "vitest",
    files: only.length === 0 ? ["keyv_suite.test.js"] : [],
    commands: () => [{
      command: [
        bin("vitest"),
        "run",
        "--reporter=default",
        "--reporter=junit",
        `--outputFile.junit=${reports}/vitest.xml`,
      ],
      report: `${reports}/vitest.xml`,
    }],
  },
];

const decodeXml = (text: string) =>
  text.replace(
    /&(lt|gt|quot|apos|amp|#(\d+));/g,
    (_, name, code) =>
      code !== undefined
        ? String.fromCodePoint(Number(code))
        : { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" }[name as string]!,
  );

/**
 * The test cases of a JUnit report, each with its outcome. Deno names the
 * file in `classname`, Bun and vitest in `file`; Node in neither, so its
 * file is given.
 */
export function parseJUnit(xml: string, file?: string): TestCase[] {
  const cases: TestCase[] = [];
  const testCase = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const [, attributes, , body = ""] of xml.matchAll(testCase)) {
    const attribute = (name: string) =>
      decodeXml(
        new RegExp(`\\b${name}="([^"]*)"`).exec(attributes)?.[1] ?? "",
      );
    const outcome: Outcome = /<(failure|error)\b/.test(body)
      ? "failed"
      : /<skipped\b/.test(body)
      ? "skipped"
      : "passed";
    const where = file ?? (attribute("file") || attribute("classname"));
    cases.push({
      file: where.replace(/^\.\//, "").replace(root, ""),
      name: attribute("name"),
      outcome,
    });
  }
  return cases;
}

/** Runs a command in the project folder, echoing its output. */
async function run(command: string[]): Promise<{ code: number }> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
    env: { NO_COLOR: "1" }, // added to the inherited environment
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), RUNNER_TIMEOUT);
  const { code } = await child.status;
  clearTimeout(timer);
  return { code };
}

interface Totals {
  passed: number;
  failed: number;
  skipped: number;
}

const counts: Record<string, Totals> = {};
const summary: string[] = [];
const problems: string[] = [];
const skipLines: string[] = [];
const total: Totals = { passed: 0, failed: 0, skipped: 0 };
const skipLog = `${reports}/skips.log`;
Deno.env.set("REDIS_BASIC_SKIP_LOG", skipLog);
const docServer = await startRedisServer();
Deno.env.set("REDIS_URL", docServer.url());
try {
  for (const runner of runners.filter((r) => r.files.length > 0)) {
    console.log(`\n=== ${runner.name}: ${runner.files.join(" ")}\n`);
    Deno.writeTextFileSync(skipLog, "");
    const totals: Totals = { passed: 0, failed: 0, skipped: 0 };
    const cases: TestCase[] = [];
    try {
      await runner.prepare?.();
      for (const { command, report, file } of runner.commands()) {
        const { code } = await run(command);
        let found: TestCase[] = [];
        try {
          found = parseJUnit(Deno.readTextFileSync(report), file);
        } catch {
          // No report: the runner died before writing it.
        }
        cases.push(...found);
        // A runner that failed without reporting a failed test still failed.
        if (code !== 0 && !found.some((c) => c.outcome === "failed")) {
          problems.push(
            `${runner.name}: ${
              file ?? "the runner"
            } exited with ${code} and no failed test`,
          );
          totals.failed++;
        }
      }
    } catch (error) {
      problems.push(`${runner.name} could not run: ${error}`);
      totals.failed++;
    }
    for (const { outcome } of cases) totals[outcome]++;
    for (const file of runner.files) {
      const ran = cases.filter((c) => c.file === file);
      if (!ran.some((c) => c.outcome !== "skipped")) {
        problems.push(
          `${runner.name}: ${file} ran no test (${ran.length} skipped)`,
        );
        totals.failed++;
      }
    }
    // Each skip must have left its reason in the log: compared file by file.
    const reasons = Deno.readTextFileSync(skipLog).split("\n").filter(Boolean)
      .map((line) => line.split("\t"));
    const byReason = new Map<string, number>();
    for (const [, file, reason] of reasons) {
      const key = `${file}: ${reason}`;
      byReason.set(key, (byReason.get(key) ?? 0) + 1);
    }
    for (const [key, count] of byReason) {
      skipLines.push(`  ${runner.name.padEnd(6)} ${count} skipped in ${key}`);
    }
    for (const file of new Set(cases.map((c) => c.file))) {
      const skipped = cases.filter((c) =>
        c.file === file && c.outcome === "skipped"
      );
      const logged = reasons.filter(([, f]) => f === file).length;
      if (skipped.length > logged) {
        problems.push(
          `${runner.name}: ${file} skipped ${skipped.length} tests but gave ${logged} reasons to skipBecause (${
            skipped.map((c) => `"${c.name}"`).join(", ")
          })`,
        );
        totals.failed++;
      }
    }
    counts[runner.name] = { ...totals };
    summary.push(
      `${runner.name}: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`,
    );
    total.passed += totals.passed;
    total.failed += totals.failed;
    total.skipped += totals.skipped;
  }
} finally {
  await docServer.stop();
  Deno.removeSync(reports, { recursive: true });
}

console.log("");
if (skipLines.length > 0) console.log(`Skipped:\n${skipLines.join("\n")}`);
if (problems.length > 0) console.log(`Problems:\n  ${problems.join("\n  ")}`);
console.log(summary.join("\n"));
console.log(
  `${total.passed} passed, ${total.failed} failed${
    total.skipped > 0 ? `, ${total.skipped} skipped` : ""
  }`,
);
if (total.failed > 0) Deno.exitCode = 1;
// `deno task figures`: the README quotes how many tests a full run passed.
else if (Deno.env.get("RECORD_FIGURES") === "1" && only.length === 0) {
  Deno.writeTextFileSync(
    `${root}bench/figures/test_counts.json`,
    JSON.stringify(counts, null, 2) + "\n",
  );
}
