/**
 * @module
 * LiteLLM's duration strings (`30s`, `30m`, `1h`, `1d`, `30d`, `2w`) for key expiry (`duration`) and budget
 * windows (`budget_duration`).
 */

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** What the admin API accepts: a positive whole number and one unit. */
export const DURATION_PATTERN = /^([1-9][0-9]{0,8})(s|m|h|d|w)$/;

/** Longest accepted duration: ten years keeps every derived timestamp a safe integer. */
export const MAX_DURATION_MS = 3650 * 86_400_000;

/** `"30d"` → milliseconds; undefined when the text is not a duration this gateway understands. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  return ms <= MAX_DURATION_MS ? ms : undefined;
}
