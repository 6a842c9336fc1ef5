import assert from "node:assert/strict";
import { MASTER_KEY, startGateway } from "../testing/harness.ts";

const yaml = `model_list:
  - model_name: demo
    litellm_params: { model: bedrock/x, mock_response: hi }
general_settings: { master_key: ${MASTER_KEY} }
`;

Deno.test("an unexpected failure is a plain 500 whose log line names the route pattern, never the raw key in the path", async () => {
  const kv = await Deno.openKv(":memory:");
  await using gw = await startGateway({ yaml, kv });
  kv.close(); // KV down: every admin read now throws a plain Error.
  const rawKey = "sk-raw-key-in-the-path-0123456789";
  const res = await fetch(`${gw.url}/key/${rawKey}/regenerate`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: "{}",
  });
  const body = await res.json();
  assert.equal(res.status, 500);
  assert.deepEqual(body.error, { message: "internal gateway error", type: "internal_error", param: null, code: "500" });
  const line = gw.logs.find((l) => l.includes("unhandled error"));
  assert.ok(line, gw.logs.join("\n"));
  assert.equal(JSON.parse(line).route, "/key/{key}/regenerate");
  assert.ok(!gw.logs.join("\n").includes(rawKey), "raw key leaked into the logs");
  assert.ok(!JSON.stringify(body).includes(rawKey));
});

Deno.test("model calls (served without the framework): an unexpected failure is a Bedrock-format 500 with the call id", async () => {
  const kv = await Deno.openKv(":memory:");
  await using gw = await startGateway({ yaml, kv });
  kv.close(); // KV down: looking up a key not yet cached now throws a plain Error.
  const res = await fetch(`${gw.url}/bedrock/model/demo/converse`, {
    method: "POST",
    headers: { authorization: "Bearer sk-not-cached-0123456789", "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi" }] }] }),
  });
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "InternalServerException");
  assert.equal((await res.json()).message, "internal gateway error");
  const callId = res.headers.get("x-litellm-call-id");
  assert.ok(callId);
  const line = gw.logs.find((l) => l.includes("unhandled error"));
  assert.ok(line, gw.logs.join("\n"));
  assert.equal(JSON.parse(line).route, "/bedrock/model/{modelId}/{operation}");
  assert.equal(JSON.parse(line).requestId, callId);
  assert.ok(!gw.logs.join("\n").includes("sk-not-cached"), "raw key leaked into the logs");
});

Deno.test("CONNECT host:port and OPTIONS * (targets that are not a path): a Bedrock-format 405 saying so", async () => {
  await using gw = await startGateway({
    yaml: `model_list:
  - model_name: demo
    litellm_params: { model: bedrock/x, mock_response: hi }
`,
  });
  const port = Number(new URL(gw.url).port);
  const cases: Array<[string, RegExp]> = [
    ["CONNECT evil:443", /^Method CONNECT is not allowed: the gateway is not a proxy$/],
    ["OPTIONS *", /^OPTIONS \* is not served/],
  ];
  for (const [target, message] of cases) {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await c.write(new TextEncoder().encode(`${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`));
    let text = "";
    const buf = new Uint8Array(4096);
    for (let n; (n = await c.read(buf)) !== null;) text += new TextDecoder().decode(buf.subarray(0, n));
    c.close();
    assert.match(text, /^HTTP\/1\.1 405 /, target);
    assert.match(text, /x-amzn-errortype: UnknownOperationException/i, target);
    assert.match(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).message, message, target);
  }
});
