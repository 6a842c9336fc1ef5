/**
 * What a call holds: its estimate priced at the most expensive deployment that may serve it (its group's and its
 * fallbacks'), the output its request allows or `default_hold_output_tokens` capped at the model's
 * `max_output_tokens`, and nothing for calls that cannot cost anything.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../server/config/load.ts";
import { createPricing } from "../server/pricing/cost.ts";
import { createHoldPricing } from "../server/pricing/hold_price.ts";
import { parsePriceEntries, type PriceTable } from "../server/pricing/price_table.ts";

const deployment = (name: string, model: string, prices = "") =>
  `  - model_name: ${name}
    litellm_params:
      model: bedrock/${model}
      aws_region_name: us-west-2
      api_key: k
${prices}`;

const yaml = (extra = "") =>
  `model_list:
${deployment("cheap", "vendor.cheap", "      input_cost_per_token: 0.000001\n      output_cost_per_token: 0.000002")}
${deployment("cheap", "vendor.dear", "      input_cost_per_token: 0.000003\n      output_cost_per_token: 0.000015")}
${deployment("capped", "vendor.capped")}
${deployment("fallback", "vendor.cheap", "      input_cost_per_token: 0.000001\n      output_cost_per_token: 0.000002")}
router_settings:
  fallbacks: [{"fallback": ["capped"]}]
general_settings:
  master_key: sk-m
${extra}`;

/** A price table giving `vendor.capped` $10 / $50 per million tokens and a 1,000-token output cap. */
const table: PriceTable = {
  kind: "model_prices_file",
  path: "test",
  entries: parsePriceEntries({
    "vendor.capped": { input_cost_per_token: 0.00001, output_cost_per_token: 0.00005, max_output_tokens: 1000 },
  }, "test"),
};

function holdPricing(extra?: string) {
  const config = loadConfig(yaml(extra), () => undefined);
  return createHoldPricing(config, createPricing(config, { tables: [table] }));
}

Deno.test("priced at the group's most expensive deployment", () => {
  const hold = holdPricing()("cheap", { inputTokens: 1000, maxOutputTokens: 100, billable: true });
  assert.deepEqual(hold, { nanos: 1000n * 3000n + 100n * 15000n, tokens: 1100 });
});

Deno.test("no maxTokens: default_hold_output_tokens (4096 unless set), capped at the model's max_output_tokens", () => {
  const pricing = holdPricing();
  assert.equal(pricing("cheap", { inputTokens: 0, billable: true }).tokens, 4096);
  assert.equal(pricing("capped", { inputTokens: 0, billable: true }).tokens, 1000);
  // A request's own maxTokens is held as asked, above the cap too (Bedrock judges it).
  assert.equal(pricing("capped", { inputTokens: 0, maxOutputTokens: 2000, billable: true }).tokens, 2000);
  assert.equal(
    holdPricing("  default_hold_output_tokens: 256\n")("cheap", { inputTokens: 0, billable: true }).tokens,
    256,
  );
});

Deno.test("fallback groups count: a call may be served at their prices", () => {
  const hold = holdPricing()("fallback", { inputTokens: 10, maxOutputTokens: 10, billable: true });
  assert.equal(hold.nanos, 10n * 10_000n + 10n * 50_000n);
});

Deno.test("calls that cannot cost anything hold nothing", () => {
  assert.deepEqual(holdPricing()("cheap", { inputTokens: 500, maxOutputTokens: 0, billable: false }), {
    nanos: 0n,
    tokens: 0,
  });
});

Deno.test("a call at a dearer tier holds at that tier's prices", () => {
  const config = loadConfig(
    yaml().replace(
      "      output_cost_per_token: 0.000015\n",
      "      output_cost_per_token: 0.000015\n      output_cost_per_token_priority: 0.00003\n",
    ),
    () => undefined,
  );
  const pricing = createHoldPricing(config, createPricing(config, { tables: [table] }));
  const usage = { inputTokens: 0, maxOutputTokens: 100, billable: true };
  assert.equal(pricing("cheap", usage).nanos, 100n * 15_000n);
  assert.equal(pricing("cheap", { ...usage, tier: "priority" }).nanos, 100n * 30_000n);
  // A tier cheaper than standard (or unpriced) holds at the standard price.
  assert.equal(pricing("cheap", { ...usage, tier: "flex" }).nanos, 100n * 15_000n);
});

Deno.test("a request that marks a cache point holds its input at the dearest of the input and cache-write rates", () => {
  const config = loadConfig(
    yaml().replace(
      "      output_cost_per_token: 0.000015\n",
      "      output_cost_per_token: 0.000015\n      cache_creation_input_token_cost: 0.00000375\n" +
        "      cache_creation_input_token_cost_above_1hr: 0.000006\n",
    ),
    () => undefined,
  );
  const pricing = createHoldPricing(config, createPricing(config, { tables: [table] }));
  const estimate = { inputTokens: 1000, maxOutputTokens: 100, billable: true };
  assert.equal(pricing("cheap", estimate).nanos, 1000n * 3000n + 100n * 15_000n);
  // The 1-hour write rate ($6/M) is the dearest: every input token may be written to a 1-hour cache.
  assert.equal(pricing("cheap", { ...estimate, cacheWrites: true }).nanos, 1000n * 6000n + 100n * 15_000n);
  // Without cache-write prices, the input rate.
  assert.equal(holdPricing()("cheap", { ...estimate, cacheWrites: true }).nanos, 1000n * 3000n + 100n * 15_000n);
});

Deno.test("ApplyGuardrail holds the most its policy units can cost, at guardrail_prices, and no tokens", () => {
  const units = { contentPolicyUnits: 2, topicPolicyUnits: 2, contentPolicyImageUnits: 1 };
  const estimate = { inputTokens: 0, maxOutputTokens: 0, billable: true, guardrailUnits: units };
  // $0.15 + $0.15 per 1,000 text units, $0.75 per 1,000 images: 2 × 150,000 + 2 × 150,000 + 750,000 nanos.
  assert.deepEqual(holdPricing()("guardrail gr1", estimate), { nanos: 1_350_000n, tokens: 0 });
  const cheaper = holdPricing("  guardrail_prices: {contentPolicyUnits: 0.05}\n")("guardrail gr1", estimate);
  assert.equal(cheaper.nanos, 100_000n + 300_000n + 750_000n);
});
