/**
 * @module
 * One spend-log row per finished call (success, failure or client disconnect), in LiteLLM's field names, with an
 * upper bound of its stored size. Rows are stored many to a KV value (`spend_log_pages.ts`), so the bound must
 * hold: a page packed past Deno KV's 64 KiB value limit would be refused with all its rows.
 *
 * Rows never hold a raw key or an AWS secret: the caller is its key hash (`api_key`), alias, user and team.
 * Request and response bodies are kept only with `store_prompts_in_spend_logs`, and capped so a row always fits
 * Deno KV's 64 KiB value limit (a body over the cap is stored as a truncated string and flagged in `metadata`).
 */
import { serialize } from "node:v8";
import { createIsoTime } from "../core/iso_time.ts";
import type { CallRecord } from "../core/call_record.ts";
import { type Quote } from "../pricing/cost.ts";
import { nanosToUsd } from "../core/money.ts";
import type { SpendLogRow } from "./schemas.ts";
import { promptTokens } from "../core/usage.ts";
import { publicBase, redactSecrets } from "../core/redact.ts";

/**
 * Caps that keep a row below Deno KV's 64 KiB value limit, counting two bytes per character for strings beyond
 * Latin-1: bodies 2 × 16 KiB of text, tags 32 × 128 characters (8 KiB), request metadata 2 KiB of JSON (4 KiB),
 * error message 1000 characters (2 KiB), plus the fixed fields (ids and names: key alias, user and team are at
 * most 256 characters each).
 */
const MAX_BODY_BYTES = 16 * 1024;
const MAX_ERROR_CHARS = 1000;
const MAX_TAGS = 32;
const MAX_TAG_CHARS = 128;
const MAX_METADATA_CHARS = 2048;
/**
 * V8's serialization (what Deno KV stores) of a row apart from its string values: the object, 38 property names
 * (~480 characters, one byte each), numbers (at most 9 bytes each), booleans, nulls, and the arrays' and objects'
 * tags. String values are counted separately at two bytes per character plus `STRING_BYTES` each.
 */
const ROW_BYTES = 1024;
const STRING_BYTES = 8;

/** Bytes V8 uses for a string in a KV value: one per character if all are Latin-1, else two. */
function serializedBytes(s: string): number {
  // deno-lint-ignore no-control-regex -- the Latin-1 range is exactly what one-byte strings hold
  return /[^\x00-\xff]/.test(s) ? s.length * 2 : s.length;
}

/**
 * Parsed bodies nested deeper than this are stored as their text. V8's serializer (what Deno KV stores values with,
 * and what measures them here) recurses once per level and throws past a few thousand; a body nested that deep would
 * make its whole page of rows unstorable. Real Converse and model-native bodies stay far below it.
 */
const MAX_STORED_DEPTH = 64;

interface StoredBody {
  value: unknown;
  truncated: boolean;
  /** Kept as its text: parsed, it would be nested too deep for KV (`MAX_STORED_DEPTH`) or could not be measured. */
  asText?: boolean;
  /** Not stored at all: even its text could not be kept (never expected; said in the row rather than thrown). */
  unstorable?: boolean;
  /** Upper bound of its serialized size. */
  bytes: number;
}

/** Whether a parsed JSON value nests deeper than `max` (iterative: a deep value must not overflow this stack either). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (!v || typeof v !== "object") continue;
    if (depth >= max) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (x && typeof x === "object") stack.push([x, depth + 1]);
  }
  return false;
}

/** A stored body: parsed JSON when it fits (text otherwise), or a truncated string when it does not. Never throws. */
function storedBody(text: string | undefined): StoredBody {
  if (text === undefined) return { value: null, truncated: false, bytes: 0 };
  try {
    return storedBodyOf(text);
  } catch {
    return { value: null, truncated: false, unstorable: true, bytes: 0 };
  }
}

function storedBodyOf(text: string): StoredBody {
  const bytes = serializedBytes(text);
  if (bytes > MAX_BODY_BYTES) {
    const chars = Math.floor(text.length * (MAX_BODY_BYTES / bytes));
    return { value: text.slice(0, chars), truncated: true, bytes: MAX_BODY_BYTES + STRING_BYTES };
  }
  const asText: StoredBody = { value: text, truncated: false, bytes: bytes + STRING_BYTES };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return asText;
  }
  if (nestedDeeperThan(value, MAX_STORED_DEPTH)) return { ...asText, asText: true };
  // Parsed JSON can take more room than its text (`-0,`, three characters, becomes a 9-byte double; `[]` a 5-byte
  // array), but no JSON token takes more than three bytes per character of its text. Past that bound the body is
  // measured (only with stored prompts, for bodies over ~5 KiB); one that would not fit is kept as text.
  let parsedBytes = 3 * text.length + STRING_BYTES;
  if (parsedBytes > MAX_BODY_BYTES) {
    try {
      parsedBytes = serialize(value).length;
    } catch {
      return { ...asText, asText: true };
    }
  }
  if (parsedBytes > MAX_BODY_BYTES) return asText;
  return { value, truncated: false, bytes: parsedBytes };
}

/** Upper bound of the serialized size of some strings (two bytes per character, plus a tag and length each). */
function stringBytes(...values: Array<string | null>): number {
  let n = 0;
  for (const v of values) if (v !== null) n += 2 * v.length + STRING_BYTES;
  return n;
}

/** Tags from `x-litellm-tags`, then `requestMetadata` entries as `key:value`; bounded in number and length. */
function tagsOf(record: CallRecord): string[] {
  const tags = [...(record.requestTags ?? [])];
  for (const [k, v] of Object.entries(record.requestMetadata ?? {})) tags.push(`${k}:${v}`);
  return tags.slice(0, MAX_TAGS).map((t) => t.slice(0, MAX_TAG_CHARS));
}

/** A row and an upper bound of its serialized size (for sizing the ledger's commits). */
export interface StoredRow {
  row: SpendLogRow;
  bytes: number;
}

/**
 * The row for a finished call, priced by `quote`; `iso` formats its times (a writer passes its own, which caches the
 * current second across rows).
 */
export function spendLogRow(
  record: CallRecord,
  quote: Quote,
  iso: (ms: number) => string = createIsoTime(),
): StoredRow {
  const u = record.usage;
  const messages = storedBody(record.requestBody);
  const response = storedBody(record.responseBody);
  const metadata: SpendLogRow["metadata"] = {};
  const metadataChars = record.requestMetadata ? JSON.stringify(record.requestMetadata).length : 0;
  if (record.requestMetadata && metadataChars <= MAX_METADATA_CHARS) metadata.request_metadata = record.requestMetadata;
  if (messages.truncated) metadata.messages_truncated = true;
  if (response.truncated) metadata.response_truncated = true;
  if (messages.asText) metadata.messages_stored_as_text = true;
  if (response.asText) metadata.response_stored_as_text = true;
  if (messages.unstorable) metadata.messages_unstorable = true;
  if (response.unstorable) metadata.response_unstorable = true;
  const tags = tagsOf(record);
  const row: SpendLogRow = {
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
    prompt_tokens: promptTokens(u),
    completion_tokens: u?.outputTokens ?? 0,
    total_tokens: u?.totalTokens ?? 0,
    cache_read_input_tokens: u?.cacheReadInputTokens ?? 0,
    cache_creation_input_tokens: u?.cacheWriteInputTokens ?? 0,
    spend: nanosToUsd(quote.nanos),
    price_unknown: quote.unpriced.length > 0,
    unpriced_tokens: quote.unpriced,
    service_tier: record.serviceTier ?? null,
    performance_latency: record.performanceLatency ?? null,
    status: record.status,
    http_status: record.httpStatus,
    error_type: record.status === "success" ? null : record.errorType ?? null,
    // The upstream's or the gateway's message may quote what a client sent: secrets redacted, as in the request log.
    error_message: record.status === "success" || !record.errorMessage
      ? null
      : redactSecrets(record.errorMessage, MAX_ERROR_CHARS),
    retries: record.retries,
    incomplete: record.incomplete ?? false,
    ...record.usageEstimated ? { usage_estimated: true as const } : {},
    request_tags: tags,
    metadata,
    messages: messages.value,
    response: response.value,
  };
  // `request_metadata` as an object: each name and value is a string (counted at most once by its JSON text, which
  // adds quotes, a colon and a comma, more than the serialization's per-string tag and length at two bytes a
  // character).
  const bytes = ROW_BYTES + messages.bytes + response.bytes +
    (metadata.request_metadata ? 2 * metadataChars : 0) +
    stringBytes(
      row.request_id,
      row.call_type,
      row.api_key,
      row.key_alias,
      row.user,
      row.team_id,
      row.model,
      row.model_group,
      row.model_id,
      row.bedrock_model_id,
      row.custom_llm_provider,
      row.api_base,
      row.region,
      row.startTime,
      row.endTime,
      row.completionStartTime,
      row.status,
      row.error_type,
      row.error_message,
      row.service_tier,
      row.performance_latency,
      ...row.unpriced_tokens,
      ...tags,
    );
  return { row, bytes };
}
