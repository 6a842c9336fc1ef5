/**
 * @module
 * UTC days (`YYYY-MM-DD`, the roll-up and report granularity) and the date parameters of the spend routes.
 */
import { validation } from "../errors.ts";

const DAY_MS = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
/** Longest range a report or summary answers (about ten years of days). */
export const MAX_RANGE_DAYS = 3660;

/** The UTC day of an epoch-ms instant. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The day after `day`. */
export function nextDay(day: string): string {
  return dayOf(Date.parse(`${day}T00:00:00Z`) + DAY_MS);
}

/** Every day from `from` to `to`, both included. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = nextDay(d)) out.push(d);
  return out;
}

/**
 * A `start_date`/`end_date` parameter as epoch ms: a date (`2025-06-01`) means the start of that UTC day, or for an
 * end the last millisecond of it (so `end_date` includes its day); an ISO timestamp means that instant.
 */
export function parseDateParam(value: string, param: string, end: boolean): number {
  if (DATE_ONLY.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    if (Number.isFinite(ms) && dayOf(ms) === value) return end ? ms + DAY_MS - 1 : ms;
  } else if (value.includes("T")) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw validation(`Invalid request: ${param} must be a date (YYYY-MM-DD) or an ISO 8601 timestamp`, param);
}

/** Checks a range: start not after end, and not absurdly long for a per-day answer. */
export function checkRange(startMs: number, endMs: number): void {
  if (startMs > endMs) throw validation("Invalid request: start_date is after end_date", "start_date");
  if ((endMs - startMs) / DAY_MS > MAX_RANGE_DAYS) {
    throw validation(`Invalid request: the range may span at most ${MAX_RANGE_DAYS} days`, "end_date");
  }
}
