/**
 * @module
 * LiteLLM's duration strings, for key expiry (`duration`) and budget windows (`budget_duration`) of keys, teams, users
 * and the proxy as a whole: a positive whole number and a unit — `30s`, `30m`, `1h`, `1d`, `2w`, or `1mo` (calendar
 * months) — or one of LiteLLM's words (`hourly` = `1h`, `daily` = `24h`, `weekly` = `7d`, `monthly` = `30d`, as
 * LiteLLM maps them). A period of months is not a number of milliseconds: its windows run from a day of the month to
 * the same day of a later month (UTC), the day clamped to the month's last (31 January + 1 month = 28 or 29 February).
 */

/** A parsed duration: fixed milliseconds, or calendar months. */
export type Period = { ms: number; months?: undefined } | { months: number; ms?: undefined };

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** LiteLLM's word forms and the durations it reads them as. */
const WORDS: Readonly<Record<string, string>> = {
  hourly: "1h",
  daily: "24h",
  weekly: "7d",
  monthly: "30d",
};

/** What the admin API accepts: a positive whole number and one unit (`mo`: months), or a word. */
export const DURATION_PATTERN = /^(?:[1-9][0-9]{0,8}(?:mo|s|m|h|d|w)|hourly|daily|weekly|monthly)$/;
const NUMBER_UNIT = /^([1-9][0-9]{0,8})(mo|s|m|h|d|w)$/;

/** Longest accepted duration: ten years keeps every derived timestamp a safe integer. */
export const MAX_DURATION_MS = 3650 * 86_400_000;
const MAX_MONTHS = 120;

/** `"30d"` → `{ ms }`, `"1mo"` → `{ months: 1 }`; undefined when the text is not a duration this gateway understands. */
export function parseDuration(text: string): Period | undefined {
  const m = NUMBER_UNIT.exec(Object.hasOwn(WORDS, text) ? WORDS[text] : text);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2] === "mo") return n <= MAX_MONTHS ? { months: n } : undefined;
  const ms = n * UNIT_MS[m[2]];
  return ms <= MAX_DURATION_MS ? { ms } : undefined;
}

/** `t` plus `months` calendar months (UTC), the day of the month clamped to the target month's last day. */
export function addMonths(t: number, months: number): number {
  const d = new Date(t);
  const y = d.getUTCFullYear(), m = d.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(d.getUTCDate(), lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) +
    d.getUTCMilliseconds();
}

/** `t` plus a period. */
export function addPeriod(t: number, p: Period): number {
  return p.months !== undefined ? addMonths(t, p.months) : t + p.ms;
}

/** The window of a budget that resets every `period`, windows back to back from `anchor`. */
export interface PeriodWindow {
  /** Epoch ms the window `now` falls in started (the anchor when there is no period). */
  start: number;
  /** Epoch ms it ends (spend resets); undefined without a period. */
  resetAt?: number;
}

/** The window `now` falls in, of windows of `period` back to back from `anchor` (one window forever without). */
export function windowOf(anchor: number, period: Period | undefined, now: number): PeriodWindow {
  if (!period) return { start: anchor };
  if (period.months === undefined) {
    const n = Math.max(0, Math.floor((now - anchor) / period.ms));
    const start = anchor + n * period.ms;
    return { start, resetAt: start + period.ms };
  }
  const a = new Date(anchor), b = new Date(now);
  const monthsApart = (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + b.getUTCMonth() - a.getUTCMonth();
  let n = Math.max(0, Math.floor(monthsApart / period.months));
  while (n > 0 && addMonths(anchor, n * period.months) > now) n--;
  return { start: addMonths(anchor, n * period.months), resetAt: addMonths(anchor, (n + 1) * period.months) };
}
