/**
 * @module
 * A virtual key as stored in KV, and the pure questions asked of it (which budget window is current, which
 * counters its limits need). The raw key is never part of it: only its SHA-256 hash.
 */

export interface KeyRecord {
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
  /** USD. */
  maxBudget?: number;
  /** USD; crossing it is logged once per budget window. */
  softBudget?: number;
  /** As given (`30d`), for display. */
  budgetDuration?: string;
  budgetDurationMs?: number;
  /** Epoch ms budget windows are counted from: creation, or the last change of `budget_duration`. */
  budgetAnchor: number;
  /** Epoch ms after which the key is refused. */
  expires?: number;
  rpmLimit?: number;
  tpmLimit?: number;
  maxParallelRequests?: number;
  userId?: string;
  teamId?: string;
  metadata: Record<string, unknown>;
  blocked: boolean;
  createdAt: number;
  updatedAt: number;
}

/** LiteLLM's wildcard: a key with this model may call every model. */
export const ALL_MODELS = "all-proxy-models";

/** The models a key may call, as authentication reports them (undefined = all). */
export function allowedModels(r: KeyRecord): string[] | undefined {
  return r.models.length === 0 || r.models.includes(ALL_MODELS) ? undefined : r.models;
}

/** `sk-...abcd` from a raw key (LiteLLM's `key_name`). */
export function keyNameOf(raw: string): string {
  return `sk-...${raw.slice(-4)}`;
}

export interface BudgetWindow {
  /** Epoch ms the current window started (the anchor when the key has no `budget_duration`). */
  start: number;
  /** Epoch ms spend resets; undefined without `budget_duration`. */
  resetAt?: number;
}

/** The budget window `now` falls in: windows of `budget_duration` back to back from the anchor. */
export function budgetWindow(r: KeyRecord, now: number): BudgetWindow {
  const d = r.budgetDurationMs;
  if (!d) return { start: r.budgetAnchor };
  const n = Math.max(0, Math.floor((now - r.budgetAnchor) / d));
  const start = r.budgetAnchor + n * d;
  return { start, resetAt: start + d };
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
