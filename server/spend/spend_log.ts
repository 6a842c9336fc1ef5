/**
 * @module
 * One spend-log row per finished call (success, failure or client disconnect), in LiteLLM's field names, and the
 * KV writes that store it: the row under its start time, plus index entries by request id, key hash and user, all
 * expiring after the retention (`spend_logs_retention_days`, default 30).
 *
 * Rows never hold a raw key or an AWS secret: the caller is its key hash (`api_key`), alias, user and team.
 * Request and response bodies are kept only with `store_prompts_in_spend_logs`, and capped so a row always fits
 * Deno KV's 64 KiB value limit (a body over the cap is stored as a truncated string and flagged in `metadata`).
 */
import type { CallRecord } from "./call_record.ts";
import { nanosToUsd, type Quote } from "./cost.ts";
import { spendLogByKeyKey, spendLogByUserKey, spendLogIdKey, spendLogKey } from "./kv_layout.ts";
import type { LedgerRow } from "./ledger.ts";
import type { SpendLogRow } from "./schemas.ts";

/** Serialized bytes allowed for each stored body (request, response). */
const MAX_BODY_BYTES = 20 * 1024;
const MAX_ERROR_CHARS = 1000;
const MAX_TAGS = 64;
const MAX_TAG_CHARS = 256;

const iso = (ms: number) => new Date(ms).toISOString();

/** A base URL without any user-info part, so an endpoint configured with embedded credentials never leaks. */
export function publicBase(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return undefined;
  }
}

/** Bytes V8 uses for a string in a KV value: one per character if all are Latin-1, else two. */
function serializedBytes(s: string): number {
  // deno-lint-ignore no-control-regex -- the Latin-1 range is exactly what one-byte strings hold
  return /[^\x00-\xff]/.test(s) ? s.length * 2 : s.length;
}

/** A stored body: parsed JSON when it fits (text otherwise), or a truncated string when it does not. */
function storedBody(text: string | undefined): { value: unknown; truncated: boolean } {
  if (text === undefined) return { value: null, truncated: false };
  const bytes = serializedBytes(text);
  if (bytes > MAX_BODY_BYTES) {
    const chars = Math.floor(text.length * (MAX_BODY_BYTES / bytes));
    return { value: text.slice(0, chars), truncated: true };
  }
  try {
    return { value: JSON.parse(text), truncated: false };
  } catch {
    return { value: text, truncated: false };
  }
}

/** Tags from `x-litellm-tags`, then `requestMetadata` entries as `key:value`; bounded in number and length. */
function tagsOf(record: CallRecord): string[] {
  const tags = [...(record.requestTags ?? [])];
  for (const [k, v] of Object.entries(record.requestMetadata ?? {})) tags.push(`${k}:${v}`);
  return tags.slice(0, MAX_TAGS).map((t) => t.slice(0, MAX_TAG_CHARS));
}

/** The row for a finished call, priced by `quote`. */
export function spendLogRow(record: CallRecord, quote: Quote): SpendLogRow {
  const u = record.usage;
  const messages = storedBody(record.requestBody);
  const response = storedBody(record.responseBody);
  const metadata: SpendLogRow["metadata"] = {};
  if (record.requestMetadata) metadata.request_metadata = record.requestMetadata;
  if (messages.truncated) metadata.messages_truncated = true;
  if (response.truncated) metadata.response_truncated = true;
  return {
    request_id: record.requestId,
    call_type: record.callType,
    api_key: record.caller.keyHash ?? null,
    key_alias: record.caller.keyAlias ?? null,
    user: record.caller.userId ?? null,
    team_id: record.caller.teamId ?? null,
    model: record.modelName,
    model_group: record.modelName,
    model_id: record.deploymentId ?? null,
    bedrock_model_id: record.bedrockModelId ?? null,
    custom_llm_provider: "bedrock",
    api_base: publicBase(record.apiBase) ?? null,
    region: record.region ?? null,
    startTime: iso(record.startTime),
    endTime: iso(record.endTime),
    completionStartTime: record.firstByteTime === undefined ? null : iso(record.firstByteTime),
    request_duration_ms: Math.max(0, record.endTime - record.startTime),
    prompt_tokens: u ? u.inputTokens + u.cacheReadInputTokens + u.cacheWriteInputTokens : 0,
    completion_tokens: u?.outputTokens ?? 0,
    total_tokens: u?.totalTokens ?? 0,
    cache_read_input_tokens: u?.cacheReadInputTokens ?? 0,
    cache_creation_input_tokens: u?.cacheWriteInputTokens ?? 0,
    spend: nanosToUsd(quote.nanos),
    price_unknown: quote.unpriced.length > 0,
    unpriced_tokens: quote.unpriced,
    status: record.status,
    http_status: record.httpStatus,
    error_type: record.status === "success" ? null : record.errorType ?? null,
    error_message: record.status === "success" ? null : record.errorMessage?.slice(0, MAX_ERROR_CHARS) ?? null,
    retries: record.retries,
    incomplete: record.incomplete ?? false,
    request_tags: tagsOf(record),
    metadata,
    messages: messages.value,
    response: response.value,
  };
}

/** The KV writes for a row (row, request-id index, key and user indexes), each expiring after `retentionMs`. */
export function spendLogWrites(record: CallRecord, row: SpendLogRow, retentionMs: number): LedgerRow[] {
  const { startTime, requestId } = record;
  const json = JSON.stringify(row);
  const writes: LedgerRow[] = [
    { key: spendLogKey(startTime, requestId), value: row, expireIn: retentionMs, bytes: serializedBytes(json) + 64 },
    { key: spendLogIdKey(requestId), value: startTime, expireIn: retentionMs, bytes: 16 },
  ];
  if (record.caller.keyHash) {
    writes.push({
      key: spendLogByKeyKey(record.caller.keyHash, startTime, requestId),
      value: true,
      expireIn: retentionMs,
      bytes: 8,
    });
  }
  if (record.caller.userId) {
    writes.push({
      key: spendLogByUserKey(record.caller.userId, startTime, requestId),
      value: true,
      expireIn: retentionMs,
      bytes: 8,
    });
  }
  return writes;
}
