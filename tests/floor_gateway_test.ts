/**
 * The bench's floor gateway (`deno task bench --floor`) is only a fair yardstick if it really does the mandatory
 * work it claims: checks the key and body before anything reaches AWS, signs with SigV4 the fake verifies, relays
 * the answer unchanged, and bills each successful call once in KV.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createFloorGateway } from "../bench/floor_gateway.ts";
import { FAKE_CREDENTIALS, startFakeBedrock } from "../testing/fake_bedrock.ts";

const MASTER = "sk-floor-master";

const yaml = (upstream: string) =>
  `model_list:
  - model_name: m
    litellm_params:
      model: bedrock/anthropic.claude-test
      api_base: ${upstream}
      aws_region_name: us-west-2
      aws_access_key_id: ${FAKE_CREDENTIALS.accessKeyId}
      aws_secret_access_key: ${FAKE_CREDENTIALS.secretAccessKey}
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
general_settings:
  master_key: ${MASTER}
`;

const BODY = JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi" }] }] });

Deno.test("floor gateway: checks key and body first, signs, relays unchanged, bills each call once", async () => {
  await using fake = await startFakeBedrock();
  await using kv = await Deno.openKv(":memory:");
  const floor = createFloorGateway(yaml(fake.url), kv);
  const call = (path: string, key: string, body = BODY) =>
    floor.fetch(
      new Request(`http://floor${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body,
      }),
    );

  const made = await call("/key/generate", MASTER, JSON.stringify({ max_budget: 10 }));
  const { key } = await made.json() as { key: string };
  assert.match(key, /^sk-/);

  // Refused before AWS: an unknown key, a body that is not a Converse request.
  const denied = await call("/bedrock/model/m/converse", "sk-nope");
  assert.equal(denied.status, 403);
  assert.equal(denied.headers.get("x-amzn-errortype"), "AccessDeniedException");
  await denied.body?.cancel();
  const invalid = await call("/bedrock/model/m/converse", key, JSON.stringify({ messages: "no" }));
  assert.equal(invalid.status, 400);
  assert.equal(invalid.headers.get("x-amzn-errortype"), "ValidationException");
  await invalid.body?.cancel();
  assert.equal(fake.requests.length, 0);

  fake.setDefault({ kind: "converse", text: "hello", usage: { inputTokens: 100, outputTokens: 10 } });
  const res = await call("/bedrock/model/m/converse", key);
  assert.equal(res.status, 200);
  const answer = await res.json() as { output: { message: { content: Array<{ text: string }> } } };
  assert.equal(answer.output.message.content[0].text, "hello");

  // The master key calls too, unbudgeted (the bench's `--caller master`).
  const asMaster = await call("/bedrock/model/m/converse", MASTER);
  assert.equal(asMaster.status, 200);
  await asMaster.body?.cancel();

  fake.setDefault({ kind: "stream" });
  const streamed = await call("/bedrock/model/m/converse-stream", key);
  assert.equal(streamed.status, 200);
  const bytes = new Uint8Array(await streamed.arrayBuffer());
  assert.deepEqual(bytes, fake.streamBytes[0], "the event stream is relayed byte for byte");

  assert.equal(fake.requests.length, 3);
  for (const r of fake.requests) {
    assert.equal(r.rejected, false, r.rejectReason);
    assert.equal(r.auth.kind, "sigv4");
  }

  await floor.flush();
  const keyHash = createHash("sha256").update(key).digest("hex");
  const spend = await kv.get<Deno.KvU64>(["spend", keyHash]);
  // converse: 100 × 3000 + 10 × 15000 nanos; the fake's default stream reports 10 input and 5 output tokens.
  const expected = (100n * 3000n + 10n * 15000n) + (10n * 3000n + 5n * 15000n);
  assert.equal(spend.value?.value, expected, "the master key's call is not billed to the virtual key");
  let rows = 0;
  for await (const page of kv.list<unknown[]>({ prefix: ["spend_log"] })) rows += page.value.length;
  assert.equal(rows, 3);
});
