/**
 * @module
 * The request log: one structured JSON line per finished call on stdout (through the injected logger): request
 * id, route, model, deployment, status, latency, tokens and cost; with `--detailed-debug` also the upstream timing.
 *
 * Callers appear as key alias and hash prefix, user and team, never as a key. Bodies are never logged here (they
 * go to spend logs, and only when `store_prompts_in_spend_logs` is on).
 */
import type { Logger } from "../core/log.ts";
import type { CallRecord } from "../core/call_record.ts";
import { type Quote } from "../pricing/cost.ts";
import { nanosToUsd } from "../core/money.ts";
import { promptTokens } from "../core/usage.ts";
import { hashPrefix } from "../core/redact.ts";

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
      error_message: record.status === "success" ? undefined : record.errorMessage?.slice(0, 500),
    };
  }
  log.log(record.status === "failure" ? "warn" : "info", "call", fields);
}
