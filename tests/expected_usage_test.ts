/**
 * The request-side estimate behind holds and hang-up billing: text at 4 ASCII characters (or 1 other character) per
 * token wherever it sits and whatever its member is named (tool results' JSON, tool input, text documents, settings
 * too), images and videos at a fixed allowance whatever their base64 size but only at their schema positions, binary
 * documents by their size, prompt-cache marks noted, the largest output a
 * request allows in any model family's field, the most policy units an ApplyGuardrail request can be billed, and no
 * stack overflow on deep bodies.
 */
import assert from "node:assert/strict";
import {
  BINARY_DOCUMENT_BYTES_PER_TOKEN,
  DOCUMENT_TOKENS,
  estimateInputTokens,
  estimateRequest,
  expectedGuardrailUnits,
  IMAGE_TOKENS,
  requestedMaxTokens,
  TextTally,
  VIDEO_TOKENS,
} from "../server/bedrock/expected_usage.ts";

Deno.test("text: 4 ASCII characters per token, rounded up; 1 token per other character", () => {
  const tally = new TextTally();
  assert.equal(tally.tokens, 0);
  tally.add("abcd");
  assert.equal(tally.tokens, 1);
  tally.add("e");
  assert.equal(tally.tokens, 2);
  const cjk = new TextTally();
  cjk.add("漢字ab"); // 2 others, 2 ASCII
  assert.equal(cjk.tokens, 3);
});

Deno.test("a Converse request: message and system text counted, settings too (a few tokens); ~4,000 characters is ~1,000 tokens", () => {
  const prompt = "x".repeat(3996);
  const body = {
    messages: [{ role: "user", content: [{ text: prompt }] }],
    inferenceConfig: { maxTokens: 500, stopSequences: ["a long stop sequence"] },
    additionalModelRequestFields: { anything: "goes" },
    requestMetadata: { project: "apollo" },
  };
  const tokens = estimateInputTokens(body);
  // The text, plus member names, settings and numbers: over-holding a few tokens is the safe side.
  assert.ok(tokens >= 1000 && tokens <= 1050, `${tokens}`);
  const withSystem = { ...body, system: [{ text: "abcd".repeat(10) }] };
  assert.ok(estimateInputTokens(withSystem) >= tokens + 10);
  assert.equal(requestedMaxTokens(body), 500);
});

Deno.test("images and videos: a fixed allowance per block, never their base64 bytes as text", () => {
  const base64 = "A".repeat(400_000);
  const converse = {
    messages: [{
      role: "user",
      content: [
        { image: { format: "png", source: { bytes: base64 } } },
        { video: { format: "mp4", source: { s3Location: { uri: "s3://b/v.mp4" } } } },
        { document: { format: "pdf", name: "d", source: { s3Location: { uri: "s3://b/d.pdf" } } } },
      ],
    }],
  };
  const text = estimateInputTokens(converse) - IMAGE_TOKENS - VIDEO_TOKENS - DOCUMENT_TOKENS;
  assert.ok(text > 0 && text < 60, `only the small strings and names count as text (${text})`);
  const anthropic = {
    anthropic_version: "bedrock-2023-05-31",
    max_tokens: 64,
    messages: [{
      role: "user",
      content: [
        { type: "image", source: { type: "base64", media_type: "image/png", data: base64 } },
        { type: "text", text: "abcd" },
      ],
    }],
  };
  assert.ok(estimateInputTokens(anthropic) < IMAGE_TOKENS + 40);
  assert.ok(estimateInputTokens(anthropic) >= IMAGE_TOKENS + 1);
  // A data URL or base64 in a model-native image field is a media payload too (Cohere Embed, Llama 3.2 vision,
  // Titan embeddings, Nova Canvas parameters, OpenAI-style image_url blocks).
  const names = (body: unknown) => estimateInputTokens(body) - IMAGE_TOKENS;
  assert.ok(names({ images: [`data:image/png;base64,${base64}`] }) <= 2);
  assert.ok(names({ inputText: "abcd", inputImage: base64 }) <= 6);
  assert.ok(names({ taskType: "INPAINTING", inPaintingParams: { image: base64, maskPrompt: "cat" } }) <= 20);
  const imageUrl = { type: "image_url", image_url: { url: `data:image/png;base64,${base64}` } };
  assert.ok(names({ messages: [{ role: "user", content: [imageUrl] }] }) <= 10);
});

/** 100,000 ASCII characters: 25,000 tokens. */
const PROMPT = "word ".repeat(20_000);

Deno.test("text under `data` or `bytes` keys that are not media is counted: a tool result's JSON, a tool's input", () => {
  const body = {
    messages: [
      { role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "f", input: { bytes: PROMPT } } }] },
      { role: "user", content: [{ toolResult: { toolUseId: "t1", content: [{ json: { data: PROMPT } }] } }] },
    ],
  };
  const tokens = estimateInputTokens(body);
  assert.ok(tokens >= 50_000 && tokens < 50_030, `${tokens}`);
});

Deno.test("documents are sized from their bytes: text formats as their text, binary ones by size; Anthropic's too", () => {
  const doc = (format: string, bytes: string) => ({
    messages: [{ role: "user", content: [{ document: { format, name: "d", source: { bytes } } }] }],
  });
  const text = btoa(PROMPT);
  for (const format of ["txt", "md", "csv", "html"]) {
    const tokens = estimateInputTokens(doc(format, text));
    assert.ok(tokens >= 25_000 && tokens < 25_020, `${format}: ${tokens}`);
  }
  // Decoded UTF-8 is counted like text: one token per character outside ASCII.
  const cjk = btoa(String.fromCharCode(...new TextEncoder().encode("漢字".repeat(1_000))));
  assert.ok(estimateInputTokens(doc("txt", cjk)) >= 2_000);
  // Binary: one token per BINARY_DOCUMENT_BYTES_PER_TOKEN decoded bytes, at least DOCUMENT_TOKENS.
  const pdf = "A".repeat(400_000); // 300,000 bytes
  const pdfTokens = estimateInputTokens(doc("pdf", pdf));
  assert.ok(
    pdfTokens >= 300_000 / BINARY_DOCUMENT_BYTES_PER_TOKEN &&
      pdfTokens < 300_000 / BINARY_DOCUMENT_BYTES_PER_TOKEN + 20,
  );
  assert.ok(estimateInputTokens(doc("docx", "AAAA")) >= DOCUMENT_TOKENS);
  // Converse documents given as text are their text.
  const asText = {
    messages: [{ role: "user", content: [{ document: { format: "txt", name: "d", source: { text: PROMPT } } }] }],
  };
  assert.ok(estimateInputTokens(asText) >= 25_000);
  // Anthropic: a plain-text source is text; base64 text/plain decoded; a base64 PDF by size.
  const anthropic = (source: Record<string, string>) => ({
    messages: [{ role: "user", content: [{ type: "document", source }] }],
  });
  assert.ok(estimateInputTokens(anthropic({ type: "text", media_type: "text/plain", data: PROMPT })) >= 25_000);
  assert.ok(estimateInputTokens(anthropic({ type: "base64", media_type: "text/plain", data: text })) >= 25_000);
  assert.ok(
    estimateInputTokens(anthropic({ type: "base64", media_type: "application/pdf", data: pdf })) >=
      300_000 / BINARY_DOCUMENT_BYTES_PER_TOKEN,
  );
});

Deno.test("a prompt-cache mark (Converse cachePoint, Anthropic cache_control) is noted on the estimate", () => {
  const plain = { messages: [{ role: "user", content: [{ text: "abcd" }] }] };
  assert.equal(estimateRequest(plain).cacheWrites, undefined);
  const converse = { ...plain, system: [{ text: "abcd" }, { cachePoint: { type: "default" } }] };
  assert.equal(estimateRequest(converse).cacheWrites, true);
  // The mark's own words count as text (a few tokens), not as a cache write's worth.
  const unmarked = estimateRequest({ ...plain, system: [{ text: "abcd" }] }).inputTokens;
  assert.ok(estimateRequest(converse).inputTokens - unmarked <= 6);
  const anthropic = {
    messages: [{
      role: "user",
      content: [{ type: "text", text: "abcd", cache_control: { type: "ephemeral", ttl: "1h" } }],
    }],
  };
  assert.equal(estimateRequest(anthropic).cacheWrites, true);
});

Deno.test("the most policy units an ApplyGuardrail request can be billed: every text policy, one image unit per image", () => {
  const units = expectedGuardrailUnits({
    source: "INPUT",
    content: [
      { text: { text: "x".repeat(2_500) } }, // 3 text units
      { text: { text: "" } }, // at least 1
      { image: { format: "png", source: { bytes: "AAAA" } } },
    ],
  });
  assert.deepEqual(units, {
    topicPolicyUnits: 4,
    contentPolicyUnits: 4,
    wordPolicyUnits: 4,
    sensitiveInformationPolicyUnits: 4,
    sensitiveInformationPolicyFreeUnits: 4,
    contextualGroundingPolicyUnits: 4,
    contentPolicyImageUnits: 1,
    automatedReasoningPolicyUnits: 4,
  });
});

Deno.test("the output a request allows, in each model family's field; none when it does not say", () => {
  assert.equal(requestedMaxTokens({ inferenceConfig: { maxTokens: 7 } }), 7);
  assert.equal(requestedMaxTokens({ max_tokens: 8 }), 8);
  assert.equal(requestedMaxTokens({ max_tokens_to_sample: 9 }), 9);
  assert.equal(requestedMaxTokens({ max_gen_len: 10 }), 10);
  assert.equal(requestedMaxTokens({ textGenerationConfig: { maxTokenCount: 11 } }), 11);
  assert.equal(requestedMaxTokens({ inferenceConfig: { max_new_tokens: 12 } }), 12);
  assert.equal(requestedMaxTokens({ additionalModelRequestFields: { max_tokens: 13 } }), 13);
  assert.equal(requestedMaxTokens({ maxTokens: 14 }), 14);
  assert.equal(requestedMaxTokens({ messages: [] }), undefined);
  assert.equal(requestedMaxTokens({ max_tokens: -1 }), undefined);
  assert.equal(requestedMaxTokens({ max_tokens: "9" }), undefined);
  assert.equal(requestedMaxTokens(undefined), undefined);
});

Deno.test("the output a request allows is the largest of every field that says it, not the first found", () => {
  assert.equal(
    requestedMaxTokens({ inferenceConfig: { maxTokens: 10 }, additionalModelRequestFields: { max_tokens: 64_000 } }),
    64_000,
  );
  assert.equal(
    requestedMaxTokens({ inferenceConfig: { maxTokens: 500 }, additionalModelRequestFields: { max_tokens: 1 } }),
    500,
  );
  assert.equal(requestedMaxTokens({ max_tokens: 1, max_gen_len: 900, maxTokens: 20 }), 900);
  assert.equal(requestedMaxTokens({ max_tokens: -5, max_gen_len: 30 }), 30);
});

Deno.test("a body nested 100,000 levels deep is walked without overflowing the stack", () => {
  let deep: unknown = "abcd";
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(estimateInputTokens({ messages: deep }), estimateInputTokens({ messages: "abcd" }));
});

/** 100,000 characters the model reads (~25,000 tokens), placed where a name-based skip list would have missed it. */
const READ = "lorem ipsum dolor sit amet ".repeat(3704).slice(0, 100_000);

/** A Converse request whose last user turn is a tool result with `json`. */
const toolResultJson = (json: unknown) => ({
  messages: [
    { role: "user", content: [{ text: "look it up" }] },
    { role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "lookup", input: {} } }] },
    { role: "user", content: [{ toolResult: { toolUseId: "t1", content: [{ json }] } }] },
  ],
});

const textAnywhere: Array<[string, unknown]> = [
  ["a tool result's JSON member named like a setting (inferenceConfig)", toolResultJson({ inferenceConfig: READ })],
  ["a tool result's JSON member named serviceTier", toolResultJson({ serviceTier: READ })],
  ["a tool result's JSON member named cachePoint", toolResultJson({ cachePoint: READ })],
  ["a tool result's JSON holding an `image` object", toolResultJson({ image: { source: { bytes: READ } } })],
  [
    "a tool result's JSON shaped like an Anthropic image",
    toolResultJson({ type: "image", source: { type: "base64", data: READ } }),
  ],
  ["a text block that starts like a data URL", {
    messages: [{ role: "user", content: [{ text: "data:image/png;base64," + READ }] }],
  }],
  ["an Anthropic tool_use input member named anthropic_beta", {
    anthropic_version: "bedrock-2023-05-31",
    max_tokens: 10,
    messages: [
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: { anthropic_beta: READ } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
    ],
  }],
  ["a member name in a tool's input", {
    messages: [{ role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "f", input: { [READ]: 1 } } }] }],
  }],
];

for (const [where, body] of textAnywhere) {
  Deno.test(`text is counted wherever the model reads it, whatever its member is named: ${where}`, () => {
    const tokens = estimateInputTokens(body);
    assert.ok(tokens >= 25_000, `estimated ${tokens} input tokens for ~25,000 tokens of text`);
  });
}

Deno.test("media at their real positions still count as media: in a tool result's content, Converse and Anthropic", () => {
  const base64 = "A".repeat(400_000);
  const converse = {
    messages: [{
      role: "user",
      content: [{
        toolResult: {
          toolUseId: "t1",
          content: [{ image: { format: "png", source: { bytes: base64 } } }, { text: "a chart" }],
        },
      }],
    }],
  };
  const text = estimateInputTokens(converse) - IMAGE_TOKENS;
  assert.ok(text > 0 && text < 40, `${text}`);
  const anthropic = {
    messages: [{
      role: "user",
      content: [{
        type: "tool_result",
        tool_use_id: "t1",
        content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: base64 } }],
      }],
    }],
  };
  const other = estimateInputTokens(anthropic) - IMAGE_TOKENS;
  assert.ok(other > 0 && other < 60, `${other}`);
});
