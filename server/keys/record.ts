/**
 * @module
 * A virtual key as stored in KV, and the pure questions asked of it (which budget window is current, which
 * counters its limits need). The raw key is never part of it: only its SHA-256 hash. The budget fields are shared
 * with teams and users (`owner_record.ts`): {@link Budgeted}.
 */
import { type Period, type PeriodWindow, windowOf } from "../core/durations.ts";

/** A budget that may reset every `budget_duration`: keys, teams and users have one. */
export interface Budgeted {
  /** USD. */
  maxBudget?: number;
  /** As given (`30d`, `1mo`), for display. */
  budgetDuration?: string;
  /** The window length of a fixed duration (`30d`). */
  budgetDurationMs?: number;
  /** The window length of a calendar duration (`1mo`). */
  budgetMonths?: number;
  /** Epoch ms budget windows are counted from: creation, or the last change of `budget_duration`. */
  budgetAnchor: number;
}

/** A key's per-model budget (LiteLLM's `model_max_budget` entry), parsed. */
export interface ModelBudget {
  maxBudget: number;
  /** As given (`1d`); absent: one window forever. */
  budgetDuration?: string;
  /** `budgetDuration` parsed. */
  period?: Period;
}

export interface KeyRecord extends Budgeted {
  /**
   * Stable internal id. Spend and rate counters hang off it rather than off the hash, so they survive
   * `/key/regenerate`, which changes the hash.
   */
  id: string;
  /** SHA-256 hex of the raw key (LiteLLM's `token`). */
  hash: string;
  /** `sk-...abcd`: enough for a person to recognise a key, useless to anyone else. */
  keyName: string;
  alias?: string;
  /** Model names the key may call; empty means all. */
  models: string[];
  /**
   * `/bedrock` route patterns the key may call (LiteLLM's `allowed_routes`): exact paths, or prefixes ending in `*`.
   * Absent or empty: model routes only.
   */
  allowedRoutes?: string[];
  /** USD; crossing it is logged once per budget window. */
  softBudget?: number;
  /** Epoch ms after which the key is refused. */
  expires?: number;
  rpmLimit?: number;
  tpmLimit?: number;
  maxParallelRequests?: number;
  /** Per-model budgets by model name (LiteLLM's `model_max_budget`). */
  modelMaxBudget?: Record<string, ModelBudget>;
  /** Epoch ms the per-model budgets' windows are counted from: when `model_max_budget` was last set. */
  modelBudgetAnchor?: number;
  /** Requests per minute per model name (LiteLLM's `model_rpm_limit`). */
  modelRpmLimit?: Record<string, number>;
  /** Tokens per minute per model name (LiteLLM's `model_tpm_limit`). */
  modelTpmLimit?: Record<string, number>;
  /** Added to every call's request tags (spend logs, `/spend/tags`). */
  tags?: string[];
  /** The key's model-name aliases: calling `alias` calls the model group it names (LiteLLM's `aliases`). */
  aliases?: Record<string, string>;
  userId?: string;
  teamId?: string;
  metadata: Record<string, unknown>;
  blocked: boolean;
  createdAt: number;
  updatedAt: number;
}

/** LiteLLM's wildcard: a key with this model may call every model. */
export const ALL_MODELS = "all-proxy-models";

/** `sk-...abcd` from a raw key (LiteLLM's `key_name`). */
export function keyNameOf(raw: string): string {
  return `sk-...${raw.slice(-4)}`;
}

/** A budget window: when it started, and when spend resets (undefined without `budget_duration`). */
export type BudgetWindow = PeriodWindow;

/** The window length of a budget: `budget_duration` parsed; undefined when spend never resets. */
export function budgetPeriod(r: Budgeted): Period | undefined {
  if (r.budgetMonths !== undefined) return { months: r.budgetMonths };
  return r.budgetDurationMs ? { ms: r.budgetDurationMs } : undefined;
}

/** The budget window `now` falls in: windows of `budget_duration` back to back from the anchor. */
export function budgetWindow(r: Budgeted, now: number): BudgetWindow {
  return windowOf(r.budgetAnchor, budgetPeriod(r), now);
}

/** The record fields of a `budget_duration` (null: none), anchored at `now` (a new length starts a new window). */
export function budgetDurationFields(
  text: string | null,
  period: Period | undefined,
  now: number,
): Pick<Budgeted, "budgetDuration" | "budgetDurationMs" | "budgetMonths" | "budgetAnchor"> {
  if (text === null || !period) return { budgetAnchor: now };
  return period.months !== undefined
    ? { budgetDuration: text, budgetMonths: period.months, budgetAnchor: now }
    : { budgetDuration: text, budgetDurationMs: period.ms, budgetAnchor: now };
}

/** Rate limits count per minute since the epoch. */
export const minuteOf = (now: number): number => Math.floor(now / 60_000);

/** Whole seconds until the next minute window opens (at least 1), for `Retry-After`. */
export const secondsToNextMinute = (now: number): number =>
  Math.max(1, Math.ceil(((minuteOf(now) + 1) * 60_000 - now) / 1000));

/** Whether admitting a call needs fresh counters from KV (spend, requests, tokens). */
export function hasCounterLimits(r: KeyRecord): boolean {
  return r.maxBudget !== undefined || r.softBudget !== undefined || r.rpmLimit !== undefined ||
    r.tpmLimit !== undefined;
}
