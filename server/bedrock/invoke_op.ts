/**
 * @module
 * InvokeModel and InvokeModelWithResponseStream: model-native bodies (Anthropic Messages for Claude, Titan, Llama,
 * …) that the gateway only checks to be non-empty JSON declared as such, the request headers the operation binds (forwarded and
 * signed), and usage from where Bedrock reports it: the `X-Amzn-Bedrock-Input-Token-Count` /
 * `-Output-Token-Count` response headers, or the `amazon-bedrock-invocationMetrics` of the stream's last chunk. The
 * service tier is asked for and echoed in headers (`X-Amzn-Bedrock-Service-Tier`, `…-PerformanceConfig-Latency`).
 */
import { encodeEvent, EVENT_STREAM_CONTENT_TYPE } from "../../wire/eventstream.ts";
import { validation } from "../core/errors.ts";
import { mockUsage } from "./mock.ts";
import { mockDeltas } from "./mock_stream.ts";
import {
  type GuardrailUse,
  guardrailUse,
  type ModelOperationSpec,
  parseJsonBody,
  pickHeaders,
  type PreparedRequest,
  reparse,
} from "./operation.ts";
import { jsonObject } from "../core/json.ts";
import { traceGuardrailUnits } from "../core/guardrail_usage.ts";
import { requestedTierOfHeaders, tierOfHeaders } from "./service_tier.ts";
import { readUsage, type Usage } from "../core/usage.ts";
import { estimateRequest } from "./expected_usage.ts";
import { requestParams } from "./request_params.ts";
import { nativeStopReason } from "./json_scan.ts";

/** Headers both operations bind (`InvokeModelRequest` / `InvokeModelWithResponseStreamRequest` in the model). */
const COMMON_HEADERS = [
  "content-type",
  "x-amzn-bedrock-trace",
  "x-amzn-bedrock-guardrailidentifier",
  "x-amzn-bedrock-guardrailversion",
  "x-amzn-bedrock-performanceconfig-latency",
  "x-amzn-bedrock-service-tier",
  "x-amzn-bedrock-request-metadata",
] as const;
/** The answer's media type: `Accept` on InvokeModel, `X-Amzn-Bedrock-Accept` on the stream variant. */
const INVOKE_HEADERS = [...COMMON_HEADERS, "accept"];
const STREAM_HEADERS = [...COMMON_HEADERS, "x-amzn-bedrock-accept"];

const REQUEST_METADATA = "x-amzn-bedrock-request-metadata";

/**
 * The media types an InvokeModel body may be declared with: `application/json` (with or without parameters; Bedrock's
 * API reference: "You must specify application/json"), or not declared at all — absent, or
 * `application/octet-stream`, which the AWS JS SDK sends when `contentType` is left out and Bedrock reads as JSON.
 * Anything else is a 400 naming `application/json`, never forwarded: the body is checked as JSON in every case.
 */
function checkMediaType(contentType: string | null): void {
  if (contentType === null) return;
  const type = contentType.split(";")[0].trim().toLowerCase();
  if (type === "application/json" || type === "application/octet-stream") return;
  throw validation(
    `Malformed input request: InvokeModel takes a JSON body, declared Content-Type: application/json; ` +
      `this one is declared ${JSON.stringify(type.slice(0, 100))}`,
    "content-type",
  );
}

/** `X-Amzn-Bedrock-Request-Metadata`: a JSON object of strings; a 400 naming the header when it is not one. */
function requestMetadataOf(headers: Headers): Record<string, string> | undefined {
  const raw = headers.get(REQUEST_METADATA);
  if (raw === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (
    !parsed || typeof parsed !== "object" || Array.isArray(parsed) ||
    Object.values(parsed).some((v) => typeof v !== "string")
  ) {
    throw validation(`${REQUEST_METADATA} must be a JSON object of string values`, REQUEST_METADATA);
  }
  return parsed as Record<string, string>;
}

const GUARDRAIL_ID_HEADER = "x-amzn-bedrock-guardrailidentifier";
const GUARDRAIL_VERSION_HEADER = "x-amzn-bedrock-guardrailversion";
/** Bedrock's patterns for `guardrailIdentifier` (an id, or a guardrail ARN) and `guardrailVersion`; empty: none. */
const GUARDRAIL_ID = /^(?:[a-z0-9]+|arn:aws(?:-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail\/[a-z0-9]+)?$/;
const GUARDRAIL_VERSION = /^(?:[1-9][0-9]{0,7}|DRAFT)?$/;

/**
 * The guardrail InvokeModel's headers name. A value Bedrock's pattern does not match (a repeated header reads
 * `gr1, gr2`) is a 400: the grant checked and the guardrail applied must be the same one.
 */
function guardrailOfHeaders(headers: Headers): GuardrailUse | undefined {
  const identifier = headers.get(GUARDRAIL_ID_HEADER);
  const version = headers.get(GUARDRAIL_VERSION_HEADER);
  for (
    const [name, value, pattern] of [[GUARDRAIL_ID_HEADER, identifier, GUARDRAIL_ID], [
      GUARDRAIL_VERSION_HEADER,
      version,
      GUARDRAIL_VERSION,
    ]] as const
  ) {
    if (value !== null && (value.length > 2048 || !pattern.test(value))) {
      throw validation(
        `Malformed input request: ${name} must be ${
          name === GUARDRAIL_ID_HEADER ? "a guardrail id or ARN" : 'a version number or "DRAFT"'
        }, given once`,
        name,
      );
    }
  }
  return guardrailUse(identifier, version);
}

/** Usage from InvokeModel's token-count response headers; undefined when Bedrock sent none. */
export function tokenHeaderUsage(headers: Headers): Usage | undefined {
  const input = headers.get("x-amzn-bedrock-input-token-count");
  const output = headers.get("x-amzn-bedrock-output-token-count");
  if (input === null && output === null) return undefined;
  return readUsage({
    inputTokens: Number(input),
    outputTokens: Number(output),
    cacheReadInputTokens: Number(headers.get("x-amzn-bedrock-cache-read-input-token-count")),
    cacheWriteInputTokens: Number(headers.get("x-amzn-bedrock-cache-write-input-token-count")),
  });
}

/** Usage from an Anthropic Messages answer body (`usage.input_tokens`, …): the fallback when headers are missing. */
export function anthropicBodyUsage(body: Record<string, unknown> | undefined): Usage | undefined {
  const u = body?.usage as Record<string, unknown> | undefined;
  if (!u || typeof u !== "object" || (u.input_tokens === undefined && u.output_tokens === undefined)) return undefined;
  const creation = u.cache_creation as Record<string, unknown> | undefined;
  return readUsage({
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheReadInputTokens: u.cache_read_input_tokens,
    cacheWriteInputTokens: u.cache_creation_input_tokens,
    cacheWrite1hInputTokens: creation && typeof creation === "object" ? creation.ephemeral_1h_input_tokens : undefined,
  });
}

// ------------------------------------------------------------------------------------------------- mock answers

/** An Anthropic Messages answer, the shape Bedrock returns for Claude models. */
function mockMessage(text: string, usage: Usage, requestId: string): Record<string, unknown> {
  return {
    id: `msg_mock_${requestId.replaceAll("-", "").slice(0, 24)}`,
    type: "message",
    role: "assistant",
    model: "mock",
    content: [{ type: "text", text }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
  };
}

const base64 = (text: string) => {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
};

/** The Anthropic stream events of a mock answer as `chunk` frames; the last carries the invocation metrics. */
function mockChunkFrames(text: string, usage: Usage, requestId: string): Uint8Array[] {
  const message = mockMessage(text, usage, requestId);
  const events: Record<string, unknown>[] = [
    { type: "message_start", message: { ...message, content: [], stop_reason: null } },
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    ...mockDeltas(text).map((piece) => ({
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: piece },
    })),
    { type: "content_block_stop", index: 0 },
    {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: usage.outputTokens },
    },
    {
      type: "message_stop",
      "amazon-bedrock-invocationMetrics": {
        inputTokenCount: usage.inputTokens,
        outputTokenCount: usage.outputTokens,
        invocationLatency: 0,
        firstByteLatency: 0,
      },
    },
  ];
  return events.map((e) => encodeEvent("chunk", { bytes: base64(JSON.stringify(e)) }));
}

function mockAnswer(stream: boolean, text: string, request: PreparedRequest, requestId: string): Response {
  const usage = mockUsage(request.json?.(), text);
  if (!stream) {
    return new Response(JSON.stringify(mockMessage(text, usage, requestId)), {
      headers: {
        "content-type": "application/json",
        "x-amzn-requestid": requestId,
        "x-amzn-bedrock-input-token-count": String(usage.inputTokens),
        "x-amzn-bedrock-output-token-count": String(usage.outputTokens),
        "x-amzn-bedrock-invocation-latency": "0",
      },
    });
  }
  const frames = mockChunkFrames(text, usage, requestId);
  let next = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < frames.length) controller.enqueue(frames[next++]);
      else controller.close();
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    headers: {
      "content-type": EVENT_STREAM_CONTENT_TYPE,
      "x-amzn-bedrock-content-type": "application/json",
      "x-amzn-requestid": requestId,
    },
  });
}

const TRACE_FIELD = "amazon-bedrock-trace";
const TRACE_BYTES = new TextEncoder().encode(`"${TRACE_FIELD}"`);

/** Whether a model-native answer carries Bedrock's trace (byte search: no decode, no parse). */
function hasGuardrailTrace(body: Uint8Array): boolean {
  const first = TRACE_BYTES[0];
  for (let i = body.indexOf(first); i >= 0 && i + TRACE_BYTES.length <= body.length; i = body.indexOf(first, i + 1)) {
    let j = 1;
    while (j < TRACE_BYTES.length && body[i + j] === TRACE_BYTES[j]) j++;
    if (j === TRACE_BYTES.length) return true;
  }
  return false;
}

// -------------------------------------------------------------------------------------------------- the operation

export function invokeOperation(stream: boolean): ModelOperationSpec {
  const bound = stream ? STREAM_HEADERS : INVOKE_HEADERS;
  return {
    stream,
    streamUsage: "invocationMetrics",
    prepare(body, headers, limits) {
      checkMediaType(headers.get("content-type"));
      const parsed = parseJsonBody(body, limits);
      return {
        json: reparse(body),
        estimate: estimateRequest(parsed),
        requestMetadata: requestMetadataOf(headers),
        headers: pickHeaders(headers, bound),
        guardrail: guardrailOfHeaders(headers),
        tier: requestedTierOfHeaders(headers),
        params: requestParams(parsed),
      };
    },
    answer(headers, body) {
      const latency = Number(headers.get("x-amzn-bedrock-invocation-latency") ?? NaN);
      const fromHeaders = tokenHeaderUsage(headers);
      // A guardrail trace (only with guardrails and trace on) is in the body: parse it only when it is there.
      const traced = hasGuardrailTrace(body);
      // The headers do not split cache writes by TTL; an Anthropic body does (read only when there were writes).
      const json = traced || !fromHeaders || fromHeaders.cacheWriteInputTokens > 0 ? jsonObject(body) : undefined;
      const fromBody = !fromHeaders || fromHeaders.cacheWriteInputTokens > 0 ? anthropicBodyUsage(json) : undefined;
      const usage = fromHeaders ?? fromBody;
      if (fromHeaders && fromBody?.cacheWrite1hInputTokens) {
        fromHeaders.cacheWrite1hInputTokens = Math.min(
          fromBody.cacheWrite1hInputTokens,
          fromHeaders.cacheWriteInputTokens,
        );
      }
      const trace = traced ? json?.[TRACE_FIELD] as { guardrail?: unknown } | undefined : undefined;
      return {
        usage,
        latencyMs: Number.isFinite(latency) ? latency : undefined,
        guardrailUnits: traceGuardrailUnits(trace?.guardrail),
        stopReason: nativeStopReason(body),
      };
    },
    servedTier: tierOfHeaders,
    mock: (text, request, requestId) => mockAnswer(stream, text, request, requestId),
  };
}
