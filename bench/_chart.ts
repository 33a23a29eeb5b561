// The bar chart of bench/results.svg: GET throughput of every subject on
// every runtime, one and a hundred in flight, with redis-benchmark's figures
// as the reference.

import type { CaseResult } from "./_worker.ts";

/** Where and when the figures were measured. */
export interface Machine {
  cores: number;
  pinned: boolean;
  date: string;
  durationMs: number;
  redis: string;
}

const PANELS = [
  {
    title: "GET, 1 in flight (ops/s)",
    cases: ["get, 1 in flight", "get, redis-benchmark -c 1"],
  },
  {
    title: "GET, 100 in flight (ops/s)",
    cases: ["get, 100 in flight", "get, redis-benchmark -c 50"],
  },
];
const WIDTH = 960;
const LABEL = 260;
const BAR = 16;
const GAP = 4;

function escape(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An SVG document: one horizontal bar per subject and runtime, per panel. */
export function renderChart(results: CaseResult[], machine: Machine): string {
  const parts: string[] = [];
  let y = 50;
  for (const panel of PANELS) {
    const rows = results
      .filter((result) => panel.cases.includes(result.case))
      .sort((a, b) => b.opsPerSec - a.opsPerSec);
    const max = Math.max(...rows.map((row) => row.opsPerSec), 1);
    parts.push(
      `<text x="10" y="${y}" font-weight="bold">${escape(panel.title)}</text>`,
    );
    y += 10;
    for (const row of rows) {
      const width = Math.max(1, (row.opsPerSec / max) * (WIDTH - LABEL - 120));
      const ours = row.subject.startsWith("cache") &&
        !row.subject.startsWith("cache-");
      const fill = ours
        ? "#d6336c"
        : row.runtime === "C"
        ? "#495057"
        : "#74c0fc";
      const label = row.runtime === "C"
        ? row.subject
        : `${row.subject} (${row.runtime})`;
      parts.push(
        `<text x="${LABEL - 6}" y="${y + BAR - 4}" text-anchor="end">${
          escape(label)
        }</text>`,
        `<rect x="${LABEL}" y="${y}" width="${
          width.toFixed(1)
        }" height="${BAR}" fill="${fill}"/>`,
        `<text x="${LABEL + width + 6}" y="${y + BAR - 4}">${
          Math.round(row.opsPerSec).toLocaleString("en-US")
        }</text>`,
      );
      y += BAR + GAP;
    }
    y += 30;
  }
  const title =
    `@redis-basic/cache vs raw clients and peers — ${machine.cores} cores, ${machine.date}${
      machine.pinned ? ", server and clients pinned to separate cores" : ""
    }`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="24" font-size="14" font-weight="bold">${escape(title)}</text>
${parts.join("\n")}
</svg>
`;
}
