/**
 * Routes are chosen by the request-target alone: a Host header that is not a host (it would move the path, since the
 * request URL is Host + target) is a 400, on the model-call fast path and in the app alike. Unknown routes answer
 * Bedrock's error shape with a `message`, and a Bedrock operation's path without `/bedrock` says how to fix the
 * client's endpoint.
 */
import assert from "node:assert/strict";
import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { MASTER_KEY, startGateway } from "../testing/harness.ts";

const yaml = `model_list:
  - model_name: claude-held
    litellm_params: { model: bedrock/x, mock_response: hi }
general_settings: { master_key: ${MASTER_KEY} }
`;

/** One HTTP/1.1 request written as given; the whole answer (the connection is closed after it). */
async function raw(url: string, head: string, body = ""): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(
    new TextEncoder().encode(`${head}\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
  );
  let text = "";
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  return { status: Number(text.split(" ")[1]), text };
}

const converse = '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}';

Deno.test("a Host that carries a path cannot change the route: 400 on the fast path and in the app", async () => {
  await using gw = await startGateway({ yaml });
  const auth = `Authorization: Bearer ${MASTER_KEY}\r\nContent-Type: application/json`;
  // Was served as GET /health/liveliness: the URL read http://gw/health/liveliness?/bedrock/model/...
  const a = await raw(
    gw.url,
    `POST /bedrock/model/claude-held/converse HTTP/1.1\r\nHost: gw/health/liveliness?\r\n${auth}`,
    converse,
  );
  assert.equal(a.status, 400, a.text);
  assert.match(a.text, /Invalid Host header/);
  assert.ok(!a.text.includes("I'm alive"));
  const b = await raw(gw.url, `GET /health/liveliness HTTP/1.1\r\nHost: gw/bedrock/model/claude-held/converse#`);
  assert.equal(b.status, 400, b.text);
  for (const host of ["gw@evil", "gw\\x", "gw?x"]) {
    assert.equal((await raw(gw.url, `GET /health/liveliness HTTP/1.1\r\nHost: ${host}`)).status, 400, host);
  }
  assert.equal(gw.calls.length, 0);
  // Real hosts (name, port, IPv6 literal) are served by their request-target.
  for (const host of ["gw", "gw.example.com:4000", "[::1]:4000", "127.0.0.1"]) {
    const ok = await raw(gw.url, `GET /health/liveliness HTTP/1.1\r\nHost: ${host}`);
    assert.equal(ok.status, 200, host);
    assert.match(ok.text, /I'm alive/);
  }
  const call = await raw(
    gw.url,
    `POST /bedrock/model/claude-held/converse HTTP/1.1\r\nHost: gw:4000\r\n${auth}`,
    converse,
  );
  assert.equal(call.status, 200, call.text);
});

Deno.test("unknown routes: Bedrock's error shape with a message (and LiteLLM's error object)", async () => {
  await using gw = await startGateway({ yaml });
  const res = await fetch(`${gw.url}/no/such/route`);
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "UnknownOperationException");
  const body = await res.json();
  assert.equal(body.message, "No route for GET /no/such/route");
  assert.equal(body.error.message, body.message);
  assert.ok(res.headers.get("x-litellm-call-id"));
});

Deno.test("a Bedrock operation's path without /bedrock: the SDK's error says to add /bedrock to the endpoint", async () => {
  await using gw = await startGateway({ yaml });
  for (
    const path of [
      "/model/claude-held/converse",
      "/model/x/invoke-with-response-stream",
      "/guardrail/g1/version/1/apply",
    ]
  ) {
    const res = await fetch(`${gw.url}${path}`, { method: "POST", body: "{}" });
    assert.equal(res.status, 404);
    assert.match(
      (await res.json()).message,
      new RegExp(`Add /bedrock to the client's endpoint URL.*${gw.url}/bedrock`),
    );
  }
  // What boto3 / the AWS SDK user sees: "An error occurred (UnknownOperationException) ...: <message>".
  const client = new BedrockRuntimeClient({
    endpoint: gw.url, // the mistake: no /bedrock
    region: "us-west-2",
    token: { token: MASTER_KEY },
    authSchemePreference: ["httpBearerAuth"],
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
  });
  const err = await client.send(
    new ConverseCommand({ modelId: "claude-held", messages: [{ role: "user", content: [{ text: "hi" }] }] }),
  ).catch((e) => e);
  client.destroy();
  assert.equal(err.name, "UnknownOperationException");
  assert.match(err.message, /Add \/bedrock to the client's endpoint URL/);
  // Other unknown paths get no such hint.
  const other = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", body: "{}" });
  assert.doesNotMatch((await other.json()).message, /\/bedrock/);
});
