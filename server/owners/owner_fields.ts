/**
 * @module
 * What teams and users share in the admin API: their budget and limits applied from a request to a record (`null`
 * clears a setting; a new `budget_duration` starts a new window now, as LiteLLM sets `budget_reset_at = now +
 * duration`), the spend of their current window (KV plus this instance's unwritten sums), and the errors their
 * operations answer.
 */
import { parseDuration } from "../core/durations.ts";
import { GatewayError, validation } from "../core/errors.ts";
import { nanosToUsd } from "../core/money.ts";
import type { Ledger } from "../kv/ledger.ts";
import { readCounters } from "../keys/admin.ts";
import { ownerSpendKey } from "../keys/kv_layout.ts";
import type { OwnerKind, OwnerRecord } from "../keys/owner_record.ts";
import { budgetDurationFields, budgetWindow } from "../keys/record.ts";
import { MAX_RECORD_BYTES, recordBytes } from "../keys/store.ts";

/** The limits a request may set on a team or user. */
export interface OwnerLimitSettings {
  models?: string[];
  max_budget?: number | null;
  budget_duration?: string | null;
  tpm_limit?: number | null;
  rpm_limit?: number | null;
  metadata?: Record<string, unknown>;
}

/** How often a read-modify-write is retried when another writer got there first. */
export const WRITE_ATTEMPTS = 5;

/** Applies the limits present in a request to a record (a copy). */
export function applyLimits<R extends OwnerRecord>(r: R, s: OwnerLimitSettings, now: number): R {
  const next: R = { ...r, updatedAt: now };
  const set = <K extends keyof OwnerRecord>(field: K, value: OwnerRecord[K] | null | undefined) => {
    if (value === undefined) return;
    if (value === null) delete next[field];
    else next[field] = value as R[K];
  };
  if (s.models !== undefined) next.models = [...new Set(s.models)];
  set("maxBudget", s.max_budget);
  set("tpmLimit", s.tpm_limit);
  set("rpmLimit", s.rpm_limit);
  if (s.metadata !== undefined) next.metadata = s.metadata;
  if (s.budget_duration !== undefined) {
    delete next.budgetDuration, delete next.budgetDurationMs, delete next.budgetMonths;
    const d = s.budget_duration;
    Object.assign(next, budgetDurationFields(d, d === null ? undefined : parseDuration(d), now));
  }
  if (recordBytes(next) > MAX_RECORD_BYTES) {
    throw validation(`the settings are too large to store (at most ${MAX_RECORD_BYTES} bytes)`, "metadata");
  }
  return next;
}

/** The fields every owner view shares, in LiteLLM's names. */
export function limitView(r: OwnerRecord, spendUsd: number, now: number) {
  const window = budgetWindow(r, now);
  return {
    models: r.models,
    max_budget: r.maxBudget ?? null,
    budget_duration: r.budgetDuration ?? null,
    budget_reset_at: iso(window.resetAt),
    spend: spendUsd,
    tpm_limit: r.tpmLimit ?? null,
    rpm_limit: r.rpmLimit ?? null,
    metadata: r.metadata,
    created_at: iso(r.createdAt)!,
    updated_at: iso(r.updatedAt)!,
  };
}

export const iso = (ms: number | undefined): string | null => ms === undefined ? null : new Date(ms).toISOString();

/** Spend (USD) of each owner's current budget window. */
export async function ownerSpend(
  kv: Deno.Kv,
  ledger: Ledger,
  kind: OwnerKind,
  records: readonly OwnerRecord[],
  now: number,
): Promise<number[]> {
  const keys = records.map((r) => ownerSpendKey(kind, r.id, budgetWindow(r, now).start));
  return (await readCounters(kv, ledger, keys)).map(nanosToUsd);
}

export const ownerNotFound = (kind: OwnerKind, id: string, param: string) =>
  new GatewayError(404, "ResourceNotFoundException", `${kind === "team" ? "Team" : "User"} not found: ${id}`, {
    litellmType: "not_found_error",
    param,
  });

export const ownerConflict = (kind: OwnerKind) =>
  new GatewayError(409, "ConflictException", `The ${kind} was changed concurrently; try again`, {
    litellmType: "conflict_error",
  });
