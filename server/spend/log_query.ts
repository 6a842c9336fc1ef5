/**
 * @module
 * `GET /spend/logs`: spend-log rows newest first, filtered by any combination of key, user, request id and start
 * time, paged; or, with both dates and `summarize` (LiteLLM's default), spend per day with per-user, per-model and
 * per-key breakdowns.
 *
 * The narrowest index does the scan (request id, then key, then user, then time) and the other filters are checked
 * on each row. An unfiltered summary over whole days comes from the daily roll-ups; a filtered one adds up rows.
 */
import { hashKey } from "../keys/credentials.ts";
import { retryBusy } from "../kv/retry.ts";
import { nanosToUsd, usdToNanos } from "./cost.ts";
import { dayOf, daysBetween, parseDateParam } from "./days.ts";
import { checkRange } from "./days.ts";
import { SPEND_LOG, SPEND_LOG_BY_KEY, SPEND_LOG_BY_USER, spendLogIdKey, spendLogKey } from "./kv_layout.ts";
import { readRollups, type Totals } from "./reports.ts";
import type { SpendLogRow, SpendLogsDay, SpendLogsQuery } from "./schemas.ts";

const HASH = /^[0-9a-f]{64}$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
/** getMany reads at most 10 keys. */
const GET_MANY = 10;

interface Filter {
  keyHash?: string;
  userId?: string;
  requestId?: string;
  fromMs: number;
  toMs: number;
}

function matches(row: SpendLogRow, f: Filter, startMs: number): boolean {
  return (f.keyHash === undefined || row.api_key === f.keyHash) &&
    (f.userId === undefined || row.user === f.userId) &&
    (f.requestId === undefined || row.request_id === f.requestId) &&
    startMs >= f.fromMs && startMs <= f.toMs;
}

/** Rows matching the filter, newest first, read through the narrowest index. */
async function* rowsNewestFirst(kv: Deno.Kv, f: Filter): AsyncGenerator<SpendLogRow> {
  if (f.requestId !== undefined) {
    const at = await kv.get<number>(spendLogIdKey(f.requestId));
    if (typeof at.value !== "number") return;
    const row = await kv.get<SpendLogRow>(spendLogKey(at.value, f.requestId));
    if (row.value && matches(row.value, f, at.value)) yield row.value;
    return;
  }
  const end = f.toMs >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : f.toMs + 1;
  if (f.keyHash === undefined && f.userId === undefined) {
    const it = kv.list<SpendLogRow>({ start: [SPEND_LOG, f.fromMs], end: [SPEND_LOG, end] }, {
      reverse: true,
      batchSize: 100,
    });
    for await (const e of it) if (matches(e.value, f, e.key[1] as number)) yield e.value;
    return;
  }
  const [index, value] = f.keyHash !== undefined ? [SPEND_LOG_BY_KEY, f.keyHash] : [SPEND_LOG_BY_USER, f.userId!];
  const pointers = kv.list({ start: [index, value, f.fromMs], end: [index, value, end] }, {
    reverse: true,
    batchSize: 100,
  });
  let batch: Array<[number, string]> = [];
  const fetch = async function* () {
    const got = await kv.getMany<SpendLogRow[]>(batch.map(([t, id]) => spendLogKey(t, id)));
    for (let i = 0; i < got.length; i++) {
      const row = got[i].value;
      // A row can be gone while its index entry lingers (both expire, not necessarily in the same instant).
      if (row && matches(row, f, batch[i][0])) yield row;
    }
    batch = [];
  };
  for await (const e of pointers) {
    batch.push([e.key[2] as number, e.key[3] as string]);
    if (batch.length === GET_MANY) yield* fetch();
  }
  if (batch.length) yield* fetch();
}

/** Adds a row's spend into its day of a summary. */
function addToDay(day: Map<string, bigint>, users: Map<string, bigint>, models: Map<string, bigint>, row: SpendLogRow) {
  const nanos = usdToNanos(row.spend);
  day.set("", (day.get("") ?? 0n) + nanos);
  if (row.api_key) day.set(row.api_key, (day.get(row.api_key) ?? 0n) + nanos);
  if (row.user) users.set(row.user, (users.get(row.user) ?? 0n) + nanos);
  models.set(row.model, (models.get(row.model) ?? 0n) + nanos);
}

interface DayAcc {
  /** "" = the day's total; other keys are key hashes. */
  spend: Map<string, bigint>;
  users: Map<string, bigint>;
  models: Map<string, bigint>;
}

const usd = (m: Map<string, bigint>) => Object.fromEntries([...m].map(([k, v]) => [k, nanosToUsd(v)]));

/** LiteLLM's summary shape: one entry per day in the range, zero days included. */
function summaryDays(days: string[], acc: Map<string, DayAcc>): SpendLogsDay[] {
  return days.map((d) => {
    const a = acc.get(d);
    const perKey = a ? usd(new Map([...a.spend].filter(([k]) => k !== ""))) : {};
    return {
      ...perKey,
      startTime: d,
      spend: nanosToUsd(a?.spend.get("") ?? 0n),
      users: a ? usd(a.users) : {},
      models: a ? usd(a.models) : {},
    };
  });
}

const accFor = (acc: Map<string, DayAcc>, day: string): DayAcc => {
  let a = acc.get(day);
  if (!a) acc.set(day, a = { spend: new Map(), users: new Map(), models: new Map() });
  return a;
};

/** The unfiltered summary of whole days, from the roll-ups (no row scan). */
async function summaryFromRollups(kv: Deno.Kv, from: string, to: string): Promise<Map<string, DayAcc>> {
  const acc = new Map<string, DayAcc>();
  const sep = "\u0000";
  const perDayValue = (day: string, value: string) => `${day}${sep}${value}`;
  const read = (dim: "total" | "key" | "user" | "model") => readRollups(kv, dim, { from, to }, perDayValue);
  const [total, keys, users, models] = await Promise.all([read("total"), read("key"), read("user"), read("model")]);
  const each = (m: Map<string, Totals>, put: (a: DayAcc, value: string, nanos: bigint) => void) => {
    for (const [g, t] of m) {
      const [day, value] = g.split(sep);
      if (t.spend > 0n) put(accFor(acc, day), value, t.spend);
    }
  };
  each(total, (a, _, n) => a.spend.set("", n));
  each(keys, (a, v, n) => v && a.spend.set(v, n));
  each(users, (a, v, n) => v && a.users.set(v, n));
  each(models, (a, v, n) => a.models.set(v, n));
  return acc;
}

/** Answers `/spend/logs` for validated query parameters. */
export async function querySpendLogs(kv: Deno.Kv, q: SpendLogsQuery): Promise<SpendLogRow[] | SpendLogsDay[]> {
  const fromMs = q.start_date === undefined ? 0 : parseDateParam(q.start_date, "start_date", false);
  const toMs = q.end_date === undefined ? Number.MAX_SAFE_INTEGER : parseDateParam(q.end_date, "end_date", true);
  const filter: Filter = {
    // LiteLLM accepts the key itself or its hash; only the hash is ever stored.
    keyHash: q.api_key === undefined ? undefined : HASH.test(q.api_key) ? q.api_key : hashKey(q.api_key),
    userId: q.user_id,
    requestId: q.request_id,
    fromMs,
    toMs,
  };
  const summarize = q.start_date !== undefined && q.end_date !== undefined && q.summarize === "true";
  return await retryBusy(async () => {
    if (summarize) {
      checkRange(fromMs, toMs);
      const days = daysBetween(dayOf(fromMs), dayOf(toMs));
      const wholeDays = DATE_ONLY.test(q.start_date!) && DATE_ONLY.test(q.end_date!);
      const unfiltered = filter.keyHash === undefined && filter.userId === undefined && filter.requestId === undefined;
      let acc: Map<string, DayAcc>;
      if (wholeDays && unfiltered) acc = await summaryFromRollups(kv, days[0], days.at(-1)!);
      else {
        acc = new Map();
        for await (const row of rowsNewestFirst(kv, filter)) {
          const a = accFor(acc, dayOf(Date.parse(row.startTime)));
          addToDay(a.spend, a.users, a.models, row);
        }
      }
      return summaryDays(days, acc);
    }
    const skip = (q.page - 1) * q.page_size;
    const rows: SpendLogRow[] = [];
    let seen = 0;
    for await (const row of rowsNewestFirst(kv, filter)) {
      if (seen++ < skip) continue;
      rows.push(row);
      if (rows.length >= q.page_size) break;
    }
    return rows;
  });
}
