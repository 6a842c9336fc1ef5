/**
 * @module
 * The cost of a call in integer nano-USD (1 USD = 1e9): usage × per-token prices of the tier that served it.
 *
 * Money is counted in integers so that `Deno.KvU64` sums are exact and the same no matter how calls are batched.
 * Per-token prices are turned into integer pico-USD (1e-12) once, token counts multiply them exactly as bigints,
 * and the call's total is rounded to whole nanos once (half up). USD floats appear only at the API edge
 * (`core/money.ts`).
 *
 * Which prices apply to a deployment is decided once, at start-up (`deployment_prices.ts`). Per call, the tier
 * (`serviceTier`, `performanceConfig.latency`) picks that tier's prices; a tier without prices, and tokens of a kind
 * with no known price, cost 0 and flag the call (`unpriced`); each deployment's missing prices are warned about once.
 */
import { promptTokens, type Usage } from "../core/usage.ts";
import { PRICE_TIERS, type PriceTier, pricingTier, type TierPrices, type TokenPrices } from "../config/price_fields.ts";
import type { GatewayConfig } from "../config/types.ts";
import type { GatewayError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { CallRecord } from "../core/call_record.ts";
import { type DeploymentPrices, resolveDeploymentPrices, unpricedRefusal } from "./deployment_prices.ts";
import { guardrailCostNanos, guardrailPrices } from "./guardrail_prices.ts";
import { builtInPrices, type ModelPrices, type PriceTable } from "./price_table.ts";

const PICOS_PER_NANO = 1000n;
/** Anthropic's long-context threshold: prompts (input + cache read + cache write) above it use `above200k`. */
export const LONG_CONTEXT_TOKENS = 200_000;

/** The token kinds a call is billed for, as named on spend-log rows and in warnings. */
export type TokenKind = "input" | "output" | "cache_read" | "cache_write" | "cache_write_1h";

/** USD per token → integer pico-USD per token; unknown, negative or non-finite prices count as zero. */
function picos(usdPerToken: number | undefined): bigint {
  if (usdPerToken === undefined || !(usdPerToken > 0) || !Number.isFinite(usdPerToken)) return 0n;
  return BigInt(Math.round(usdPerToken * 1e12));
}

/** The prices that apply to this usage: the long-context rates (over the base rates) when the prompt is long. */
export function effectivePrices(prices: TierPrices, usage: Usage): TokenPrices {
  const prompt = promptTokens(usage);
  return prices.above200k && prompt > LONG_CONTEXT_TOKENS ? { ...prices, ...prices.above200k } : prices;
}

/** Cache writes with the 5-minute TTL: all writes but the 1-hour ones. */
const fiveMinuteWrites = (u: Usage) => u.cacheWriteInputTokens - (u.cacheWrite1hInputTokens ?? 0);

/** Usage × one tier's prices in nano-USD, rounded once to a whole number. Unknown prices count as zero. */
export function costNanos(prices: TierPrices, usage: Usage): bigint {
  const p = effectivePrices(prices, usage);
  const total = BigInt(usage.inputTokens) * picos(p.input) +
    BigInt(usage.outputTokens) * picos(p.output) +
    BigInt(usage.cacheReadInputTokens) * picos(p.cacheRead) +
    BigInt(fiveMinuteWrites(usage)) * picos(p.cacheWrite) +
    BigInt(usage.cacheWrite1hInputTokens ?? 0) * picos(p.cacheWrite1h);
  return (total + PICOS_PER_NANO / 2n) / PICOS_PER_NANO;
}

/** The token kinds this usage has tokens of but no price for (every kind with tokens when the tier is unpriced). */
export function unpricedKinds(prices: TierPrices | undefined, usage: Usage): TokenKind[] {
  const p: TokenPrices = prices ? effectivePrices(prices, usage) : {};
  const out: TokenKind[] = [];
  if (usage.inputTokens > 0 && p.input === undefined) out.push("input");
  if (usage.outputTokens > 0 && p.output === undefined) out.push("output");
  if (usage.cacheReadInputTokens > 0 && p.cacheRead === undefined) out.push("cache_read");
  if (fiveMinuteWrites(usage) > 0 && p.cacheWrite === undefined) out.push("cache_write");
  if ((usage.cacheWrite1hInputTokens ?? 0) > 0 && p.cacheWrite1h === undefined) out.push("cache_write_1h");
  return out;
}

/** A model's prices for one tier (`pricingTier`'s names); undefined when that tier has none. */
export function tierPrices(prices: ModelPrices, tier: string): TierPrices | undefined {
  if (tier === "standard") return prices;
  return (PRICE_TIERS as readonly string[]).includes(tier)
    ? prices.tiers?.[tier as Exclude<PriceTier, "standard">]
    : undefined;
}

/** What a finished call costs, and which of its tokens had no known price. */
export interface Quote {
  nanos: bigint;
  /** Non-empty: the cost is understated (those tokens were counted at 0); spend logs flag the call. */
  unpriced: TokenKind[];
}

export interface Pricing {
  /** The prices that apply to a deployment (empty when the deployment is unknown). */
  pricesFor(deploymentId: string | undefined): ModelPrices;
  /** Every deployment's prices and where each came from, in config order (for `/model/info` and the UI). */
  describe(): DeploymentPrices[];
  /**
   * A call by a caller with budget scopes (`budgetScopes` of its principal: budgets, or limits in USD) would go to a
   * deployment without a price for its tier: the 400 to answer instead, or undefined when the call may go ahead
   * (priced, `allow_unpriced_models`, a `mock_response` deployment, or no budget scope).
   */
  refuseUnpriced(deploymentId: string, tier: string, budgetScopes: readonly string[]): GatewayError | undefined;
  /**
   * What a finished call costs: its reported (or, for a stream its client left mid-way, estimated) usage at its tier's
   * prices, also when the client disconnected; failed calls (except streams the gateway cut mid-generation, billed
   * their estimate), and calls without usage, cost nothing.
   */
  quote(record: CallRecord): Quote;
}

export interface PricingOptions {
  /** Price tables searched in order; default the built-in table. Pass `[userFile, builtIn]` to let a file win. */
  tables?: readonly PriceTable[];
  /** Where the once-per-deployment warnings about unknown prices go. */
  log?: Logger;
}

/** Resolves every deployment's prices once, at start-up; per call it is a map lookup and a few multiplications. */
export function createPricing(config: GatewayConfig, opts: PricingOptions = {}): Pricing {
  const tables = opts.tables ?? [builtInPrices()];
  const log = opts.log;
  const described = config.deployments.map((d) => resolveDeploymentPrices(d, tables));
  const byId = new Map(described.map((p) => [p.deploymentId, p]));
  const deployments = new Map(config.deployments.map((d) => [d.id, d]));
  /** `deploymentId|tier|kind` already warned about. */
  const warned = new Set<string>();

  const unpriced = described.filter((p) => !p.priced);
  if (unpriced.length) {
    for (const p of unpriced) warned.add(`${p.deploymentId}|standard|input`).add(`${p.deploymentId}|standard|output`);
    log?.warn(
      `no price known for ${unpriced.length} deployment(s): their calls cost 0 and are flagged price_unknown` +
        (config.allowUnpricedModels ? "" : "; calls by keys with a budget are refused") +
        ". Set input_cost_per_token/output_cost_per_token on the deployment, model_info.base_model to a priced " +
        "model id, or add the model to general_settings.model_prices_file",
      {
        deployments: unpriced.map((p) => ({ id: p.deploymentId, model_name: p.modelName, model: p.bedrockModelId })),
      },
    );
  }

  const pricesFor = (id: string | undefined): ModelPrices => (id && byId.get(id)?.prices) || {};
  const perGuardrailUnit = guardrailPrices(config.guardrailPrices);

  function quote(record: CallRecord): Quote {
    // A client that went away mid-stream still consumed the tokens Bedrock reported (AWS bills them), so
    // known usage is billed.
    // A failed call bills nothing, except what reached Bedrock and carries an estimate: a stream that ended without
    // its usage event (cut by the gateway, ended or failed by Bedrock), attempts given up after they were sent.
    if (record.status === "failure" && !record.usageEstimated) return { nanos: 0n, unpriced: [] };
    // Guardrail policy units Bedrock reported are billed on top of the tokens (ApplyGuardrail has only those).
    const guardrail = guardrailCostNanos(record.guardrailUnits, perGuardrailUnit);
    if (!record.usage) return { nanos: guardrail, unpriced: [] };
    const tier = pricingTier(record.serviceTier, record.performanceLatency);
    const prices = tierPrices(pricesFor(record.deploymentId), tier);
    const unpricedTokens = unpricedKinds(prices, record.usage);
    const fresh = unpricedTokens.filter((k) => !warned.has(`${record.deploymentId}|${tier}|${k}`));
    if (fresh.length && record.deploymentId) {
      for (const k of fresh) warned.add(`${record.deploymentId}|${tier}|${k}`);
      log?.warn(
        `no price known for ${fresh.join(", ")} tokens of deployment ${record.deploymentId}` +
          (tier === "standard" ? "" : ` at the ${tier} tier`) + ": counted at 0",
        { deployment: record.deploymentId, model: record.bedrockModelId, tier, unpriced: fresh },
      );
    }
    return { nanos: (prices ? costNanos(prices, record.usage) : 0n) + guardrail, unpriced: unpricedTokens };
  }

  function refuseUnpriced(deploymentId: string, tier: string, scopes: readonly string[]): GatewayError | undefined {
    if (!scopes.length || config.allowUnpricedModels) return undefined;
    const d = deployments.get(deploymentId);
    // A mock deployment never calls AWS: it costs nothing, so a missing price hides no spend.
    if (!d || d.auth.kind === "mock") return undefined;
    const prices = tierPrices(pricesFor(deploymentId), tier);
    if (prices?.input !== undefined && prices.output !== undefined) return undefined;
    return unpricedRefusal(d, tier, scopes);
  }

  return { pricesFor, describe: () => described, refuseUnpriced, quote };
}
