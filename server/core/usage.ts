/**
 * @module
 * Token usage as Bedrock reports it, normalised for accounting.
 * `inputTokens` excludes cached tokens; cache reads and writes are counted separately.
 */

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
  /**
   * The part of `cacheWriteInputTokens` written with a 1-hour TTL (Converse `cacheDetails` `ttl: "1h"`, Anthropic's
   * `cache_creation.ephemeral_1h_input_tokens`), priced apart; absent when the answer does not say.
   */
  cacheWrite1hInputTokens?: number;
}

/**
 * Prompt tokens as LiteLLM counts them (spend logs, request log, roll-ups, metrics, pricing): Bedrock's
 * `inputTokens` plus the cached tokens read and written, which it reports apart. 0 without usage.
 */
export function promptTokens(u: Usage | undefined): number {
  return u ? u.inputTokens + u.cacheReadInputTokens + u.cacheWriteInputTokens : 0;
}

/** Usage of plain input and output tokens (no cache), e.g. an estimate. */
export function plainUsage(inputTokens: number, outputTokens: number): Usage {
  return {
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  };
}

/** `usage` (none: zero) with `tokens` more plain input, e.g. attempts abandoned after Bedrock had their prompt. */
export function withExtraInput(usage: Usage | undefined, tokens: number): Usage {
  if (!usage) return plainUsage(tokens, 0);
  return { ...usage, inputTokens: usage.inputTokens + tokens, totalTokens: usage.totalTokens + tokens };
}

const count = (v: unknown): number => typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;

/** Tokens written with a 1-hour TTL according to Converse's `cacheDetails` (`[{ttl: "5m" | "1h", inputTokens}]`). */
function oneHourWrites(details: unknown): number {
  if (!Array.isArray(details)) return 0;
  let n = 0;
  for (const d of details) if (d && typeof d === "object" && d.ttl === "1h") n += count(d.inputTokens);
  return n;
}

/**
 * Reads a Bedrock `usage` object (Converse response or ConverseStream `metadata` event, or the same names mapped from
 * another shape); undefined if absent. The 1-hour part of the cache writes is never more than the writes.
 */
export function readUsage(usage: unknown): Usage | undefined {
  if (!usage || typeof usage !== "object") return undefined;
  const u = usage as Record<string, unknown>;
  const inputTokens = count(u.inputTokens);
  const outputTokens = count(u.outputTokens);
  const cacheReadInputTokens = count(u.cacheReadInputTokens);
  const cacheWriteInputTokens = count(u.cacheWriteInputTokens);
  const out: Usage = {
    inputTokens,
    outputTokens,
    totalTokens: count(u.totalTokens) || inputTokens + outputTokens + cacheReadInputTokens + cacheWriteInputTokens,
    cacheReadInputTokens,
    cacheWriteInputTokens,
  };
  const oneHour = Math.min(cacheWriteInputTokens, count(u.cacheWrite1hInputTokens) || oneHourWrites(u.cacheDetails));
  if (oneHour > 0) out.cacheWrite1hInputTokens = oneHour;
  return out;
}
