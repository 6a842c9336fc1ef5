/**
 * Call cost in integer nano-USD, and LiteLLM's duration strings.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../server/config/load.ts";
import { addMonths, parseDuration, windowOf } from "../server/core/durations.ts";
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

Deno.test("durations: LiteLLM's syntax (months and its words included), and nothing else", () => {
  assert.deepEqual(parseDuration("30s"), { ms: 30_000 });
  assert.deepEqual(parseDuration("30m"), { ms: 1_800_000 });
  assert.deepEqual(parseDuration("1h"), { ms: 3_600_000 });
  assert.deepEqual(parseDuration("1d"), { ms: 86_400_000 });
  assert.deepEqual(parseDuration("30d"), { ms: 30 * 86_400_000 });
  assert.deepEqual(parseDuration("2w"), { ms: 14 * 86_400_000 });
  assert.deepEqual(parseDuration("1mo"), { months: 1 });
  assert.deepEqual(parseDuration("12mo"), { months: 12 });
  assert.deepEqual(parseDuration("hourly"), { ms: 3_600_000 });
  assert.deepEqual(parseDuration("daily"), { ms: 86_400_000 });
  assert.deepEqual(parseDuration("weekly"), { ms: 7 * 86_400_000 });
  assert.deepEqual(parseDuration("monthly"), { ms: 30 * 86_400_000 }, "LiteLLM reads monthly as 30d");
  const bad = ["", "0s", "1", "d", "1y", "1.5h", "-1d", " 1d", "1d ", "1D", "01d", "99999d", "0mo", "121mo", "1Mo"];
  for (const text of [...bad, "Daily", "yearly", "constructor", "toString"]) {
    assert.equal(parseDuration(text), undefined, text);
  }
});

Deno.test("calendar months: the same day a month later, clamped to the month's last day (UTC)", () => {
  const at = (s: string) => Date.parse(s);
  assert.equal(addMonths(at("2025-01-31T10:00:00Z"), 1), at("2025-02-28T10:00:00Z"));
  assert.equal(addMonths(at("2024-01-31T10:00:00Z"), 1), at("2024-02-29T10:00:00Z"));
  assert.equal(addMonths(at("2025-11-15T00:00:00Z"), 3), at("2026-02-15T00:00:00Z"));
  const anchor = at("2025-01-31T00:00:00Z");
  const month = { months: 1 };
  assert.deepEqual(windowOf(anchor, month, at("2025-01-31T00:00:00Z")), {
    start: anchor,
    resetAt: at("2025-02-28T00:00:00Z"),
  });
  assert.deepEqual(windowOf(anchor, month, at("2025-03-30T23:59:59Z")), {
    start: at("2025-02-28T00:00:00Z"),
    resetAt: at("2025-03-31T00:00:00Z"),
  });
  assert.deepEqual(windowOf(anchor, month, at("2025-04-30T00:00:00Z")), {
    start: at("2025-04-30T00:00:00Z"),
    resetAt: at("2025-05-31T00:00:00Z"),
  });
  // Before the anchor (a clock stepped back): the first window.
  assert.equal(windowOf(anchor, month, anchor - 1).start, anchor);
  // The proxy's budget: windows from the epoch are calendar months and UTC days.
  assert.equal(windowOf(0, month, at("2025-06-17T08:00:00Z")).start, at("2025-06-01T00:00:00Z"));
  assert.equal(windowOf(0, { ms: 86_400_000 }, at("2025-06-17T08:00:00Z")).start, at("2025-06-17T00:00:00Z"));
});

Deno.test("budget windows run back to back from the anchor", () => {
  const r = { budgetAnchor: 1_000, budgetDurationMs: 100 } as KeyRecord;
  assert.deepEqual(budgetWindow(r, 1_000), { start: 1_000, resetAt: 1_100 });
  assert.deepEqual(budgetWindow(r, 1_099), { start: 1_000, resetAt: 1_100 });
  assert.deepEqual(budgetWindow(r, 1_100), { start: 1_100, resetAt: 1_200 });
  assert.deepEqual(budgetWindow(r, 1_555), { start: 1_500, resetAt: 1_600 });
  assert.deepEqual(budgetWindow({ budgetAnchor: 7 } as KeyRecord, 99_999), { start: 7 });
});
