/**
 * No silent free calls under a budget: a call by a key with a budget to a deployment without a known price (for the
 * call's tier) is refused with a 400 ValidationException naming the deployment and how to price it, never forwarded;
 * calls without a budget are served and flagged; `allow_unpriced_models` serves them priced 0 and flagged;
 * `mock_response` deployments (no AWS spend) and CountTokens (free) are never refused; the demo model is priced.
 */
import assert from "node:assert/strict";
import { ConverseCommand, ValidationException } from "@aws-sdk/client-bedrock-runtime";
import { loadConfig } from "../server/config/load.ts";
import { createPricing } from "../server/pricing/cost.ts";
import { priceTablesFor } from "../server/pricing/price_table.ts";
import { bedrockClient, converseBody, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { callModel, PRICE_PARAMS, setupKeys } from "./keys_helpers.ts";
import { get } from "./spend_helpers.ts";

const CREDENTIALS = "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
  "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY";
const MODELS = [
  { name: "claude", params: `${PRICE_PARAMS}\n    model_info:\n      id: claude-dep` },
  {
    name: "mystery",
    model: "bedrock/example.unpriced-model-v1:0",
    params: `${CREDENTIALS}\n    model_info:\n      id: mystery-dep`,
  },
  {
    name: "mocked",
    model: "bedrock/example.unpriced-model-v1:0",
    params: `      mock_response: "hi"\n    model_info:\n      id: mocked-dep`,
  },
];

const errorType = (res: Response) => res.headers.get("x-amzn-errortype")?.split(":")[0];

Deno.test("a budgeted key's call to an unpriced deployment is refused, named, and never reaches Bedrock", async () => {
  await using t = await setupKeys({ models: MODELS });
  const g = await t.generate({ max_budget: 10 });
  const res = await t.converse(g.key, "mystery");
  assert.equal(res.status, 400);
  assert.equal(errorType(res), "ValidationException");
  const body = await res.json();
  assert.equal(body.error.type, "unpriced_model");
  for (
    const part of [
      'Deployment "mystery-dep"',
      'model_name "mystery"',
      "example.unpriced-model-v1:0",
      "key max_budget 10",
      "input_cost_per_token and output_cost_per_token",
      "model_info.base_model",
      "model_prices_file",
      "allow_unpriced_models: true",
    ]
  ) assert.ok(body.message.includes(part), `${part} not in: ${body.message}`);
  assert.equal(t.fake.requests.length, 0, "forwarded to Bedrock");
  // The refusal is on the audit trail: a failed row, no spend.
  await t.gw.gateway.flush();
  const rows = (await get(t.gw.url, "/spend/logs?summarize=false")).json;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].status, "failure");
  assert.equal(rows[0].http_status, 400);
  assert.equal(rows[0].error_type, "ValidationException");
  assert.equal(rows[0].model_id, "mystery-dep");
  assert.equal(rows[0].spend, 0);

  // The AWS SDK raises its typed exception (not retried).
  const client = bedrockClient(t.gw.url, g.key);
  await assert.rejects(
    client.send(new ConverseCommand({ modelId: "mystery", messages: [{ role: "user", content: [{ text: "hi" }] }] })),
    (e) => e instanceof ValidationException && /has no known price/.test(e.message),
  );
  client.destroy();
  assert.equal(t.fake.requests.length, 0);

  // A soft budget is a budget too; a priced deployment and a mock one (no AWS spend) serve the same key.
  const soft = await t.generate({ soft_budget: 1 });
  const softRes = await t.converse(soft.key, "mystery");
  assert.equal(softRes.status, 400);
  assert.match((await softRes.json()).message, /key soft_budget 1/);
  const priced = await t.converse(g.key, "claude");
  assert.equal(priced.status, 200, await priced.text());
  const mocked = await t.converse(g.key, "mocked");
  assert.equal(mocked.status, 200, await mocked.text());
  // CountTokens is free: never refused for want of a price.
  const counted = await fetch(`${t.gw.url}/bedrock/model/mystery/count-tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${g.key}`, "content-type": "application/json" },
    body: JSON.stringify({ input: { converse: { messages: [{ role: "user", content: [{ text: "hi" }] }] } } }),
  });
  assert.equal(counted.status, 200, await counted.text());
});

Deno.test("calls without a budget are served and flagged; so are budgeted ones with allow_unpriced_models", async () => {
  {
    await using t = await setupKeys({ models: MODELS });
    const free = await t.generate({ tpm_limit: 1000 });
    for (const key of [MASTER_KEY, free.key]) {
      const res = await t.converse(key, "mystery");
      assert.equal(res.status, 200, await res.text());
      assert.equal(res.headers.get("x-litellm-response-cost"), "0");
    }
    await t.gw.gateway.flush();
    const rows = (await get(t.gw.url, "/spend/logs?summarize=false")).json;
    assert.deepEqual(rows.map((r: { price_unknown: boolean }) => r.price_unknown), [true, true]);
  }
  {
    await using t = await setupKeys({ models: MODELS, extra: "  allow_unpriced_models: true\n" });
    const g = await t.generate({ max_budget: 10 });
    const res = await t.converse(g.key, "mystery");
    assert.equal(res.status, 200, await res.text());
    assert.equal(res.headers.get("x-litellm-response-cost"), "0");
    await t.gw.gateway.flush();
    const [row] = (await get(t.gw.url, "/spend/logs?summarize=false")).json;
    assert.equal(row.price_unknown, true);
    assert.deepEqual(row.unpriced_tokens, ["input", "output"]);
    // The start-up line says the calls are served, not refused.
    const startup = t.gw.logs.map((l) => JSON.parse(l)).find((l) => /no price known/.test(l.msg));
    assert.doesNotMatch(startup.msg, /refused/);
    assert.deepEqual(startup.deployments.map((d: { id: string }) => d.id), ["mystery-dep", "mocked-dep"]);
  }
});

Deno.test("a tier without prices is unpriced: a budgeted priority call is refused, a default one served", async () => {
  await using t = await setupKeys({ models: MODELS });
  const g = await t.generate({ max_budget: 10 });
  const ask = (tier: string) =>
    t.converse(
      g.key,
      "claude",
      JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi" }] }], serviceTier: { type: tier } }),
    );
  const refused = await ask("priority");
  assert.equal(refused.status, 400);
  const message = (await refused.json()).message;
  assert.match(message, /no known price for the priority tier/);
  assert.match(message, /input_cost_per_token_priority and output_cost_per_token_priority/);
  const latency = await t.converse(
    g.key,
    "claude",
    JSON.stringify({
      messages: [{ role: "user", content: [{ text: "hi" }] }],
      performanceConfig: { latency: "optimized" },
    }),
  );
  assert.equal(latency.status, 400);
  assert.match((await latency.json()).message, /latency_optimized tier/);
  assert.equal(t.fake.requests.length, 0);
  const served = await ask("default");
  assert.equal(served.status, 200, await served.text());
  assert.equal(t.fake.requests.length, 1);
});

Deno.test("the example config's demo model is priced, and serves a budgeted key", async () => {
  const yaml = await Deno.readTextFile("config.example.yaml");
  const config = loadConfig(yaml, () => undefined);
  const described = createPricing(config, { tables: priceTablesFor(config) }).describe();
  assert.ok(described.every((d) => d.priced), JSON.stringify(described.map((d) => [d.deploymentId, d.priced])));
  await using gw = await startGateway({ yaml });
  const made = await fetch(`${gw.url}/key/generate`, {
    method: "POST",
    headers: { authorization: "Bearer sk-1234", "content-type": "application/json" },
    body: JSON.stringify({ max_budget: 1 }),
  });
  const { key } = await made.json();
  const res = await callModel(gw.url, key, "demo", converseBody("Hello"));
  assert.equal(res.status, 200, await res.text());
  // Priced at the demo model id's price (not 0).
  assert.notEqual(res.headers.get("x-litellm-response-cost"), "0");
});
