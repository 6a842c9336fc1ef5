/**
 * @module
 * The per-day roll-up sums one finished call adds: for each dimension (total, key, user, team, model, deployment)
 * its spend, one request, a failure if it failed, and its tokens; and for each of its request tags its spend and one
 * request. They go into the ledger with the call's log row,
 * so roll-ups and rows are written in the same batches and always agree once flushed.
 */
import type { CallRecord } from "../core/call_record.ts";
import { dayOf } from "./days.ts";
import { type Dimension, DIMENSIONS, type Metric, METRICS, rollupKey, tagRollupKey } from "./kv_layout.ts";
import type { LedgerSum } from "../kv/ledger.ts";
import { promptTokens } from "../core/usage.ts";

/** The value a call has for a dimension ("" when it has none, e.g. a call without a virtual key). */
export function dimensionValue(record: CallRecord, dim: Dimension): string {
  switch (dim) {
    case "total":
      return "";
    case "key":
      return record.caller.keyHash ?? "";
    case "user":
      return record.caller.userId ?? "";
    case "team":
      return record.caller.teamId ?? "";
    case "model":
      return record.modelName;
    case "deployment":
      return record.deploymentId ?? "";
  }
}

/** Each metric's place in `METRICS`. */
const AT = Object.fromEntries(METRICS.map((m, i) => [m, i])) as Record<Metric, number>;

/** What one call counts for, per metric (zero amounts are skipped by the ledger). */
export function callAmounts(record: CallRecord, costNanos: bigint): Record<Metric, bigint> {
  const list = addCallAmounts(METRICS.map(() => 0n), record, costNanos);
  return Object.fromEntries(METRICS.map((m, i) => [m, list[i]])) as Record<Metric, bigint>;
}

/**
 * Adds what one call counts for to `into`, per metric in `METRICS` order, and returns it: the roll-up batch merges
 * every call into its group's list this way, with no object per call.
 */
export function addCallAmounts(into: bigint[], record: CallRecord, costNanos: bigint): bigint[] {
  const u = record.usage;
  into[AT.spend] += costNanos;
  into[AT.requests] += 1n;
  if (record.status !== "success") into[AT.failures] += 1n;
  if (u) {
    const prompt = promptTokens(u);
    if (prompt) into[AT.prompt_tokens] += BigInt(prompt);
    if (u.outputTokens) into[AT.completion_tokens] += BigInt(u.outputTokens);
    if (u.cacheReadInputTokens) into[AT.cache_read_tokens] += BigInt(u.cacheReadInputTokens);
    if (u.cacheWriteInputTokens) into[AT.cache_write_tokens] += BigInt(u.cacheWriteInputTokens);
  }
  return into;
}

/** Most tags of one call counted in the tag roll-ups, and their longest length (as its spend-log row keeps them). */
export const MAX_ROLLUP_TAGS = 32;
export const MAX_TAG_CHARS = 128;

/** The tags a call counts for in the tag roll-ups: its request tags (header and key), each once. */
export function rollupTags(record: CallRecord): string[] {
  const tags = record.requestTags;
  if (!tags?.length) return [];
  return [...new Set(tags.slice(0, MAX_ROLLUP_TAGS).map((t) => t.slice(0, MAX_TAG_CHARS)))];
}

/** Every roll-up sum of one call, on the UTC day it started. */
export function rollupSums(record: CallRecord, costNanos: bigint): LedgerSum[] {
  const day = dayOf(record.startTime);
  const amounts = callAmounts(record, costNanos);
  const nonZero = METRICS.filter((m) => amounts[m] > 0n);
  const sums: LedgerSum[] = [];
  for (const dim of DIMENSIONS) {
    const value = dimensionValue(record, dim);
    for (const metric of nonZero) sums.push({ key: rollupKey(dim, day, value, metric), amount: amounts[metric] });
  }
  for (const tag of rollupTags(record)) {
    if (costNanos > 0n) sums.push({ key: tagRollupKey(day, tag, "spend"), amount: costNanos });
    sums.push({ key: tagRollupKey(day, tag, "requests"), amount: 1n });
  }
  return sums;
}
