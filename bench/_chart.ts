// The bar chart of bench/results.svg: GET and SET throughput of every
// subject on every runtime, one at a time and with 100 in flight in both
// load shapes, with redis-benchmark's figures as the reference.

import type { Machine } from "./_run.ts";
import type { CaseResult } from "./_worker.ts";

interface Panel {
  title: string;
  cases: string[];
}

// GET on the left, SET on the right; one row per load shape. With 100 in
// flight the ceiling is redis-benchmark pipelining 100 (`-P 100`), beside
// 50 connections each waiting for its reply (`-c 50`).
const COLUMNS: Panel[][] = [
  [
    {
      title: "GET, 1 in flight (ops/s)",
      cases: ["get, 1 in flight", "get, redis-benchmark -c 1"],
    },
    {
      title: "GET, 100 in flight: 100 independent lanes (ops/s)",
      cases: [
        "get, 100 lanes",
        "get, redis-benchmark -c 50",
        "get, redis-benchmark -P 100",
      ],
    },
    {
      title: "GET, 100 in flight: bursts of 100 (Promise.all) (ops/s)",
      cases: [
        "get, bursts of 100",
        "get, redis-benchmark -c 50",
        "get, redis-benchmark -P 100",
      ],
    },
  ],
  [
    {
      title: "SET of a new key / store, 1 in flight (ops/s)",
      cases: ["set, 1 in flight", "set, redis-benchmark -c 1"],
    },
    {
      title: "SET / store, 100 independent lanes (ops/s)",
      cases: [
        "set, 100 lanes",
        "set, redis-benchmark -c 50",
        "set, redis-benchmark -P 100",
      ],
    },
    {
      title: "SET / store, bursts of 100 (ops/s)",
      cases: [
        "set, bursts of 100",
        "set, redis-benchmark -c 50",
        "set, redis-benchmark -P 100",
      ],
    },
  ],
];
const COLUMN = 720;
const LABEL = 250;
const VALUE = 150;
const BAR = 14;
const GAP = 4;

function escape(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

// What a bar is, in words: the L1's bars are hits in process memory, not
// round trips, and a store keeps the Python history unless said otherwise.
function label(row: CaseResult): string {
  if (row.runtime === "C") {
    return row.subject.endsWith("-P 100")
      ? "redis-benchmark -c 50 -P 100 (pipelined)"
      : row.subject;
  }
  const set = row.case.startsWith("set");
  const name = row.subject === "cache (l1)"
    ? "cache, L1: in-process hits"
    : row.subject === "cache (no history)"
    ? set ? "cache store, history: false" : "cache (history: false)"
    : row.subject === "cache" && set
    ? "cache store, history on"
    : row.subject === "cache (coalesce off)" && set
    ? "cache store, coalesce: false"
    : row.subject;
  return `${name} (${row.runtime})`;
}

function inProcess(row: CaseResult): boolean {
  return row.subject === "cache (l1)";
}

function colour(row: CaseResult): string {
  if (row.runtime === "C") return "#495057";
  if (inProcess(row)) return "#faa2c1";
  const ours = row.subject.startsWith("cache") &&
    !row.subject.startsWith("cache-");
  return ours ? "#d6336c" : "#74c0fc";
}

// One panel's bars from `top`; returns where the next panel starts.
function panel(
  parts: string[],
  results: CaseResult[],
  { title, cases }: Panel,
  left: number,
  top: number,
): number {
  const rows = results
    .filter((result) => cases.includes(result.case))
    .sort((a, b) => b.opsPerSec - a.opsPerSec);
  // The scale is that of the round trips: an L1 hit involves none, and at
  // its scale they would all be slivers, so its bars are cut at the edge.
  const max = Math.max(
    ...rows.filter((row) => !inProcess(row)).map((row) => row.opsPerSec),
    1,
  );
  let y = top;
  parts.push(
    `<text x="${left + 10}" y="${y}" font-weight="bold">${
      escape(title)
    }</text>`,
  );
  y += 10;
  for (const row of rows) {
    const cut = row.opsPerSec > max;
    const width = Math.max(
      1,
      (Math.min(row.opsPerSec, max) / max) * (COLUMN - LABEL - VALUE),
    );
    parts.push(
      `<text x="${left + LABEL - 6}" y="${y + BAR - 3}" text-anchor="end">${
        escape(label(row))
      }</text>`,
      `<rect x="${left + LABEL}" y="${y}" width="${
        width.toFixed(1)
      }" height="${BAR}" fill="${colour(row)}"/>`,
      `<text x="${left + LABEL + width + 6}" y="${y + BAR - 3}">${
        Math.round(row.opsPerSec).toLocaleString("en-US")
      }${cut ? " (off scale)" : ""}</text>`,
    );
    y += BAR + GAP;
  }
  return y + 30;
}

/** An SVG document: one horizontal bar per subject and runtime, per panel. */
export function renderChart(results: CaseResult[], machine: Machine): string {
  const parts: string[] = [];
  // Row by row, so that the panels side by side start at the same height.
  let y = 70;
  for (let row = 0; row < COLUMNS[0].length; row++) {
    const top = y;
    COLUMNS.forEach((column, i) => {
      y = Math.max(y, panel(parts, results, column[row], i * COLUMN, top));
    });
  }
  const height = y;
  const title =
    `@redis-basic/cache vs raw clients and peers — ${machine.cores} cores, ${machine.date}${
      machine.pinned ? ", server and clients pinned to separate cores" : ""
    }`;
  const note =
    "cache: the Python history on unless marked history: false. L1 bars are hits in process memory, with no round trip, cut at the scale of the round trips. Grey: redis-benchmark (C).";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${
    COLUMNS.length * COLUMN
  }" height="${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="24" font-size="14" font-weight="bold">${escape(title)}</text>
<text x="10" y="44">${escape(note)}</text>
${parts.join("\n")}
</svg>
`;
}
