/**
 * Counting a delta's text without parsing its payload: the counts match what parsing and counting the text gives
 * (escapes count as written), and anything unexpected reports "not found" so the caller parses instead.
 */
import assert from "node:assert/strict";
import { TextTally } from "../server/bedrock/expected_usage.ts";
import { indexOfAscii, stringValueChars } from "../server/bedrock/json_scan.ts";

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
