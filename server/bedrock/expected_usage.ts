/**
 * @module
 * What a call is expected to use, judged from its request alone: the input tokens its text makes, whether it asks for
 * prompt-cache writes, and the output it allows (`maxTokens`, `max_tokens`, …). Admission holds budget and tokens for
 * it while the call runs; a stream whose client hangs up mid-generation is billed from it (with the output actually
 * relayed).
 *
 * The estimate, documented in docs/keys-and-budgets.md ("Holds"): 4 ASCII characters per token and 1 token per other character
 * (CJK and most non-Latin scripts tokenize near one token per character), over every string, member name and number
 * of the request — settings included, which over-holds a few tokens — except media payloads at their schema
 * positions: the `source.bytes` of a Converse `image`/`video`/`audio`/`document` block in `messages[].content`,
 * `system` or a tool result's `content`; the `source.data` of an Anthropic `source.type: "base64"` block there; the
 * image fields of model-native bodies (`images`, `inputImage`, image-generation parameters; data URLs there and in an
 * `image_url` block). Nothing is skipped for its name elsewhere: a tool result's JSON, a tool's input, a text block
 * starting `data:` are text the model reads. Media count by what they are: an image or a video a fixed allowance; a
 * text document (`txt`, `md`, `csv`, `html`, `text/*`) its decoded text; a binary document (PDF, Word, Excel) one
 * token per {@link BINARY_DOCUMENT_BYTES_PER_TOKEN} decoded bytes, at least {@link DOCUMENT_TOKENS}. The
 * walk is iterative: a deeply nested body cannot overflow the stack here.
 */
import type { RequestEstimate } from "../core/call_record.ts";
import { GUARDRAIL_UNIT_KINDS, type GuardrailUnits } from "../core/guardrail_usage.ts";

/** Tokens held for one image block (Anthropic's largest image, ~1.15 megapixels, is ~1,600 tokens). */
export const IMAGE_TOKENS = 1_600;
/** Tokens held for one document whose size the request does not show (in S3, a URL), and the least for a binary one. */
export const DOCUMENT_TOKENS = 4_000;
/** Tokens held for one video or audio block. */
export const VIDEO_TOKENS = 10_000;
/**
 * Decoded bytes of a binary document (PDF, DOCX, XLSX: compressed) per token. Its text cannot be sized without
 * unpacking it; a byte of deflated prose unpacks to ~3 characters, ~0.75 tokens, and a file carries fonts, images and
 * structure besides its text, so one token per 2 bytes bounds text-heavy files without charging scans and slides
 * their whole size. A file built to unpack far beyond that (highly repetitive text) can exceed it.
 */
export const BINARY_DOCUMENT_BYTES_PER_TOKEN = 2;

/** Keys that mark a prompt-cache checkpoint: Converse `cachePoint`, Anthropic `cache_control`. */
const CACHE_MARKS: ReadonlySet<string> = new Set(["cachePoint", "cache_control"]);

/** Converse media blocks (`{image: {format, source: {bytes}}}`, …; Nova's native body too), with their allowance. */
const CONVERSE_MEDIA: ReadonlyMap<string, number> = new Map([
  ["image", IMAGE_TOKENS],
  ["video", VIDEO_TOKENS],
  ["audio", VIDEO_TOKENS],
  ["document", DOCUMENT_TOKENS],
]);
/** Converse document formats that are text (the rest, `pdf`, `doc`, `docx`, `xls`, `xlsx`, are binary). */
const TEXT_FORMATS: ReadonlySet<string> = new Set(["txt", "md", "csv", "html"]);

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

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/** Bytes a base64 string decodes to (padding and line breaks aside, which only make this larger). */
const decodedLength = (base64: string) => Math.floor(base64.length * 3 / 4);

/**
 * A document sent as base64: a text one is counted as its decoded text (UTF-8: ASCII bytes at 4 per token, one token
 * per other character); a binary one by its size. Returns the tokens not added to `tally`.
 */
function documentTokens(text: boolean, base64: string, tally: TextTally): number {
  if (!text) return Math.max(DOCUMENT_TOKENS, Math.ceil(decodedLength(base64) / BINARY_DOCUMENT_BYTES_PER_TOKEN));
  let bytes: string;
  try {
    bytes = atob(base64);
  } catch {
    // Not base64: Bedrock refuses it (and bills nothing); until then it is as much text as it looks.
    return Math.ceil(decodedLength(base64) / 4);
  }
  let ascii = 0, other = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes.charCodeAt(i);
    if (b < 0x80) ascii++;
    else if (b >= 0xc0) other++; // a multi-byte character's first byte
  }
  tally.addCounts({ ascii, other });
  return 0;
}

/** `data:<type>;base64,<payload>`: a media payload by its declared type (an image, a text or a binary file). */
function dataUrlTokens(url: string, tally: TextTally): number | undefined {
  if (!url.startsWith("data:")) return undefined;
  const comma = url.indexOf(",");
  const header = comma < 0 ? "" : url.slice(5, comma);
  if (!header.endsWith(";base64")) return undefined;
  if (header.startsWith("image/")) return IMAGE_TOKENS;
  if (header.startsWith("video/") || header.startsWith("audio/")) return VIDEO_TOKENS;
  return documentTokens(header.startsWith("text/"), url.slice(comma + 1), tally);
}

/**
 * A Converse media block (`{format, source: {bytes | s3Location | text | content}, …}`): its fields walked as text
 * but for `source.bytes`, which counts as the media it is. Returns the tokens not added to `tally`.
 */
function converseMedia(kind: string, block: Json, tally: TextTally, stack: unknown[]): number {
  const source = block.source;
  for (const k in block) {
    tally.add(k);
    if (k !== "source") stack.push(block[k], TEXT);
  }
  if (!isObject(source)) return CONVERSE_MEDIA.get(kind)!;
  for (const k in source) {
    tally.add(k);
    if (k !== "bytes") stack.push(source[k], TEXT);
  }
  const bytes = source.bytes;
  if (kind !== "document") return CONVERSE_MEDIA.get(kind)!;
  if (typeof bytes === "string") {
    return documentTokens(typeof block.format === "string" && TEXT_FORMATS.has(block.format), bytes, tally);
  }
  // A document given as text (`source.text`, `source.content`) is counted as the text walked; one in S3 is unseen.
  return source.text !== undefined || source.content !== undefined ? 0 : DOCUMENT_TOKENS;
}

/**
 * An Anthropic `image` or `document` block's `source`: base64 data counts as the media it is; `text` data and
 * `content` blocks are walked as text; a URL or file id counts the allowance. Returns the tokens not added to `tally`.
 */
function anthropicMedia(type: string, source: Json, tally: TextTally, stack: unknown[]): number {
  if (source.type === "base64" && typeof source.data === "string") {
    if (type === "image") return IMAGE_TOKENS;
    const mediaType = typeof source.media_type === "string" ? source.media_type : "";
    return documentTokens(mediaType.startsWith("text/"), source.data, tally);
  }
  for (const k in source) {
    tally.add(k);
    stack.push(source[k], TEXT);
  }
  if (source.type === "text" || source.type === "content") return 0;
  return type === "image" ? IMAGE_TOKENS : DOCUMENT_TOKENS;
}

/**
 * Where a value sits in the request, which decides whether it can be a media payload. Everything else is text: a
 * member's name says nothing about what its value is (a tool result's JSON can name a member `inferenceConfig`,
 * `image` or `cachePoint`, and the model reads it all), so only these positions are ever counted as media.
 *
 * `TEXT`: every member name and value counted as text (settings, tools, tool input and results' JSON, text blocks).
 */
const TEXT = 0;
/** The request itself: `messages`, `system`, and the media fields of model-native bodies. */
const TOP = 1;
/** `messages`: an array of messages. */
const MESSAGES = 2;
/** One message: its `content` holds blocks. */
const MESSAGE = 3;
/** A string, or an array of content blocks: a message's `content`, `system`, a tool result's `content`. */
const BLOCKS = 4;
/** One content block: Converse `{image: …}`, Anthropic `{type: "image", source}`, a tool result, `image_url`. */
const BLOCK = 5;
/** A model-native image field (`images`, `inputImage`, an image-generation parameter): base64 or a data URL. */
const NATIVE_IMAGE = 6;
/** A model-native `*Params` object (Titan, Nova Canvas and Nova Reel bodies): image fields, the rest text. */
const PARAMS = 7;
type At =
  | typeof TEXT
  | typeof TOP
  | typeof MESSAGES
  | typeof MESSAGE
  | typeof BLOCKS
  | typeof BLOCK
  | typeof NATIVE_IMAGE
  | typeof PARAMS;

/** Top-level image fields of model-native bodies: Cohere Embed, Llama 3.2 vision, Titan embeddings, Stability. */
const NATIVE_IMAGES: ReadonlySet<string> = new Set(["images", "inputImage", "image", "init_image", "mask"]);
/** Image fields of a top-level `*Params` object (Titan Image Generator, Nova Canvas, Nova Reel). */
const PARAM_IMAGES: ReadonlySet<string> = new Set([
  "image",
  "images",
  "maskImage",
  "referenceImage",
  "sourceImage",
  "conditionImage",
]);

/** A value under a model-native image field: a data URL by its type, base64 an image; a Converse-like block. */
function nativeImageTokens(v: unknown, tally: TextTally, stack: unknown[]): number {
  if (typeof v === "string") return dataUrlTokens(v, tally) ?? IMAGE_TOKENS;
  if (isObject(v) && isObject(v.source)) return converseMedia("image", v, tally, stack);
  stack.push(v, TEXT);
  return 0;
}

/**
 * What the request's input is expected to be: its tokens, and whether it marks a prompt-cache checkpoint. Every
 * string, member name and number counts as text but a media payload at its schema position (see {@link At}):
 * settings cost a few tokens more than they should, which only over-holds; text taken for media would under-hold.
 */
function estimateInput(request: unknown): { tokens: number; cacheWrites: boolean } {
  const tally = new TextTally();
  let media = 0;
  let cacheWrites = false;
  const stack: unknown[] = [request, TOP]; // pairs: value, then where it sits
  while (stack.length) {
    const at = stack.pop() as At;
    const v = stack.pop();
    if (typeof v === "string") {
      tally.add(v);
      continue;
    }
    if (typeof v === "number" || typeof v === "boolean") {
      tally.addCounts({ ascii: String(v).length, other: 0 });
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      const inner = at === MESSAGES ? MESSAGE : at === BLOCKS ? BLOCK : at === NATIVE_IMAGE ? at : TEXT;
      if (inner === NATIVE_IMAGE) { for (const x of v) media += nativeImageTokens(x, tally, stack); }
      else for (const x of v) stack.push(x, inner);
      continue;
    }
    const o = v as Json;
    if (at === BLOCK) {
      // An Anthropic media block: `{type: "image" | "document", source: {type, media_type, data}, …}`.
      if ((o.type === "image" || o.type === "document") && isObject(o.source)) {
        media += anthropicMedia(o.type, o.source, tally, stack);
        for (const k in o) {
          tally.add(k);
          if (CACHE_MARKS.has(k)) cacheWrites = true;
          if (k !== "source") stack.push(o[k], TEXT);
        }
        continue;
      }
      // OpenAI-style `{type: "image_url", image_url: {url} | url}` (Mistral's native body): a data URL is the image.
      if (o.type === "image_url") {
        const url = isObject(o.image_url) ? o.image_url.url : o.image_url;
        const asMedia = typeof url === "string" ? dataUrlTokens(url, tally) : undefined;
        if (asMedia !== undefined) {
          media += asMedia;
          continue;
        }
      }
    }
    // A parsed JSON object has own properties only: `for…in` walks them without building an entries array.
    for (const k in o) {
      tally.add(k);
      if (CACHE_MARKS.has(k)) cacheWrites = true;
      const x = o[k];
      let inner: At = TEXT;
      switch (at) {
        case TOP:
          if (k === "messages") inner = MESSAGES;
          else if (k === "system") inner = BLOCKS;
          else if (NATIVE_IMAGES.has(k)) inner = NATIVE_IMAGE;
          else if (k.endsWith("Params") && isObject(x)) inner = PARAMS;
          break;
        case MESSAGE:
          if (k === "content") inner = BLOCKS;
          break;
        case BLOCK: {
          if (isObject(x) && CONVERSE_MEDIA.has(k)) {
            media += converseMedia(k, x, tally, stack);
            continue;
          }
          // A Converse `toolResult` and an Anthropic `tool_result` hold content blocks (images, documents) in turn.
          if (k === "toolResult" && isObject(x)) {
            for (const r in x) {
              tally.add(r);
              stack.push(x[r], r === "content" ? BLOCKS : TEXT);
            }
            continue;
          }
          if (k === "content" && o.type === "tool_result") inner = BLOCKS;
          break;
        }
        case PARAMS:
          if (PARAM_IMAGES.has(k)) inner = NATIVE_IMAGE;
          break;
      }
      if (inner === NATIVE_IMAGE && !Array.isArray(x)) media += nativeImageTokens(x, tally, stack);
      else stack.push(x, inner);
    }
  }
  return { tokens: tally.tokens + media, cacheWrites };
}

/** Estimated input tokens of a parsed request body (Converse, or a model-native InvokeModel body). */
export function estimateInputTokens(request: unknown): number {
  return estimateInput(request).tokens;
}

/** What a model call's parsed request is expected to use (`RequestEstimate`): input, cache writes, output allowed. */
export function estimateRequest(request: unknown): RequestEstimate {
  const { tokens, cacheWrites } = estimateInput(request);
  const estimate: RequestEstimate = {
    inputTokens: tokens,
    maxOutputTokens: requestedMaxTokens(request),
    billable: true,
  };
  if (cacheWrites) estimate.cacheWrites = true;
  return estimate;
}

const positive = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.ceil(v) : undefined;

/**
 * The most output tokens a request allows: the largest of every field that can say it — Converse
 * `inferenceConfig.maxTokens` and `additionalModelRequestFields.max_tokens` (passed to the model as is); native
 * bodies' `max_tokens` (Anthropic Messages, Mistral, Cohere), `max_tokens_to_sample` (Anthropic Text Completions),
 * `max_gen_len` (Llama), `textGenerationConfig.maxTokenCount` (Titan), `inferenceConfig.max_new_tokens` (Nova),
 * `maxTokens` (AI21). Undefined when none does.
 */
export function requestedMaxTokens(request: unknown): number | undefined {
  if (!isObject(request)) return undefined;
  const inference = isObject(request.inferenceConfig) ? request.inferenceConfig : undefined;
  const titan = isObject(request.textGenerationConfig) ? request.textGenerationConfig : undefined;
  const extra = isObject(request.additionalModelRequestFields) ? request.additionalModelRequestFields : undefined;
  let most: number | undefined;
  for (
    const v of [
      inference?.maxTokens,
      inference?.max_new_tokens,
      extra?.max_tokens,
      request.max_tokens,
      request.max_tokens_to_sample,
      request.max_gen_len,
      titan?.maxTokenCount,
      request.maxTokens,
    ]
  ) {
    const n = positive(v);
    if (n !== undefined && (most === undefined || n > most)) most = n;
  }
  return most;
}

/** Characters of text in one guardrail text unit (Bedrock's pricing: a text unit is up to 1,000 characters). */
const GUARDRAIL_TEXT_UNIT_CHARS = 1_000;

/**
 * The most policy units an ApplyGuardrail request (`{content: [{text: {text}} | {image: …}]}`) can be billed: each
 * text block's units (1,000 characters each, at least one) under every text policy — which policies the guardrail
 * has is not in the request — and one image unit per image.
 */
export function expectedGuardrailUnits(request: unknown): GuardrailUnits {
  let text = 0, images = 0;
  const content = isObject(request) && Array.isArray(request.content) ? request.content : [];
  for (const block of content) {
    if (!isObject(block)) continue;
    const t = isObject(block.text) ? block.text.text : undefined;
    if (typeof t === "string") text += Math.max(1, Math.ceil(t.length / GUARDRAIL_TEXT_UNIT_CHARS));
    if (isObject(block.image)) images++;
  }
  const units: GuardrailUnits = {};
  for (const kind of GUARDRAIL_UNIT_KINDS) units[kind] = kind === "contentPolicyImageUnits" ? images : text;
  return units;
}
