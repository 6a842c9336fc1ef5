import assert from "node:assert/strict";
import { MASTER_KEY, startGateway } from "./harness.ts";

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
  assert.equal(JSON.parse(line).route, "/key/:key/regenerate");
  assert.ok(!gw.logs.join("\n").includes(rawKey), "raw key leaked into the logs");
  assert.ok(!JSON.stringify(body).includes(rawKey));
});
