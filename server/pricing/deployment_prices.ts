/**
 * @module
 * A deployment's prices, resolved once at start-up from its own fields and the price tables, with where each price
 * came from (for `/model/info` and the UI); and the refusal a budgeted call gets when its deployment has none.
 *
 * Precedence, field by field: the deployment's own LiteLLM fields (`litellm_params` over `model_info`), then the
 * first table entry found for it (`lookupPrices`: user `model_prices_file`, then the built-in table). Each tier is
 * merged on its own; a deployment that sets any of a tier's base rates drops the table's long-context rates for that
 * tier, which were priced for other base rates.
 */
import {
  type ModelPrices,
  PRICE_TIERS,
  priceField,
  type PriceFieldName,
  priceFieldsOf,
  type PriceTier,
  type TierPrices,
  TOKEN_PRICE_FIELDS,
  type TokenPriceKind,
} from "../config/price_fields.ts";
import type { Deployment } from "../config/types.ts";
import { GatewayError } from "../core/errors.ts";
import { lookupPrices, type PriceTable, type PriceTableKind } from "./price_table.ts";

/** Where one price came from: the deployment's own fields, or a table. */
export type PriceOrigin = "deployment" | PriceTableKind;

export interface DeploymentPrices {
  deploymentId: string;
  modelName: string;
  bedrockModelId: string;
  /** `model_info.base_model`, when set. */
  baseModel?: string;
  /** What its calls are billed at. */
  prices: ModelPrices;
  /** Standard-tier input and output prices are both known. */
  priced: boolean;
  /** The table entry found for it, if any: which table, and the entry's key there. */
  table?: { kind: PriceTableKind; path: string; key: string };
  /** Each price (LiteLLM field name) with its value and origin; `max_output_tokens` too. */
  fields: Partial<Record<PriceFieldName | "max_output_tokens", { value: number; from: PriceOrigin }>>;
}

const KINDS = Object.keys(TOKEN_PRICE_FIELDS) as TokenPriceKind[];
const hasBase = (p: TierPrices | undefined) => !!p && KINDS.some((k) => p[k] !== undefined);

/** One tier: own rates over the table's; the table's long-context rates only if no own base rate is set. */
function mergeTier(own: TierPrices | undefined, table: TierPrices | undefined): TierPrices | undefined {
  const out: TierPrices = {};
  for (const k of KINDS) {
    const v = own?.[k] ?? table?.[k];
    if (v !== undefined) out[k] = v;
  }
  const long = { ...(hasBase(own) ? undefined : table?.above200k), ...own?.above200k };
  if (Object.keys(long).length) out.above200k = long;
  return Object.keys(out).length ? out : undefined;
}

/** The deployment's own prices merged over a table entry's. */
export function mergePrices(own: ModelPrices, table: ModelPrices | undefined): ModelPrices {
  const out: ModelPrices = mergeTier(own, table) ?? {};
  for (const t of PRICE_TIERS) {
    const merged = mergeTier(own.tiers?.[t], table?.tiers?.[t]);
    if (merged) (out.tiers ??= {})[t] = merged;
  }
  const max = own.maxOutputTokens ?? table?.maxOutputTokens;
  if (max !== undefined) out.maxOutputTokens = max;
  return out;
}

/** A deployment's prices and their origins. */
export function resolveDeploymentPrices(d: Deployment, tables: readonly PriceTable[]): DeploymentPrices {
  const match = lookupPrices({ modelId: d.bedrockModelId, region: d.region, baseModel: d.baseModel }, tables);
  const prices = mergePrices(d.prices, match?.prices);
  const own = priceFieldsOf(d.prices);
  const fields: DeploymentPrices["fields"] = {};
  for (const [name, value] of Object.entries(priceFieldsOf(prices)) as Array<[PriceFieldName, number]>) {
    fields[name] = { value, from: name in own ? "deployment" : match!.table.kind };
  }
  const out: DeploymentPrices = {
    deploymentId: d.id,
    modelName: d.modelName,
    bedrockModelId: d.bedrockModelId,
    prices,
    priced: prices.input !== undefined && prices.output !== undefined,
    fields,
  };
  if (d.baseModel !== undefined) out.baseModel = d.baseModel;
  if (match) out.table = { kind: match.table.kind, path: match.table.path, key: match.key };
  return out;
}

/**
 * The 400 a call under a budget gets instead of going to a deployment with no price for its tier, naming the
 * deployment and every way to price it. A ValidationException, as Bedrock answers for a model id it will not serve
 * on demand: not retried by SDKs, and not held against the deployment's health.
 */
export function unpricedRefusal(d: Deployment, tier: string, budgetScopes: readonly string[]): GatewayError {
  const known = tier === "standard" || (PRICE_TIERS as readonly string[]).includes(tier);
  const what = tier === "standard" ? "price" : `price for the ${tier} tier`;
  const fields = known
    ? `${priceField("input", { tier: tier as PriceTier })} and ${priceField("output", { tier: tier as PriceTier })}`
    : "";
  const how = !known
    ? `service tier "${tier}" is not one this gateway can price`
    : `set ${fields} in its litellm_params or model_info` +
      (tier === "standard"
        ? ", model_info.base_model to the Bedrock model id it is billed as, or add the model to " +
          "general_settings.model_prices_file"
        : ", or add them to the model's entry in general_settings.model_prices_file");
  return new GatewayError(
    400,
    "ValidationException",
    `Deployment "${d.id}" (model_name "${d.modelName}", model ${d.bedrockModelId}) has no known ${what}, and this ` +
      `call is made under a budget (${budgetScopes.join(", ")}), so it is refused rather than billed at 0. To price ` +
      `it: ${how}. To serve such calls at 0 (flagged price_unknown), set general_settings.allow_unpriced_models: true.`,
    { litellmType: "unpriced_model", reason: "unpriced" },
  );
}
