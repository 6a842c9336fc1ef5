/**
 * @module
 * What a call's spend, tokens and requests count toward — its scopes — and which of them limit it: the key itself,
 * the key's budget and rates for the model called (`model_max_budget`, `model_rpm_limit`, `model_tpm_limit`), the
 * key's team, its user, and the proxy as a whole (`litellm_settings.max_budget`). Admission holds a call against
 * every limit of every scope and sums what it used into every scope's counters at settlement
 * (`admission.ts`); both read the scopes from here, so what is held and what is summed name the same counters.
 *
 * A scope's spend is summed at every billed call (so `spend` is right when a budget is set later) for the key, its
 * team and user (when they have a record); per-model and proxy spend only while a budget asks for it. Token counters
 * are summed only while a `tpm_limit` asks for them; requests are counted at admission.
 */
import { windowOf } from "../core/durations.ts";
import type { ProxyBudget } from "../config/types.ts";
import {
  modelRpmKey,
  modelSpendKey,
  modelSpendPrefix,
  modelTpmKey,
  ownerRpmKey,
  ownerSpendKey,
  ownerSpendPrefix,
  ownerTpmKey,
  proxySpendKey,
  rpmKey,
  spendKey,
  spendPrefix,
  tpmKey,
} from "./kv_layout.ts";
import type { TeamRecord, UserRecord } from "./owner_record.ts";
import { type Budgeted, budgetPeriod, budgetWindow, type KeyRecord } from "./record.ts";
import { usdToNanos } from "../core/money.ts";

export type { ProxyBudget };

export type ScopeKind = "key" | "key_model" | "team" | "user" | "proxy";

/** A spend counter of one budget window. */
export interface SpendCounter {
  counter: Deno.KvKey;
  /** USD, when the scope has a budget. */
  maxBudget?: number;
  limitNanos?: bigint;
  windowStart: number;
  /** When the budget resets (undefined: never). */
  resetAt?: number;
  /**
   * Where older windows' counters are, and the first window to keep (the previous one: a call admitted before the
   * boundary may still be summed into it), for the clean-up of windows that can no longer receive sums.
   */
  clean?: { prefix: Deno.KvKey; keepFrom: Deno.KvKey };
}

/** A per-minute counter with its limit. */
export interface RateCounter {
  counter: Deno.KvKey;
  limit: bigint;
  /** The limit as configured, for messages. */
  perMinute: number;
}

/** One thing a call counts toward. */
export interface CallScope {
  kind: ScopeKind;
  /** Unique across scopes and windows (`team:<id>`); holds of calls in flight are counted per `id` and unit. */
  id: string;
  /** How a refusal names it: `team t1`, `this key's budget for model claude`, … */
  label: string;
  spend?: SpendCounter;
  tpm?: RateCounter;
  rpm?: RateCounter;
}

/** Who is calling, as far as limits go. */
export interface ScopeOwners {
  key?: KeyRecord;
  team?: TeamRecord;
  user?: UserRecord;
}

/** A budget's counter in the window `t` falls in. */
function spendCounter(
  r: Budgeted,
  t: number,
  counter: (windowStart: number) => Deno.KvKey,
  prefix: Deno.KvKey,
): SpendCounter {
  const period = budgetPeriod(r);
  const window = budgetWindow(r, t);
  const out: SpendCounter = { counter: counter(window.start), windowStart: window.start, resetAt: window.resetAt };
  if (r.maxBudget !== undefined) {
    out.maxBudget = r.maxBudget;
    out.limitNanos = usdToNanos(r.maxBudget);
  }
  if (period) {
    const previous = windowOf(r.budgetAnchor, period, window.start - 1).start;
    out.clean = { prefix, keepFrom: counter(previous) };
  }
  return out;
}

const rate = (counter: Deno.KvKey, perMinute: number | undefined): RateCounter | undefined =>
  perMinute === undefined ? undefined : { counter, limit: BigInt(perMinute), perMinute };

/** The scopes of a call by `owners` to `model` (undefined before the model is known) at `t`. */
export function callScopes(
  owners: ScopeOwners,
  model: string | undefined,
  proxy: ProxyBudget | undefined,
  t: number,
): CallScope[] {
  const scopes: CallScope[] = [];
  const { key, team, user } = owners;
  if (key) {
    scopes.push({
      kind: "key",
      id: `key:${key.id}`,
      label: "this key",
      spend: spendCounter(key, t, (w) => spendKey(key.id, w), spendPrefix(key.id)),
      tpm: rate(tpmKey(key.id), key.tpmLimit),
      rpm: rate(rpmKey(key.id), key.rpmLimit),
    });
    if (model !== undefined) {
      const budget = key.modelMaxBudget?.[model];
      const tpm = key.modelTpmLimit?.[model], rpm = key.modelRpmLimit?.[model];
      if (budget || tpm !== undefined || rpm !== undefined) {
        const scope: CallScope = {
          kind: "key_model",
          id: `key_model:${key.id}:${model}`,
          label: `this key's limit for model ${model}`,
          tpm: rate(modelTpmKey(key.id, model), tpm),
          rpm: rate(modelRpmKey(key.id, model), rpm),
        };
        if (budget) {
          const anchored: Budgeted = {
            maxBudget: budget.maxBudget,
            budgetAnchor: key.modelBudgetAnchor ?? key.createdAt,
            budgetDurationMs: budget.period?.ms,
            budgetMonths: budget.period?.months,
          };
          scope.spend = spendCounter(anchored, t, (w) => modelSpendKey(key.id, model, w), modelSpendPrefix(key.id));
          // The prefix holds every model's windows: only this model's older ones are cleaned.
          if (scope.spend.clean) scope.spend.clean.prefix = [...modelSpendPrefix(key.id), model];
        }
        scopes.push(scope);
      }
    }
  }
  for (const [kind, owner] of [["team", team], ["user", user]] as const) {
    if (!owner) continue;
    scopes.push({
      kind,
      id: `${kind}:${owner.id}`,
      label: `${kind} ${owner.id}`,
      spend: spendCounter(owner, t, (w) => ownerSpendKey(kind, owner.id, w), ownerSpendPrefix(kind, owner.id)),
      tpm: rate(ownerTpmKey(kind, owner.id), owner.tpmLimit),
      rpm: rate(ownerRpmKey(kind, owner.id), owner.rpmLimit),
    });
  }
  if (proxy) {
    const window = windowOf(0, proxy.period, t);
    scopes.push({
      kind: "proxy",
      id: "proxy",
      label: "the proxy (litellm_settings.max_budget)",
      spend: {
        counter: proxySpendKey(window.start),
        maxBudget: proxy.maxBudget,
        limitNanos: usdToNanos(proxy.maxBudget),
        windowStart: window.start,
        resetAt: window.resetAt,
      },
    });
  }
  return scopes;
}
