/**
 * Counting a delta's text without parsing its payload: the counts match what parsing and counting the text gives
 * (escapes count as written), and anything unexpected reports "not found" so the caller parses instead.
 */
import assert from "node:assert/strict";
import { TextTally } from "../server/bedrock/expected_usage.ts";
import { indexOfAscii, lastIndexOfAscii, nativeStopReason, stringValueChars } from "../server/bedrock/json_scan.ts";
import { requestParams } from "../server/bedrock/request_params.ts";

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

Deno.test("a delta's text counted in place equals the parsed text's count", () => {
  for (const text of ["Hello", " world", "", "naïve café", "漢字かな", "emoji 😀 ok", "a".repeat(1000)]) {
    const payload = bytes({ contentBlockIndex: 0, delta: { text }, p: "abcdefgh" });
    const counted = new TextTally();
    counted.addCounts(stringValueChars(payload, "text", indexOfAscii(payload, '"delta":'))!);
    const parsed = new TextTally();
    parsed.add(text);
    // Astral characters (😀) are one character here and two UTF-16 units when parsed: never fewer tokens here.
    assert.ok(counted.tokens >= parsed.tokens - 1 && counted.tokens <= parsed.tokens + 1, text);
    if (!/\p{Extended_Pictographic}/u.test(text)) assert.equal(counted.tokens, parsed.tokens, text);
  }
});

Deno.test("an escape counts as the character it stands for; a quote inside the text does not end it", () => {
  const payload = bytes({ delta: { text: 'say "hi"\n\u0001' } });
  assert.deepEqual(stringValueChars(payload, "text"), { ascii: 10, other: 0 });
  const unicode = new TextEncoder().encode('{"delta":{"partial_json":"{\\"a\\":\\"\\u00e9\\"}"}}');
  assert.deepEqual(stringValueChars(unicode, "partial_json"), { ascii: 8, other: 1 }); // {"a":"é"}
});

Deno.test("not found, or not terminated: undefined (the caller parses instead)", () => {
  assert.equal(stringValueChars(bytes({ delta: { redactedContent: "AAAA" } }), "text"), undefined);
  assert.equal(stringValueChars(new TextEncoder().encode('{"delta":{"text":"cut'), "text"), undefined);
  assert.equal(indexOfAscii(new TextEncoder().encode("abc"), "abcd"), -1);
  assert.equal(indexOfAscii(new TextEncoder().encode("xxabc"), "abc"), 2);
});

Deno.test("nativeStopReason reads a native answer's stop reason from its end, never from generated text", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.equal(
    nativeStopReason(
      enc('{"content":[{"type":"text","text":"say \\"stop_reason\\":\\"fake\\""}],"stop_reason":"end_turn"}'),
    ),
    "end_turn",
  );
  assert.equal(nativeStopReason(enc('{"outputText":"x","completionReason":"FINISH"}')), "FINISH");
  assert.equal(nativeStopReason(enc('{"generations":[{"finish_reason":"COMPLETE"}]}')), "COMPLETE");
  assert.equal(nativeStopReason(enc('{"generation":"x","stop_reason":null}')), undefined);
  assert.equal(nativeStopReason(enc("")), undefined);
  assert.equal(nativeStopReason(enc(`{"stop_reason":"${"x".repeat(100)}"}`)), undefined);
  assert.equal(lastIndexOfAscii(enc("abcabc"), "abc"), 3);
  assert.equal(lastIndexOfAscii(enc("abc"), "abc"), 0);
  assert.equal(lastIndexOfAscii(enc("ab"), "abc"), -1);
  assert.equal(lastIndexOfAscii(enc("xbc"), "abc"), -1);
});

Deno.test("requestParams: what a Converse or native body says, nothing defaulted", () => {
  assert.deepEqual(
    requestParams({
      inferenceConfig: { maxTokens: 10, temperature: 0, topP: 0.5, stopSequences: ["a", 1, "b"] },
      additionalModelRequestFields: { top_k: 40 },
    }),
    { maxTokens: 10, temperature: 0, topP: 0.5, topK: 40, stopSequences: ["a", "b"] },
  );
  assert.deepEqual(requestParams({ max_tokens: 100, temperature: 1, top_p: 0.8, top_k: 5, stop_sequences: ["x"] }), {
    maxTokens: 100,
    temperature: 1,
    topP: 0.8,
    topK: 5,
    stopSequences: ["x"],
  });
  assert.equal(requestParams({ messages: [] }), undefined);
  assert.equal(requestParams("nope"), undefined);
  const many = requestParams({ inferenceConfig: { stopSequences: Array.from({ length: 100 }, (_, i) => `s${i}`) } });
  assert.equal(many?.stopSequences?.length, 16);
});
