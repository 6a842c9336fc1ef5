/**
 * Review 2: the duplicate-name scan (fixholds, A1) compares names re-encoded as UTF-8, where every lone surrogate
 * becomes U+FFFD: two different names (`JSON.parse` keeps both) are refused as one given twice. `JSON.stringify`
 * writes lone surrogates as `\udXXX` escapes (ES2019), e.g. for tool-result keys cut mid-emoji by a JS app.
 */
import assert from "node:assert/strict";
import { jsonShapeProblem } from "../server/core/json_guard.ts";

const LIMITS = { maxDepth: 64, maxValues: 10_000 };

for (const text of ['{"\\ud83d":1,"\\ude00":2}', '{"\\ud800":1,"\uFFFD":2}']) {
  Deno.test(`review2 json guard: ${text} has two different names and is not refused as a duplicate`, () => {
    assert.equal(Object.keys(JSON.parse(text)).length, 2, "JSON.parse keeps both names");
    assert.equal(jsonShapeProblem(new TextEncoder().encode(text), LIMITS), undefined);
  });
}
