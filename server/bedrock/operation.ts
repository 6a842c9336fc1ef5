/**
 * @module
 * What differs between the model operations (`converse`, `converse-stream`, `invoke`,
 * `invoke-with-response-stream`, `count-tokens`): how a request is validated and which of its headers Bedrock binds,
 * where a successful answer reports its usage, and what a `mock_response` deployment answers. Everything else —
 * admission, routing, retries, signing, relaying, accounting — is the same for all of them (`model_call.ts`).
 */
import { validation } from "../core/errors.ts";
import type { RequestEstimate, RequestParams } from "../core/call_record.ts";
import { decodeJsonText, type JsonLimits } from "../core/json_guard.ts";
import type { GuardrailUnits } from "../core/guardrail_usage.ts";
import type { ServiceTierChoice } from "./service_tier.ts";
import type { Usage } from "../core/usage.ts";

/**
 * Where a stream reports its usage: ConverseStream's `metadata` event, the invocation metrics in the last `chunk`
 * of InvokeModelWithResponseStream, or nowhere (InvokeAgent: nothing is billed, and no frame marks the end).
 */
export type StreamUsageSource = "metadata" | "invocationMetrics" | "none";

/** A validated request: what the call needs besides the body bytes, which are forwarded untouched. */
export interface PreparedRequest {
  /**
   * The JSON body parsed again, when there is one (only mock answers need it, to estimate usage). The parse made to
   * validate the body is not kept: a large body's parsed copy is garbage as soon as it has been checked.
   */
  json?: () => unknown;
  /** String pairs the caller tagged the call with; they become spend-log tags. */
  requestMetadata?: Record<string, string>;
  /** Request headers Bedrock binds for the operation (lower-case names), forwarded and signed. */
  headers?: Record<string, string>;
  /** The guardrail the request asks Bedrock to apply (Converse `guardrailConfig`, InvokeModel's header). */
  guardrail?: GuardrailUse;
  /** The service tier and latency mode asked for (priced differently by Bedrock). */
  tier?: ServiceTierChoice;
  /** The generation settings the request gives (`request_params.ts`), for traces. */
  params?: RequestParams;
  /**
   * What the request is expected to use (`expected_usage.ts`), judged while its parse is at hand: admission's holds,
   * and the input billed for a stream whose client leaves mid-generation. Numbers only: the parse is not kept.
   */
  estimate: RequestEstimate;
}

/** A guardrail named by a model call; the caller needs the grant of its ApplyGuardrail route to use it. */
export interface GuardrailUse {
  identifier: string;
  version: string;
}

/** A guardrail use from an identifier and version as the request gives them; none for an absent or empty id. */
export function guardrailUse(identifier: unknown, version: unknown): GuardrailUse | undefined {
  if (typeof identifier !== "string" || identifier === "") return undefined;
  return { identifier, version: typeof version === "string" ? version : "" };
}

/** What a successful non-stream answer says for accounting. */
export interface AnswerFacts {
  usage?: Usage;
  /** Bedrock's own processing time, for detailed debug logs. */
  latencyMs?: number;
  /** Why the answer could not be read (it is relayed anyway). */
  problem?: string;
  /** Guardrail policy units the answer's guardrail trace reports. */
  guardrailUnits?: GuardrailUnits;
  /** The service tier and latency mode the answer says served the call. */
  tier?: ServiceTierChoice;
  /** Why the model stopped, as the answer says (`end_turn`, `max_tokens`, …). */
  stopReason?: string;
}

export interface ModelOperationSpec {
  /** Answers with an event stream. */
  stream: boolean;
  /** Where a streamed answer reports its usage. */
  streamUsage: StreamUsageSource;
  /** Costs nothing (CountTokens): never refused for want of a price. */
  free?: boolean;
  /** Validates the body (and bound headers); throws a ValidationException. `limits`: see `parseJsonBody`. */
  prepare(body: Uint8Array, headers: Headers, limits: JsonLimits): PreparedRequest;
  /** Reads usage from a successful non-stream answer. */
  answer(headers: Headers, body: Uint8Array): AnswerFacts;
  /**
   * The tier a successful answer's response headers say served it (InvokeModel echoes its tier headers; streams too).
   * Converse reports it in its body or `metadata` event instead.
   */
  servedTier?(headers: Headers): ServiceTierChoice;
  /** A `mock_response` deployment's answer to this request, in the operation's wire format. */
  mock(text: string, request: PreparedRequest, requestId: string): Response;
}

const decoder = new TextDecoder();

/**
 * The body as JSON; a ValidationException when it is empty, starts with a byte-order mark, is not UTF-8, breaks the
 * depth or value-count limits (all checked before parsing) or is not JSON.
 */
export function parseJsonBody(body: Uint8Array, limits: JsonLimits): unknown {
  if (body.byteLength === 0) throw validation("Malformed input request: the request body is empty");
  const text = decodeJsonText(body, limits);
  try {
    return JSON.parse(text);
  } catch {
    throw validation("Malformed input request: the request body is not valid JSON");
  }
}

/** Parses a body that has been validated already, again (for mock answers). */
export const reparse = (body: Uint8Array) => () => JSON.parse(decoder.decode(body)) as unknown;

/** Copies the named request headers that are present (lower-case names). */
export function pickHeaders(headers: Headers, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = headers.get(name);
    if (v !== null) out[name] = v;
  }
  return out;
}
