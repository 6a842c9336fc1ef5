/**
 * @module
 * Spend as the admin UI (`server/ui/`) reads it: the reports' groupings, spend per day and model, one key's days,
 * and spend-log rows with the UI's filters (model and status besides the `/spend/logs` ones). Like the spend
 * routes, every read first writes this instance's queued spend and rows, so it includes every call this instance
 * has finished.
 */
import { retryBusy } from "../kv/retry.ts";
import { nanosToUsd } from "../core/money.ts";
import { daysBetween } from "./days.ts";
import { type Metric, rollupKey } from "./kv_layout.ts";
import { rowsNewestFirst, type SpendLogFilter } from "./log_query.ts";
import { readRollups, spendReport } from "./reports.ts";
import type { GlobalSpendReportQuery, GlobalSpendReportRow, SpendLogRow } from "./schemas.ts";

export type { SpendLogFilter };

/** One UTC day's sums (USD and counts). */
export interface DayTotals {
  day: string;
  spend: number;
  requests: number;
  failures: number;
}

/** One model's sums on one UTC day. */
export interface ModelDay {
  day: string;
  model: string;
  spend: number;
  requests: number;
}

export interface SpendReads {
  /** `/global/spend/report`'s groups over the UTC days `from`..`to` (both included). */
  report(from: string, to: string, groupBy: GlobalSpendReportQuery["group_by"]): Promise<GlobalSpendReportRow[]>;
  /** Each model's sums per UTC day with any call, `from`..`to`. */
  dailyByModel(from: string, to: string): Promise<ModelDay[]>;
  /** One key's sums (by its hash) for every UTC day `from`..`to`, zero days included. */
  keyDaily(keyHash: string, from: string, to: string): Promise<DayTotals[]>;
  /** Rows matching `filter`, newest first, after skipping `offset`; at most `limit`. */
  logs(filter: SpendLogFilter, offset: number, limit: number): Promise<SpendLogRow[]>;
}

export interface SpendReadsDeps {
  kv: Deno.Kv;
  /** Writes this instance's queued spend and rows (`ledger.flush`). */
  flush: () => Promise<void>;
}

const KEY_METRICS: readonly Metric[] = ["spend", "requests", "failures"];
/** getMany reads at most 10 keys: three metrics of three days per read. */
const DAYS_PER_READ = 3;
const SEP = "\u0000";

export function createSpendReads(deps: SpendReadsDeps): SpendReads {
  const { kv, flush } = deps;
  return {
    async report(from, to, groupBy) {
      await flush();
      return await spendReport(kv, from, to, groupBy);
    },

    async dailyByModel(from, to) {
      await flush();
      const groups = await readRollups(kv, "model", { from, to }, (day, model) => `${day}${SEP}${model}`);
      const out: ModelDay[] = [];
      for (const [group, t] of groups) {
        const [day, model] = group.split(SEP);
        out.push({ day, model, spend: nanosToUsd(t.spend), requests: Number(t.requests) });
      }
      return out.sort((a, b) => a.day < b.day ? -1 : a.day > b.day ? 1 : a.model < b.model ? -1 : 1);
    },

    // The key's own entries by exact key: a range read would list every key's roll-ups of those days.
    async keyDaily(keyHash, from, to) {
      await flush();
      const days = daysBetween(from, to);
      const out: DayTotals[] = [];
      for (let i = 0; i < days.length; i += DAYS_PER_READ) {
        const chunk = days.slice(i, i + DAYS_PER_READ);
        const keys = chunk.flatMap((day) => KEY_METRICS.map((m) => rollupKey("key", day, keyHash, m)));
        const got = await retryBusy(() => kv.getMany<Deno.KvU64[]>(keys));
        const value = (j: number) => got[j].value instanceof Deno.KvU64 ? got[j].value.value : 0n;
        chunk.forEach((day, d) => {
          const at = d * KEY_METRICS.length;
          out.push({
            day,
            spend: nanosToUsd(value(at)),
            requests: Number(value(at + 1)),
            failures: Number(value(at + 2)),
          });
        });
      }
      return out;
    },

    async logs(filter, offset, limit) {
      await flush();
      return await retryBusy(async () => {
        const rows: SpendLogRow[] = [];
        let seen = 0;
        for await (const row of rowsNewestFirst(kv, filter)) {
          if (seen++ < offset) continue;
          rows.push(row);
          if (rows.length >= limit) break;
        }
        return rows;
      });
    },
  };
}
