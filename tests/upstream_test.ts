/**
 * @module
 * What the gateway accepts from upstream before relaying it (`server/calls/upstream.ts`): Bedrock never redirects,
 * and a redirect followed would re-send the prompt and the AWS session token (`x-amz-security-token`: fetch strips
 * only `Authorization` cross-origin) to another origin, whose answer would be relayed as Bedrock's. So a 3xx is never
 * followed, by either upstream client, on model calls and pass-through calls alike: it is a 502 in Bedrock's format.
 */
import assert from "node:assert/strict";
import { MASTER_KEY, startGateway } from "../testing/harness.ts";

/** A server on 127.0.0.1 answering every request with `respond`, and the headers of what it received. */
function server(respond: (req: Request) => Response) {
  const seen: Array<Record<string, string>> = [];
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(Object.fromEntries(req.headers));
    await req.arrayBuffer();
    return respond(req);
  });
  return { seen, url: `http://127.0.0.1:${s.addr.port}`, [Symbol.asyncDispose]: () => s.shutdown() };
}

const CREDENTIALS = `      aws_region_name: us-west-2
      aws_access_key_id: AKIAEXAMPLE000000001
      aws_secret_access_key: example-secret
      aws_session_token: SESSION-TOKEN-SECRET
`;

for (const client of ["fetch", "native"] as const) {
  Deno.test(`an upstream 3xx is never followed (${client} client): a Bedrock-format 502, nothing sent elsewhere`, async () => {
    await using other = server(() =>
      Response.json({ output: { message: { role: "assistant", content: [{ text: "not bedrock" }] } } })
    );
    await using redirector = server((req) =>
      new Response(null, { status: 307, headers: { location: `${other.url}${new URL(req.url).pathname}` } })
    );
    await using gw = await startGateway({
      yaml: `model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/x
      aws_bedrock_runtime_endpoint: ${redirector.url}
${CREDENTIALS}general_settings:
  master_key: ${MASTER_KEY}
  upstream_client: ${client}
  bedrock_passthrough:
    aws_bedrock_runtime_endpoint: ${redirector.url}
    aws_region_name: us-west-2
    aws_access_key_id: AKIAEXAMPLE000000001
    aws_secret_access_key: example-secret
    aws_session_token: SESSION-TOKEN-SECRET
`,
    });
    const calls = [
      ["/bedrock/model/claude/converse", { messages: [{ role: "user", content: [{ text: "a private prompt" }] }] }],
      ["/bedrock/guardrail/g1/version/1/apply", { source: "INPUT", content: [{ text: { text: "a private text" } }] }],
    ] as const;
    for (const [path, body] of calls) {
      const res = await fetch(`${gw.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      assert.equal(res.status, 502, `${path}: ${text}`);
      assert.match(res.headers.get("x-amzn-errortype") ?? "", /^ServiceUnavailableException:/, path);
      assert.match(JSON.parse(text).message, /answered a redirect \(307\).*not followed/, path);
      assert.equal(res.headers.get("location"), null);
    }
    assert.ok(redirector.seen.length >= calls.length, "the calls reached the configured endpoint");
    assert.deepEqual(other.seen, [], "nothing reached the other origin");
  });
}
