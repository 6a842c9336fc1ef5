/**
 * @module
 * How the admin UI writes numbers: money with enough digits for one small call (`$0.0210`, `$0.00042`), counts
 * with thousands separators, durations, percentages, and UTC timestamps for `<time>` elements (the page's script
 * shows them in the viewer's zone). Fixed `en-US` forms on the server, so a page reads the same wherever it is made.
 */

/** Up to nano-USD, the unit spend is counted in. */
const MAX_DECIMALS = 9;

/**
 * USD for people: four decimals from a cent up (`$0.0210`, `$12.3456`), two significant digits below a cent
 * (`$0.0042`, `$0.000042`, down to `$0.000000001`), whole cents from $1,000 (`$1,234.57`), and `$0.00` for zero.
 * A budget bar and a spend-log row then show the same call's cost the same way, never rounded away to `$0.00`.
 */
export function formatUsd(usd: number, opts: { trim?: boolean } = {}): string {
  if (!Number.isFinite(usd)) return "—";
  // Amounts people type (budgets) and chart axes: trailing zeros dropped down to cents (`$40.00`, `$0.025`).
  if (opts.trim) return formatUsd(usd).replace(/(\.\d\d\d*?)0+$/, "$1");
  const sign = usd < 0 ? "-" : "";
  const abs = Math.abs(usd);
  if (abs === 0) return "$0.00";
  if (abs >= 0.01) {
    const four = abs.toFixed(4);
    // From $1,000 (after rounding: 999.99999 is $1,000.00), whole cents are enough.
    return `${sign}$${Number(four) >= 1000 ? groupThousands(abs.toFixed(2)) : four}`;
  }
  const decimals = Math.min(MAX_DECIMALS, 1 - Math.floor(Math.log10(abs)));
  const text = abs.toFixed(decimals);
  // Below a nano-USD: the smallest unit, never a misleading `$0.000000000`.
  return `${sign}$${Number(text) === 0 ? "0.000000001" : text}`;
}

/** `1234567` → `1,234,567`; keeps a decimal part as is. */
function groupThousands(text: string): string {
  const [whole, frac] = text.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

/** A count: `12,345`; `—` when unknown. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  return groupThousands(String(Math.round(n)));
}

/** Milliseconds as people read them: `850 ms`, `2.4 s`, `3 min 5 s`. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A share as a percentage with one decimal below 10 %: `0.4 %`, `12 %`; `—` without a whole. */
export function formatPercent(part: number, whole: number): string {
  if (!(whole > 0)) return "—";
  const p = (part / whole) * 100;
  return `${p === 0 ? 0 : p < 10 ? p.toFixed(1) : Math.round(p)} %`;
}

/** USD per one million tokens, from a per-token price: `3e-6` → `$3.00`; `0.00000035` → `$0.35`. */
export function formatPerMillion(usdPerToken: number): string {
  const perMillion = usdPerToken * 1e6;
  return perMillion >= 0.01 ? `$${groupThousands(perMillion.toFixed(2))}` : formatUsd(perMillion);
}

/** The UTC text a `<time>` element shows until the page's script localises it: `2025-06-01 12:00:05 UTC`. */
export function utcText(ms: number, withSeconds = true): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, withSeconds ? 19 : 16)} UTC`;
}
