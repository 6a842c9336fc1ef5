/**
 * @module
 * What a call is expected to use, judged from its request alone: the input tokens its text makes, and the output it
 * allows (`maxTokens`, `max_tokens`, …). Admission holds budget and tokens for it while the call runs; a stream whose
 * client hangs up mid-generation is billed from it (with the output actually relayed).
 *
 * The estimate, documented in docs/keys-and-budgets.md ("Holds"): 4 ASCII characters per token and 1 token per other character
 * (CJK and most non-Latin scripts tokenize near one token per character), over every string of the request except
 * base64 payloads and settings that are not input (`inferenceConfig`, `additionalModelRequestFields`, …); plus a
 * fixed allowance per image, document and video block, whose bytes are never counted as text. The walk is iterative:
 * a deeply nested body cannot overflow the stack here.
 */

/** Tokens held for one image block (Anthropic's largest image, ~1.15 megapixels, is ~1,600 tokens). */
export const IMAGE_TOKENS = 1_600;
/** Tokens held for one document block (a few pages of a PDF). */
export const DOCUMENT_TOKENS = 4_000;
/** Tokens held for one video block. */
export const VIDEO_TOKENS = 10_000;

/** Keys whose values are not input text: base64 payloads, and request settings. */
const NOT_INPUT: ReadonlySet<string> = new Set([
  "bytes",
  "data",
  "inferenceConfig",
  "additionalModelRequestFields",
  "additionalModelResponseFieldPaths",
  "requestMetadata",
  "performanceConfig",
  "guardrailConfig",
  "serviceTier",
  "anthropic_version",
  "anthropic_beta",
]);

/** Block keys (Converse) and `type` values (Anthropic) that carry media, with their allowance. */
const MEDIA: ReadonlyMap<string, number> = new Map([["image", IMAGE_TOKENS], ["document", DOCUMENT_TOKENS], [
  "video",
  VIDEO_TOKENS,
]]);

// deno-lint-ignore no-control-regex -- ASCII is exactly the range counted at four characters per token
const NON_ASCII = /[^\x00-\x7f]/g;

/** Counts text as it is seen, for a token estimate: 4 ASCII characters per token, 1 token per other character. */
export class TextTally {
  #ascii = 0;
  #other = 0;

  add(text: string): void {
    // Most text is ASCII: one native test, and a count only when it is not.
    NON_ASCII.lastIndex = 0;
    if (!NON_ASCII.test(text)) {
      this.#ascii += text.length;
      return;
    }
    const other = text.match(NON_ASCII)!.length;
    this.#other += other;
    this.#ascii += text.length - other;
  }

  /** Characters counted elsewhere (`json_scan.ts`), as `add` would count them. */
  addCounts(counts: { ascii: number; other: number }): void {
    this.#ascii += counts.ascii;
    this.#other += counts.other;
  }

  /** The estimate so far (0 for no text). */
  get tokens(): number {
    return Math.ceil(this.#ascii / 4) + this.#other;
  }
}

/** Estimated input tokens of a parsed request body (Converse, or a model-native InvokeModel body). */
export function estimateInputTokens(request: unknown): number {
  const tally = new TextTally();
  let media = 0;
  const stack: unknown[] = [request];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === "string") tally.add(v);
    else if (Array.isArray(v)) { for (const x of v) stack.push(x); }
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      // A parsed JSON object has own properties only: `for…in` walks them without building an entries array.
      for (const k in o) {
        if (NOT_INPUT.has(k)) continue;
        const x = o[k];
        if (x && typeof x === "object") media += MEDIA.get(k) ?? 0;
        else if (k === "type" && typeof x === "string") media += MEDIA.get(x) ?? 0;
        stack.push(x);
      }
    }
  }
  return tally.tokens + media;
}

const positive = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.ceil(v) : undefined;

/**
 * The most output tokens a request allows, where the request says: Converse `inferenceConfig.maxTokens`; native
 * bodies' `max_tokens` (Anthropic Messages, Mistral, Cohere), `max_tokens_to_sample` (Anthropic Text Completions),
 * `max_gen_len` (Llama), `textGenerationConfig.maxTokenCount` (Titan), `inferenceConfig.max_new_tokens` (Nova).
 */
export function requestedMaxTokens(request: unknown): number | undefined {
  if (!request || typeof request !== "object" || Array.isArray(request)) return undefined;
  const r = request as Record<string, unknown>;
  const inference = r.inferenceConfig as Record<string, unknown> | undefined;
  const titan = r.textGenerationConfig as Record<string, unknown> | undefined;
  return positive(inference?.maxTokens) ?? positive(r.max_tokens) ?? positive(r.max_tokens_to_sample) ??
    positive(r.max_gen_len) ?? positive(titan?.maxTokenCount) ?? positive(inference?.max_new_tokens) ??
    positive(r.maxTokens);
}
