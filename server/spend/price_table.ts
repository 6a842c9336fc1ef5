/**
 * @module
 * Per-token prices by Bedrock model id: the built-in table (`prices.json`), an optional user file
 * (`general_settings.model_prices_file`), both in LiteLLM's `model_prices_and_context_window.json` format, and the
 * lookup that maps what a deployment calls (a model id, a cross-region inference profile, an ARN) to an entry.
 *
 * The built-in numbers are LiteLLM's on-demand prices as collected in the project's wire reference (§8, USD per
 * 1M tokens ÷ 10^6). A price the source does not give is absent, never guessed: such tokens are flagged unpriced.
 *
 * Lookup order for a model id, most specific first: the id itself; for an ARN of a foundation model or an inference
 * profile, the id inside it; for a geographic/global profile (`us.`, `eu.`, `apac.`, `global.`, `jp.`), the base
 * model id. The user file is searched before the built-in table, so its entries win; per-deployment prices in the
 * config win over both (applied in `cost.ts`).
 */
import { z } from "zod";
import { ConfigError } from "../config/load.ts";
import type { GatewayConfig, TokenPrices } from "../config/types.ts";
import builtIn from "./prices.json" with { type: "json" };

/** Prices of one model: the base per-token prices, and optional prices for prompts above 200k tokens. */
export interface ModelPrices extends TokenPrices {
  /** Anthropic's long-context tier: every token of a call whose prompt exceeds 200k tokens is billed at these. */
  above200k?: TokenPrices;
  /** The most output tokens one call can produce (LiteLLM's `max_output_tokens`); caps the default hold. */
  maxOutputTokens?: number;
}

export type PriceTable = ReadonlyMap<string, ModelPrices>;

const price = z.number().nonnegative().finite().optional();

/** One entry as LiteLLM writes it; any other field (context window, provider, modes) is ignored. */
const PriceEntry = z.looseObject({
  input_cost_per_token: price,
  output_cost_per_token: price,
  cache_read_input_token_cost: price,
  cache_creation_input_token_cost: price,
  input_cost_per_token_above_200k_tokens: price,
  output_cost_per_token_above_200k_tokens: price,
  cache_read_input_token_cost_above_200k_tokens: price,
  cache_creation_input_token_cost_above_200k_tokens: price,
  max_output_tokens: z.number().int().positive().optional(),
});

const PRICE_FIELDS = [
  "input_cost_per_token",
  "output_cost_per_token",
  "cache_read_input_token_cost",
  "cache_creation_input_token_cost",
] as const;

/** Geographic and global cross-region inference profile prefixes. */
const PROFILE_PREFIX = /^(?:us|eu|apac|global|jp)\.(.+)$/;
/** `arn:<partition>:bedrock:<region>:<account>:<type>/<id>` for resources that name a model. */
const MODEL_ARN = /^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile)\/(.+)$/;

/** LiteLLM prefixes a user file's keys may carry: `bedrock/`, `bedrock/converse/`, `bedrock/invoke/`. */
function stripProviderPrefix(key: string): string {
  let id = key;
  if (id.startsWith("bedrock/")) id = id.slice("bedrock/".length);
  for (const route of ["converse/", "invoke/"]) if (id.startsWith(route)) id = id.slice(route.length);
  return id;
}

function pricesOf(e: z.infer<typeof PriceEntry>): ModelPrices | undefined {
  const p: ModelPrices = {};
  if (e.input_cost_per_token !== undefined) p.input = e.input_cost_per_token;
  if (e.output_cost_per_token !== undefined) p.output = e.output_cost_per_token;
  if (e.cache_read_input_token_cost !== undefined) p.cacheRead = e.cache_read_input_token_cost;
  if (e.cache_creation_input_token_cost !== undefined) p.cacheWrite = e.cache_creation_input_token_cost;
  const tier: TokenPrices = {};
  if (e.input_cost_per_token_above_200k_tokens !== undefined) tier.input = e.input_cost_per_token_above_200k_tokens;
  if (e.output_cost_per_token_above_200k_tokens !== undefined) tier.output = e.output_cost_per_token_above_200k_tokens;
  if (e.cache_read_input_token_cost_above_200k_tokens !== undefined) {
    tier.cacheRead = e.cache_read_input_token_cost_above_200k_tokens;
  }
  if (e.cache_creation_input_token_cost_above_200k_tokens !== undefined) {
    tier.cacheWrite = e.cache_creation_input_token_cost_above_200k_tokens;
  }
  if (Object.keys(tier).length) p.above200k = tier;
  if (e.max_output_tokens !== undefined) p.maxOutputTokens = e.max_output_tokens;
  return Object.keys(p).length ? p : undefined;
}

/**
 * Parses a price file's JSON value. Entries without any price field (LiteLLM's `sample_spec`, image models…) are
 * skipped; an entry with a malformed price is an error naming it, so a typo never silently bills at zero.
 */
export function parsePriceTable(json: unknown, source: string): Map<string, ModelPrices> {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new Error(`${source}: expected a JSON object of model id → prices`);
  }
  const table = new Map<string, ModelPrices>();
  const problems: string[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (!value || typeof value !== "object" || Array.isArray(value)) continue;
    if (!PRICE_FIELDS.some((f) => f in value) && !Object.keys(value).some((k) => k.includes("above_200k"))) continue;
    const parsed = PriceEntry.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      problems.push(`${key}.${issue.path.join(".")}: ${issue.message.replace(/^Invalid input: /, "")}`);
      continue;
    }
    const prices = pricesOf(parsed.data);
    if (prices) table.set(stripProviderPrefix(key), prices);
  }
  if (problems.length) throw new Error(`${source}: invalid prices:\n  - ${problems.join("\n  - ")}`);
  return table;
}

/** The table shipped with the gateway (`server/spend/prices.json`). */
export function builtInPrices(): Map<string, ModelPrices> {
  return parsePriceTable(builtIn, "server/spend/prices.json");
}

/**
 * Reads a user price file (`general_settings.model_prices_file`, a path relative to the working directory).
 * Throws a `ConfigError` naming the path and the problem: start-up stops rather than bill at wrong prices.
 */
export function readPriceFile(path: string): Map<string, ModelPrices> {
  const fail = (why: string) => new ConfigError([`general_settings.model_prices_file: ${why}`]);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw fail(`cannot read ${path} (${(e as Error).name})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(`${path} is not valid JSON (${(e as Error).message})`);
  }
  try {
    return parsePriceTable(json, path);
  } catch (e) {
    throw fail((e as Error).message);
  }
}

/** The tables a config prices with, in lookup order: its `model_prices_file` (if any), then the built-in table. */
export function priceTablesFor(config: GatewayConfig): PriceTable[] {
  const builtInTable = builtInPrices();
  return config.modelPricesFile ? [readPriceFile(config.modelPricesFile), builtInTable] : [builtInTable];
}

/**
 * The ids to look a deployment's model up under, most specific first: the id, the model or profile inside an ARN,
 * and the base model of a cross-region profile. Application inference profiles and provisioned models are opaque
 * ids: only an exact entry (or a deployment price) can price them.
 */
export function priceLookupIds(modelId: string): string[] {
  const ids = [modelId];
  let id = modelId;
  const arn = MODEL_ARN.exec(id);
  if (arn) {
    id = arn[1];
    ids.push(id);
  }
  const profile = PROFILE_PREFIX.exec(id);
  if (profile) ids.push(profile[1]);
  return ids;
}

/** The first entry found for a model id, searching each table in turn (user file first). */
export function lookupPrices(modelId: string, tables: readonly PriceTable[]): ModelPrices | undefined {
  for (const table of tables) {
    for (const id of priceLookupIds(modelId)) {
      const found = table.get(id);
      if (found) return found;
    }
  }
  return undefined;
}
