// bench/results.md: every figure of the run, and the targets of the
// benchmark issue checked as ratios measured in that same run. Every number
// in it is computed from the run; the explanations are words.

import {
  ceiling,
  cpuOf,
  find,
  ratio,
  RAW,
  type Run,
  RUNTIMES,
} from "./_run.ts";
import type { CaseResult } from "./_worker.ts";

const PEERS = ["keyv", "cache-manager", "bentocache"];
const SHAPES = ["1 in flight", "100 lanes", "bursts of 100"];

function format(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

const micros = (n: number) => n.toFixed(1);

function ratios(run: Run, lines: string[]): void {
  lines.push(
    "## The cache against its raw client, in each load shape",
    "",
    "Ratios of ops/s in this run. With 100 in flight, **100 lanes** are 100 independent loops, each awaiting its own call before making the next; **bursts of 100** are 100 calls made together (`Promise.all`), awaited, then the next 100. `cache` keeps the Python history in `store`; `history: false` makes `store` one SET. `get` is the same code in both forms.",
    "",
    "| ratio | runtime | 1 in flight | 100 lanes | bursts of 100 |",
    "| --- | --- | ---: | ---: | ---: |",
  );
  const rows: [op: string, subject: string, label: string][] = [
    ["get", "cache", "cache get (history on)"],
    ["get", "cache (no history)", "cache get (`history: false`)"],
    ["get", "cache (coalesce off)", "cache get (`coalesce: false`)"],
    ["set", "cache", "cache store (history on)"],
    ["set", "cache (no history)", "cache store (`history: false`)"],
    [
      "set",
      "cache (coalesce off)",
      "cache store (`coalesce: false`, history on)",
    ],
  ];
  for (const runtime of RUNTIMES) {
    const raw = RAW[runtime];
    for (const [op, subject, label] of rows) {
      const cells = SHAPES.map((shape) =>
        ratio(run.results, runtime, `${op}, ${shape}`, subject, raw)
      );
      if (cells.every((cell) => cell === undefined)) continue;
      lines.push(
        `| ${label} / ${raw} ${op === "get" ? "GET" : "SET"} | ${runtime} | ${
          cells.map((cell) => cell === undefined ? "—" : cell.toFixed(2))
            .join(" | ")
        } |`,
      );
    }
  }
  const bunCells = SHAPES.map((shape) =>
    ratio(run.results, "bun", `get, ${shape}`, RAW.bun, "node-redis")
  );
  if (bunCells.some((cell) => cell !== undefined)) {
    lines.push(
      `| bun RedisClient GET / node-redis GET, both on Bun | bun | ${
        bunCells.map((cell) => cell === undefined ? "—" : cell.toFixed(2))
          .join(" | ")
      } |`,
    );
  }
  lines.push("");
}

function byShape(run: Run, lines: string[]): void {
  lines.push(
    "## GET and SET by load shape (ops/s)",
    "",
    "The peers run with 1 in flight and 100 lanes only. For `cache`, `set` is `store`.",
    "",
    "| subject | runtime | get, 1 | get, 100 lanes | get, bursts of 100 | set, 1 | set, 100 lanes | set, bursts of 100 |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  const seen = new Set<string>();
  for (const result of run.results) {
    if (result.runtime === "C") continue;
    const id = `${result.subject}\n${result.runtime}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const cells = ["get", "set"].flatMap((op) =>
      SHAPES.map((shape) => {
        const r = find(
          run.results,
          result.subject,
          result.runtime,
          `${op}, ${shape}`,
        );
        return r === undefined ? "—" : format(r.opsPerSec);
      })
    );
    lines.push(
      `| ${result.subject} | ${result.runtime} | ${cells.join(" | ")} |`,
    );
  }
  lines.push("");
}

function cpuTime(run: Run, lines: string[]): void {
  if (run.cpu.length === 0) return;
  const { cpuRounds, cpuCalls } = run.machine;
  lines.push(
    "## Client CPU time per call, one call at a time",
    "",
    `The worker process's own CPU time (\`process.cpuUsage\`, user + system) over ${cpuCalls} calls made one after another, the cache (\`history: false\`) and the raw client taking turns for ${cpuRounds} rounds; the median round of each. Waiting for a reply costs no CPU, so this is what each adds to a round trip, without the round trip's noise.`,
    "",
    "| runtime | operation | cache µs | raw client µs | added by the cache µs | raw client's round trip, p50 µs |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
  );
  for (const runtime of RUNTIMES) {
    const raw = RAW[runtime];
    for (const op of ["get", "store"] as const) {
      const cache = cpuOf(run.cpu, runtime, op, "cache (no history)");
      const rawCpu = cpuOf(run.cpu, runtime, op, raw);
      if (!cache || !rawCpu) continue;
      const trip = find(
        run.results,
        raw,
        runtime,
        op === "get" ? "get, 1 in flight" : "set, 1 in flight",
      );
      lines.push(
        `| ${runtime} | ${
          op === "get" ? "get / GET" : "store / SET of a new key"
        } (${raw}) | ${micros(cache.usPerCall)} | ${
          micros(rawCpu.usPerCall)
        } | ${micros(cache.usPerCall - rawCpu.usPerCall)} | ${
          trip ? Math.round(trip.p50Ms * 1000) : "—"
        } |`,
      );
    }
  }
  lines.push(
    "",
    "Each round (µs per call, in the order they ran):",
    "",
  );
  for (const c of run.cpu) {
    lines.push(
      `- ${c.runtime}, ${c.op}, ${c.subject}: ${
        c.rounds.map(micros).join(", ")
      }`,
    );
  }
  lines.push("");
}

function serverTime(run: Run, lines: string[]): void {
  const server = run.server[0];
  if (server === undefined) return;
  lines.push(
    "## Redis's own time per command, batches of 100",
    "",
    `From \`INFO commandstats\` (usec / calls) around ${server.bursts} bursts of ${server.batch} calls to the cache on ${server.runtime}, after a \`CONFIG RESETSTAT\`, one phase at a time.`,
    "",
    "| batch | command | µs per command |",
    "| --- | --- | ---: |",
    `| ${server.batch} gets | MGET | ${micros(server.mgetUs)} |`,
    `| ${server.batch} gets | EXISTS | ${micros(server.existsUs)} |`,
    `| ${server.batch} gets | MGET + EXISTS | ${
      micros(server.mgetUs + server.existsUs)
    } |`,
    `| ${server.batch} gets, one key holding a list | the script that checks each key (EVAL) | ${
      micros(server.getEachScriptUs)
    } |`,
    `| ${server.batch} stores, history on | the store script (EVALSHA) | ${
      micros(server.storeScriptUs)
    } |`,
    `| ${server.batch} stores, \`history: false\` | MSET | ${
      micros(server.msetUs)
    } |`,
    "",
    "Commands per burst (1 where a batch went as one command; a script's own MGET counts too): " +
      Object.entries(server.callsPerBurst).map(([name, calls]) =>
        `${name}: ${Number(calls.toFixed(2))}`
      ).join(", ") + ".",
    "",
  );
}

function allocations(run: Run, lines: string[]): void {
  if (run.allocations.length === 0) return;
  lines.push(
    "## An L1 hit, and what an allocation would add to it",
    "",
    "| runtime | L1 hit, ns (1 in flight) | `new Uint8Array` of the value's size, CPU ns |",
    "| --- | ---: | ---: |",
  );
  for (const { runtime, ns } of run.allocations) {
    const hit = find(run.results, "cache (l1)", runtime, "get, 1 in flight");
    lines.push(
      `| ${runtime} | ${hit ? Math.round(1e9 / hit.opsPerSec) : "—"} | ${
        Math.round(ns)
      } |`,
    );
  }
  lines.push("");
}

function targets(run: Run, lines: string[]): void {
  const { results } = run;
  lines.push(
    "## Targets (ratios measured in this run)",
    "",
    "| target | runtime | measured | met |",
    "| --- | --- | --- | --- |",
  );
  const target = (
    name: string,
    runtime: string,
    measured: number | undefined,
    goal: number,
    atMost = false,
  ) => {
    if (measured === undefined || !Number.isFinite(measured)) return;
    const met = atMost ? measured <= goal : measured >= goal;
    lines.push(
      `| ${name} | ${runtime} | ${measured.toFixed(2)} (goal ${
        atMost ? "≤" : "≥"
      } ${goal}) | ${met ? "yes" : "**no**"} |`,
    );
  };
  const c1 = ceiling(results, "get", "-c 1");
  const p100 = ceiling(results, "get", "-P 100");
  for (const runtime of RUNTIMES) {
    const raw = RAW[runtime];
    const of = (name: string, subject = "cache", to: string = raw) =>
      ratio(results, runtime, name, subject, to);
    target(
      `cache / ${raw}: get, 1 in flight`,
      runtime,
      of("get, 1 in flight"),
      0.95,
    );
    for (const shape of SHAPES) {
      target(
        `cache / ${raw}: store, ${shape} (history on)`,
        runtime,
        of(`set, ${shape}`),
        0.95,
      );
      target(
        `cache / ${raw}: store, ${shape} (\`history: false\`)`,
        runtime,
        of(`set, ${shape}`, "cache (no history)"),
        0.95,
      );
    }
    for (const shape of ["100 lanes", "bursts of 100"]) {
      target(
        `cache / ${raw}: get, ${shape} (coalesced)`,
        runtime,
        of(`get, ${shape}`),
        1.5,
      );
    }
    for (const op of ["get", "store"] as const) {
      const cache = cpuOf(run.cpu, runtime, op, "cache (no history)");
      const rawCpu = cpuOf(run.cpu, runtime, op, raw);
      if (cache && rawCpu) {
        target(
          `client CPU µs the cache adds per ${op} (\`history: false\`), one at a time`,
          runtime,
          cache.usPerCall - rawCpu.usPerCall,
          2,
          true,
        );
      }
    }
    target(
      "cache (l1) in-process hit / cache get over the network, 1 in flight",
      runtime,
      of("get, 1 in flight", "cache (l1)", "cache"),
      50,
    );
    const seq = find(results, "cache", runtime, "get, 1 in flight");
    if (seq && c1) {
      target(
        "sequential get / redis-benchmark -c 1 GET",
        runtime,
        seq.opsPerSec / c1.opsPerSec,
        0.85,
      );
    }
    for (const shape of ["100 lanes", "bursts of 100"]) {
      const concurrent = find(results, "cache", runtime, `get, ${shape}`);
      if (concurrent && p100) {
        lines.push(
          `| get, ${shape} / redis-benchmark -P 100 GET (reported) | ${runtime} | ${
            (concurrent.opsPerSec / p100.opsPerSec).toFixed(3)
          } | — |`,
        );
      }
    }
    const many = find(results, "cache", runtime, "getMany 1000 keys");
    if (many && p100) {
      target(
        "getMany(1000) keys/s / redis-benchmark -P 100 GET",
        runtime,
        many.opsPerSec / p100.opsPerSec,
        0.5,
      );
    }
    if (many && seq) {
      target(
        "getMany(1000) / 1000 sequential gets",
        runtime,
        many.opsPerSec / seq.opsPerSec,
        20,
      );
    }
    // Like for like: a peer's set writes one key, as store does without
    // the Python history.
    for (const peer of PEERS) {
      for (const name of ["get, 1 in flight", "get, 100 lanes"]) {
        target(`cache / ${peer}: ${name}`, runtime, of(name, "cache", peer), 1);
      }
      for (const name of ["set, 1 in flight", "set, 100 lanes"]) {
        target(
          `cache store (\`history: false\`) / ${peer}: ${name}`,
          runtime,
          of(name, "cache (no history)", peer),
          1,
        );
      }
    }
  }
  lines.push("");
}

function limits(run: Run, lines: string[]): void {
  const { results } = run;
  const c1 = ceiling(results, "get", "-c 1");
  const p100 = ceiling(results, "get", "-P 100");
  lines.push("## What limits the targets that are missed", "");
  for (const runtime of RUNTIMES) {
    const raw = RAW[runtime];
    const rawSeq = find(results, raw, runtime, "get, 1 in flight");
    const rawMany = find(results, raw, runtime, "getMany 1000 keys");
    if (rawSeq && c1) {
      lines.push(
        `- ${runtime}: the raw ${raw} itself reaches ${
          (rawSeq.opsPerSec / c1.opsPerSec).toFixed(2)
        } of redis-benchmark -c 1 for sequential GET${
          rawMany && p100
            ? `, and ${
              (rawMany.opsPerSec / p100.opsPerSec).toFixed(2)
            } of -P 100 with ${
              runtime === "bun" ? "pipelined getBuffer calls" : "MGET"
            } of 1 000 keys`
            : ""
        }: one round trip through the runtime's event loop and the client's parser costs that much on this machine, before the cache adds anything.`,
      );
    }
  }
  const forms = RUNTIMES.flatMap((runtime) => {
    const a = find(results, "cache", runtime, "get, 1 in flight");
    const b = find(results, "cache (no history)", runtime, "get, 1 in flight");
    return a && b
      ? [`${format(a.opsPerSec)} and ${format(b.opsPerSec)} (${runtime})`]
      : [];
  });
  if (forms.length > 0) {
    lines.push(
      `- One at a time, wall time is mostly the round trip, and it drifts on this machine: the two forms of the cache, whose \`get\` is the same code, measured ${
        forms.join(", ")
      } GET/s in this run, so a sequential ratio lands on either side of its goal from run to run. What the cache adds to each call is measured as client CPU time instead (above).`,
    );
  }
  lines.push(
    "- The cache returns plain `Uint8Array`s on every runtime (a `Buffer`'s `slice` shares memory, a `Uint8Array`'s copies), so it makes one view per value (on Bun, a copy of small values, cheaper there than a view); with key checks, that is most of what it adds to a large `getMany`.",
    "- Bun's `RedisClient` decodes MGET and script replies as text, so on Bun the cache batches reads as pipelined `getBuffer` calls: coalescing saves per-call work but not commands.",
    "- In bursts, calls run in lock step: the 100 of a burst are answered together and the next 100 made together, so the client's work and the round trip add up instead of overlapping. Coalescing turns 100 GETs into one MGET and one EXISTS, which saves Redis most of its work and the client its per-command cost; where the raw client pipelines 100 GETs for about the client time the cache spends on 100 `get()` calls (a promise, a key check and a `Uint8Array` view each), the gain is smallest.",
  );
  const script = ceiling(results, "store script", "-c 1");
  const set = ceiling(results, "set", "-c 1");
  lines.push(
    "",
    "`set` for this cache is `store`, which also keeps the Python original's call",
    "count and history: one script does INCRBY, RPUSH of the input, the SET and",
    "RPUSH of the output (only for a SET Redis accepted), for one store or for all",
    "those made in the same tick. The peers and raw clients write one key.",
  );
  if (script && set) {
    lines.push(
      `redis-benchmark runs that script one at a time at ${
        format(script.opsPerSec)
      }/s, ${
        (script.opsPerSec / set.opsPerSec).toFixed(2)
      } of its own SET (four writes and a Lua call on the server); against that`,
      "ceiling, `store` one at a time reached " +
        RUNTIMES.flatMap((runtime) => {
          const store = find(results, "cache", runtime, "set, 1 in flight");
          return store
            ? [
              `${(store.opsPerSec / script.opsPerSec).toFixed(2)} (${runtime})`,
            ]
            : [];
        }).join(", ") + ".",
    );
  }
  lines.push("");
}

function allFigures(results: CaseResult[], lines: string[]): void {
  lines.push(
    "## All figures",
    "",
    "For bursts, p50 and p99 are those of a whole burst, which each of its calls waits for.",
    "",
    "| subject | runtime | case | ops/s | p50 ms | p99 ms |",
    "| --- | --- | --- | ---: | ---: | ---: |",
  );
  for (const r of results) {
    lines.push(
      `| ${r.subject} | ${r.runtime} | ${r.case} | ${format(r.opsPerSec)} | ${
        r.p50Ms.toFixed(3)
      } | ${r.p99Ms.toFixed(3)} |`,
    );
  }
}

/** The Markdown report. */
export function writeReport(run: Run): string {
  const { machine } = run;
  const lines = [
    "# Benchmark results",
    "",
    `Measured ${machine.date} on ${machine.cores} cores, ${machine.redis}; ${
      machine.pinned
        ? "redis-server pinned to core 1, clients to core 0"
        : "not pinned"
    }; ${machine.durationMs} ms per case (the median of ${machine.slices} slices, the subjects taking turns) after a short warm-up; ${machine.valueBytes}-byte values; loopback; the whole run took ${
      Math.round(machine.runSeconds)
    } s. Generated by \`deno task compare\`: do not edit.`,
    "",
    "![chart](results.svg)",
    "",
  ];
  ratios(run, lines);
  byShape(run, lines);
  cpuTime(run, lines);
  serverTime(run, lines);
  allocations(run, lines);
  targets(run, lines);
  limits(run, lines);
  allFigures(run.results, lines);
  return lines.join("\n") + "\n";
}
