/**
 * @module
 * What guardrail policy units cost: Amazon Bedrock's on-demand Guardrails prices in USD per 1,000 units
 * (aws.amazon.com/bedrock/pricing, after the December 2024 reduction; a text unit is up to 1,000 characters),
 * overridable per policy type with `general_settings.guardrail_prices` (same names, USD per 1,000 units).
 *
 * @example
 * ```ts
 * const prices = guardrailPrices({ contentPolicyUnits: 0.1 });
 * guardrailCostNanos({ contentPolicyUnits: 3, topicPolicyUnits: 1 }, prices); // 3 × 100 000 + 150 000 = 450 000n
 * ```
 */
import { GUARDRAIL_UNIT_KINDS, type GuardrailUnitKind, type GuardrailUnits } from "../core/guardrail_usage.ts";

/** USD per 1,000 units of each policy type. */
export type GuardrailPrices = Record<GuardrailUnitKind, number>;

export const DEFAULT_GUARDRAIL_PRICES: Readonly<GuardrailPrices> = {
  contentPolicyUnits: 0.15, // content filters (text)
  topicPolicyUnits: 0.15, // denied topics
  wordPolicyUnits: 0, // word filters: free
  sensitiveInformationPolicyUnits: 0.1, // sensitive information filters (PII)
  sensitiveInformationPolicyFreeUnits: 0, // sensitive information filters (regex): free
  contextualGroundingPolicyUnits: 0.1, // contextual grounding checks
  contentPolicyImageUnits: 0.75, // image content filters: $0.00075 per image
  automatedReasoningPolicyUnits: 0.17, // Automated Reasoning checks
};

/** The built-in prices with the config's overrides applied. */
export function guardrailPrices(overrides: Partial<Record<string, number>> = {}): GuardrailPrices {
  const out = { ...DEFAULT_GUARDRAIL_PRICES };
  for (const kind of GUARDRAIL_UNIT_KINDS) {
    const v = overrides[kind];
    if (typeof v === "number" && Number.isFinite(v) && v >= 0) out[kind] = v;
  }
  return out;
}

/** Units × prices in integer nano-USD (USD per 1,000 units × 10⁶ = nano-USD per unit, rounded once per kind). */
export function guardrailCostNanos(units: GuardrailUnits | undefined, prices: GuardrailPrices): bigint {
  if (!units) return 0n;
  let total = 0n;
  for (const kind of GUARDRAIL_UNIT_KINDS) {
    const n = units[kind];
    if (n) total += BigInt(n) * BigInt(Math.round(prices[kind] * 1e6));
  }
  return total;
}
