/**
 * @module
 * Reads of the daily roll-ups: `GET /global/spend` and `GET /global/spend/report`. Sums are added up as integer
 * nano-USD and tokens and turned into USD only in the answer, so every grouping of the same days gives the same
 * total, to the nano.
 */
import { retryBusy } from "../kv/retry.ts";
import { nanosToUsd } from "../core/money.ts";
import { nextDay } from "./days.ts";
import { type Dimension, type Metric, METRICS, rollupPrefix, rollupRange, tagRollupRange } from "./kv_layout.ts";
import type { GlobalSpendReportQuery, GlobalSpendReportRow, SpendTag } from "./schemas.ts";

export type Totals = Record<Metric, bigint>;

export const zeroTotals = (): Totals => Object.fromEntries(METRICS.map((m) => [m, 0n])) as Totals;

/** A day range, both ends included; open ends read everything. */
export interface DayRange {
  from?: string;
  to?: string;
}

/**
 * One dimension's roll-ups in a day range, added up per group: `group(day, value)` names the group an entry
 * belongs to (per day, per value, or one group).
 */
export async function readRollups(
  kv: Deno.Kv,
  dim: Dimension,
  range: DayRange,
  group: (day: string, value: string) => string,
): Promise<Map<string, Totals>> {
  return await retryBusy(async () => {
    const out = new Map<string, Totals>();
    const selector = range.from !== undefined || range.to !== undefined
      ? rollupRange(dim, range.from ?? "", range.to === undefined ? "\uffff" : nextDay(range.to))
      : { prefix: rollupPrefix(dim) };
    for await (const e of kv.list<Deno.KvU64>(selector, { batchSize: 500 })) {
      const [, , day, value, metric] = e.key as [string, string, string, string, Metric];
      if (!(e.value instanceof Deno.KvU64) || !METRICS.includes(metric)) continue;
      const g = group(day, value);
      let totals = out.get(g);
      if (!totals) out.set(g, totals = zeroTotals());
      totals[metric] += e.value.value;
    }
    return out;
  });
}

/** Total spend (nano-USD) of the days in `range`. */
export async function globalSpendNanos(kv: Deno.Kv, range: DayRange): Promise<bigint> {
  const totals = await readRollups(kv, "total", range, () => "");
  return totals.get("")?.spend ?? 0n;
}

const DIMENSION_OF: Record<GlobalSpendReportQuery["group_by"], Dimension> = {
  day: "total",
  model: "model",
  key: "key",
  user: "user",
  team: "team",
  deployment: "deployment",
};

/** The report's row for one group. */
function reportRow(groupBy: GlobalSpendReportQuery["group_by"], group: string, t: Totals): GlobalSpendReportRow {
  const orNull = (v: string) => v === "" ? null : v;
  const head: Partial<GlobalSpendReportRow> = groupBy === "day"
    ? { group_by_day: group }
    : groupBy === "model"
    ? { model: group }
    : groupBy === "key"
    ? { api_key: orNull(group) }
    : groupBy === "user"
    ? { user: orNull(group) }
    : groupBy === "team"
    ? { team_id: orNull(group) }
    : { model_id: orNull(group) };
  return {
    ...head,
    total_spend: nanosToUsd(t.spend),
    api_requests: Number(t.requests),
    failed_requests: Number(t.failures),
    total_input_tokens: Number(t.prompt_tokens),
    total_output_tokens: Number(t.completion_tokens),
    total_cache_read_input_tokens: Number(t.cache_read_tokens),
    total_cache_creation_input_tokens: Number(t.cache_write_tokens),
    total_tokens: Number(t.prompt_tokens + t.completion_tokens),
  };
}

/** `/global/spend/report`: groups of the chosen dimension over whole UTC days `from`..`to`. */
export async function spendReport(
  kv: Deno.Kv,
  from: string,
  to: string,
  groupBy: GlobalSpendReportQuery["group_by"],
): Promise<GlobalSpendReportRow[]> {
  const byDay = groupBy === "day";
  const groups = await readRollups(kv, DIMENSION_OF[groupBy], { from, to }, (day, value) => byDay ? day : value);
  const entries = [...groups.entries()];
  entries.sort(([ga, a], [gb, b]) =>
    byDay ? (ga < gb ? -1 : 1) : a.spend !== b.spend ? (a.spend > b.spend ? -1 : 1) : ga < gb ? -1 : ga > gb ? 1 : 0
  );
  return entries.map(([g, t]) => reportRow(groupBy, g, t));
}

/** `/spend/tags`: spend and calls per request tag over a day range, highest spend first. */
export async function tagSpend(kv: Deno.Kv, range: DayRange): Promise<SpendTag[]> {
  const selector = tagRollupRange(range.from, range.to === undefined ? undefined : nextDay(range.to));
  const tags = await retryBusy(async () => {
    const out = new Map<string, { spend: bigint; requests: bigint }>();
    for await (const e of kv.list<Deno.KvU64>(selector, { batchSize: 500 })) {
      const [, , tag, metric] = e.key as [string, string, string, string];
      if (!(e.value instanceof Deno.KvU64)) continue;
      let t = out.get(tag);
      if (!t) out.set(tag, t = { spend: 0n, requests: 0n });
      if (metric === "spend") t.spend += e.value.value;
      else if (metric === "requests") t.requests += e.value.value;
    }
    return out;
  });
  return [...tags].sort(([ta, a], [tb, b]) => a.spend !== b.spend ? (a.spend > b.spend ? -1 : 1) : ta < tb ? -1 : 1)
    .map(([tag, t]) => ({
      individual_request_tag: tag,
      log_count: Number(t.requests),
      total_spend: nanosToUsd(t.spend),
    }));
}

/** The groups of a dimension with the highest spend over a day range (calls without a value left out). */
export async function topSpenders(
  kv: Deno.Kv,
  dim: "key" | "model",
  range: DayRange,
  limit: number | undefined,
): Promise<Array<{ value: string; spend: bigint }>> {
  const groups = await readRollups(kv, dim, range, (_, value) => value);
  const top = [...groups].filter(([value, t]) => value !== "" && t.spend > 0n)
    .sort(([va, a], [vb, b]) => a.spend !== b.spend ? (a.spend > b.spend ? -1 : 1) : va < vb ? -1 : 1)
    .map(([value, t]) => ({ value, spend: t.spend }));
  return limit === undefined ? top : top.slice(0, limit);
}
