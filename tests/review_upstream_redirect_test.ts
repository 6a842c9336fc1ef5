/**
 * Review (secret): upstream calls go through `fetch` with its default `redirect: "follow"`
 * (`server/calls/upstream.ts`). An endpoint that answers 307/308 (a misconfigured VPC endpoint, a proxy, a hijacked
 * name behind `aws_bedrock_runtime_endpoint`) makes the gateway re-send the prompt to another origin with the AWS
 * session token (`x-amz-security-token`: fetch strips only `Authorization` on a cross-origin redirect), and whatever
 * that origin answers is relayed to the client as Bedrock's answer (200, billed nothing). Bedrock never redirects;
 * the native client refuses redirects already (README).
 * Fails on main; passes once upstream fetches use `redirect: "manual"` (a 3xx is an upstream error).
 */
import assert from "node:assert/strict";
import { MASTER_KEY, startGateway } from "../testing/harness.ts";

Deno.test("review: an upstream redirect is not followed; nothing reaches the other origin", async () => {
  const seen: Array<Record<string, string>> = [];
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(Object.fromEntries(req.headers));
    await req.arrayBuffer();
    return new Response('{"output":{"message":{"role":"assistant","content":[{"text":"not bedrock"}]}}}', {
      headers: { "content-type": "application/json" },
    });
  });
  const redirector = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    const location = `http://127.0.0.1:${other.addr.port}${new URL(req.url).pathname}`;
    return new Response(null, { status: 307, headers: { location } });
  });
  try {
    await using gw = await startGateway({
      yaml: `model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/x
      aws_region_name: us-west-2
      aws_bedrock_runtime_endpoint: http://127.0.0.1:${redirector.addr.port}
      aws_access_key_id: AKIAEXAMPLE000000001
      aws_secret_access_key: example-secret
      aws_session_token: SESSION-TOKEN-SECRET
general_settings: { master_key: ${MASTER_KEY} }
`,
    });
    const res = await fetch(`${gw.url}/bedrock/model/claude/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "a private prompt" }] }] }),
    });
    const text = await res.text();
    assert.deepEqual(
      { reachedOtherOrigin: seen.length, tokens: seen.map((h) => h["x-amz-security-token"]) },
      { reachedOtherOrigin: 0, tokens: [] },
      `the gateway followed the redirect and answered ${res.status} ${text.slice(0, 80)}`,
    );
    assert.notEqual(res.status, 200);
  } finally {
    await other.shutdown();
    await redirector.shutdown();
  }
});
