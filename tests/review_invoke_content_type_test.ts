/**
 * Review (bad input reaches AWS): InvokeModel checks its body only when it is declared JSON (`expectsJson` in
 * `server/bedrock/invoke_op.ts`); a body declared `text/plain` (or any other type) skips the JSON guard entirely and
 * is forwarded: 50,000 levels of nesting, bytes that are not UTF-8, a byte-order mark, a gzip stream without its
 * `Content-Encoding`. Issue 15 asked for exactly these to be a 4xx that never reaches Bedrock, and Bedrock's
 * InvokeModel only takes `application/json`. Such a body is also held as `bytes / 4` input tokens with the default
 * output hold, whatever `max_tokens` it carries.
 * Fails on main; passes once InvokeModel refuses (or checks as JSON) bodies declared with another media type.
 */
import assert from "node:assert/strict";
import { MASTER_KEY, setupSpend } from "./spend_helpers.ts";

const enc = new TextEncoder();
const gzip = async (text: string) =>
  new Uint8Array(
    await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );

Deno.test("review: malformed invoke bodies declared text/plain are refused before Bedrock", async () => {
  await using t = await setupSpend();
  const bodies: Record<string, Uint8Array<ArrayBuffer>> = {
    "50,000 levels deep": enc.encode("[".repeat(50_000) + "]".repeat(50_000)),
    "not UTF-8": new Uint8Array([...enc.encode('{"prompt":"'), 0xff, 0xfe, ...enc.encode('"}')]),
    "a byte-order mark": new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode('{"prompt":"hi"}')]),
    "gzip bytes": await gzip('{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[]}'),
  };
  const statuses: Record<string, number> = {};
  for (const [what, body] of Object.entries(bodies)) {
    const res = await fetch(`${t.gw.url}/bedrock/model/claude/invoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "text/plain" },
      body,
    });
    await res.body?.cancel();
    statuses[what] = res.status;
  }
  assert.deepEqual(
    { statuses, forwarded: t.fake.requests.length },
    { statuses: Object.fromEntries(Object.keys(bodies).map((k) => [k, 400])), forwarded: 0 },
  );
});
