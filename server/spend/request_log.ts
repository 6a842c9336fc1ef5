/**
 * @module
 * The request log: one structured JSON line per finished call on stdout (through the injected logger): request
 * id, route, model, deployment, status, latency, tokens and cost, and for a failure its error type and redacted message;
 * with `--detailed-debug` also the upstream timing.
 *
 * Callers appear as key alias and hash prefix, user and team, never as a key. Bodies are never logged here (they
 * go to spend logs, and only when `store_prompts_in_spend_logs` is on).
 */
import type { Logger } from "../core/log.ts";
import type { CallRecord } from "../core/call_record.ts";
import { type Quote } from "../pricing/cost.ts";
import { nanosToUsd } from "../core/money.ts";
import { promptTokens } from "../core/usage.ts";
import { hashPrefix, redactSecrets } from "../core/redact.ts";

/** How much of a failed call's error message its line keeps. */
const ERROR_MESSAGE_CHARS = 300;

/** Writes the call's line: `info` for successes and client disconnects, `warn` for failures. */
export function logCall(log: Logger, record: CallRecord, quote: Quote): void {
  const u = record.usage;
  const fields: Record<string, unknown> = {
    request_id: record.requestId,
    route: record.route ?? `/bedrock/model/${record.modelName}/${record.callType}`,
    call_type: record.callType,
    model: record.modelName,
    deployment: record.deploymentId,
    status: record.status,
    http_status: record.httpStatus,
    latency_ms: Math.max(0, record.endTime - record.startTime),
    ttfb_ms: record.firstByteTime === undefined ? undefined : Math.max(0, record.firstByteTime - record.startTime),
    prompt_tokens: promptTokens(u),
    completion_tokens: u?.outputTokens ?? 0,
    cache_read_tokens: u?.cacheReadInputTokens ?? 0,
    cache_write_tokens: u?.cacheWriteInputTokens ?? 0,
    total_tokens: u?.totalTokens ?? 0,
    cost: nanosToUsd(quote.nanos),
    price_unknown: quote.unpriced.length ? true : undefined,
    service_tier: record.serviceTier,
    performance_latency: record.performanceLatency,
    retries: record.retries,
    key_alias: record.caller.keyAlias,
    key_hash: hashPrefix(record.caller.keyHash),
    user: record.caller.userId,
    team: record.caller.teamId,
    error_type: record.status === "success" ? undefined : record.errorType,
    // Why, in a line a person can act on: the upstream's or the gateway's message, secrets redacted, bounded.
    error_message: record.status === "success" || !record.errorMessage
      ? undefined
      : redactSecrets(record.errorMessage, ERROR_MESSAGE_CHARS),
    incomplete: record.incomplete || undefined,
    usage_estimated: record.usageEstimated || undefined,
  };
  if (log.debugEnabled) {
    fields.upstream = {
      bedrock_model_id: record.bedrockModelId,
      region: record.region,
      attempts: record.retries + 1,
      // Request start → upstream response head (the whole exchange but the body, for converse).
      time_to_response_ms: record.firstByteTime === undefined ? undefined : record.firstByteTime - record.startTime,
      // Response head → end: reading a converse body, or relaying a stream.
      body_ms: record.firstByteTime === undefined ? undefined : record.endTime - record.firstByteTime,
      bedrock_latency_ms: record.bedrockLatencyMs,
    };
  }
  log.log(record.status === "failure" ? "warn" : "info", "call", fields);
}
