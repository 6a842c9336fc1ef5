/**
 * @module
 * What admission holds for a call while it runs (`keys/admission.ts`): its request's estimate — input tokens from
 * its text, and the output it allows (`maxTokens`/`max_tokens`, else `general_settings.default_hold_output_tokens`,
 * 4096 by default, capped at the model's `max_output_tokens` when the price table knows it) — priced at the most
 * expensive deployment that may serve it (its model group's, and its fallback groups'), at the tier asked for or the
 * standard one, whichever costs more, in nano-USD; and the same tokens, for tokens-per-minute limits. A request that
 * marks a prompt-cache checkpoint may have all its input billed as cache writes (1.25× the input rate for 5 minutes,
 * 2× for an hour): its input is priced at the dearest of the three. Only then: Bedrock writes a cache only where the
 * request marks one, and pricing every hold at the 1-hour write rate would halve what budgets admit at once for
 * callers who never cache. ApplyGuardrail holds the most its policy units can cost (`guardrailUnits`). The hold
 * decides admission only; the call is billed what it used.
 */
import type { GatewayConfig } from "../config/types.ts";
import type { RequestEstimate } from "../core/call_record.ts";
import { LONG_CONTEXT_TOKENS, type Pricing, tierPrices } from "./cost.ts";
import { guardrailCostNanos, guardrailPrices } from "./guardrail_prices.ts";
import type { TokenPrices } from "../config/price_fields.ts";
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
  /**
   * Their rates by tier (the dearer of the tier's and the standard ones), with input at the dearest cache-write rate
   * or not (`cached`), built at a tier's first call.
   */
  rates: Map<string, Rates[]>;
}

const PICOS_PER_NANO = 1000n;
const picos = (usd: number | undefined) => usd === undefined || !(usd > 0) ? 0n : BigInt(Math.round(usd * 1e12));
const dearer = (a: bigint, b: bigint) => a > b ? a : b;

/** The input rate of one price set: plain, or the dearest of plain and both cache-write rates. */
function inputRate(p: TokenPrices | undefined, cached: boolean): bigint {
  const plain = picos(p?.input);
  return cached ? dearer(plain, dearer(picos(p?.cacheWrite), picos(p?.cacheWrite1h))) : plain;
}

function ratesOf(p: ModelPrices, tier: string, cached: boolean): Rates {
  const at = tier === "standard" ? undefined : tierPrices(p, tier);
  // Long-context rates fall back to the base ones kind by kind, as the bill does.
  const long = { ...p, ...p.above200k };
  const atLong = at && { ...at, ...at.above200k };
  return {
    input: dearer(inputRate(p, cached), inputRate(at, cached)),
    output: dearer(picos(p.output), picos(at?.output)),
    longInput: dearer(inputRate(long, cached), inputRate(atLong, cached)),
    longOutput: dearer(picos(long.output), picos(atLong?.output)),
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
  const perGuardrailUnit = guardrailPrices(config.guardrailPrices);

  return (modelName, estimate) => {
    if (!estimate.billable) return none;
    if (estimate.guardrailUnits) {
      return { nanos: guardrailCostNanos(estimate.guardrailUnits, perGuardrailUnit), tokens: 0 };
    }
    const group = groups.get(modelName);
    const cap = group?.maxOutputTokens ?? Infinity;
    const output = estimate.maxOutputTokens ?? Math.min(config.defaultHoldOutputTokens, cap);
    const tokens = estimate.inputTokens + output;
    if (!group) return { nanos: 0n, tokens };
    const tier = estimate.tier ?? "standard";
    const cached = estimate.cacheWrites === true;
    const key = cached ? `${tier} cached` : tier;
    let rates = group.rates.get(key);
    if (!rates) group.rates.set(key, rates = group.prices.map((p) => ratesOf(p, tier, cached)));
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
