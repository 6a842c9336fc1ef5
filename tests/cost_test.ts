/**
 * Call cost in integer nano-USD, and LiteLLM's duration strings.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../server/config/load.ts";
import { parseDuration } from "../server/keys/durations.ts";
import { budgetWindow, type KeyRecord } from "../server/keys/record.ts";
import type { CallRecord } from "../server/core/call_record.ts";
import { costNanos, createPricing } from "../server/pricing/cost.ts";
import { nanosToUsd, usdToNanos } from "../server/core/money.ts";
import { usageOf } from "./spend_helpers.ts";

const usage = usageOf;

Deno.test("cost: usage × per-token prices, in whole nano-USD", () => {
  const sonnet = { input: 0.000003, output: 0.000015, cacheRead: 0.0000003, cacheWrite: 0.00000375 };
  assert.equal(costNanos(sonnet, usage({ inputTokens: 1000, outputTokens: 500 })), 10_500_000n);
  assert.equal(
    costNanos(
      sonnet,
      usage({ inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 1000, cacheWriteInputTokens: 200 }),
    ),
    1_650_000n,
  );
  // Sub-nano remainders round once per call; unknown prices count as zero; never negative.
  assert.equal(costNanos({ input: 0.00000000025 }, usage({ inputTokens: 3 })), 1n);
  assert.equal(costNanos({}, usage({ inputTokens: 1_000_000 })), 0n);
  assert.equal(costNanos({ input: -1 }, usage({ inputTokens: 10 })), 0n);
  // Big numbers stay exact: a million calls' worth of tokens.
  assert.equal(costNanos({ output: 0.000075 }, usage({ outputTokens: 4_000_000_000 })), 300_000_000_000_000n);
});

Deno.test("cost: USD ↔ nano-USD and the message format LiteLLM uses", () => {
  assert.equal(usdToNanos(0.0001), 100_000n);
  assert.equal(nanosToUsd(100_000n), 0.0001);
  assert.equal(String(nanosToUsd(5n * 20_000n)), "0.0001");
  assert.equal(usdToNanos(0.1 + 0.2), 300_000_000n);
});

Deno.test("pricing: deployment prices from litellm_params or model_info; failed calls cost nothing, disconnected ones pay for the usage Bedrock reported", () => {
  const config = loadConfig(
    `model_list:
  - model_name: a
    litellm_params: { model: bedrock/x, aws_region_name: us-west-2, input_cost_per_token: 0.000001 }
    model_info: { id: dep-a, input_cost_per_token: 0.5, output_cost_per_token: 0.000002 }
  - model_name: b
    litellm_params: { model: bedrock/y, aws_region_name: us-west-2 }
    model_info: { id: dep-b }
`,
    () => "x",
  );
  const pricing = createPricing(config);
  assert.deepEqual(pricing.pricesFor("dep-a"), { input: 0.000001, output: 0.000002 });
  const record = (status: CallRecord["status"], deploymentId: string): CallRecord => ({
    requestId: "r",
    callType: "converse",
    modelName: "a",
    caller: {},
    startTime: 0,
    endTime: 0,
    status,
    httpStatus: 200,
    retries: 0,
    deploymentId,
    usage: usage({ inputTokens: 10, outputTokens: 5, totalTokens: 15 }),
  });
  assert.equal(pricing.quote(record("success", "dep-a")).nanos, 20_000n);
  assert.equal(pricing.quote(record("failure", "dep-a")).nanos, 0n);
  // A stream the gateway cut mid-generation (stall, shutdown, broken upstream) carries an estimate: billed.
  assert.equal(pricing.quote({ ...record("failure", "dep-a"), usageEstimated: true }).nanos, 20_000n);
  assert.equal(pricing.quote(record("client_disconnected", "dep-a")).nanos, 20_000n);
  assert.equal(pricing.quote({ ...record("client_disconnected", "dep-a"), usage: undefined }).nanos, 0n);
  assert.equal(pricing.quote(record("success", "dep-b")).nanos, 0n);
  assert.equal(pricing.quote(record("success", "unknown")).nanos, 0n);
});

Deno.test("durations: LiteLLM's syntax, and nothing else", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("30m"), 1_800_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("1d"), 86_400_000);
  assert.equal(parseDuration("30d"), 30 * 86_400_000);
  assert.equal(parseDuration("2w"), 14 * 86_400_000);
  for (const bad of ["", "0s", "1", "d", "1y", "1.5h", "-1d", " 1d", "1d ", "1D", "01d", "99999d"]) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
});

Deno.test("budget windows run back to back from the anchor", () => {
  const r = { budgetAnchor: 1_000, budgetDurationMs: 100 } as KeyRecord;
  assert.deepEqual(budgetWindow(r, 1_000), { start: 1_000, resetAt: 1_100 });
  assert.deepEqual(budgetWindow(r, 1_099), { start: 1_000, resetAt: 1_100 });
  assert.deepEqual(budgetWindow(r, 1_100), { start: 1_100, resetAt: 1_200 });
  assert.deepEqual(budgetWindow(r, 1_555), { start: 1_500, resetAt: 1_600 });
  assert.deepEqual(budgetWindow({ budgetAnchor: 7 } as KeyRecord, 99_999), { start: 7 });
});
