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

const count = (v: unknown): number => typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;

/** Reads a Bedrock `usage` object (Converse response or ConverseStream `metadata` event); undefined if absent. */
export function readUsage(usage: unknown): Usage | undefined {
  if (!usage || typeof usage !== "object") return undefined;
  const u = usage as Record<string, unknown>;
  const inputTokens = count(u.inputTokens);
  const outputTokens = count(u.outputTokens);
  const cacheReadInputTokens = count(u.cacheReadInputTokens);
  const cacheWriteInputTokens = count(u.cacheWriteInputTokens);
  return {
    inputTokens,
    outputTokens,
    totalTokens: count(u.totalTokens) || inputTokens + outputTokens + cacheReadInputTokens + cacheWriteInputTokens,
    cacheReadInputTokens,
    cacheWriteInputTokens,
  };
}
