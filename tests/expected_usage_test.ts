/**
 * The request-side estimate behind holds and hang-up billing: text at 4 ASCII characters (or 1 other character) per
 * token, media blocks at a fixed allowance whatever their base64 size, settings not counted, the output a request
 * allows read from each model family's field, and no stack overflow on deep bodies.
 */
import assert from "node:assert/strict";
import {
  DOCUMENT_TOKENS,
  estimateInputTokens,
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

Deno.test("a Converse request: message and system text counted, settings not; ~4,000 characters is ~1,000 tokens", () => {
  const prompt = "x".repeat(3996);
  const body = {
    messages: [{ role: "user", content: [{ text: prompt }] }],
    inferenceConfig: { maxTokens: 500, stopSequences: ["a long stop sequence that is not input"] },
    additionalModelRequestFields: { anything: "not input either" },
    requestMetadata: { project: "apollo" },
  };
  assert.equal(estimateInputTokens(body), 1000); // 3996 + "user"
  const withSystem = { ...body, system: [{ text: "abcd" }] };
  assert.equal(estimateInputTokens(withSystem), 1001);
  assert.equal(requestedMaxTokens(body), 500);
});

Deno.test("media: a fixed allowance per block, never the base64 bytes as text", () => {
  const base64 = "A".repeat(400_000);
  const converse = {
    messages: [{
      role: "user",
      content: [
        { image: { format: "png", source: { bytes: base64 } } },
        { document: { format: "pdf", name: "d", source: { bytes: base64 } } },
        { video: { format: "mp4", source: { s3Location: { uri: "s3://b/v.mp4" } } } },
      ],
    }],
  };
  const text = estimateInputTokens(converse) - IMAGE_TOKENS - DOCUMENT_TOKENS - VIDEO_TOKENS;
  assert.ok(text > 0 && text < 20, `only the small strings count as text (${text})`);
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
  assert.ok(estimateInputTokens(anthropic) < IMAGE_TOKENS + 20);
  assert.ok(estimateInputTokens(anthropic) >= IMAGE_TOKENS + 1);
});

Deno.test("the output a request allows, in each model family's field; none when it does not say", () => {
  assert.equal(requestedMaxTokens({ inferenceConfig: { maxTokens: 7 } }), 7);
  assert.equal(requestedMaxTokens({ max_tokens: 8 }), 8);
  assert.equal(requestedMaxTokens({ max_tokens_to_sample: 9 }), 9);
  assert.equal(requestedMaxTokens({ max_gen_len: 10 }), 10);
  assert.equal(requestedMaxTokens({ textGenerationConfig: { maxTokenCount: 11 } }), 11);
  assert.equal(requestedMaxTokens({ inferenceConfig: { max_new_tokens: 12 } }), 12);
  assert.equal(requestedMaxTokens({ messages: [] }), undefined);
  assert.equal(requestedMaxTokens({ max_tokens: -1 }), undefined);
  assert.equal(requestedMaxTokens({ max_tokens: "9" }), undefined);
  assert.equal(requestedMaxTokens(undefined), undefined);
});

Deno.test("a body nested 100,000 levels deep is walked without overflowing the stack", () => {
  let deep: unknown = "abcd";
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(estimateInputTokens({ messages: deep }), 1);
});
