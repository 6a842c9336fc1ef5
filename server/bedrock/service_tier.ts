/**
 * @module
 * Which service tier and latency mode a call asks for or was served with, in Bedrock's words: Converse's
 * `serviceTier: {type}` and `performanceConfig: {latency}` (request, response and ConverseStream `metadata` event
 * alike), InvokeModel's `X-Amzn-Bedrock-Service-Tier` and `X-Amzn-Bedrock-PerformanceConfig-Latency` (request headers,
 * echoed on the response). Bedrock prices tiers differently, so the tier travels to accounting on the `CallRecord`.
 *
 * Values are kept as sent when they look like an enum value (letters, digits, `_`, `-`; at most 32 characters). In a
 * request, any other value is a 400: the call would be priced at a tier other than the one Bedrock is asked for (a
 * repeated header reads `priority, default`). In an answer it is dropped, so Bedrock cannot put arbitrary text into
 * spend logs through them.
 */
import { validation } from "../core/errors.ts";

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

/** A request's value, checked: absent, or an enum value; a ValidationException naming `where` otherwise. */
function requested(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const value = enumValue(v);
  if (value !== undefined) return value;
  throw validation(
    `Malformed input request: ${where} must be one value of letters, digits, "_" or "-" (at most 32 characters), ` +
      `such as "priority" or "default"`,
    where,
  );
}

/** The tier a Converse request asks for; a 400 for a value that is not one. */
export function requestedTierOfConverse(json: unknown): ServiceTierChoice {
  if (!json || typeof json !== "object") return {};
  const o = json as { serviceTier?: { type?: unknown }; performanceConfig?: { latency?: unknown } };
  return choice(
    requested(o.serviceTier?.type, "serviceTier.type"),
    requested(o.performanceConfig?.latency, "performanceConfig.latency"),
  );
}

/** The tier InvokeModel's request headers ask for; a 400 for a value that is not one (a repeated header is not). */
export function requestedTierOfHeaders(headers: Headers): ServiceTierChoice {
  return choice(
    requested(headers.get(SERVICE_TIER_HEADER) ?? undefined, SERVICE_TIER_HEADER),
    requested(headers.get(LATENCY_HEADER) ?? undefined, LATENCY_HEADER),
  );
}
