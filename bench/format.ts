/**
 * @module
 * How the bench prints a number: a few significant digits, whatever its size. Shared by the sections, which note
 * numbers as they measure, and the report.
 */

/** About three significant digits: 12345 → "12345", 12.345 → "12.3", 0.12345 → "0.123". */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (Number.isInteger(n)) return n.toString();
  const a = Math.abs(n);
  if (a >= 100) return Math.round(n).toString();
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}
