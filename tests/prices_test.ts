/**
 * Prices: the built-in table, profile and ARN mapping, the user price file, per-deployment overrides, each price
 * kind (cache reads and writes included), the long-context tier, and unknown prices (cost 0, flagged, warned once).
 */
import assert from "node:assert/strict";
import type { Usage } from "../server/bedrock/usage.ts";
import { ConfigError, loadConfig } from "../server/config/load.ts";
import { createLogger } from "../server/log.ts";
import type { CallRecord } from "../server/spend/call_record.ts";
import { costNanos, createPricing, formatUsd } from "../server/spend/cost.ts";
import {
  builtInPrices,
  lookupPrices,
  parsePriceTable,
  priceLookupIds,
  priceTablesFor,
  readPriceFile,
} from "../server/spend/price_table.ts";

const usage = (u: Partial<Usage>): Usage => ({
  inputTokens: 0,
  outputTokens: 0,
  totalTokens: 0,
  cacheReadInputTokens: 0,
  cacheWriteInputTokens: 0,
  ...u,
});

const builtIn = builtInPrices();
const priceOf = (id: string) => lookupPrices(id, [builtIn]);

/** A config whose deployments use these model ids (and optional extra litellm_params lines). */
function config(models: Array<{ id: string; model: string; params?: string }>, general = "") {
  const list = models.map((m) =>
    `  - model_name: ${m.id}\n    litellm_params: { model: "bedrock/${m.model}", aws_region_name: us-west-2${
      m.params ? ", " + m.params : ""
    } }\n    model_info: { id: ${m.id} }`
  ).join("\n");
  return loadConfig(`model_list:\n${list}\n${general}`, () => "x");
}

function record(deploymentId: string, u: Partial<Usage>, status: CallRecord["status"] = "success"): CallRecord {
  return {
    requestId: "r",
    callType: "converse",
    modelName: deploymentId,
    deploymentId,
    caller: {},
    startTime: 0,
    endTime: 0,
    status,
    httpStatus: 200,
    retries: 0,
    usage: usage(u),
  };
}

Deno.test("built-in table: the reference's prices per token, unknown ones absent", () => {
  assert.deepEqual(priceOf("anthropic.claude-3-5-haiku-20241022-v1:0"), {
    input: 0.0000008,
    output: 0.000004,
    cacheRead: 0.00000008,
    cacheWrite: 0.000001,
  });
  // Nova lists no cache prices, Llama has no caching: absent, never zero.
  assert.deepEqual(priceOf("amazon.nova-pro-v1:0"), { input: 0.0000008, output: 0.0000032 });
  assert.deepEqual(priceOf("meta.llama3-1-70b-instruct-v1:0"), { input: 0.00000099, output: 0.00000099 });
  assert.deepEqual(priceOf("anthropic.claude-sonnet-4-20250514-v1:0")?.above200k, {
    input: 0.000006,
    output: 0.0000225,
    cacheRead: 0.0000006,
    cacheWrite: 0.0000075,
  });
  assert.equal(priceOf("anthropic.claude-v2"), undefined);
  assert.equal(builtIn.size, 16);
});

Deno.test("cost of each price kind, cache reads and writes included, in exact nano-USD", () => {
  const haiku3 = priceOf("anthropic.claude-3-haiku-20240307-v1:0")!;
  // $0.25 / $1.25 / cache read $0.025 / cache write $0.3125 per million tokens.
  assert.equal(costNanos(haiku3, usage({ inputTokens: 1_000_000 })), 250_000_000n);
  assert.equal(costNanos(haiku3, usage({ outputTokens: 1_000_000 })), 1_250_000_000n);
  assert.equal(costNanos(haiku3, usage({ cacheReadInputTokens: 1_000_000 })), 25_000_000n);
  assert.equal(costNanos(haiku3, usage({ cacheWriteInputTokens: 1_000_000 })), 312_500_000n);
  // One cache-write token is 312.5 nano-USD: sub-nano parts are kept until the call's total is rounded (half up).
  assert.equal(costNanos(haiku3, usage({ cacheWriteInputTokens: 1 })), 313n);
  assert.equal(costNanos(haiku3, usage({ cacheWriteInputTokens: 2 })), 625n);
  assert.equal(
    costNanos(haiku3, usage({ inputTokens: 7, outputTokens: 3, cacheReadInputTokens: 11, cacheWriteInputTokens: 5 })),
    // 7×250 + 3×1250 + 11×25 + 5×312.5 = 1750 + 3750 + 275 + 1562.5 = 7337.5 nano, rounded once
    7338n,
  );
  // Nova Micro: $0.035 in, $0.14 out per million = 35 and 140 nano-USD per token.
  assert.equal(costNanos(priceOf("amazon.nova-micro-v1:0")!, usage({ inputTokens: 3, outputTokens: 2 })), 385n);
});

Deno.test("Claude Sonnet 4 long-context tier: above 200k prompt tokens every token costs the higher rate", () => {
  const s4 = priceOf("anthropic.claude-sonnet-4-20250514-v1:0")!;
  const at = (inputTokens: number, cacheReadInputTokens = 0) =>
    costNanos(s4, usage({ inputTokens, outputTokens: 1000, cacheReadInputTokens }));
  assert.equal(at(200_000), 200_000n * 3000n + 15_000_000n); // exactly 200k: base rates
  assert.equal(at(200_001), 200_001n * 6000n + 22_500_000n);
  // Cached prompt tokens count toward the threshold, and are billed at the tier's cache price.
  assert.equal(at(100_000, 100_001), 100_000n * 6000n + 100_001n * 600n + 22_500_000n);
});

Deno.test("profile prefixes and ARNs map to their base model; a specific entry wins over the base", () => {
  const base = priceOf("anthropic.claude-3-5-sonnet-20241022-v2:0");
  for (const prefix of ["us.", "eu.", "apac.", "global.", "jp."]) {
    assert.deepEqual(priceOf(`${prefix}anthropic.claude-3-5-sonnet-20241022-v2:0`), base, prefix);
  }
  assert.deepEqual(priceLookupIds("us.anthropic.claude-3-7-sonnet-20250219-v1:0"), [
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "anthropic.claude-3-7-sonnet-20250219-v1:0",
  ]);
  // apac. Nova has its own (higher) price in the table.
  assert.deepEqual(priceOf("apac.amazon.nova-lite-v1:0"), { input: 0.000000063, output: 0.000000252 });
  assert.deepEqual(priceOf("us.amazon.nova-lite-v1:0"), { input: 0.00000006, output: 0.00000024 });
  // Foundation-model and inference-profile ARNs (any partition); application profiles are opaque.
  assert.deepEqual(
    priceOf("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"),
    priceOf("anthropic.claude-3-5-haiku-20241022-v1:0"),
  );
  assert.deepEqual(
    priceOf("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0"),
    priceOf("anthropic.claude-3-7-sonnet-20250219-v1:0"),
  );
  assert.deepEqual(
    priceOf("arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/meta.llama3-1-8b-instruct-v1:0"),
    priceOf("meta.llama3-1-8b-instruct-v1:0"),
  );
  assert.equal(priceOf("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"), undefined);
  assert.equal(priceOf("xx.anthropic.claude-3-5-haiku-20241022-v1:0"), undefined);
});

Deno.test("pricing a us. profile deployment end to end: cache tokens are billed, not free", () => {
  const cfg = config([{ id: "sonnet", model: "us.anthropic.claude-3-7-sonnet-20250219-v1:0" }]);
  const pricing = createPricing(cfg);
  const q = pricing.quote(
    record("sonnet", { inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 1000, cacheWriteInputTokens: 200 }),
  );
  // 100×3 + 20×15 + 1000×0.3 + 200×3.75 micro-USD = 1650 µ$.
  assert.deepEqual(q, { nanos: 1_650_000n, unpriced: [] });
  assert.equal(pricing.quote(record("sonnet", { inputTokens: 100 }, "failure")).nanos, 0n);
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
    ], `general_settings: { model_prices_file: "${file}" }`);
    assert.equal(cfg.modelPricesFile, file);
    const pricing = createPricing(cfg, { tables: priceTablesFor(cfg) });
    // The file's entry (found through the us. prefix) replaces the built-in one as a whole.
    assert.deepEqual(pricing.pricesFor("haiku"), { input: 0.000001 });
    assert.deepEqual(pricing.pricesFor("app"), { input: 0.000002, output: 0.000004 });
    // The deployment's output price, the table's (file's) input price.
    assert.deepEqual(pricing.pricesFor("own"), { input: 0.000001, output: 0.00001 });
    // Own prices drop the table's long-context tier (it was priced for other base rates).
    assert.deepEqual(pricing.pricesFor("s4own"), {
      input: 0.000001,
      output: 0.000015,
      cacheRead: 0.0000003,
      cacheWrite: 0.00000375,
    });
    assert.equal(pricing.pricesFor("nope").input, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad price file stops start-up with a message naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = `${dir}/bad.json`;
    await Deno.writeTextFile(bad, JSON.stringify({ "m-1": { input_cost_per_token: -1 } }));
    assert.throws(
      () => readPriceFile(bad),
      (e) => e instanceof ConfigError && /m-1\.input_cost_per_token/.test(e.message),
    );
    await Deno.writeTextFile(bad, "{ not json");
    assert.throws(() => readPriceFile(bad), (e) => e instanceof ConfigError && /not valid JSON/.test(e.message));
    assert.throws(
      () => readPriceFile(`${dir}/missing.json`),
      (e) => e instanceof ConfigError && /cannot read/.test(e.message),
    );
    assert.throws(() => parsePriceTable([1, 2], "x"), /expected a JSON object/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unknown prices: cost 0, flagged with the unpriced token kinds, warned once per deployment", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  const cfg = config([
    { id: "mystery", model: "example.unknown-model-v1:0" },
    { id: "nova", model: "us.amazon.nova-lite-v1:0" },
  ]);
  const pricing = createPricing(cfg, { log });
  // The unknown model is announced at start-up, once.
  assert.equal(lines.length, 1);
  assert.match(JSON.parse(lines[0]).msg, /no price known for deployment mystery/);
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
