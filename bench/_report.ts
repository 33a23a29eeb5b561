// bench/results.md: every figure of the run, and the targets of the
// performance issue (`_targets.ts`) checked against figures measured in that
// same run, with what bounds each one missed (`_bounds.ts`). Every number in
// it is computed from the run; the explanations are words.

import {
  addedCpu,
  ceiling,
  cpuOf,
  find,
  ratio,
  RAW,
  type Run,
  RUNTIMES,
} from "./_run.ts";
import type { CaseResult } from "./_worker.ts";
import {
  formatGoal,
  formatMeasured,
  STORE_CEILING,
  targets as issueTargets,
} from "./_targets.ts";
import { boundOf } from "./_bounds.ts";
import { SCRIPT_MODES, type ScriptMode } from "./_redis_benchmark.ts";

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
    [
      "get",
      "raw client, batched by hand",
      "raw client batched by hand (one MGET a tick): the floor under a coalesced get",
    ],
    ["set", "cache", "cache store (history on)"],
    ["set", "cache (no history)", "cache store (`history: false`)"],
    [
      "set",
      "cache (coalesce off)",
      "cache store (`coalesce: false`, history on)",
    ],
    [
      "set",
      "raw client, store script",
      "raw client sending the store script (EVALSHA) a call (one at a time, the floor under a store with its history)",
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
    `The worker process's own CPU time (\`process.cpuUsage\`, user + system) over ${cpuCalls} calls made one after another, the cache (\`history: false\`) and the raw client taking turns for ${cpuRounds} rounds; the median round of each, and as what the cache adds the median of the rounds' differences (each cache round beside the raw client's next to it in time, which cancels the machine's drift). Waiting for a reply costs no CPU, so this is what each adds to a round trip, without the round trip's noise.`,
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
        } | ${micros(addedCpu(cache, rawCpu))} | ${
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
    "Commands per burst (1 where a batch went as one command; a script's own MGET counts too; `gets exists` is under 1 because after 8 batches in a row that found every key, a batch sends MGET alone): " +
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
  const rows = issueTargets(run);
  lines.push(
    "## Targets (ratios measured in this run)",
    "",
    "The targets of the performance issue, each from figures of this run; the sections below give the figures behind them.",
    "",
    "| target | runtime | measured | goal | met |",
    "| --- | --- | ---: | --- | --- |",
  );
  for (const row of rows) {
    lines.push(
      `| ${row.label} | ${row.runtime} | ${formatMeasured(row)} | ${
        formatGoal(row.goal, row.unit)
      } | ${row.met ? "yes" : "**no**"} |`,
    );
  }
  const missed = rows.filter((row) => !row.met);
  lines.push(
    "",
    `${rows.length - missed.length} of ${rows.length} met.`,
    "",
    "## What bounds the missed targets",
    "",
  );
  if (missed.length === 0) lines.push("Every target is met in this run.");
  for (const row of missed) {
    lines.push(
      `- ${row.label}, ${row.runtime} (${formatMeasured(row)}, goal ${
        formatGoal(row.goal, row.unit)
      }): ${
        row.measured === undefined
          ? "this run did not measure it."
          : boundOf(row.id, row.runtime, run) ?? "not explained yet."
      }`,
    );
  }
  lines.push("");
}

function storeAgainstScript(run: Run, lines: string[]): void {
  const { results } = run;
  const modes = Object.keys(SCRIPT_MODES) as ScriptMode[];
  const ceilings = modes.map((mode) => ceiling(results, "store script", mode));
  if (ceilings.every((c) => c === undefined)) return;
  lines.push(
    "## `store` with the Python history against its script",
    "",
    "`store` keeps the Python original's call count and history in one script (EVALSHA) with the value, so the ceiling of a store that keeps it is redis-benchmark running that same script, on fresh keys (random among a billion), in the same run: " +
      modes.map((mode, i) =>
        `${
          ceilings[i] ? format(ceilings[i]!.opsPerSec) : "—"
        }/s with \`${mode}\``
      ).join(", ") + ".",
    "",
    "The same concurrency as each load shape: one at a time is `-c 1`. **100 lanes** keep 100 stores in flight, each sent as soon as another is answered, which is what 100 connections of redis-benchmark do (`-c 100`, one store in flight on each). **Bursts of 100** send 100 together and wait for all of them before the next 100, which is what redis-benchmark pipelining 100 on one connection does (`-c 1 -P 100`), on one connection as the cache has. The target holds each shape to its own (in bold); the other column is there to compare.",
    "",
    `| runtime | load shape | store ops/s | ${
      modes.map((mode) => `/ \`${mode}\``).join(" | ")
    } |`,
    `| --- | --- | ---: | ${modes.map(() => "---:").join(" | ")} |`,
  );
  for (const runtime of RUNTIMES) {
    for (const shape of SHAPES) {
      const store = find(results, "cache", runtime, `set, ${shape}`);
      if (store === undefined) continue;
      const cells = modes.map((mode, i) => {
        const c = ceilings[i];
        if (c === undefined) return "—";
        const cell = (store.opsPerSec / c.opsPerSec).toFixed(2);
        return STORE_CEILING[shape] === mode ? `**${cell}**` : cell;
      });
      lines.push(
        `| ${runtime} | ${shape} | ${format(store.opsPerSec)} | ${
          cells.join(" | ")
        } |`,
      );
    }
  }
  lines.push("");
}

function l1Limit(run: Run, lines: string[]): void {
  if (run.l1Limit.length === 0) return;
  const { l1Rounds, l1Calls } = run.machine;
  lines.push(
    "## An L1 hit against its limit",
    "",
    `An in-process hit is at best a \`Map.get\` and a copy of the bytes it finds (\`slice()\`: the L1 must hand out a copy). In the same process as the L1 of the cache, ${
      l1Calls ?? "—"
    } calls one after another per loop, the loops taking turns for ${
      l1Rounds ?? "—"
    } rounds after one round of warm-up, the median round of each: \`await cache.get(key)\` answered by the L1, the bare \`map.get(key).slice()\` of the same bytes (the target's limit), and the same awaited, the limit of any call that returns a promise, as \`get\` does. Wall time: no round trip is in any of them.`,
    "",
    "| runtime | value bytes | L1 hit, ns | `map.get().slice()`, ns | `await map.get().slice()`, ns | L1 hits/s over the bare limit's | over the awaited limit's |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const runtime of RUNTIMES) {
    const r = run.l1Limit.find((r) => r.runtime === runtime);
    if (r === undefined) continue;
    lines.push(
      `| ${runtime} | ${r.bytes} | ${Math.round(r.l1Ns)} | ${
        Math.round(r.mapCopyNs)
      } | ${Math.round(r.mapCopyAwaitedNs)} | ${
        (r.mapCopyNs / r.l1Ns).toFixed(2)
      } | ${(r.mapCopyAwaitedNs / r.l1Ns).toFixed(2)} |`,
    );
  }
  lines.push("");
}

const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);

function memory(run: Run, lines: string[]): void {
  if (run.memory.length === 0) return;
  const first = run.memory[0];
  lines.push(
    "## Memory",
    "",
    `Each runtime in a process of its own, with a full garbage collection on demand (Deno \`--v8-flags=--expose-gc\`, Node \`--expose-gc\`, Bun \`Bun.gc(true)\`). The heap (\`process.memoryUsage().heapUsed\`) after three full collections, before and after ${
      first.hits.toLocaleString("en-US")
    } L1 hits one after another, and before and after ${
      first.gets.toLocaleString("en-US")
    } gets over the network in ${first.inFlight} lanes; each phase after ${
      first.warmUp.toLocaleString("en-US")
    } calls of its own kind as warm-up, so that what is made once (compiled code, buffers) is there before the first figure.`,
    "",
    "| runtime | heap before L1 hits, MiB | after, MiB | after / before | heap before gets, MiB | after, MiB | after / before |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const m of run.memory) {
    lines.push(
      `| ${m.runtime} | ${mib(m.l1HeapBefore)} | ${mib(m.l1HeapAfter)} | ${
        (m.l1HeapAfter / m.l1HeapBefore).toFixed(3)
      } | ${mib(m.getsHeapBefore)} | ${mib(m.getsHeapAfter)} | ${
        (m.getsHeapAfter / m.getsHeapBefore).toFixed(3)
      } |`,
    );
  }
  lines.push(
    "",
    `Peak resident memory while one \`getMany\` reads ${
      first.manyKeys.toLocaleString("en-US")
    } keys of ${first.manyBytes} bytes (${
      mib(first.manyKeys * first.manyBytes)
    } MiB of values), written beforehand by a script on the server, and run first in the process, so that the peak is the call's own. VmHWM: the kernel's high-water mark, reset just before the call; sampled: resident memory read every millisecond.`,
    "",
    "| runtime | resident before, MiB | peak during the call, MiB | peak − before, MiB | from |",
    "| --- | ---: | ---: | ---: | --- |",
  );
  for (const m of run.memory) {
    lines.push(
      `| ${m.runtime} | ${m.rssBeforeMiB.toFixed(1)} | ${
        m.peakRssMiB.toFixed(1)
      } | ${(m.peakRssMiB - m.rssBeforeMiB).toFixed(1)} | ${m.peakFrom} |`,
    );
  }
  lines.push("");
}

function scale(run: Run, lines: string[]): void {
  if (run.scale.length === 0) return;
  const { cores, pinned, scaleMs } = run.machine;
  lines.push(
    "## Several processes against one redis-server",
    "",
    `1, 2 and 4 processes per runtime, each a cache making 100 gets in flight (lanes) against the one redis-server, started together (each warmed up, then told to start on stdin) for ${
      scaleMs === undefined ? "—" : scaleMs / 1000
    } s; the gets per second of all of them together, and the server's CPU share over the same window: the change of \`used_cpu_user\` + \`used_cpu_sys\` (\`INFO cpu\`) over the wall time, 100% being one core busy all the time. ${
      pinned
        ? `The processes run on every core but the server's (${
          cores - 1
        } of ${cores} here).`
        : "The processes and the server are not pinned."
    }`,
    "",
    pinned && cores === 2
      ? "On 2 cores this shows the shape, not the peak: the processes share the one core the server leaves them, so more processes split the same client CPU between them rather than adding to it, and the server's share shows how much of its core the gets leave unused. On more cores, processes add client CPU until the server's share nears 100%: there the server is the limit, and more processes cannot add gets."
      : `On 2 cores this shows the shape, not the peak (this run had ${cores} cores): processes add client CPU until the server's share nears 100%; there the server is the limit, and more processes cannot add gets.`,
    "",
    "| runtime | processes | gets/s, all together | per process | server CPU |",
    "| --- | ---: | ---: | ---: | ---: |",
  );
  for (const r of run.scale) {
    lines.push(
      `| ${r.runtime} | ${r.processes} | ${format(r.opsPerSec)} | ${
        format(r.opsPerSec / r.processes)
      } | ${(r.serverCpu * 100).toFixed(0)}% |`,
    );
  }
  lines.push("");
}

function earlierGoals(run: Run, lines: string[]): void {
  const { results } = run;
  lines.push(
    "## Goals of earlier issues",
    "",
    "Kept to see what changes; the targets above are the ones the work is held to.",
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
        `cache / ${raw}: store, ${shape} (\`history: false\`)`,
        runtime,
        of(`set, ${shape}`, "cache (no history)"),
        0.95,
      );
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
  lines.push("## Notes on what limits the figures", "");
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
    "- The cache returns plain `Uint8Array`s on every runtime (a `Buffer`'s `slice` shares memory, a `Uint8Array`'s copies), so it makes one view per value (on Bun and Node, a copy of a small value, cheaper there than a view; on Deno, always a view); with key checks, that is most of what it adds to a large `getMany`.",
    "- Bun's `RedisClient` decodes MGET and script replies as text, so on Bun the cache encodes each MGET text back to its bytes where that is exact (no U+FFFD) and reads the other keys, and keys of another type, with `getBuffer`; its raw subject batches with pipelined `getBuffer` calls, its binary-safe batch.",
    "- In bursts, calls run in lock step: the 100 of a burst are answered together and the next 100 made together, so the client's work and the round trip add up instead of overlapping. Coalescing turns 100 GETs into one MGET (and an EXISTS while batches miss keys), which saves Redis most of its work and the client its per-command cost; where the raw client pipelines 100 GETs for about the client time the cache spends on 100 `get()` calls (a promise, a key check and a `Uint8Array` view each), the gain is smallest.",
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
  storeAgainstScript(run, lines);
  l1Limit(run, lines);
  memory(run, lines);
  scale(run, lines);
  earlierGoals(run, lines);
  limits(run, lines);
  allFigures(run.results, lines);
  return lines.join("\n") + "\n";
}
