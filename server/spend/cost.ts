/**
 * @module
 * The cost of a call in integer nano-USD (1 USD = 1e9): usage × per-token prices.
 *
 * Money is counted in integers so that `Deno.KvU64` sums are exact and the same no matter how calls are batched.
 * Per-token prices are turned into integer pico-USD (1e-12) once, token counts multiply them exactly as bigints,
 * and the call's total is rounded to whole nanos once (half up). USD floats appear only at the API edge
 * (`nanosToUsd`, `formatUsd`).
 *
 * Which prices apply to a deployment is decided once, at start-up: its own `input_cost_per_token`, … (from
 * `litellm_params` or `model_info`) win field by field over the price tables (`price_table.ts`: the user's
 * `model_prices_file`, then the built-in table). Tokens of a kind with no known price cost 0 and the call is
 * flagged (`unpriced`); each deployment's missing prices are warned about once.
 */
import { promptTokens, type Usage } from "../bedrock/usage.ts";
import type { GatewayConfig, TokenPrices } from "../config/types.ts";
import type { Logger } from "../log.ts";
import type { CallRecord } from "./call_record.ts";
import { guardrailCostNanos, guardrailPrices } from "./guardrail_prices.ts";
import { builtInPrices, lookupPrices, type ModelPrices, type PriceTable } from "./price_table.ts";

export const NANOS_PER_USD = 1_000_000_000;
const PICOS_PER_NANO = 1000n;
/** Anthropic's long-context threshold: prompts (input + cache read + cache write) above it use `above200k`. */
export const LONG_CONTEXT_TOKENS = 200_000;

/** The token kinds a call is billed for, as named on spend-log rows and in warnings. */
export type TokenKind = "input" | "output" | "cache_read" | "cache_write";

/** USD per token → integer pico-USD per token; unknown, negative or non-finite prices count as zero. */
function picos(usdPerToken: number | undefined): bigint {
  if (usdPerToken === undefined || !(usdPerToken > 0) || !Number.isFinite(usdPerToken)) return 0n;
  return BigInt(Math.round(usdPerToken * 1e12));
}

/** The prices that apply to this usage: the long-context tier (over the base prices) when the prompt is long. */
export function effectivePrices(prices: ModelPrices, usage: Usage): TokenPrices {
  const prompt = promptTokens(usage);
  return prices.above200k && prompt > LONG_CONTEXT_TOKENS ? { ...prices, ...prices.above200k } : prices;
}

/** Usage × prices in nano-USD, rounded once to a whole number. Unknown prices count as zero. */
export function costNanos(prices: ModelPrices, usage: Usage): bigint {
  const p = effectivePrices(prices, usage);
  const total = BigInt(usage.inputTokens) * picos(p.input) +
    BigInt(usage.outputTokens) * picos(p.output) +
    BigInt(usage.cacheReadInputTokens) * picos(p.cacheRead) +
    BigInt(usage.cacheWriteInputTokens) * picos(p.cacheWrite);
  return (total + PICOS_PER_NANO / 2n) / PICOS_PER_NANO;
}

/** The token kinds this usage has tokens of but no price for. */
export function unpricedKinds(prices: ModelPrices, usage: Usage): TokenKind[] {
  const p = effectivePrices(prices, usage);
  const out: TokenKind[] = [];
  if (usage.inputTokens > 0 && p.input === undefined) out.push("input");
  if (usage.outputTokens > 0 && p.output === undefined) out.push("output");
  if (usage.cacheReadInputTokens > 0 && p.cacheRead === undefined) out.push("cache_read");
  if (usage.cacheWriteInputTokens > 0 && p.cacheWrite === undefined) out.push("cache_write");
  return out;
}

/** USD → nano-USD, for budgets typed by admins (`max_budget: 0.5`). */
export function usdToNanos(usd: number): bigint {
  return BigInt(Math.round(usd * NANOS_PER_USD));
}

/** nano-USD → USD as a plain number (exact for any amount below 2^53 nanos, about 9 million USD). */
export function nanosToUsd(nanos: bigint): number {
  return Number(nanos) / NANOS_PER_USD;
}

/** nano-USD → an exact decimal USD string without exponent (`0.000042`, `12.5`, `0`), for headers and logs. */
export function formatUsd(nanos: bigint): string {
  const sign = nanos < 0n ? "-" : "";
  const abs = nanos < 0n ? -nanos : nanos;
  const whole = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${sign}${whole}${frac ? "." + frac : ""}`;
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
  /**
   * What a finished call costs: zero unless it succeeded and reported usage. Failed, refused and disconnected
   * calls bill nothing.
   */
  quote(record: CallRecord): Quote;
}

export interface PricingOptions {
  /** Price tables searched in order; default the built-in table. Pass `[userFile, builtIn]` to let a file win. */
  tables?: readonly PriceTable[];
  /** Where the once-per-deployment warnings about unknown prices go. */
  log?: Logger;
}

const FIELDS = ["input", "output", "cacheRead", "cacheWrite"] as const;

/** A deployment's prices: its own fields win over the table's; the table's long-context tier only without them. */
function resolve(own: TokenPrices, fromTable: ModelPrices | undefined): ModelPrices {
  const out: ModelPrices = {};
  const hasOwn = FIELDS.some((f) => own[f] !== undefined);
  for (const f of FIELDS) {
    const v = own[f] ?? fromTable?.[f];
    if (v !== undefined) out[f] = v;
  }
  if (!hasOwn && fromTable?.above200k) out.above200k = fromTable.above200k;
  return out;
}

/** Resolves every deployment's prices once, at start-up; per call it is a map lookup and a few multiplications. */
export function createPricing(config: GatewayConfig, opts: PricingOptions = {}): Pricing {
  const tables = opts.tables ?? [builtInPrices()];
  const log = opts.log;
  const byId = new Map<string, ModelPrices>();
  /** `deploymentId|kind` already warned about. */
  const warned = new Set<string>();
  for (const d of config.deployments) {
    const prices = resolve(d.prices, lookupPrices(d.bedrockModelId, tables));
    byId.set(d.id, prices);
    if (prices.input === undefined && prices.output === undefined) {
      warned.add(`${d.id}|input`).add(`${d.id}|output`);
      log?.warn(
        `no price known for deployment ${d.id} (model_name ${d.modelName}, model ${d.bedrockModelId}): its calls ` +
          "cost 0 and their spend logs are flagged price_unknown; set input_cost_per_token/output_cost_per_token " +
          "on the deployment or add the model to general_settings.model_prices_file",
        { deployment: d.id, model: d.bedrockModelId },
      );
    }
  }
  const pricesFor = (id: string | undefined): ModelPrices => (id && byId.get(id)) || {};
  const perGuardrailUnit = guardrailPrices(config.guardrailPrices);

  function quote(record: CallRecord): Quote {
    // A client that went away mid-stream still consumed the tokens Bedrock reported (AWS bills them), so
    // known usage is billed; a failed call bills nothing.
    if (record.status === "failure") return { nanos: 0n, unpriced: [] };
    // Guardrail policy units Bedrock reported are billed on top of the tokens (ApplyGuardrail has only those).
    const guardrail = guardrailCostNanos(record.guardrailUnits, perGuardrailUnit);
    if (!record.usage) return { nanos: guardrail, unpriced: [] };
    const prices = pricesFor(record.deploymentId);
    const unpriced = unpricedKinds(prices, record.usage);
    const fresh = unpriced.filter((k) => !warned.has(`${record.deploymentId}|${k}`));
    if (fresh.length && record.deploymentId) {
      for (const k of fresh) warned.add(`${record.deploymentId}|${k}`);
      log?.warn(`no price known for ${fresh.join(", ")} tokens of deployment ${record.deploymentId}: counted at 0`, {
        deployment: record.deploymentId,
        model: record.bedrockModelId,
        unpriced: fresh,
      });
    }
    return { nanos: costNanos(prices, record.usage) + guardrail, unpriced };
  }

  return { pricesFor, quote };
}
