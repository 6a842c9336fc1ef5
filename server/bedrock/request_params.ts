/**
 * @module
 * The generation settings a model request gives — most output tokens, temperature, top-p, top-k, stop sequences —
 * read from the body its operation has just parsed to validate it (never parsed again for this), for the GenAI
 * attributes of its trace (`gen_ai.request.*`). Only what the request says; nothing is defaulted.
 *
 * Where each is: Converse `inferenceConfig` (`maxTokens`, `temperature`, `topP`, `stopSequences`) and
 * `additionalModelRequestFields.top_k`; native bodies in their model's words — Anthropic and Mistral `max_tokens`,
 * `temperature`, `top_p`, `top_k`, `stop_sequences`; Titan `textGenerationConfig`; Nova `inferenceConfig`
 * (`max_new_tokens`, `top_p`, `top_k`); Llama `max_gen_len`.
 */
import type { RequestParams } from "../core/call_record.ts";
import { requestedMaxTokens } from "./expected_usage.ts";

/** At most this many stop sequences are reported (Converse allows 2,500; a trace needs no more). */
export const MAX_STOP_SEQUENCES = 16;

const num = (v: unknown): number | undefined => typeof v === "number" && Number.isFinite(v) ? v : undefined;

function strings(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out = v.filter((s): s is string => typeof s === "string").slice(0, MAX_STOP_SEQUENCES);
  return out.length ? out : undefined;
}

const objectAt = (r: Record<string, unknown>, key: string): Record<string, unknown> => {
  const v = r[key];
  return v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : {};
};

/** The settings a parsed request body gives (Converse or a model-native body); undefined when it gives none. */
export function requestParams(request: unknown): RequestParams | undefined {
  if (!request || typeof request !== "object" || Array.isArray(request)) return undefined;
  const r = request as Record<string, unknown>;
  const inference = objectAt(r, "inferenceConfig");
  const titan = objectAt(r, "textGenerationConfig");
  const extra = objectAt(r, "additionalModelRequestFields");
  const params: RequestParams = {};
  const maxTokens = requestedMaxTokens(r);
  if (maxTokens !== undefined) params.maxTokens = maxTokens;
  const temperature = num(inference.temperature) ?? num(titan.temperature) ?? num(r.temperature);
  if (temperature !== undefined) params.temperature = temperature;
  const topP = num(inference.topP) ?? num(inference.top_p) ?? num(titan.topP) ?? num(r.top_p);
  if (topP !== undefined) params.topP = topP;
  const topK = num(extra.top_k) ?? num(inference.top_k) ?? num(r.top_k);
  if (topK !== undefined) params.topK = topK;
  const stop = strings(inference.stopSequences) ?? strings(titan.stopSequences) ?? strings(r.stop_sequences);
  if (stop) params.stopSequences = stop;
  for (const _ in params) return params;
  return undefined;
}
