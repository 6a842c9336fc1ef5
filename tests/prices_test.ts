/**
 * Prices: the built-in table generated from LiteLLM's map (a sample of every Bedrock family, the four
 * models), every lookup form (cross-region and global profiles, ARNs, regional prices, `base_model`), the user price
 * file, per-deployment overrides, each price kind (1-hour cache writes included), the long-context rates, unknown
 * prices (cost 0, flagged, listed once at start-up), and where each deployment's prices came from.
 */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../server/config/load.ts";
import type { ModelPrices } from "../server/config/price_fields.ts";
import { createLogger } from "../server/core/log.ts";
import { costNanos, createPricing } from "../server/pricing/cost.ts";
import { formatUsd } from "../server/core/money.ts";
import {
  builtInPrices,
  lookupPrices,
  parsePriceEntries,
  priceLookupIds,
  priceTablesFor,
  readPriceFile,
} from "../server/pricing/price_table.ts";
import { encodeEvent } from "../wire/eventstream.ts";
import { MASTER_KEY } from "../testing/harness.ts";
import { setupKeys } from "./keys_helpers.ts";
import { get, nanos, pricedRecord, usageOf } from "./spend_helpers.ts";

const usage = usageOf;

const builtIn = builtInPrices();
const priceOf = (modelId: string, region?: string, baseModel?: string) =>
  lookupPrices({ modelId, region, baseModel }, [builtIn])?.prices;
/** The key a model id is found under in the built-in table. */
const keyOf = (modelId: string, region?: string, baseModel?: string) =>
  lookupPrices({ modelId, region, baseModel }, [builtIn])?.key;

/** A config whose deployments use these model ids (and optional extra litellm_params / model_info lines). */
function config(models: Array<{ id: string; model: string; params?: string; info?: string }>, general = "") {
  const list = models.map((m) =>
    `  - model_name: ${m.id}\n    litellm_params: { model: "bedrock/${m.model}", aws_region_name: us-west-2${
      m.params ? ", " + m.params : ""
    } }\n    model_info: { id: ${m.id}${m.info ? ", " + m.info : ""} }`
  ).join("\n");
  return loadConfig(`model_list:\n${list}\n${general}`, () => "x");
}

const record = pricedRecord;

Deno.test("the issue's four models as us. profiles: 1,000 in / 500 out at the map's us. prices", () => {
  // LiteLLM's map: Sonnet 4 us. $3 / $15; Sonnet 4.5 us. $3.30 / $16.50 (its +10 % profile price); Opus 4.1 us.
  // $15 / $75; Haiku 4.5 us. $1.10 / $5.50 per million tokens.
  const cases: Array<[string, bigint, string]> = [
    ["us.anthropic.claude-sonnet-4-20250514-v1:0", 10_500_000n, "0.0105"],
    ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", 11_550_000n, "0.01155"],
    ["us.anthropic.claude-opus-4-1-20250805-v1:0", 52_500_000n, "0.0525"],
    ["us.anthropic.claude-haiku-4-5-20251001-v1:0", 3_850_000n, "0.00385"],
  ];
  const cfg = config(cases.map(([model], i) => ({ id: `m${i}`, model })));
  const pricing = createPricing(cfg);
  cases.forEach(([model, nanos, usd], i) => {
    const q = pricing.quote(record(`m${i}`, { inputTokens: 1000, outputTokens: 500 }));
    assert.deepEqual(q, { nanos, unpriced: [] }, model);
    assert.equal(formatUsd(q.nanos), usd, model);
    // The profile's own entry, not the base model's.
    assert.equal(pricing.describe()[i].table?.key, model);
  });
});

Deno.test("a sample of every Bedrock family in the map: prices, cache prices and output limits", () => {
  const M = 1e-6;
  const cases: Array<[string, ModelPrices]> = [
    // Anthropic: cache reads and writes, 1-hour writes, long-context rates; profile prices of their own.
    ["anthropic.claude-3-haiku-20240307-v1:0", {
      input: 0.25 * M,
      output: 1.25 * M,
      cacheRead: 0.025 * M,
      cacheWrite: 0.3125 * M,
      maxOutputTokens: 4096,
    }],
    ["global.anthropic.claude-sonnet-4-5-20250929-v1:0", {
      input: 3 * M,
      output: 15 * M,
      cacheRead: 0.3 * M,
      cacheWrite: 3.75 * M,
      cacheWrite1h: 6 * M,
      above200k: { input: 6 * M, output: 22.5 * M, cacheRead: 0.6 * M, cacheWrite: 7.5 * M, cacheWrite1h: 12 * M },
      maxOutputTokens: 64000,
    }],
    ["jp.anthropic.claude-sonnet-4-6", {
      input: 3.3 * M,
      output: 16.5 * M,
      cacheRead: 0.33 * M,
      cacheWrite: 4.125 * M,
      cacheWrite1h: 6.6 * M,
      maxOutputTokens: 64000,
    }],
    // Amazon: Nova (no cache-write price in the map), Nova 2 (cache reads), a regional profile, Titan, embeddings.
    ["amazon.nova-pro-v1:0", { input: 0.8 * M, output: 3.2 * M, maxOutputTokens: 10000 }],
    ["apac.amazon.nova-pro-v1:0", { input: 0.84 * M, output: 3.36 * M, maxOutputTokens: 10000 }],
    ["amazon.nova-2-lite-v1:0", { input: 0.3 * M, output: 2.5 * M, cacheRead: 0.075 * M, maxOutputTokens: 64000 }],
    ["us.amazon.nova-premier-v1:0", { input: 2.5 * M, output: 12.5 * M, maxOutputTokens: 10000 }],
    ["amazon.titan-text-premier-v1:0", { input: 0.5 * M, output: 1.5 * M, maxOutputTokens: 32000 }],
    ["amazon.titan-embed-text-v2:0", { input: 0.02 * M, output: 0 }],
    ["meta.llama3-1-70b-instruct-v1:0", { input: 0.99 * M, output: 0.99 * M, maxOutputTokens: 2048 }],
    ["us.meta.llama4-maverick-17b-instruct-v1:0", { input: 0.24 * M, output: 0.97 * M, maxOutputTokens: 4096 }],
    ["mistral.mistral-large-2407-v1:0", { input: 3 * M, output: 9 * M, maxOutputTokens: 8191 }],
    ["eu.mistral.pixtral-large-2502-v1:0", { input: 2 * M, output: 6 * M, maxOutputTokens: 4096 }],
    ["cohere.command-r-plus-v1:0", { input: 3 * M, output: 15 * M, maxOutputTokens: 4096 }],
    ["ai21.jamba-1-5-large-v1:0", { input: 2 * M, output: 8 * M, maxOutputTokens: 256000 }],
    ["deepseek.v3.2", { input: 0.62 * M, output: 1.85 * M, maxOutputTokens: 163840 }],
    ["us.deepseek.r1-v1:0", { input: 1.35 * M, output: 5.4 * M, maxOutputTokens: 4096 }],
    ["openai.gpt-oss-120b-1:0", { input: 0.15 * M, output: 0.6 * M, maxOutputTokens: 128000 }],
    ["qwen.qwen3-coder-480b-a35b-v1:0", { input: 0.22 * M, output: 1.8 * M, maxOutputTokens: 65536 }],
    ["writer.palmyra-x5-v1:0", { input: 0.6 * M, output: 6 * M, maxOutputTokens: 8192 }],
    ["google.gemma-3-27b-it", { input: 0.23 * M, output: 0.38 * M, maxOutputTokens: 8192 }],
    ["minimax.minimax-m2", { input: 0.3 * M, output: 1.2 * M, maxOutputTokens: 8192 }],
    ["moonshotai.kimi-k2.5", { input: 0.6 * M, output: 3 * M, maxOutputTokens: 262144 }],
    ["nvidia.nemotron-nano-12b-v2", { input: 0.2 * M, output: 0.6 * M, maxOutputTokens: 8192 }],
    ["zai.glm-4.7", { input: 0.6 * M, output: 2.2 * M, maxOutputTokens: 128000 }],
    // Input billed per second of video in the map: only the output price is a token price.
    ["twelvelabs.pegasus-1-2-v1:0", { output: 7.5 * M }],
    // bedrock_mantle's entries are in too, under their model id.
    ["xai.grok-4.3", { input: 1.25 * M, output: 2.5 * M, cacheRead: 0.2 * M, maxOutputTokens: 16384 }],
  ];
  for (const [id, expected] of cases) {
    const found = priceOf(id);
    assert.ok(found, id);
    // Per-million figures × 1e-6 are not always the map's exact doubles: compare at 1e-15 USD a token.
    for (const k of Object.keys(expected) as Array<keyof ModelPrices>) {
      if (k === "above200k") {
        for (const [kk, v] of Object.entries(expected.above200k!)) {
          assert.ok(Math.abs(found.above200k![kk as "input"]! - v) < 1e-15, `${id} above200k.${kk}`);
        }
      } else assert.ok(Math.abs((found[k] as number) - (expected[k] as number)) < 1e-15, `${id} ${k}`);
    }
    assert.deepEqual(Object.keys(found).sort(), Object.keys(expected).sort(), id);
    // No Bedrock entry of the map lists service-tier prices.
    assert.equal(found.tiers, undefined, id);
  }
  assert.ok(builtIn.entries.size > 300, `${builtIn.entries.size} ids`);
});

Deno.test("cost of each price kind, 1-hour cache writes and the long-context rates, in exact nano-USD", () => {
  const haiku3 = priceOf("anthropic.claude-3-haiku-20240307-v1:0")!;
  // $0.25 / $1.25 / cache read $0.025 / cache write $0.3125 per million tokens.
  assert.equal(costNanos(haiku3, usage({ inputTokens: 1_000_000 })), 250_000_000n);
  assert.equal(costNanos(haiku3, usage({ outputTokens: 1_000_000 })), 1_250_000_000n);
  assert.equal(costNanos(haiku3, usage({ cacheReadInputTokens: 1_000_000 })), 25_000_000n);
  assert.equal(costNanos(haiku3, usage({ cacheWriteInputTokens: 1_000_000 })), 312_500_000n);
  // One cache-write token is 312.5 nano-USD: sub-nano parts are kept until the call's total is rounded (half up).
  assert.equal(costNanos(haiku3, usage({ cacheWriteInputTokens: 1 })), 313n);
  assert.equal(
    costNanos(haiku3, usage({ inputTokens: 7, outputTokens: 3, cacheReadInputTokens: 11, cacheWriteInputTokens: 5 })),
    7338n, // 7×250 + 3×1250 + 11×25 + 5×312.5 = 7337.5 nano, rounded once
  );
  // Sonnet 4.5 (global.): of 1,000 cache writes, 400 with a 1-hour TTL at $6 instead of $3.75 per million.
  const s45 = priceOf("global.anthropic.claude-sonnet-4-5-20250929-v1:0")!;
  assert.equal(
    costNanos(s45, usage({ inputTokens: 10, cacheWriteInputTokens: 1000, cacheWrite1hInputTokens: 400 })),
    10n * 3000n + 600n * 3750n + 400n * 6000n,
  );
  // Above 200k prompt tokens (cached ones count) every token is at the long-context rates, 1-hour writes included.
  assert.equal(
    costNanos(s45, usage({ inputTokens: 200_000, cacheWriteInputTokens: 10, cacheWrite1hInputTokens: 10 })),
    200_000n * 6000n + 10n * 12_000n,
  );
  const at = (inputTokens: number) => costNanos(s45, usage({ inputTokens, outputTokens: 1000 }));
  assert.equal(at(200_000), 200_000n * 3000n + 15_000_000n); // exactly 200k: base rates
  assert.equal(at(200_001), 200_001n * 6000n + 22_500_000n);
});

Deno.test("lookup: profiles, ARNs, regional prices and base_model all find a price", () => {
  const base = "anthropic.claude-3-5-sonnet-20241022-v2:0";
  // A profile the map lists: its own entry; one it does not (jp., ca., global. here): the base model's.
  assert.equal(keyOf(`eu.${base}`), `eu.${base}`);
  for (const prefix of ["jp.", "ca.", "global.", "au."]) assert.equal(keyOf(`${prefix}${base}`), base, prefix);
  assert.deepEqual(priceLookupIds("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "us-east-1"), [
    "us-east-1/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "us-east-1/anthropic.claude-3-7-sonnet-20250219-v1:0",
    "anthropic.claude-3-7-sonnet-20250219-v1:0",
  ]);
  // LiteLLM lists newer Claude profiles 10 % above the base model (AWS bills the source region's price): the
  // profile's own entry wins; global. is at the base price.
  assert.equal(priceOf("us.anthropic.claude-sonnet-4-5-20250929-v1:0")!.input, 3.3e-6);
  assert.equal(priceOf("anthropic.claude-sonnet-4-5-20250929-v1:0")!.input, 3e-6);
  assert.equal(priceOf("global.anthropic.claude-sonnet-4-5-20250929-v1:0")!.input, 3e-6);
  // Foundation-model and system inference-profile ARNs (any partition), with the profile's own price.
  assert.equal(keyOf(`arn:aws:bedrock:us-east-1::foundation-model/${base}`), base);
  assert.equal(
    keyOf("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-1-20250805-v1:0"),
    "us.anthropic.claude-opus-4-1-20250805-v1:0",
  );
  assert.equal(
    keyOf("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0"),
    "global.anthropic.claude-haiku-4-5-20251001-v1:0",
  );
  // Regional prices (LiteLLM's `bedrock/<region>/<id>` keys): GovCloud, a us-gov. profile there, India.
  const haiku3 = "anthropic.claude-3-haiku-20240307-v1:0";
  assert.equal(keyOf(haiku3, "us-gov-west-1"), `us-gov-west-1/${haiku3}`);
  assert.equal(priceOf(haiku3, "us-gov-west-1")!.input, 3e-7);
  assert.equal(priceOf(haiku3, "us-west-2")!.input, 2.5e-7);
  assert.equal(keyOf(`us-gov.${haiku3}`, "us-gov-west-1"), `us-gov-west-1/${haiku3}`);
  assert.equal(
    keyOf(`arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/${haiku3}`, "us-gov-west-1"),
    `us-gov-west-1/${haiku3}`,
  );
  assert.equal(priceOf("meta.llama3-8b-instruct-v1:0", "ap-south-1")!.input, 3.6e-7);
  // An application inference profile is opaque: priced through base_model (LiteLLM's field, `bedrock/` allowed).
  const app = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6";
  assert.equal(priceOf(app), undefined);
  assert.equal(
    keyOf(app, "us-east-1", "bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0"),
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
  );
  assert.equal(
    keyOf(app, "us-east-1", "bedrock/converse/anthropic.claude-haiku-4-5-20251001-v1:0"),
    "anthropic.claude-haiku-4-5-20251001-v1:0",
  );
  assert.equal(priceOf("xx.anthropic.claude-3-5-haiku-20241022-v1:0"), undefined);
});

Deno.test("every lookup form priced end to end, with where the price came from", () => {
  const cfg = config([
    { id: "profile", model: "global.anthropic.claude-sonnet-4-5-20250929-v1:0" },
    {
      id: "profile-arn",
      model: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-1-20250805-v1:0",
    },
    { id: "fm-arn", model: "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-70b-instruct-v1:0" },
    {
      id: "app",
      model: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
      info: "base_model: bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0",
    },
    { id: "own", model: "us.anthropic.claude-haiku-4-5-20251001-v1:0", params: "output_cost_per_token: 0.00001" },
  ]);
  const pricing = createPricing(cfg);
  const described = Object.fromEntries(pricing.describe().map((d) => [d.deploymentId, d]));
  assert.deepEqual(described["profile"].table, {
    kind: "built_in",
    path: "server/pricing/prices/bedrock_prices.gen.json",
    key: "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
  });
  assert.equal(described["profile-arn"].table?.key, "us.anthropic.claude-opus-4-1-20250805-v1:0");
  assert.equal(described["fm-arn"].table?.key, "meta.llama3-1-70b-instruct-v1:0");
  assert.equal(described["app"].table?.key, "us.anthropic.claude-haiku-4-5-20251001-v1:0");
  assert.equal(described["app"].baseModel, "us.anthropic.claude-haiku-4-5-20251001-v1:0");
  assert.ok(Object.values(described).every((d) => d.priced));
  // Field by field: the deployment's own output price, the table's input price, both with their origin.
  assert.deepEqual(described["own"].fields.output_cost_per_token, { value: 0.00001, from: "deployment" });
  assert.deepEqual(described["own"].fields.input_cost_per_token, { value: 1.1e-6, from: "built_in" });
  assert.deepEqual(described["own"].fields.max_output_tokens, { value: 64000, from: "built_in" });
  // 1,000 in / 500 out through each.
  const cost = (id: string) => pricing.quote(record(id, { inputTokens: 1000, outputTokens: 500 })).nanos;
  assert.equal(cost("profile"), 1000n * 3000n + 500n * 15000n);
  assert.equal(cost("profile-arn"), 1000n * 15000n + 500n * 75000n);
  assert.equal(cost("fm-arn"), 1500n * 990n);
  assert.equal(cost("app"), 1000n * 1100n + 500n * 5500n);
  assert.equal(cost("own"), 1000n * 1100n + 500n * 10000n);
});

Deno.test("a deployment's own prices win field by field; the user file wins over the built-in table", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/prices.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        sample_spec: { max_tokens: "set to max", input_cost_per_token: 0 },
        "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0": { input_cost_per_token: 0.000001, litellm_provider: "x" },
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123": {
          input_cost_per_token: 0.000002,
          output_cost_per_token: 0.000004,
        },
        "gpt-image": { mode: "image_generation" },
      }),
    );
    const cfg = config([
      { id: "haiku", model: "us.anthropic.claude-3-5-haiku-20241022-v1:0" },
      { id: "app", model: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123" },
      { id: "own", model: "anthropic.claude-3-5-haiku-20241022-v1:0", params: "output_cost_per_token: 0.00001" },
      { id: "s4own", model: "anthropic.claude-sonnet-4-20250514-v1:0", params: "input_cost_per_token: 0.000001" },
      {
        id: "s4long",
        model: "anthropic.claude-sonnet-4-20250514-v1:0",
        info: "input_cost_per_token_above_200k_tokens: 0.00001, max_output_tokens: 1000",
      },
    ], `general_settings: { model_prices_file: "${file}" }`);
    assert.equal(cfg.modelPricesFile, file);
    const pricing = createPricing(cfg, { tables: priceTablesFor(cfg) });
    // The file's entry (found through the us. prefix: the file is searched first) replaces the built-in one whole.
    assert.deepEqual(pricing.pricesFor("haiku"), { input: 0.000001 });
    assert.deepEqual(pricing.pricesFor("app"), { input: 0.000002, output: 0.000004 });
    assert.deepEqual(pricing.describe()[1].table, {
      kind: "model_prices_file",
      path: file,
      key: cfg.deployments[1].bedrockModelId,
    });
    // The deployment's output price, the table's (file's) input price.
    assert.deepEqual(pricing.pricesFor("own"), { input: 0.000001, output: 0.00001 });
    // Own base prices drop the table's long-context rates (they were priced for other base rates).
    assert.deepEqual(pricing.pricesFor("s4own"), {
      input: 0.000001,
      output: 0.000015,
      cacheRead: 0.0000003,
      cacheWrite: 0.00000375,
      maxOutputTokens: 64000,
    });
    // Own long-context rates and output limit merge over the table's.
    assert.equal(pricing.pricesFor("s4long").above200k?.input, 0.00001);
    assert.equal(pricing.pricesFor("s4long").above200k?.output, 0.0000225);
    assert.equal(pricing.pricesFor("s4long").maxOutputTokens, 1000);
    assert.equal(pricing.pricesFor("nope").input, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad price file, or a bad price in the config, stops start-up with a message naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = `${dir}/bad.json`;
    await Deno.writeTextFile(bad, JSON.stringify({ "m-1": { input_cost_per_token_priority: -1 } }));
    assert.throws(
      () => readPriceFile(bad),
      (e) => e instanceof ConfigError && /m-1\.input_cost_per_token_priority/.test(e.message),
    );
    await Deno.writeTextFile(bad, "{ not json");
    assert.throws(() => readPriceFile(bad), (e) => e instanceof ConfigError && /not valid JSON/.test(e.message));
    assert.throws(
      () => readPriceFile(`${dir}/missing.json`),
      (e) => e instanceof ConfigError && /cannot read/.test(e.message),
    );
    assert.throws(() => parsePriceEntries([1, 2], "x"), /expected a JSON object/);
    assert.throws(
      () => config([{ id: "a", model: "x", params: "output_cost_per_token_flex: -0.1" }]),
      (e) => e instanceof ConfigError && /litellm_params\.output_cost_per_token_flex/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unknown prices: cost 0, flagged, unpriced deployments listed once at start-up", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  const cfg = config([
    { id: "mystery", model: "example.unknown-model-v1:0" },
    { id: "mystery2", model: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zz" },
    { id: "nova", model: "us.amazon.nova-lite-v1:0" },
  ]);
  const pricing = createPricing(cfg, { log });
  // One start-up line lists every unpriced deployment.
  assert.equal(lines.length, 1);
  const startup = JSON.parse(lines[0]);
  assert.match(startup.msg, /no price known for 2 deployment\(s\).*refused/);
  assert.deepEqual(startup.deployments.map((d: { id: string }) => d.id), ["mystery", "mystery2"]);
  assert.deepEqual(pricing.describe().map((d) => d.priced), [false, false, true]);
  assert.deepEqual(pricing.quote(record("mystery", { inputTokens: 10, outputTokens: 5 })), {
    nanos: 0n,
    unpriced: ["input", "output"],
  });
  pricing.quote(record("mystery", { inputTokens: 10, outputTokens: 5 }));
  assert.equal(lines.length, 1);
  // Nova has no cache-read price: a call reading the cache is flagged, its known tokens still billed.
  const nova = pricing.quote(record("nova", { inputTokens: 1000, outputTokens: 1000, cacheReadInputTokens: 500 }));
  assert.deepEqual(nova, { nanos: 300_000n, unpriced: ["cache_read"] }); // 1000×60 + 1000×240 nano
  pricing.quote(record("nova", { cacheReadInputTokens: 5 }));
  assert.equal(lines.length, 2);
  assert.deepEqual(JSON.parse(lines[1]).unpriced, ["cache_read"]);
  // A call without cache tokens is not flagged.
  assert.deepEqual(pricing.quote(record("nova", { inputTokens: 1 })).unpriced, []);
});

Deno.test("USD strings are exact decimals, without exponents", () => {
  assert.equal(formatUsd(0n), "0");
  assert.equal(formatUsd(1n), "0.000000001");
  assert.equal(formatUsd(381_000n), "0.000381");
  assert.equal(formatUsd(12_500_000_000n), "12.5");
  assert.equal(formatUsd(3_000_000_000n), "3");
});

Deno.test("1-hour cache writes: read from Converse's cacheDetails and Anthropic's cache_creation, priced apart", async () => {
  const credentials = "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
    "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY";
  await using t = await setupKeys({
    models: [{ name: "s45", model: "bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0", params: credentials }],
  });
  const headers = { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" };
  t.fake.enqueue({
    kind: "raw",
    status: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      output: { message: { role: "assistant", content: [{ text: "ok" }] } },
      stopReason: "end_turn",
      usage: {
        inputTokens: 10,
        outputTokens: 5,
        totalTokens: 1015,
        cacheWriteInputTokens: 1000,
        cacheDetails: [{ ttl: "1h", inputTokens: 400 }, { ttl: "5m", inputTokens: 600 }],
      },
      metrics: { latencyMs: 1 },
    }),
  });
  const res = await fetch(`${t.gw.url}/bedrock/model/s45/converse`, {
    method: "POST",
    headers,
    body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi" }] }] }),
  });
  assert.equal(res.status, 200, await res.text());
  // global. Sonnet 4.5: $3 in, $15 out, $3.75 per million 5-minute writes, $6 per million 1-hour writes.
  assert.equal(
    res.headers.get("x-litellm-response-cost"),
    formatUsd(10n * 3000n + 5n * 15000n + 600n * 3750n + 400n * 6000n),
  );
  // InvokeModel: the token-count headers give the writes, the Anthropic body their TTL split.
  t.fake.enqueue({
    kind: "raw",
    status: 200,
    headers: {
      "content-type": "application/json",
      "x-amzn-bedrock-input-token-count": "10",
      "x-amzn-bedrock-output-token-count": "5",
      "x-amzn-bedrock-cache-write-input-token-count": "1000",
    },
    body: JSON.stringify({
      type: "message",
      content: [{ type: "text", text: "ok" }],
      usage: {
        input_tokens: 10,
        output_tokens: 5,
        cache_creation_input_tokens: 1000,
        cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 900 },
      },
    }),
  });
  const invoked = await fetch(`${t.gw.url}/bedrock/model/s45/invoke`, {
    method: "POST",
    headers,
    body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 8, messages: [] }),
  });
  assert.equal(invoked.status, 200, await invoked.text());
  assert.equal(t.gw.calls[1].usage?.cacheWrite1hInputTokens, 900);
  assert.equal(
    invoked.headers.get("x-litellm-response-cost"),
    formatUsd(10n * 3000n + 5n * 15000n + 100n * 3750n + 900n * 6000n),
  );
  // InvokeModelWithResponseStream: `message_start` splits the writes, the closing invocation metrics count them.
  const chunk = (event: unknown) => encodeEvent("chunk", { bytes: btoa(JSON.stringify(event)) });
  const usageStart = { input_tokens: 10, output_tokens: 1, cache_creation: { ephemeral_1h_input_tokens: 700 } };
  const frames = [
    chunk({ type: "message_start", message: { role: "assistant", content: [], usage: usageStart } }),
    chunk({
      type: "message_stop",
      "amazon-bedrock-invocationMetrics": { inputTokenCount: 10, outputTokenCount: 5, cacheWriteInputTokenCount: 1000 },
    }),
  ];
  t.fake.enqueue({
    kind: "raw",
    status: 200,
    headers: { "content-type": "application/vnd.amazon.eventstream" },
    body: new Uint8Array([...frames[0], ...frames[1]]),
  });
  const streamed = await fetch(`${t.gw.url}/bedrock/model/s45/invoke-with-response-stream`, {
    method: "POST",
    headers,
    body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 8, messages: [] }),
  });
  await streamed.arrayBuffer();
  const calls = await t.gw.waitForCalls(3);
  assert.equal(calls[2].usage?.cacheWrite1hInputTokens, 700);
  await t.gw.gateway.flush();
  const id = streamed.headers.get("x-litellm-call-id");
  const [row] = (await get(t.gw.url, `/spend/logs?request_id=${id}&summarize=false`)).json;
  assert.equal(nanos(row.spend), 10n * 3000n + 5n * 15000n + 300n * 3750n + 700n * 6000n);
});
