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
