/**
 * @module
 * Which service tier and latency mode a call asks for or was served with, in Bedrock's words: Converse's
 * `serviceTier: {type}` and `performanceConfig: {latency}` (request, response and ConverseStream `metadata` event
 * alike), InvokeModel's `X-Amzn-Bedrock-Service-Tier` and `X-Amzn-Bedrock-PerformanceConfig-Latency` (request headers,
 * echoed on the response). Bedrock prices tiers differently, so the tier travels to accounting on the `CallRecord`.
 *
 * Values are kept as sent when they look like an enum value (letters, digits, `_`, `-`; at most 32 characters) and
 * dropped otherwise, so a client cannot put arbitrary text into spend logs through them.
 */

/** A call's service tier (`default`, `priority`, `flex`, `reserved`) and latency mode (`standard`, `optimized`). */
export interface ServiceTierChoice {
  serviceTier?: string;
  latency?: string;
}

const ENUM_VALUE = /^[A-Za-z0-9_-]{1,32}$/;
const SERVICE_TIER_HEADER = "x-amzn-bedrock-service-tier";
const LATENCY_HEADER = "x-amzn-bedrock-performanceconfig-latency";

const enumValue = (v: unknown): string | undefined => typeof v === "string" && ENUM_VALUE.test(v) ? v : undefined;

function choice(serviceTier: unknown, latency: unknown): ServiceTierChoice {
  const out: ServiceTierChoice = {};
  const tier = enumValue(serviceTier);
  const mode = enumValue(latency);
  if (tier !== undefined) out.serviceTier = tier;
  if (mode !== undefined) out.latency = mode;
  return out;
}

/** From a Converse request or response body, or a ConverseStream `metadata` event's payload. */
export function tierOfConverse(json: unknown): ServiceTierChoice {
  if (!json || typeof json !== "object") return {};
  const o = json as { serviceTier?: { type?: unknown }; performanceConfig?: { latency?: unknown } };
  return choice(o.serviceTier?.type, o.performanceConfig?.latency);
}

/** From InvokeModel's request headers or their echo on its response. */
export function tierOfHeaders(headers: Headers): ServiceTierChoice {
  return choice(headers.get(SERVICE_TIER_HEADER) ?? undefined, headers.get(LATENCY_HEADER) ?? undefined);
}
