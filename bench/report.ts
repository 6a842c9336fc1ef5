/**
 * @module
 * Plain-text tables for the benchmark's console output (and for pasting into docs/benchmarks.md).
 */

/** A Markdown-compatible table: first row is the header; numbers right-aligned. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => typeof c === "number" ? fmt(c) : c));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const numeric = cells[0].map((_, i) => rows.slice(1).every((r) => typeof r[i] === "number"));
  const line = (r: string[]) =>
    "| " + r.map((c, i) => numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join(" | ") + " |";
  const rule = "|" + widths.map((w, i) => numeric[i] ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2)).join("|") + "|";
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join("\n");
}

/** Three significant-ish digits: 12345 → "12345", 12.345 → "12.3", 0.12345 → "0.123". */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (Number.isInteger(n)) return n.toString();
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toString();
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

/** Signed difference with unit: +0.120 ms. */
export function delta(n: number, unit: string): string {
  if (!Number.isFinite(n)) return "n/a";
  return `${n >= 0 ? "+" : "−"}${fmt(Math.abs(n))} ${unit}`;
}

export const mib = (kib: number) => kib / 1024;
