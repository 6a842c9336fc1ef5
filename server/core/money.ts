/**
 * @module
 * Money as the gateway counts it: integer nano-USD (1 USD = 1e9), so `Deno.KvU64` sums are exact and the same no
 * matter how calls are batched. USD floats appear only at the edges: budgets typed by admins (`usdToNanos`), and
 * amounts shown in answers, headers and logs (`nanosToUsd`, `formatUsd`).
 *
 * @example
 * ```ts
 * import { formatUsd, nanosToUsd, usdToNanos } from "./money.ts";
 *
 * const budget = usdToNanos(0.5); // 500_000_000n
 * nanosToUsd(budget); // 0.5
 * formatUsd(42_000n); // "0.000042"
 * ```
 */

export const NANOS_PER_USD = 1_000_000_000;

/** USD → nano-USD, for budgets typed by admins (`max_budget: 0.5`). */
export function usdToNanos(usd: number): bigint {
  return BigInt(Math.round(usd * NANOS_PER_USD));
}

/** nano-USD → USD as a plain number (exact for any amount below 2^53 nanos, about 9 million USD). */
export function nanosToUsd(nanos: bigint): number {
  return Number(nanos) / NANOS_PER_USD;
}

/** nano-USD → an exact decimal USD string without exponent (`0.000042`, `12.5`, `0`), for headers and logs. */
export function formatUsd(nanos: bigint): string {
  const sign = nanos < 0n ? "-" : "";
  const abs = nanos < 0n ? -nanos : nanos;
  const whole = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${sign}${whole}${frac ? "." + frac : ""}`;
}
