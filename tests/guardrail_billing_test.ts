/**
 * Guardrail usage Bedrock reports is billed: ApplyGuardrail's `usage` policy units, and the `invocationMetrics.usage`
 * of every assessment in a Converse / ConverseStream guardrail trace, at the built-in prices per 1,000 units
 * (overridable with `general_settings.guardrail_prices`), on top of the tokens. ApplyGuardrail is a billable call:
 * it holds the most its units can cost against budgets, and is refused with the others while spend cannot be written.
 */
import assert from "node:assert/strict";
import { traceGuardrailUnits } from "../server/core/guardrail_usage.ts";
import { DEFAULT_GUARDRAIL_PRICES, guardrailCostNanos, guardrailPrices } from "../server/pricing/guardrail_prices.ts";
import { MAX_UNWRITTEN_CALLS } from "../server/keys/admission.ts";
import { Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { failingKv, nextTick } from "./failing_kv.ts";
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

/** A gateway whose pass-through account is a fake Bedrock (which serves ApplyGuardrail), on `kv` when given. */
async function gatewayWithPassthrough(kv?: Deno.Kv) {
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
    kv,
    ledgerSleep: nextTick,
    closeWaitMs: 50,
  });
  return {
    fake,
    gw,
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await fake.close();
    },
  };
}

function applyGuardrail(url: string, key: string): Promise<Response> {
  return fetch(`${url}/bedrock/guardrail/gr1abc/version/1/apply`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ source: "INPUT", content: [{ text: { text: "hello" } }] }),
  });
}

/** The fake reports 1 topic, 1 content, 1 word, 1 PII unit: $0.15 + $0.15 + 0 + $0.10 per 1,000. */
const APPLY_USD = 0.0004;

Deno.test("ApplyGuardrail's usage policy units are billed to the key", async () => {
  await using t = await gatewayWithPassthrough();
  const g = (await adminCall(t.gw.url, "POST", "/key/generate", GRANT)).json;
  const res = await applyGuardrail(t.gw.url, g.key);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await t.gw.gateway.flush();
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), BigInt(APPLY_USD * 1e9));
});

Deno.test("ApplyGuardrail calls hold their policy units: 20 at once on a budget for 3 pass at most 4", async () => {
  await using t = await gatewayWithPassthrough();
  const answer = new Latch();
  t.fake.setDefault({ kind: "converse", waitFor: answer });
  const g = (await adminCall(t.gw.url, "POST", "/key/generate", { ...GRANT, max_budget: 3 * APPLY_USD })).json;
  const calls = 20;
  let decided = 0;
  const allDecided = new Latch();
  const tick = () => ++decided === calls && allDecided.release();
  t.fake.handler = () => {
    tick();
    return undefined;
  };
  const statuses = Array.from({ length: calls }, async () => {
    const res = await applyGuardrail(t.gw.url, g.key);
    await res.body?.cancel();
    if (res.status !== 200) tick();
    return res.status;
  });
  await allDecided.wait();
  answer.release();
  const all = await Promise.all(statuses);
  const passed = all.filter((s) => s === 200).length;
  // Each holds 1 text unit under every text policy ($0.67 per 1,000): 2 fit in the budget, the second may cross it.
  assert.ok(passed >= 1 && passed <= 4, `${passed} of ${calls} calls passed: ${all}`);
  assert.ok(all.every((s) => s === 200 || s === 429), `${all}`);
});

Deno.test("ApplyGuardrail is billable: refused past MAX_UNWRITTEN_CALLS while spend cannot be written", async () => {
  await using inner = await Deno.openKv(":memory:");
  const disk = failingKv(inner);
  await using t = await gatewayWithPassthrough(disk.kv);
  disk.state.failing = true;
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) {
    const res = await applyGuardrail(t.gw.url, MASTER_KEY);
    await res.body?.cancel();
    statuses.push(res.status);
    if (i === 0) await disk.failedAtLeast(1); // the ledger has found out
  }
  const answered = statuses.filter((s) => s === 200).length;
  assert.ok(
    answered >= 1 && answered <= MAX_UNWRITTEN_CALLS,
    `${answered} answered while KV refused writes: ${statuses}`,
  );
  assert.deepEqual(statuses.slice(answered), Array(10 - answered).fill(503));
  assert.equal(t.gw.calls.filter((c) => c.guardrailUnits).length, answered);
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
