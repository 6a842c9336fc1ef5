/**
 * @module
 * Per-token prices by Bedrock model id: the built-in table (`prices/bedrock_prices.gen.json`, generated from LiteLLM's
 * `model_prices_and_context_window.json` by `deno task prices`), an optional user file
 * (`general_settings.model_prices_file`, LiteLLM's format), and the lookup that maps what a deployment calls to an
 * entry.
 *
 * A price the source does not give is absent, never guessed: such tokens are flagged unpriced.
 *
 * Lookup, most specific first, each id also tried under the deployment's region (`us-gov-west-1/<id>`, LiteLLM's
 * regional keys `bedrock/<region>/<id>`): the deployment's `model_info.base_model` when set (what an application
 * inference profile or a custom model is billed as); the id itself (a cross-region profile's own entry, e.g. LiteLLM's
 * `us.` prices of newer Claude models, 10 % above the base model's); the model or profile inside a foundation-model or
 * inference-profile ARN; and the base model of a geographic or global profile (`us.`, `eu.`, `apac.`, `jp.`, `au.`,
 * `ca.`, `us-gov.`, `global.`). The user file is searched before the built-in table, so its entries win;
 * per-deployment prices win over both (applied in `cost.ts`).
 */
import { ConfigError } from "../config/load.ts";
import { type ModelPrices, PRICE_FIELD_NAMES, pricesFromFields } from "../config/price_fields.ts";
import type { GatewayConfig } from "../config/types.ts";
import builtIn from "./prices/bedrock_prices.gen.json" with { type: "json" };

export type { ModelPrices } from "../config/price_fields.ts";

/** Where a table came from, as `/model/info` reports it. */
export type PriceTableKind = "model_prices_file" | "built_in";

export interface PriceTable {
  kind: PriceTableKind;
  /** The file, relative to the working directory (user file) or the repository (built-in table). */
  path: string;
  /** Prices by normalized key (`normalizePriceKey`). */
  entries: ReadonlyMap<string, ModelPrices>;
}

/** The built-in table's path in the repository. */
export const BUILT_IN_PRICES_PATH = "server/pricing/prices/bedrock_prices.gen.json";

/** Geographic and global cross-region inference profile prefixes (system-defined profiles). */
const PROFILE_PREFIX = /^(?:us|us-gov|eu|apac|jp|au|ca|global)\.(.+)$/;
/** `arn:<partition>:bedrock:<region>:<account>:<type>/<id>` for resources that name a model. */
const MODEL_ARN = /^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile)\/(.+)$/;
/** LiteLLM's provider prefixes on price keys, then its route prefixes. */
const PROVIDER_PREFIXES = ["bedrock/", "bedrock_converse/", "bedrock_mantle/"];
const ROUTE_PREFIXES = ["converse/", "invoke/"];

/**
 * A LiteLLM price key (or a `model` / `base_model` as written in config) as this gateway looks it up: without
 * LiteLLM's provider and route prefixes. `bedrock/converse/<id>` → `<id>`; `bedrock/us-gov-west-1/<id>` →
 * `us-gov-west-1/<id>` (a regional price).
 */
export function normalizePriceKey(key: string): string {
  let id = key;
  const provider = PROVIDER_PREFIXES.find((p) => id.startsWith(p));
  if (provider) id = id.slice(provider.length);
  const route = ROUTE_PREFIXES.find((p) => id.startsWith(p));
  if (route) id = id.slice(route.length);
  return id;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** A price-bearing entry: one that sets any field this gateway prices with. */
const hasPriceField = (entry: Record<string, unknown>) => PRICE_FIELD_NAMES.some((f) => f in entry);

/**
 * Parses a price file's JSON value (LiteLLM's format: model key → fields). Entries without any price field
 * (LiteLLM's `sample_spec`, image models, metadata strings…) are skipped; a price field that is not a finite number ≥ 0
 * is an error naming it, so a typo never silently bills at zero. Keys are normalized; when two keys normalize alike,
 * the first one wins.
 */
export function parsePriceEntries(json: unknown, source: string): Map<string, ModelPrices> {
  if (!isObject(json)) throw new Error(`${source}: expected a JSON object of model id → prices`);
  const table = new Map<string, ModelPrices>();
  const problems: string[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (!isObject(value) || !hasPriceField(value)) continue;
    const bad = PRICE_FIELD_NAMES.filter((f) => {
      const v = value[f];
      return v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v >= 0);
    });
    if (bad.length) {
      problems.push(...bad.map((f) => `${key}.${f}: expected a number ≥ 0, got ${JSON.stringify(value[f])}`));
      continue;
    }
    const prices = pricesFromFields(value);
    const id = normalizePriceKey(key);
    if (prices && !table.has(id)) table.set(id, prices);
  }
  if (problems.length) throw new Error(`${source}: invalid prices:\n  - ${problems.join("\n  - ")}`);
  return table;
}

/** The table shipped with the gateway, generated from LiteLLM's price map. */
export function builtInPrices(): PriceTable {
  return { kind: "built_in", path: BUILT_IN_PRICES_PATH, entries: parsePriceEntries(builtIn, BUILT_IN_PRICES_PATH) };
}

/**
 * Reads a user price file (`general_settings.model_prices_file`, a path relative to the working directory).
 * Throws a `ConfigError` naming the path and the problem: start-up stops rather than bill at wrong prices.
 */
export function readPriceFile(path: string): PriceTable {
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
    return { kind: "model_prices_file", path, entries: parsePriceEntries(json, path) };
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
 * The ids to look a model up under, most specific first: the id, the model or profile inside an ARN, and the base
 * model of a cross-region profile; each first under `region` (LiteLLM's regional prices). Application inference
 * profiles and provisioned models are opaque ids: only an exact entry, a `base_model` or a deployment price can
 * price them.
 */
export function priceLookupIds(modelId: string, region?: string): string[] {
  const ids: string[] = [];
  const add = (id: string) => {
    if (region) ids.push(`${region}/${id}`);
    ids.push(id);
  };
  let id = normalizePriceKey(modelId);
  add(id);
  const arn = MODEL_ARN.exec(id);
  if (arn) add(id = arn[1]);
  const profile = PROFILE_PREFIX.exec(id);
  if (profile) add(profile[1]);
  return [...new Set(ids)];
}

/** A table entry found for a model. */
export interface PriceMatch {
  table: PriceTable;
  /** The entry's (normalized) key. */
  key: string;
  prices: ModelPrices;
}

/** What a deployment is priced as: its model id, its region, and an optional `model_info.base_model`. */
export interface PricedModel {
  modelId: string;
  region?: string;
  baseModel?: string;
}

/** The first entry found for a model, searching each table in turn (user file first); `base_model` before the id. */
export function lookupPrices(model: PricedModel, tables: readonly PriceTable[]): PriceMatch | undefined {
  const ids = [
    ...(model.baseModel ? priceLookupIds(model.baseModel, model.region) : []),
    ...priceLookupIds(model.modelId, model.region),
  ];
  for (const table of tables) {
    for (const key of ids) {
      const prices = table.entries.get(key);
      if (prices) return { table, key, prices };
    }
  }
  return undefined;
}
