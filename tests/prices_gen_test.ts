/**
 * The built-in price table's generator (`deno task prices`): the committed table is exactly what the script makes of
 * the committed source copy, the copy reproduces itself, and from a whole LiteLLM map the script keeps the Bedrock
 * per-token entries (every Bedrock provider, regional keys normalized, the unprefixed key winning a collision) and
 * leaves out what it cannot price per token.
 */
import assert from "node:assert/strict";
import { generatePrices, SOURCE_FILE, sourceRecord, TABLE_FILE } from "../scripts/prices.ts";
import { parsePriceEntries } from "../server/pricing/price_table.ts";

const ROOT = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

Deno.test("the committed table is what `deno task prices` makes of the committed source copy", async () => {
  const source = await read(SOURCE_FILE);
  const out = generatePrices(JSON.parse(source), { file: "unused", sha256: "unused", entries: 0 });
  assert.equal(out.table, await read(TABLE_FILE), `stale: run deno task prices --from ${SOURCE_FILE}`);
  // The copy carries its provenance through a regeneration unchanged.
  assert.equal(out.source, source);
  const provenance = JSON.parse(source)._source;
  assert.match(provenance.sha256, /^[0-9a-f]{64}$/);
  assert.equal(JSON.parse(out.table)._source.sha256, provenance.sha256);
  assert.match(JSON.parse(out.table)._generated, /Do not edit/);
});

Deno.test("the CLI's --check passes on the committed files", async () => {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "scripts/prices.ts", "--from", SOURCE_FILE, "--check"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(new TextDecoder().decode(out.stdout), /Bedrock entries selected → \d+ ids/);
});

Deno.test("from a whole map: Bedrock per-token entries kept, normalized, collisions resolved, the rest left out", async () => {
  const map = {
    sample_spec: { input_cost_per_token: 0, litellm_provider: "one of …", mode: "chat" },
    "gpt-4o": { input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5, litellm_provider: "openai", mode: "chat" },
    "anthropic.claude-x-v1:0": {
      input_cost_per_token: 3e-6,
      output_cost_per_token: 1.5e-5,
      cache_creation_input_token_cost_above_1hr: 6e-6,
      input_cost_per_token_batches: 1.5e-6,
      max_output_tokens: 64000,
      max_input_tokens: 200000,
      litellm_provider: "bedrock_converse",
      mode: "chat",
      supports_vision: true,
    },
    "us.anthropic.claude-x-v1:0": {
      input_cost_per_token: 3.3e-6,
      output_cost_per_token: 1.65e-5,
      litellm_provider: "bedrock_converse",
      mode: "chat",
    },
    "bedrock/us-gov-west-1/anthropic.claude-x-v1:0": {
      input_cost_per_token: 3.6e-6,
      output_cost_per_token: 1.8e-5,
      litellm_provider: "bedrock",
      mode: "chat",
    },
    // The same id twice: the key without a provider prefix wins, wherever it stands.
    "bedrock/kimi.k9": {
      input_cost_per_token: 1e-6,
      output_cost_per_token: 3.03e-6,
      litellm_provider: "bedrock",
      mode: "chat",
    },
    "kimi.k9": {
      input_cost_per_token: 1e-6,
      output_cost_per_token: 3e-6,
      litellm_provider: "bedrock_converse",
      mode: "chat",
    },
    "bedrock_mantle/vendor.model-1": {
      input_cost_per_token: 1e-7,
      output_cost_per_token: 2e-7,
      litellm_provider: "bedrock_mantle",
      mode: "chat",
    },
    "amazon.titan-embed-text-v2:0": {
      input_cost_per_token: 2e-8,
      output_cost_per_token: 0,
      litellm_provider: "bedrock",
      mode: "embedding",
    },
    // Not per-token: an image model, a provisioned-throughput commitment, a responses-mode entry, a rerank model.
    "amazon.nova-canvas-v1:0": { output_cost_per_image: 0.06, litellm_provider: "bedrock", mode: "image_generation" },
    "bedrock/us-east-1/1-month-commitment/anthropic.claude-v2:1": {
      input_cost_per_second: 0.0175,
      output_cost_per_second: 0.0175,
      litellm_provider: "bedrock",
      mode: "chat",
    },
    "bedrock_mantle/openai.gpt-9": {
      input_cost_per_token: 1e-6,
      output_cost_per_token: 1e-5,
      litellm_provider: "bedrock_mantle",
      mode: "responses",
    },
    "amazon.rerank-v1:0": { input_cost_per_query: 0.001, litellm_provider: "bedrock", mode: "rerank" },
  };
  const bytes = new TextEncoder().encode(JSON.stringify(map));
  const record = await sourceRecord("/tmp/model_prices_and_context_window.json", bytes, "test");
  assert.equal(record.file, "model_prices_and_context_window.json");
  assert.equal(record.entries, Object.keys(map).length);
  const out = generatePrices(map, record);

  const copy = JSON.parse(out.source);
  assert.deepEqual(copy._source, record);
  assert.deepEqual(Object.keys(copy).slice(1), [
    "anthropic.claude-x-v1:0",
    "us.anthropic.claude-x-v1:0",
    "bedrock/us-gov-west-1/anthropic.claude-x-v1:0",
    "bedrock/kimi.k9",
    "kimi.k9",
    "bedrock_mantle/vendor.model-1",
    "amazon.titan-embed-text-v2:0",
  ]);
  // Entries are copied verbatim (every field), so the copy regenerates the same table and itself.
  assert.deepEqual(copy["anthropic.claude-x-v1:0"], map["anthropic.claude-x-v1:0"]);
  const again = generatePrices(copy, { file: "x", sha256: "y", entries: 1 });
  assert.equal(again.table, out.table);
  assert.equal(again.source, out.source);

  const table = JSON.parse(out.table);
  assert.deepEqual(Object.keys(table), [
    "_generated",
    "_source",
    "amazon.titan-embed-text-v2:0",
    "anthropic.claude-x-v1:0",
    "kimi.k9",
    "us-gov-west-1/anthropic.claude-x-v1:0",
    "us.anthropic.claude-x-v1:0",
    "vendor.model-1",
  ]);
  // Only the fields it prices with; where the key was normalized, LiteLLM's key.
  assert.deepEqual(table["anthropic.claude-x-v1:0"], {
    litellm_provider: "bedrock_converse",
    mode: "chat",
    input_cost_per_token: 3e-6,
    output_cost_per_token: 1.5e-5,
    cache_creation_input_token_cost_above_1hr: 6e-6,
    max_output_tokens: 64000,
  });
  assert.equal(
    table["us-gov-west-1/anthropic.claude-x-v1:0"].litellm_key,
    "bedrock/us-gov-west-1/anthropic.claude-x-v1:0",
  );
  assert.equal(table["kimi.k9"].output_cost_per_token, 3e-6);
  assert.ok(out.report.some((l) => /kimi\.k9: "kimi\.k9" kept over "bedrock\/kimi\.k9" \(their prices/.test(l)));
  assert.ok(out.report.includes("left out: input_cost_per_token_batches (1 entries)"));
  assert.match(out.report[0], /^7 Bedrock entries selected → 6 ids \(4 models/);
  // The gateway reads the table it generated.
  const parsed = parsePriceEntries(table, "t");
  assert.deepEqual(parsed.get("anthropic.claude-x-v1:0"), {
    input: 3e-6,
    output: 1.5e-5,
    cacheWrite1h: 6e-6,
    maxOutputTokens: 64000,
  });
});
