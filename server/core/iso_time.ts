/**
 * @module
 * `new Date(ms).toISOString()` for the timestamps written once per call (the request log line, spend-log rows),
 * without building a Date and formatting it every time: each formatter remembers the text up to the second, and only
 * the milliseconds change. No module state: every logger and spend-log writer makes its own formatter.
 *
 * @example
 * ```ts
 * import { createIsoTime } from "./iso_time.ts";
 *
 * const isoTime = createIsoTime();
 * isoTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6)); // "2026-01-02T03:04:05.006Z"
 * ```
 */

/**
 * A formatter giving the same string as `new Date(ms).toISOString()` (and the same RangeError for times it cannot
 * show), with its own cache of the current second.
 */
export function createIsoTime(): (ms: number) => string {
  let cachedSecond = Number.NaN;
  let cachedPrefix = "";
  return (ms) => {
    const t = Math.floor(ms);
    const second = Math.floor(t / 1000);
    if (second !== cachedSecond) {
      const text = new Date(t).toISOString();
      // Years outside 0000–9999 have a longer form; leave them to Date every time.
      if (text.length !== 24) return text;
      cachedPrefix = text.slice(0, 20);
      cachedSecond = second;
    }
    const millis = t - second * 1000;
    return cachedPrefix + (millis < 10 ? "00" : millis < 100 ? "0" : "") + millis + "Z";
  };
}
