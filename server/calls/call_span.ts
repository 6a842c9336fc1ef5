/**
 * @module
 * A call's trace: one span per call that got past its hold, following OpenTelemetry's GenAI semantic conventions
 * (`core/semconv.ts`), with one child span per upstream attempt, so retries and fallbacks show.
 *
 * The pipeline starts the call's span once the call is held (its start time is the call's, taken right after
 * admission), as a child of the active context — Deno's HTTP server span, which continues an incoming
 * `traceparent` — and ends it at settlement, exactly once, when the answer or the stream is over: the usage, cost,
 * stop reason and error are known then. Attempt spans are made at that moment from the call's attempt records,
 * with their own start and end times (`calls/attempts.ts` notes them as they happen), so nothing about tracing
 * runs while the call is in flight.
 *
 * What a span never holds: a raw key (callers are named by alias and hash prefix), a credential, a header, a URL
 * with a query. Prompt and answer text only when the operator stores prompts (`store_prompts_in_spend_logs`).
 * Each attribute is set once (Deno appends, rather than replaces, an attribute set twice); integers are sent as
 * OTLP ints (`int`).
 */
import { type Attributes, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { AttemptRecord, CallRecord, CallType } from "../core/call_record.ts";
import { nanosToUsd } from "../core/money.ts";
import { hashPrefix, redactSecrets } from "../core/redact.ts";
import { GATEWAY, GEN_AI, GENERAL, PROVIDER_AWS_BEDROCK } from "../core/semconv.ts";
import { int, type Span, type Tracer } from "../core/telemetry.ts";
import { promptTokens } from "../core/usage.ts";
import { inputMessages, outputMessages } from "../bedrock/genai_messages.ts";

/** `gen_ai.operation.name` of each kind of call; the ones without one are the gateway's spans, not inference. */
const OPERATION: Readonly<Partial<Record<CallType, string>>> = {
  "converse": "chat",
  "converse-stream": "chat",
  "invoke": "chat",
  "invoke-with-response-stream": "chat",
  "retrieve": "retrieval",
  "retrieve-and-generate": "retrieval",
  "invoke-agent": "invoke_agent",
};

const STREAMS: ReadonlySet<CallType> = new Set(["converse-stream", "invoke-with-response-stream", "invoke-agent"]);

export interface CallTracing {
  /** Starts the call's span under the active context (the request's server span); its start is the call's. */
  start(record: CallRecord): Span;
  /** Ends the call's span at settlement with what the call came to, after its attempts' spans. */
  end(span: Span, record: CallRecord, costNanos: bigint): void;
}

export interface CallTracingOptions {
  /** Put prompt and answer text on spans (only when `store_prompts_in_spend_logs` is on). */
  storePrompts: boolean;
}

/** The parts of a URL an attempt span names: host and port of the deployment's endpoint. */
function serverOf(apiBase: string | undefined): { address: string; port: number } | undefined {
  if (!apiBase) return undefined;
  try {
    const u = new URL(apiBase);
    return { address: u.hostname, port: Number(u.port || (u.protocol === "https:" ? 443 : 80)) };
  } catch {
    return undefined;
  }
}

function attemptAttributes(a: AttemptRecord, n: number, requested: string): Attributes {
  const attrs: Attributes = {
    [GENERAL.httpRequestMethod]: "POST",
    [GATEWAY.attempt]: int(n),
  };
  const t = a.target;
  if (t) {
    attrs[GATEWAY.deployment] = t.id;
    attrs[GEN_AI.requestModel] = t.modelName;
    if (t.bedrockModelId) attrs[GEN_AI.responseModel] = t.bedrockModelId;
    if (t.modelName !== requested) attrs[GATEWAY.fallbackGroup] = t.modelName;
    const server = serverOf(t.apiBase);
    if (server) {
      attrs[GENERAL.serverAddress] = server.address;
      attrs[GENERAL.serverPort] = int(server.port);
    }
  }
  if (a.answered && a.status !== undefined) attrs[GENERAL.httpResponseStatusCode] = int(a.status);
  if (a.errorType) attrs[GENERAL.errorType] = a.errorType;
  else if (a.status === undefined) attrs[GENERAL.errorType] = "not_sent";
  return attrs;
}

export function createCallTracing(tracer: Tracer, opts: CallTracingOptions): CallTracing {
  return {
    start(record) {
      const operation = OPERATION[record.callType];
      const attributes: Attributes = {
        [GEN_AI.providerName]: PROVIDER_AWS_BEDROCK,
        [GEN_AI.requestModel]: record.modelName,
        [GATEWAY.requestId]: record.requestId,
        [GATEWAY.callType]: record.callType,
      };
      if (operation) attributes[GEN_AI.operationName] = operation;
      if (STREAMS.has(record.callType)) attributes[GEN_AI.requestStream] = true;
      const c = record.caller;
      if (c.keyAlias) attributes[GATEWAY.keyAlias] = c.keyAlias;
      if (c.keyHash) attributes[GATEWAY.keyHash] = hashPrefix(c.keyHash);
      if (c.teamId) attributes[GATEWAY.teamId] = c.teamId;
      if (c.userId) attributes[GENERAL.userId] = c.userId;
      const p = record.requestParams;
      if (p) {
        if (p.maxTokens !== undefined) attributes[GEN_AI.requestMaxTokens] = int(p.maxTokens);
        if (p.temperature !== undefined) attributes[GEN_AI.requestTemperature] = p.temperature;
        if (p.topP !== undefined) attributes[GEN_AI.requestTopP] = p.topP;
        if (p.topK !== undefined) attributes[GEN_AI.requestTopK] = p.topK;
        if (p.stopSequences) attributes[GEN_AI.requestStopSequences] = p.stopSequences;
      }
      if (record.guardrailId) attributes[GEN_AI.guardrailId] = record.guardrailId;
      if (opts.storePrompts && record.requestBody) {
        const input = inputMessages(record.requestBody);
        if (input.messages) attributes[GEN_AI.inputMessages] = JSON.stringify(input.messages);
        if (input.system) attributes[GEN_AI.systemInstructions] = JSON.stringify(input.system);
      }
      const name = operation ? `${operation} ${record.modelName}` : `${record.callType} ${record.modelName}`;
      return tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime: record.startTime, attributes });
    },

    end(span, record, costNanos) {
      if (!span.isRecording()) return;
      // The attempts, as children of the call's span, with their own times.
      const parent = trace.setSpan(ROOT_CONTEXT, span);
      record.attempts?.forEach((a, i) => {
        const attempt = tracer.startSpan(
          a.target ? `attempt ${a.target.id}` : "attempt",
          { kind: SpanKind.CLIENT, startTime: a.start, attributes: attemptAttributes(a, i + 1, record.modelName) },
          parent,
        );
        if (a.status !== undefined && a.status >= 400) {
          attempt.setStatus({ code: SpanStatusCode.ERROR, message: a.errorType ?? `HTTP ${a.status}` });
        }
        attempt.end(a.end ?? record.endTime);
      });

      const attrs: Attributes = {
        [GATEWAY.status]: record.status,
        [GATEWAY.retries]: int(record.retries),
        [GATEWAY.costUsd]: nanosToUsd(costNanos),
      };
      if (record.bedrockModelId) attrs[GEN_AI.responseModel] = record.bedrockModelId;
      if (record.deploymentId) attrs[GATEWAY.deployment] = record.deploymentId;
      const u = record.usage;
      if (u) {
        // Input includes cached tokens (the convention's), which Bedrock's `inputTokens` leaves out.
        attrs[GEN_AI.usageInputTokens] = int(promptTokens(u));
        attrs[GEN_AI.usageOutputTokens] = int(u.outputTokens);
        attrs[GEN_AI.usageCacheReadInputTokens] = int(u.cacheReadInputTokens);
        attrs[GEN_AI.usageCacheCreationInputTokens] = int(u.cacheWriteInputTokens);
        attrs[GEN_AI.usageCacheWriteInputTokens] = int(u.cacheWriteInputTokens);
      }
      const finish = record.stopReason ?? (record.incomplete || record.status === "failure" ? "error" : undefined);
      if (finish !== undefined) attrs[GEN_AI.responseFinishReasons] = [finish];
      if (STREAMS.has(record.callType) && record.firstByteTime !== undefined) {
        attrs[GEN_AI.responseTimeToFirstChunk] = Math.max(0, record.firstByteTime - record.startTime) / 1000;
      }
      if (record.serviceTier) attrs[GATEWAY.serviceTier] = record.serviceTier;
      if (record.usageEstimated) attrs[GATEWAY.usageEstimated] = true;
      if (record.incomplete) attrs[GATEWAY.incomplete] = true;
      if (opts.storePrompts && record.responseBody !== undefined) {
        const stream = STREAMS.has(record.callType);
        attrs[GEN_AI.outputMessages] = JSON.stringify(outputMessages(record.responseBody, stream, record.stopReason));
      }
      if (record.status === "failure") {
        attrs[GENERAL.errorType] = record.errorType ?? "_OTHER";
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: redactSecrets(record.errorMessage ?? record.errorType ?? "failed"),
        });
      } else if (record.status === "client_disconnected") {
        attrs[GENERAL.errorType] = "ClientDisconnected";
      }
      span.setAttributes(attrs);
      span.end(record.endTime);
    },
  };
}
