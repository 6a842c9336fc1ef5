/**
 * Service tiers priced (issue 14, point 5): the tier is read from the Converse body (`serviceTier`,
 * `performanceConfig`) or the invoke headers, replaced by what Bedrock's answer reports (Converse body, ConverseStream
 * `metadata`, invoke response headers), priced at that tier's prices (from a price file or the deployment, LiteLLM's
 * `_priority` / `_flex` field names and this gateway's `_reserved` / `_latency_optimized`), flagged when the tier has
 * none, and shown in the spend-log row and the request-log line. A tier asked for that the gateway cannot read (a
 * repeated header, a value that is not an enum value) is a 400, never forwarded: it would be priced at another tier
 * than the one Bedrock is asked for.
 */
import assert from "node:assert/strict";
import { encodeEvent } from "../wire/eventstream.ts";
import { tierOfConverse, tierOfHeaders } from "../server/bedrock/service_tier.ts";
import type { Usage } from "../server/core/usage.ts";
import { loadConfig } from "../server/config/load.ts";
import { pricingTier } from "../server/config/price_fields.ts";
import { createLogger } from "../server/core/log.ts";
import type { CallRecord } from "../server/core/call_record.ts";
import { createPricing } from "../server/pricing/cost.ts";
import { priceTablesFor } from "../server/pricing/price_table.ts";
import { MASTER_KEY } from "../testing/harness.ts";
import { setupKeys } from "./keys_helpers.ts";
import { get, nanos, pricedRecord } from "./spend_helpers.ts";

const record = (deploymentId: string, tier: Partial<CallRecord>, u: Partial<Usage>) =>
  pricedRecord(deploymentId, u, tier);

Deno.test("the pricing tier: a non-default service tier, else latency-optimized, else standard", () => {
  assert.equal(pricingTier(undefined, undefined), "standard");
  assert.equal(pricingTier("default", "standard"), "standard");
  assert.equal(pricingTier("priority", undefined), "priority");
  assert.equal(pricingTier("flex", "optimized"), "flex");
  assert.equal(pricingTier("reserved", undefined), "reserved");
  assert.equal(pricingTier(undefined, "optimized"), "latency_optimized");
  assert.equal(pricingTier("default", "optimized"), "latency_optimized");
  // A tier this gateway does not know prices as unknown, never as standard.
  assert.equal(pricingTier("ultra", undefined), "ultra");
  // Read from bodies and headers; anything that is not an enum-like value is dropped (it would land in spend logs).
  assert.deepEqual(tierOfConverse({ serviceTier: { type: "flex" }, performanceConfig: { latency: "optimized" } }), {
    serviceTier: "flex",
    latency: "optimized",
  });
  assert.deepEqual(tierOfConverse({ serviceTier: { type: "x".repeat(33) }, performanceConfig: { latency: 1 } }), {});
  assert.deepEqual(
    tierOfHeaders(
      new Headers({ "x-amzn-bedrock-service-tier": "priority", "x-amzn-bedrock-performanceconfig-latency": "a b" }),
    ),
    { serviceTier: "priority" },
  );
});

Deno.test("tier prices from a price file and the deployment; a tier without prices is flagged, not guessed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/prices.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        "bedrock/anthropic.claude-tiered-v1:0": {
          input_cost_per_token: 3e-6,
          output_cost_per_token: 15e-6,
          input_cost_per_token_priority: 5e-6,
          output_cost_per_token_priority: 25e-6,
          input_cost_per_token_above_200k_tokens_priority: 10e-6,
          input_cost_per_token_flex: 1.5e-6,
          output_cost_per_token_flex: 7.5e-6,
          input_cost_per_token_latency_optimized: 3.75e-6,
          output_cost_per_token_latency_optimized: 18.75e-6,
        },
      }),
    );
    const lines: string[] = [];
    const config = loadConfig(
      `model_list:
  - model_name: tiered
    litellm_params: { model: bedrock/us.anthropic.claude-tiered-v1:0, aws_region_name: us-east-1 }
    model_info: { id: tiered }
  - model_name: own
    litellm_params:
      model: bedrock/us.anthropic.claude-tiered-v1:0
      aws_region_name: us-east-1
      output_cost_per_token_flex: 0.000005
      input_cost_per_token_reserved: 0
      output_cost_per_token_reserved: 0
    model_info: { id: own }
  - model_name: haiku
    litellm_params: { model: bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0, aws_region_name: us-east-1 }
    model_info: { id: haiku }
general_settings: { model_prices_file: "${file}" }
`,
      () => "x",
    );
    const pricing = createPricing(config, {
      tables: priceTablesFor(config),
      log: createLogger({ write: (l) => lines.push(l) }),
    });
    const cost = (
      id: string,
      tier: Partial<CallRecord>,
      u: Partial<Usage> = { inputTokens: 1000, outputTokens: 500 },
    ) => pricing.quote(record(id, tier, u));
    assert.deepEqual(cost("tiered", {}), { nanos: 1000n * 3000n + 500n * 15000n, unpriced: [] });
    assert.deepEqual(cost("tiered", { serviceTier: "default" }), cost("tiered", {}));
    assert.deepEqual(cost("tiered", { serviceTier: "priority" }), {
      nanos: 1000n * 5000n + 500n * 25000n,
      unpriced: [],
    });
    assert.deepEqual(cost("tiered", { serviceTier: "flex" }), { nanos: 1000n * 1500n + 500n * 7500n, unpriced: [] });
    assert.deepEqual(cost("tiered", { performanceLatency: "optimized" }), {
      nanos: 1000n * 3750n + 500n * 18750n,
      unpriced: [],
    });
    // The tier's own long-context rate; the tier's output has none, so the tier's base output rate applies.
    assert.deepEqual(cost("tiered", { serviceTier: "priority" }, { inputTokens: 200_001, outputTokens: 10 }), {
      nanos: 200_001n * 10_000n + 10n * 25_000n,
      unpriced: [],
    });
    // The deployment's own flex output price over the file's; reserved capacity priced at 0 on purpose.
    assert.deepEqual(cost("own", { serviceTier: "flex" }), { nanos: 1000n * 1500n + 500n * 5000n, unpriced: [] });
    assert.deepEqual(cost("own", { serviceTier: "reserved" }), { nanos: 0n, unpriced: [] });
    assert.deepEqual(pricing.describe()[1].fields.output_cost_per_token_flex, { value: 0.000005, from: "deployment" });
    assert.deepEqual(pricing.describe()[1].fields.input_cost_per_token_flex, {
      value: 1.5e-6,
      from: "model_prices_file",
    });
    // A tier with no prices (the map lists none for Bedrock models): 0 and flagged, warned once per tier.
    assert.deepEqual(cost("haiku", { serviceTier: "priority" }), { nanos: 0n, unpriced: ["input", "output"] });
    assert.deepEqual(cost("tiered", { serviceTier: "reserved" }), { nanos: 0n, unpriced: ["input", "output"] });
    cost("haiku", { serviceTier: "priority" });
    const warned = lines.map((l) => JSON.parse(l)).filter((l) => l.tier === "priority");
    assert.equal(warned.length, 1);
    assert.match(warned[0].msg, /deployment haiku at the priority tier: counted at 0/);
    assert.deepEqual(cost("haiku", { serviceTier: "ultra" }).unpriced, ["input", "output"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ------------------------------------------------------------------------------------------------ end to end

const TIER_PRICES = "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
  "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY\n" +
  "      input_cost_per_token: 0.000003\n      output_cost_per_token: 0.000015\n" +
  "      input_cost_per_token_priority: 0.000005\n      output_cost_per_token_priority: 0.000025\n" +
  "      input_cost_per_token_flex: 0.0000015\n      output_cost_per_token_flex: 0.0000075\n" +
  "    model_info:\n      id: tiers";
/** 10 in / 5 out (the fake's default usage) at each tier's prices. */
const STANDARD = 10n * 3000n + 5n * 15000n;
const PRIORITY = 10n * 5000n + 5n * 25000n;
const FLEX = 10n * 1500n + 5n * 7500n;

const converseWith = (extra: Record<string, unknown>) =>
  JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi" }] }], ...extra });

/** A Converse answer as Bedrock sends it, with what it says about the tier. */
const converseAnswer = (extra: Record<string, unknown>) =>
  JSON.stringify({
    output: { message: { role: "assistant", content: [{ text: "ok" }] } },
    stopReason: "end_turn",
    usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 },
    metrics: { latencyMs: 3 },
    ...extra,
  });

Deno.test("Converse: the tier asked for, the one Bedrock reports winning, priced and shown in the row and log", async () => {
  await using t = await setupKeys({ models: [{ name: "claude", params: TIER_PRICES }] });
  const ids: string[] = [];
  const post = async (body: string, stream = false) => {
    const res = await fetch(`${t.gw.url}/bedrock/model/claude/${stream ? "converse-stream" : "converse"}`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body,
    });
    ids.push(res.headers.get("x-litellm-call-id")!);
    return res;
  };
  // 1. Asked for flex; the fake's answer says nothing about it: priced as asked.
  let res = await post(converseWith({ serviceTier: { type: "flex" } }));
  assert.equal(res.status, 200, await res.text());
  assert.equal(res.headers.get("x-litellm-response-cost"), String(Number(FLEX) / 1e9));
  // Forwarded to Bedrock as sent.
  assert.deepEqual(JSON.parse(new TextDecoder().decode(t.fake.requests[0].body)).serviceTier, { type: "flex" });
  // 2. Asked for priority, Bedrock reports it served the default tier: priced at the standard rate.
  t.fake.enqueue({
    kind: "raw",
    status: 200,
    headers: { "content-type": "application/json" },
    body: converseAnswer({ serviceTier: { type: "default" } }),
  });
  res = await post(converseWith({ serviceTier: { type: "priority" } }));
  assert.equal(res.status, 200, await res.text());
  assert.equal(res.headers.get("x-litellm-response-cost"), String(Number(STANDARD) / 1e9));
  // 3. Asked for nothing, Bedrock reports priority and latency-optimized: priced at priority.
  t.fake.enqueue({
    kind: "raw",
    status: 200,
    headers: { "content-type": "application/json" },
    body: converseAnswer({ serviceTier: { type: "priority" }, performanceConfig: { latency: "optimized" } }),
  });
  res = await post(converseWith({}));
  assert.equal(res.headers.get("x-litellm-response-cost"), String(Number(PRIORITY) / 1e9));
  await res.arrayBuffer();
  // 4. ConverseStream: the metadata event says which tier served.
  t.fake.enqueue({
    kind: "stream",
    events: [
      ["messageStart", { role: "assistant" }],
      ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: "ok" } }],
      ["contentBlockStop", { contentBlockIndex: 0 }],
      ["messageStop", { stopReason: "end_turn" }],
      ["metadata", {
        usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 },
        metrics: { latencyMs: 3 },
        serviceTier: { type: "flex" },
      }],
    ],
  });
  res = await post(converseWith({ serviceTier: { type: "priority" } }), true);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  await t.gw.waitForCalls(4);
  await t.gw.gateway.flush();
  const rows: Record<string, unknown>[] = (await get(t.gw.url, "/spend/logs?summarize=false")).json;
  const byId = new Map(rows.map((r) => [r.request_id, r]));
  assert.deepEqual(
    ids.map((id) => byId.get(id)!).map((r) => [r.service_tier, r.performance_latency, nanos(r.spend as number)]),
    [["flex", null, FLEX], ["default", null, STANDARD], ["priority", "optimized", PRIORITY], ["flex", null, FLEX]],
  );
  const logLines = new Map(
    t.gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "call").map((l) => [l.request_id, l]),
  );
  assert.deepEqual(ids.map((id) => logLines.get(id).service_tier), ["flex", "default", "priority", "flex"]);
  assert.equal(logLines.get(ids[2]).performance_latency, "optimized");
});

Deno.test("InvokeModel streams: the tier headers asked for, and Bedrock's echo of them, price the call", async () => {
  await using t = await setupKeys({ models: [{ name: "claude", params: TIER_PRICES }] });
  const chunk = (event: unknown) => encodeEvent("chunk", { bytes: btoa(JSON.stringify(event)) });
  const frames = [
    chunk({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "ok" } }),
    chunk({
      type: "message_stop",
      "amazon-bedrock-invocationMetrics": { inputTokenCount: 10, outputTokenCount: 5 },
    }),
  ];
  const body = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((at, f) => (body.set(f, at), at + f.length), 0);
  t.fake.enqueue({
    kind: "raw",
    status: 200,
    headers: {
      "content-type": "application/vnd.amazon.eventstream",
      "x-amzn-bedrock-content-type": "application/json",
      "x-amzn-bedrock-service-tier": "flex",
    },
    body,
  });
  const res = await fetch(`${t.gw.url}/bedrock/model/claude/invoke-with-response-stream`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${MASTER_KEY}`,
      "content-type": "application/json",
      "x-amzn-bedrock-service-tier": "priority",
    },
    body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 8, messages: [] }),
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(t.fake.requests[0].headers["x-amzn-bedrock-service-tier"], "priority");
  assert.equal(call.serviceTier, "flex");
  await t.gw.gateway.flush();
  const [row] = (await get(t.gw.url, "/spend/logs?summarize=false")).json;
  assert.equal(row.service_tier, "flex");
  assert.equal(nanos(row.spend), FLEX);
});

Deno.test("a tier asked for that the gateway cannot read (repeated header, not an enum value) is a 400, never forwarded", async () => {
  await using t = await setupKeys({ models: [{ name: "claude", params: TIER_PRICES }] });
  const invokeBody = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 8, messages: [] });
  const headerCases: Array<[string, Array<[string, string]>]> = [
    ["repeated tier header", [["x-amzn-bedrock-service-tier", "priority"], ["x-amzn-bedrock-service-tier", "default"]]],
    ["a tier past 32 characters", [["x-amzn-bedrock-service-tier", "p".repeat(33)]]],
    ["repeated latency header", [["x-amzn-bedrock-performanceconfig-latency", "optimized"], [
      "x-amzn-bedrock-performanceconfig-latency",
      "standard",
    ]]],
  ];
  for (const [what, pairs] of headerCases) {
    const headers = new Headers([
      ["authorization", `Bearer ${MASTER_KEY}`],
      ["content-type", "application/json"],
      ...pairs,
    ]);
    const res = await fetch(`${t.gw.url}/bedrock/model/claude/invoke`, { method: "POST", headers, body: invokeBody });
    const json = await res.json();
    assert.equal(res.status, 400, what);
    assert.match(json.message, /x-amzn-bedrock-(service-tier|performanceconfig-latency) must be one value/, what);
  }
  const m = [{ role: "user", content: [{ text: "hi" }] }];
  const bodyCases: Array<[Record<string, unknown>, RegExp]> = [
    [{ serviceTier: { type: "priority, default" } }, /serviceTier\.type must be one value/],
    [{ performanceConfig: { latency: "optimized".repeat(4) } }, /performanceConfig\.latency must be one value/],
  ];
  for (const [extra, message] of bodyCases) {
    const res = await fetch(`${t.gw.url}/bedrock/model/claude/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: m, ...extra }),
    });
    const json = await res.json();
    assert.equal(res.status, 400, JSON.stringify(extra));
    assert.match(json.message, message);
  }
  assert.equal(t.fake.requests.length, 0);
});
