/**
 * @module
 * What admission holds for a call while it runs (`keys/admission.ts`): its request's estimate — input tokens from
 * its text, and the output it allows (`maxTokens`/`max_tokens`, else `general_settings.default_hold_output_tokens`,
 * 4096 by default, capped at the model's `max_output_tokens` when the price table knows it) — priced at the most
 * expensive deployment that may serve it (its model group's, and its fallback groups'), at the tier asked for or the
 * standard one, whichever costs more, in nano-USD; and the same
 * tokens, for tokens-per-minute limits. The hold decides admission only; the call is billed what it used.
 */
import type { GatewayConfig } from "../config/types.ts";
import type { RequestEstimate } from "../core/call_record.ts";
import { LONG_CONTEXT_TOKENS, type Pricing, tierPrices } from "./cost.ts";
import type { ModelPrices } from "./price_table.ts";

/** A call's hold: its expected cost and tokens. */
export interface Hold {
  nanos: bigint;
  tokens: number;
}

export type HoldPricing = (modelName: string, estimate: RequestEstimate) => Hold;

/** One deployment's input and output prices in pico-USD per token, below and above 200k prompt tokens. */
interface Rates {
  input: bigint;
  output: bigint;
  longInput: bigint;
  longOutput: bigint;
}

/** Prices and output cap of every deployment a model name may be served by, resolved once at start-up. */
interface Group {
  prices: ModelPrices[];
  /** The largest `max_output_tokens` among them, when any knows it. */
  maxOutputTokens?: number;
  /** Their rates by tier (the dearer of the tier's and the standard ones), built at a tier's first call. */
  rates: Map<string, Rates[]>;
}

const PICOS_PER_NANO = 1000n;
const picos = (usd: number | undefined) => usd === undefined || !(usd > 0) ? 0n : BigInt(Math.round(usd * 1e12));
const dearer = (a: bigint, b: bigint) => a > b ? a : b;

function ratesOf(p: ModelPrices, tier: string): Rates {
  const at = tier === "standard" ? undefined : tierPrices(p, tier);
  return {
    input: dearer(picos(p.input), picos(at?.input)),
    output: dearer(picos(p.output), picos(at?.output)),
    longInput: dearer(picos(p.above200k?.input ?? p.input), picos(at?.above200k?.input ?? at?.input)),
    longOutput: dearer(picos(p.above200k?.output ?? p.output), picos(at?.above200k?.output ?? at?.output)),
  };
}

export function createHoldPricing(config: GatewayConfig, pricing: Pick<Pricing, "pricesFor">): HoldPricing {
  const groups = new Map<string, Group>();
  for (const name of config.byModelName.keys()) {
    const fallbacks = config.router.fallbacks.get(name) ?? config.router.fallbacks.get("*") ?? [];
    const prices = [name, ...fallbacks].flatMap((g) => config.byModelName.get(g) ?? []).map((d) =>
      pricing.pricesFor(d.id)
    );
    const caps = prices.map((p) => p.maxOutputTokens).filter((n): n is number => n !== undefined);
    groups.set(name, { prices, maxOutputTokens: caps.length ? Math.max(...caps) : undefined, rates: new Map() });
  }
  const none: Hold = { nanos: 0n, tokens: 0 };

  return (modelName, estimate) => {
    if (!estimate.billable) return none;
    const group = groups.get(modelName);
    const cap = group?.maxOutputTokens ?? Infinity;
    const output = estimate.maxOutputTokens ?? Math.min(config.defaultHoldOutputTokens, cap);
    const tokens = estimate.inputTokens + output;
    if (!group) return { nanos: 0n, tokens };
    const tier = estimate.tier ?? "standard";
    let rates = group.rates.get(tier);
    if (!rates) group.rates.set(tier, rates = group.prices.map((p) => ratesOf(p, tier)));
    // Anthropic's long-context rates apply to every token of a call whose prompt is above 200k tokens.
    const long = estimate.inputTokens > LONG_CONTEXT_TOKENS;
    const input = BigInt(estimate.inputTokens), out = BigInt(output);
    let total = 0n;
    for (const r of rates) {
      const c = long ? input * r.longInput + out * r.longOutput : input * r.input + out * r.output;
      if (c > total) total = c;
    }
    return { nanos: (total + PICOS_PER_NANO / 2n) / PICOS_PER_NANO, tokens };
  };
}
