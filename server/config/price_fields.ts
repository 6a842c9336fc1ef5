/**
 * @module
 * Per-token prices in LiteLLM's field names, and the typed shape the gateway prices calls with.
 *
 * One list of names serves every place a price can be written: a deployment's `litellm_params` / `model_info`, a
 * `model_prices_file`, and the built-in table generated from LiteLLM's `model_prices_and_context_window.json`. A name
 * is a token kind, then `_above_200k_tokens` for Anthropic's long-context rates, then a service-tier suffix:
 *
 * | kind | field |
 * |---|---|
 * | input | `input_cost_per_token` |
 * | output | `output_cost_per_token` |
 * | cache read | `cache_read_input_token_cost` |
 * | cache write (5-minute TTL) | `cache_creation_input_token_cost` |
 * | cache write (1-hour TTL) | `cache_creation_input_token_cost_above_1hr` |
 *
 * Tier suffixes: `_priority` and `_flex` (LiteLLM's names, used in its map for OpenAI and Gemini tiers), and this
 * gateway's `_reserved` and `_latency_optimized` (Bedrock's reserved tier and `performanceConfig.latency:
 * optimized`, which LiteLLM does not name). E.g. `input_cost_per_token_above_200k_tokens_priority`. A tier without
 * its own prices is unpriced: no multiplier is ever guessed.
 */

/** Bedrock's service tiers that are priced apart from the standard (on-demand) rates. */
export const PRICE_TIERS = ["priority", "flex", "reserved", "latency_optimized"] as const;

/** `standard` is the on-demand rate (`serviceTier` `default` or absent, `performanceConfig.latency` `standard`). */
export type PriceTier = "standard" | typeof PRICE_TIERS[number];

/** Per-token USD prices; any may be unknown (never guessed: tokens of an unknown price are flagged). */
export interface TokenPrices {
  input?: number;
  output?: number;
  cacheRead?: number;
  /** Cache writes with the default 5-minute TTL (Bedrock's `cacheWriteInputTokens` without a `1h` detail). */
  cacheWrite?: number;
  /** Cache writes with a 1-hour TTL (`cacheDetails` `ttl: "1h"`). */
  cacheWrite1h?: number;
}

/** One tier's prices: base rates, and Anthropic's rates for prompts above 200k tokens. */
export interface TierPrices extends TokenPrices {
  /** Every token of a call whose prompt (input + cache read + cache write) exceeds 200k tokens is billed at these. */
  above200k?: TokenPrices;
}

/** A model's prices: the standard tier's at the top level, other tiers' where known, and its output limit. */
export interface ModelPrices extends TierPrices {
  /** Prices of the non-standard tiers the source lists; a tier absent here is unpriced. */
  tiers?: Partial<Record<typeof PRICE_TIERS[number], TierPrices>>;
  /** The model's largest output (LiteLLM's `max_output_tokens`), for holds on calls that do not set `maxTokens`. */
  maxOutputTokens?: number;
}

/** Token kinds in `TokenPrices` order, with their LiteLLM base names. */
export const TOKEN_PRICE_FIELDS = {
  input: "input_cost_per_token",
  output: "output_cost_per_token",
  cacheRead: "cache_read_input_token_cost",
  cacheWrite: "cache_creation_input_token_cost",
  cacheWrite1h: "cache_creation_input_token_cost_above_1hr",
} as const satisfies Record<keyof TokenPrices, string>;

export type TokenPriceKind = keyof typeof TOKEN_PRICE_FIELDS;

/** Every price field name, as a type (so config schemas built from `PRICE_FIELD_NAMES` stay typed). */
export type PriceFieldName = `${typeof TOKEN_PRICE_FIELDS[TokenPriceKind]}${"" | "_above_200k_tokens"}${
  | ""
  | `_${typeof PRICE_TIERS[number]}`}`;

const KINDS = Object.keys(TOKEN_PRICE_FIELDS) as TokenPriceKind[];

/** The LiteLLM field holding one price. */
export function priceField(kind: TokenPriceKind, opts: { above200k?: boolean; tier?: PriceTier } = {}): PriceFieldName {
  const long = opts.above200k ? "_above_200k_tokens" : "";
  const tier = opts.tier && opts.tier !== "standard" ? `_${opts.tier}` : "";
  return `${TOKEN_PRICE_FIELDS[kind]}${long}${tier}` as PriceFieldName;
}

/** LiteLLM's name for a model's output limit; read next to the prices. */
export const MAX_OUTPUT_TOKENS_FIELD = "max_output_tokens";

/** Every price field name this gateway reads, in a stable order (tier, then long context, then kind). */
export const PRICE_FIELD_NAMES: readonly PriceFieldName[] = (["standard", ...PRICE_TIERS] as PriceTier[]).flatMap((
  tier,
) => [false, true].flatMap((above200k) => KINDS.map((kind) => priceField(kind, { above200k, tier }))));

/** A price as written: a finite number ≥ 0. */
const isPrice = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

function tokenPrices(fields: Readonly<Record<string, unknown>>, above200k: boolean, tier: PriceTier): TokenPrices {
  const out: TokenPrices = {};
  for (const kind of KINDS) {
    const v = fields[priceField(kind, { above200k, tier })];
    if (isPrice(v)) out[kind] = v;
  }
  return out;
}

const isEmpty = (o: object) => Object.keys(o).length === 0;

function tierPrices(fields: Readonly<Record<string, unknown>>, tier: PriceTier): TierPrices {
  const base: TierPrices = tokenPrices(fields, false, tier);
  const long = tokenPrices(fields, true, tier);
  if (!isEmpty(long)) base.above200k = long;
  return base;
}

/**
 * The prices (and output limit) in a map of LiteLLM fields (a price-file entry, or a deployment's `litellm_params` /
 * `model_info`); undefined when it holds neither. Values that are not prices (strings, negatives) are ignored here: callers that take
 * user input validate it first, so a typo is an error there rather than a silent zero.
 *
 * @example
 * ```ts
 * pricesFromFields({ input_cost_per_token: 3e-6, output_cost_per_token_priority: 2.5e-5, max_output_tokens: 8192 });
 * // → { input: 3e-6, tiers: { priority: { output: 2.5e-5 } }, maxOutputTokens: 8192 }
 * ```
 */
export function pricesFromFields(fields: Readonly<Record<string, unknown>>): ModelPrices | undefined {
  const prices: ModelPrices = tierPrices(fields, "standard");
  for (const tier of PRICE_TIERS) {
    const p = tierPrices(fields, tier);
    if (!isEmpty(p)) (prices.tiers ??= {})[tier] = p;
  }
  const max = fields[MAX_OUTPUT_TOKENS_FIELD];
  if (typeof max === "number" && Number.isSafeInteger(max) && max > 0) prices.maxOutputTokens = max;
  return isEmpty(prices) ? undefined : prices;
}

/** The LiteLLM fields of some prices (the inverse of `pricesFromFields`), e.g. to show where a price came from. */
export function priceFieldsOf(prices: ModelPrices): Partial<Record<PriceFieldName | "max_output_tokens", number>> {
  const out: Partial<Record<PriceFieldName | "max_output_tokens", number>> = {};
  const tier = (p: TierPrices | undefined, t: PriceTier) => {
    for (const kind of KINDS) {
      if (p?.[kind] !== undefined) out[priceField(kind, { tier: t })] = p[kind];
      if (p?.above200k?.[kind] !== undefined) out[priceField(kind, { above200k: true, tier: t })] = p.above200k[kind];
    }
  };
  tier(prices, "standard");
  for (const t of PRICE_TIERS) tier(prices.tiers?.[t], t);
  if (prices.maxOutputTokens !== undefined) out[MAX_OUTPUT_TOKENS_FIELD] = prices.maxOutputTokens;
  return out;
}

/**
 * The tier a call is priced at, from Bedrock's `serviceTier.type` and `performanceConfig.latency` (as requested, or
 * as the answer reports them): a non-default service tier, else latency-optimized, else standard. A tier value this
 * gateway does not know is returned as is, so it prices as unknown rather than as standard.
 */
export function pricingTier(serviceTier: string | undefined, latency: string | undefined): string {
  if (serviceTier !== undefined && serviceTier !== "default") return serviceTier;
  return latency === "optimized" ? "latency_optimized" : "standard";
}
