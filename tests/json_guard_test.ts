/**
 * The checks a JSON body passes before it is parsed: byte-order mark, strict UTF-8, nesting depth and value count
 * (respecting strings and their escapes), and no member name twice in one object (whatever its spelling).
 */
import assert from "node:assert/strict";
import { GatewayError } from "../server/core/errors.ts";
import { decodeJsonText, jsonShapeProblem, startsWithBom } from "../server/core/json_guard.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const LIMITS = { maxDepth: 128, maxValues: 250_000 };
/** Whether the body nests deeper than `maxDepth`. */
const tooDeep = (b: Uint8Array, maxDepth: number) => jsonShapeProblem(b, { maxDepth, maxValues: 1e9 }) === "depth";

Deno.test("nesting depth: arrays and objects count, brackets inside strings (escaped quotes too) do not", () => {
  assert.equal(tooDeep(bytes('{"a":[[1]]}'), 3), false);
  assert.equal(tooDeep(bytes('{"a":[[1]]}'), 2), true);
  assert.equal(tooDeep(bytes('{"a":"[[[[[[[[{{{{"}'), 1), false);
  // The quote after a backslash is inside the string; the one after two backslashes ends it.
  assert.equal(tooDeep(bytes('{"a":"\\"[[[[","b":1}'), 1), false);
  assert.equal(tooDeep(bytes('{"a":"x\\\\",  "b":[[1]]}'), 2), true);
  assert.equal(tooDeep(bytes("[[],[],[],[[]]]"), 3), false, "siblings do not add up");
  assert.equal(tooDeep(bytes("[[],[],[],[[[]]]]"), 3), true);
  // Unterminated string: not judged here (the parse reports it).
  assert.equal(tooDeep(bytes('["[[[[[['), 1), false);
});

Deno.test("nesting depth: a 50,000-level body is refused from its first bytes", () => {
  const deep = bytes("[".repeat(50_000) + "]".repeat(50_000));
  assert.equal(tooDeep(deep, 128), true);
  assert.throws(
    () => decodeJsonText(deep, LIMITS),
    (e) => e instanceof GatewayError && e.status === 400 && /128 levels/.test(e.message),
  );
});

Deno.test("value count: containers and commas outside strings; a flat array of numbers past the limit is refused", () => {
  assert.equal(jsonShapeProblem(bytes('{"a":[1,2,3],"b":"x,y,z,[,{"}'), { maxDepth: 8, maxValues: 5 }), undefined);
  assert.equal(jsonShapeProblem(bytes('{"a":[1,2,3],"b":"x,y,z,[,{"}'), { maxDepth: 8, maxValues: 4 }), "values");
  const wide = bytes(`{"messages":[${"1,".repeat(300_000)}1]}`);
  assert.equal(jsonShapeProblem(wide, LIMITS), "values");
  assert.throws(
    () => decodeJsonText(wide, LIMITS),
    (e) => e instanceof GatewayError && e.status === 400 && /more than 250000 JSON values/.test(e.message),
  );
});

Deno.test("a tool schema nested 50 object levels is within the default depth of 128", () => {
  let schema: Record<string, unknown> = { type: "string" };
  for (let i = 0; i < 50; i++) schema = { type: "object", properties: { next: schema } };
  const body = JSON.stringify({
    messages: [{ role: "user", content: [{ text: "hi" }] }],
    toolConfig: { tools: [{ toolSpec: { name: "t", inputSchema: { json: schema } } }] },
  });
  assert.equal(tooDeep(bytes(body), 128), false);
});

Deno.test("a leading byte-order mark and bytes that are not UTF-8 are ValidationExceptions; good text decodes", () => {
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes("{}")]);
  assert.equal(startsWithBom(bom), true);
  assert.throws(
    () => decodeJsonText(bom, LIMITS),
    (e) => e instanceof GatewayError && e.status === 400 && /byte-order mark/.test(e.message),
  );
  const badUtf8 = new Uint8Array([...bytes('{"a":"'), 0xc3, 0x28, ...bytes('"}')]);
  assert.throws(
    () => decodeJsonText(badUtf8, LIMITS),
    (e) => e instanceof GatewayError && e.type === "ValidationException" && /UTF-8/.test(e.message),
  );
  const lone = new Uint8Array([...bytes('{"a":"'), 0xed, 0xa0, 0x80, ...bytes('"}')]); // an encoded lone surrogate
  assert.throws(() => decodeJsonText(lone, LIMITS), /UTF-8/);
  assert.equal(decodeJsonText(bytes('{"a":"héllo ✓"}'), LIMITS), '{"a":"héllo ✓"}');
  // A U+FFFD the client sent on purpose is valid UTF-8; one next to an invalid byte is still refused.
  assert.equal(decodeJsonText(bytes('{"a":"\uFFFD"}'), LIMITS), '{"a":"\uFFFD"}');
  const both = new Uint8Array([...bytes('{"a":"\uFFFD'), 0xff, ...bytes('"}')]);
  assert.throws(() => decodeJsonText(both, LIMITS), /UTF-8/);
});

Deno.test("a member name twice in one object is found before the parse, at any depth, however it is spelled", () => {
  const dup = (json: string) => jsonShapeProblem(bytes(json), LIMITS);
  assert.deepEqual(dup('{"a":1,"b":2,"a":3}'), { duplicate: "a" });
  assert.deepEqual(dup('{"x":[{"y":{"k":1, "k" :2}}]}'), { duplicate: "k" });
  // An escape spells the same name: `\u0061` is `a`, `\/` is `/`.
  assert.deepEqual(dup('{"a":1,"\\u0061":2}'), { duplicate: "a" });
  assert.deepEqual(dup('{"a/b":1,"a\\/b":2}'), { duplicate: "a/b" });
  assert.deepEqual(dup('{"é":1,"\\u00e9":2}'), { duplicate: "é" });
  // An object with many members (past the linear comparisons) is checked through its map.
  const wide = Array.from({ length: 40 }, (_, i) => `"m${i}":${i}`);
  assert.equal(dup(`{${wide.join(",")}}`), undefined);
  assert.deepEqual(dup(`{${wide.join(",")},"m7":0}`), { duplicate: "m7" });
  // Not duplicates: the same name in different objects, siblings in an array, values equal to names, escaped quotes.
  assert.equal(dup('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}],"c":"a","d":["a","a"]}'), undefined);
  assert.equal(dup('{"a\\"":1,"a":2,"a\\\\":3}'), undefined);
  assert.equal(dup('{"a":{"b":1},"b":2}'), undefined); // a name inside a closed object is gone with it
  assert.throws(
    () => decodeJsonText(bytes('{"guardrailConfig":{"guardrailIdentifier":"g"},"guardrailConfig":{}}'), LIMITS),
    (e) =>
      e instanceof GatewayError && e.status === 400 && e.type === "ValidationException" &&
      e.message === 'Malformed input request: the request body names the member "guardrailConfig" twice in one ' +
          "object; send each member once",
  );
});

Deno.test("lone-surrogate names are compared as the UTF-16 names JSON.parse keeps, not as U+FFFD", () => {
  const dup = (json: string) => jsonShapeProblem(bytes(json), LIMITS);
  // `JSON.stringify` writes a string cut mid-emoji with an escaped lone surrogate: each is its own name.
  for (const text of ['{"\\ud83d":1,"\\ude00":2}', '{"\\ud800":1,"\uFFFD":2}', '{"\\ud800":1,"\\ufffd":2}']) {
    assert.equal(Object.keys(JSON.parse(text)).length, 2, `JSON.parse keeps both names of ${text}`);
    assert.equal(dup(text), undefined, text);
  }
  // Past the linear comparisons too (the map compares the decoded names).
  const wide = Array.from({ length: 20 }, (_, i) => `"m${i}":${i}`).join(",");
  assert.equal(dup(`{${wide},"\\ud800":1,"\uFFFD":2,"\\udc00":3}`), undefined);
  // The same lone surrogate twice, and an escaped U+FFFD beside a raw one, are still one name given twice.
  assert.deepEqual(dup('{"\\ud800":1,"\\uD800":2}'), { duplicate: "\ud800" });
  assert.deepEqual(dup(`{${wide},"\\ud800":1,"\\uD800":2}`), { duplicate: "\ud800" });
  assert.deepEqual(dup('{"\uFFFD":1,"\\ufffd":2}'), { duplicate: "\uFFFD" });
});
