/**
 * Guardrail usage Bedrock reports is billed: ApplyGuardrail's `usage` policy units, and the `invocationMetrics.usage`
 * of every assessment in a Converse / ConverseStream guardrail trace, at the built-in prices per 1,000 units
 * (overridable with `general_settings.guardrail_prices`), on top of the tokens.
 */
import assert from "node:assert/strict";
import { traceGuardrailUnits } from "../server/core/guardrail_usage.ts";
import { DEFAULT_GUARDRAIL_PRICES, guardrailCostNanos, guardrailPrices } from "../server/pricing/guardrail_prices.ts";
import { startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, startGateway } from "../testing/harness.ts";
import { adminCall, CALL_COST_NANOS, ENV, kvSpendNanos, PRICE_PARAMS, setupKeys } from "./keys_helpers.ts";

const usage = (units: Record<string, number>) => ({
  topicPolicyUnits: 0,
  contentPolicyUnits: 0,
  wordPolicyUnits: 0,
  sensitiveInformationPolicyUnits: 0,
  sensitiveInformationPolicyFreeUnits: 0,
  contextualGroundingPolicyUnits: 0,
  ...units,
});

/** A Converse trace as Bedrock sends it with `trace: enabled`: one input assessment, one output assessment. */
const trace = {
  guardrail: {
    inputAssessment: {
      gr1abc: {
        contentPolicy: { filters: [] },
        invocationMetrics: {
          guardrailProcessingLatency: 80,
          usage: usage({ contentPolicyUnits: 2, topicPolicyUnits: 2 }),
        },
      },
    },
    outputAssessments: {
      gr1abc: [{
        invocationMetrics: {
          guardrailProcessingLatency: 60,
          usage: usage({ contentPolicyUnits: 1, sensitiveInformationPolicyUnits: 1 }),
        },
      }],
    },
  },
};

Deno.test("guardrail prices: built-in per 1,000 units, overridable per policy type; trace units summed", () => {
  const units = traceGuardrailUnits(trace.guardrail);
  assert.deepEqual(units, { contentPolicyUnits: 3, topicPolicyUnits: 2, sensitiveInformationPolicyUnits: 1 });
  // 3 × $0.15/1000 + 2 × $0.15/1000 + 1 × $0.10/1000 = $0.00085
  assert.equal(guardrailCostNanos(units, guardrailPrices()), 850_000n);
  assert.equal(guardrailCostNanos(units, guardrailPrices({ contentPolicyUnits: 1 })), 3_000_000n + 300_000n + 100_000n);
  assert.equal(
    guardrailCostNanos({ wordPolicyUnits: 100, sensitiveInformationPolicyFreeUnits: 7 }, guardrailPrices()),
    0n,
  );
  assert.equal(guardrailCostNanos({ contentPolicyImageUnits: 2 }, guardrailPrices()), 1_500_000n, "$0.00075 per image");
  assert.equal(DEFAULT_GUARDRAIL_PRICES.contextualGroundingPolicyUnits, 0.1);
  assert.equal(traceGuardrailUnits(undefined), undefined);
  assert.equal(traceGuardrailUnits({ inputAssessment: { g: { topicPolicy: {} } } }), undefined);
});

const GRANT = { allowed_routes: ["/bedrock/model/*", "/bedrock/guardrail/*"] };

const setup = (general = "") => setupKeys({ extra: general });

Deno.test("a Converse answer's guardrail trace is billed with its tokens (and in x-litellm-response-cost)", async () => {
  await using t = await setup();
  const g = await t.generate(GRANT);
  t.fake.enqueue({
    kind: "raw",
    status: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      output: { message: { role: "assistant", content: [{ text: "ok" }] } },
      stopReason: "end_turn",
      usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 },
      metrics: { latencyMs: 10 },
      trace,
    }),
  });
  const body = JSON.stringify({
    messages: [{ role: "user", content: [{ text: "hi" }] }],
    guardrailConfig: { guardrailIdentifier: "gr1abc", guardrailVersion: "1", trace: "enabled" },
  });
  const res = await t.converse(g.key, "claude", body);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(res.headers.get("x-litellm-response-cost"), "0.00087"); // $0.00002 tokens + $0.00085 guardrail
  const [call] = t.gw.calls;
  assert.deepEqual(call.guardrailUnits, {
    contentPolicyUnits: 3,
    topicPolicyUnits: 2,
    sensitiveInformationPolicyUnits: 1,
  });
  await t.gw.gateway.flush();
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), CALL_COST_NANOS + 850_000n);
});

Deno.test("a ConverseStream metadata event's guardrail trace is billed", async () => {
  await using t = await setup("  guardrail_prices: { contentPolicyUnits: 1, topicPolicyUnits: 0 }\n");
  const g = await t.generate(GRANT);
  t.fake.enqueue({
    kind: "stream",
    events: [
      ["messageStart", { role: "assistant" }],
      ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: "ok" } }],
      ["contentBlockStop", { contentBlockIndex: 0 }],
      ["messageStop", { stopReason: "end_turn" }],
      ["metadata", { usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 }, metrics: { latencyMs: 5 }, trace }],
    ],
  });
  const res = await fetch(`${t.gw.url}/bedrock/model/claude/converse-stream`, {
    method: "POST",
    headers: { authorization: `Bearer ${g.key}`, "content-type": "application/json" },
    body: JSON.stringify({
      messages: [{ role: "user", content: [{ text: "hi" }] }],
      guardrailConfig: { guardrailIdentifier: "gr1abc", guardrailVersion: "1", trace: "enabled" },
    }),
  });
  await res.arrayBuffer();
  await t.gw.waitForCalls(1);
  await t.gw.gateway.flush();
  // Overridden: content $1 per 1,000 (3 units), topics free, PII at the built-in $0.10.
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), CALL_COST_NANOS + 3_000_000n + 100_000n);
});

Deno.test("ApplyGuardrail's usage policy units are billed to the key", async () => {
  const fake = await startFakeBedrock();
  const passthrough = `  bedrock_passthrough:
    aws_region_name: us-west-2
    aws_bedrock_runtime_endpoint: ${fake.url}
    aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
    aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
`;
  const gw = await startGateway({
    yaml: fakeConfig(fake.url, { models: [{ name: "claude", params: PRICE_PARAMS }], extra: passthrough }),
    env: ENV,
  });
  const g = (await adminCall(gw.url, "POST", "/key/generate", GRANT)).json;
  const res = await fetch(`${gw.url}/bedrock/guardrail/gr1abc/version/1/apply`, {
    method: "POST",
    headers: { authorization: `Bearer ${g.key}`, "content-type": "application/json" },
    body: JSON.stringify({ source: "INPUT", content: [{ text: { text: "hello" } }] }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await gw.gateway.flush();
  // The fake reports 1 topic, 1 content, 1 word, 1 PII unit: $0.15 + $0.15 + 0 + $0.10 per 1,000.
  assert.equal(await kvSpendNanos(gw.kv, g.token), 400_000n);
  await gw.close();
  await fake.close();
});

Deno.test("an InvokeModel answer's amazon-bedrock-trace guardrail usage is billed with its tokens", async () => {
  await using t = await setup();
  const g = await t.generate(GRANT);
  t.fake.enqueue({
    kind: "raw",
    status: 200,
    headers: {
      "content-type": "application/json",
      "x-amzn-bedrock-input-token-count": "10",
      "x-amzn-bedrock-output-token-count": "5",
    },
    body: JSON.stringify({
      type: "message",
      role: "assistant",
      content: [{ type: "text", text: "ok" }],
      "amazon-bedrock-guardrailAction": "NONE",
      "amazon-bedrock-trace": { guardrail: { input: trace.guardrail.inputAssessment } },
    }),
  });
  const res = await fetch(`${t.gw.url}/bedrock/model/claude/invoke`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${g.key}`,
      "content-type": "application/json",
      "x-amzn-bedrock-guardrailidentifier": "gr1abc",
      "x-amzn-bedrock-guardrailversion": "1",
      "x-amzn-bedrock-trace": "ENABLED",
    },
    body: JSON.stringify({
      anthropic_version: "bedrock-2023-05-31",
      max_tokens: 5,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(t.gw.calls[0].guardrailUnits, { contentPolicyUnits: 2, topicPolicyUnits: 2 });
  await t.gw.gateway.flush();
  // Tokens $0.00002, guardrail 2 × $0.15/1000 + 2 × $0.15/1000.
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), CALL_COST_NANOS + 600_000n);
});
