/**
 * Review 2: the input estimate (holds and hang-up billing) still skips text by a key's *name* at any depth, and takes
 * any `data:…;base64,` string or any object under an `image`/`video`/`audio` key for a media payload. Inside a Converse
 * tool result's `json` (or an Anthropic `tool_use.input`) those names are just text the model reads — and Bedrock
 * bills every token of it. Each body below carries 100,000 ASCII characters (~25,000 tokens) the model reads.
 */
import assert from "node:assert/strict";
import { estimateInputTokens } from "../server/bedrock/expected_usage.ts";

const TEXT = "lorem ipsum dolor sit amet ".repeat(3704).slice(0, 100_000); // ~25,000 tokens at 4 characters each
const EXPECTED = 25_000;

/** A Converse request whose last user turn is a tool result with `json`. */
const toolResult = (json: unknown) => ({
  messages: [
    { role: "user", content: [{ text: "look it up" }] },
    { role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "lookup", input: {} } }] },
    { role: "user", content: [{ toolResult: { toolUseId: "t1", content: [{ json }] } }] },
  ],
});

const cases: Array<[string, unknown]> = [
  ["tool-result json member named like a setting (inferenceConfig)", toolResult({ inferenceConfig: TEXT })],
  ["tool-result json member named serviceTier", toolResult({ serviceTier: TEXT })],
  ["tool-result json member named cachePoint", toolResult({ cachePoint: TEXT })],
  ["tool-result json with an `image` object", toolResult({ image: { source: { bytes: TEXT } } })],
  [
    "tool-result json with an Anthropic-looking image",
    toolResult({ type: "image", source: { type: "base64", data: TEXT } }),
  ],
  ["a plain text block that starts like a data URL", {
    messages: [{ role: "user", content: [{ text: "data:image/png;base64," + TEXT }] }],
  }],
  ["an Anthropic tool_use input member named anthropic_beta", {
    anthropic_version: "bedrock-2023-05-31",
    max_tokens: 10,
    messages: [
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: { anthropic_beta: TEXT } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
    ],
  }],
];

for (const [name, body] of cases) {
  Deno.test(`review2 estimate: ${name} counts the text the model reads`, () => {
    const tokens = estimateInputTokens(body);
    assert.ok(tokens >= EXPECTED * 0.9, `estimated ${tokens} input tokens for ~${EXPECTED} tokens of text`);
  });
}
