/**
 * @module
 * Guardrail usage as Bedrock reports it: policy units per policy type (`GuardrailUsage`), in ApplyGuardrail's `usage`
 * and, when the caller asked for a trace, in the `invocationMetrics.usage` of each assessment of a model call's
 * guardrail trace (Converse `trace.guardrail`, ConverseStream's `metadata` event, InvokeModel's
 * `amazon-bedrock-trace.guardrail`). Without a trace a model call reports no guardrail usage, and none is billed.
 */

/** The unit counts of `GuardrailUsage` that are billed (one text unit: up to 1,000 characters). */
export const GUARDRAIL_UNIT_KINDS = [
  "topicPolicyUnits",
  "contentPolicyUnits",
  "wordPolicyUnits",
  "sensitiveInformationPolicyUnits",
  "sensitiveInformationPolicyFreeUnits",
  "contextualGroundingPolicyUnits",
  "contentPolicyImageUnits",
  "automatedReasoningPolicyUnits",
] as const;

export type GuardrailUnitKind = typeof GUARDRAIL_UNIT_KINDS[number];
export type GuardrailUnits = Partial<Record<GuardrailUnitKind, number>>;

const count = (v: unknown): number => typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;

/** Adds one `GuardrailUsage` object into `into`; returns whether it held any units. */
function addUsage(into: GuardrailUnits, usage: unknown): boolean {
  if (!usage || typeof usage !== "object") return false;
  let any = false;
  for (const kind of GUARDRAIL_UNIT_KINDS) {
    const n = count((usage as Record<string, unknown>)[kind]);
    if (n > 0) {
      into[kind] = (into[kind] ?? 0) + n;
      any = true;
    }
  }
  return any;
}

/** ApplyGuardrail's `usage`; undefined when it reports no units. */
export function readGuardrailUsage(usage: unknown): GuardrailUnits | undefined {
  const units: GuardrailUnits = {};
  return addUsage(units, usage) ? units : undefined;
}

/**
 * The units of every assessment in a guardrail trace (summed over input and output assessments and every guardrail
 * in them), found as `invocationMetrics.usage` wherever they sit; undefined when there are none. The walk is bounded
 * (depth 8): traces are small, and this never runs on client input.
 */
export function traceGuardrailUnits(trace: unknown): GuardrailUnits | undefined {
  const units: GuardrailUnits = {};
  let any = false;
  const walk = (node: unknown, depth: number) => {
    if (!node || typeof node !== "object" || depth > 8) return;
    if (Array.isArray(node)) {
      for (const item of node) walk(item, depth + 1);
      return;
    }
    const obj = node as Record<string, unknown>;
    const metrics = obj.invocationMetrics as { usage?: unknown } | undefined;
    if (metrics && typeof metrics === "object" && addUsage(units, metrics.usage)) any = true;
    for (const key in obj) if (key !== "invocationMetrics") walk(obj[key], depth + 1);
  };
  walk(trace, 0);
  return any ? units : undefined;
}
