/**
 * @module
 * The cost of a call in integer nano-USD (1 USD = 1e9): usage × per-token prices.
 *
 * Money is counted in integers so that `Deno.KvU64` sums are exact and the same no matter how calls are batched;
 * rounding happens once per call. Prices come from the deployment (`input_cost_per_token`, … in `litellm_params`
 * or `model_info`); the built-in price table arrives with the cost-tracking work and plugs in through
 * `pricesFor` without changing callers.
 */
import type { Usage } from "../bedrock/usage.ts";
import type { GatewayConfig, TokenPrices } from "../config/types.ts";
import type { CallRecord } from "./call_record.ts";

export const NANOS_PER_USD = 1_000_000_000;

/** Usage × prices in nano-USD, rounded once to a whole number. Unknown prices count as zero. */
export function costNanos(prices: TokenPrices, usage: Usage): bigint {
  const nanos = usage.inputTokens * (prices.input ?? 0) * NANOS_PER_USD +
    usage.outputTokens * (prices.output ?? 0) * NANOS_PER_USD +
    usage.cacheReadInputTokens * (prices.cacheRead ?? 0) * NANOS_PER_USD +
    usage.cacheWriteInputTokens * (prices.cacheWrite ?? 0) * NANOS_PER_USD;
  // Prices are validated non-negative; the guard keeps a corrupt value from ever producing a refund.
  return nanos > 0 && Number.isFinite(nanos) ? BigInt(Math.round(nanos)) : 0n;
}

/** USD → nano-USD, for budgets typed by admins (`max_budget: 0.5`). */
export function usdToNanos(usd: number): bigint {
  return BigInt(Math.round(usd * NANOS_PER_USD));
}

/** nano-USD → USD as a plain number (exact for any amount below 2^53 nanos, about 9 million USD). */
export function nanosToUsd(nanos: bigint): number {
  return Number(nanos) / NANOS_PER_USD;
}

export interface Pricing {
  /** The prices that apply to a deployment (empty when the deployment is unknown). */
  pricesFor(deploymentId: string | undefined): TokenPrices;
  /**
   * What a finished call costs: zero unless it succeeded and reported usage. Failed, refused and disconnected
   * calls bill nothing.
   */
  callCostNanos(record: CallRecord): bigint;
}

/** Indexes the deployments' prices once, at start-up; per call it is a map lookup. */
export function createPricing(config: GatewayConfig): Pricing {
  const byId = new Map(config.deployments.map((d) => [d.id, d.prices]));
  const pricesFor = (id: string | undefined): TokenPrices => (id && byId.get(id)) || {};
  return {
    pricesFor,
    callCostNanos(record) {
      if (record.status !== "success" || !record.usage) return 0n;
      return costNanos(pricesFor(record.deploymentId), record.usage);
    },
  };
}
