/**
 * @module
 * What admission holds for a call while it runs (`keys/admission.ts`): its request's estimate — input tokens from
 * its text, and the output it allows (`maxTokens`/`max_tokens`, else `general_settings.default_hold_output_tokens`,
 * 4096 by default, capped at the model's `max_output_tokens` when the price table knows it) — priced at the most
 * expensive deployment that may serve it (its model group's, and its fallback groups'), at the tier asked for or the
 * standard one, whichever costs more, in nano-USD; and the same
 * tokens, for tokens-per-minute limits. The hold decides admission only; the call is billed what it used.
 */
import { plainUsage } from "../bedrock/usage.ts";
import type { GatewayConfig } from "../config/types.ts";
import type { RequestEstimate } from "./call_record.ts";
import { costNanos, type Pricing, tierPrices } from "./cost.ts";
import type { ModelPrices } from "./price_table.ts";

/** A call's hold: its expected cost and tokens. */
export interface Hold {
  nanos: bigint;
  tokens: number;
}

export type HoldPricing = (modelName: string, estimate: RequestEstimate) => Hold;

/** Prices and output cap of every deployment a model name may be served by, resolved once at start-up. */
interface Group {
  prices: ModelPrices[];
  /** The largest `max_output_tokens` among them, when any knows it. */
  maxOutputTokens?: number;
}

export function createHoldPricing(config: GatewayConfig, pricing: Pick<Pricing, "pricesFor">): HoldPricing {
  const groups = new Map<string, Group>();
  for (const name of config.byModelName.keys()) {
    const fallbacks = config.router.fallbacks.get(name) ?? config.router.fallbacks.get("*") ?? [];
    const prices = [name, ...fallbacks].flatMap((g) => config.byModelName.get(g) ?? []).map((d) =>
      pricing.pricesFor(d.id)
    );
    const caps = prices.map((p) => p.maxOutputTokens).filter((n): n is number => n !== undefined);
    groups.set(name, { prices, maxOutputTokens: caps.length ? Math.max(...caps) : undefined });
  }
  const none: Hold = { nanos: 0n, tokens: 0 };

  return (modelName, estimate) => {
    if (!estimate.billable) return none;
    const group = groups.get(modelName);
    const cap = group?.maxOutputTokens ?? Infinity;
    const output = estimate.maxOutputTokens ?? Math.min(config.defaultHoldOutputTokens, cap);
    const usage = plainUsage(estimate.inputTokens, output);
    let nanos = 0n;
    const tier = estimate.tier ?? "standard";
    for (const p of group?.prices ?? []) {
      let c = costNanos(p, usage);
      const atTier = tier === "standard" ? undefined : tierPrices(p, tier);
      if (atTier) {
        const t = costNanos(atTier, usage);
        if (t > c) c = t;
      }
      if (c > nanos) nanos = c;
    }
    return { nanos, tokens: usage.totalTokens };
  };
}
