/**
 * @module
 * `GET /spend/logs`: spend-log rows newest first, filtered by any combination of key, user, request id and start
 * time, paged; or, with both dates and `summarize` (LiteLLM's default), spend per day with per-user, per-model and
 * per-key breakdowns.
 *
 * Rows live in pages, one or more per second of start time (`kv_layout.ts`). A scan reads whole seconds, newest
 * first (all pages of the range, or those a key's or user's index lists), and orders the rows inside each second by
 * start time and request id, newest first, as one key per row would; the other filters are checked on each row. A
 * request id made by the gateway is a UUIDv7: its time points at the few seconds to read. An unfiltered summary over
 * whole days comes from the daily roll-ups; a filtered one adds up rows.
 */
import { hashKey } from "../keys/credentials.ts";
import { retryBusy } from "../kv/retry.ts";
import { nanosToUsd, usdToNanos } from "../core/money.ts";
import { dayOf, daysBetween, parseDateParam } from "./days.ts";
import { checkRange } from "./days.ts";
import { logSecond, SPEND_LOG_BY_KEY, SPEND_LOG_BY_USER, SPEND_LOG_PAGE, spendLogPageKey } from "./kv_layout.ts";
import { readRollups, type Totals } from "./reports.ts";
import type { SpendLogRow, SpendLogsDay, SpendLogsQuery } from "./schemas.ts";
import { uuidV7Time } from "../core/uuidv7.ts";

const HASH = /^[0-9a-f]{64}$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
/** getMany reads at most 10 keys. */
const GET_MANY = 10;
/** Pages per `list` round trip (each up to ~56 KiB). */
const PAGE_BATCH = 16;
/**
 * Where a request id's row can be, around the time its UUIDv7 holds. The id is made when the request arrives, the
 * row's `startTime` a little later, once the caller is authenticated and admitted (a KV read at most, retried
 * briefly while the file is busy; the request body is read after `startTime`). The seconds are read oldest first
 * and the scan stops at the row, so the generous upper bound costs nothing when the row is found (the usual case:
 * it is in the id's own second); it bounds the search for an id that has no row. The lower bound allows for the
 * wall clock stepping back between the two readings (NTP).
 */
const ID_BEFORE_MS = 2_000;
const ID_AFTER_MS = 60_000;

/** Which rows to read: every given field must match; `fromMs`..`toMs` (both included) bounds the start time. */
export interface SpendLogFilter {
  keyHash?: string;
  userId?: string;
  teamId?: string;
  requestId?: string;
  /** The `model_name` called (the UI's filter; `/spend/logs` has none). */
  model?: string;
  status?: SpendLogRow["status"];
  fromMs: number;
  toMs: number;
}
type Filter = SpendLogFilter;

function matches(row: SpendLogRow, f: Filter, startMs: number): boolean {
  return (f.keyHash === undefined || row.api_key === f.keyHash) &&
    (f.userId === undefined || row.user === f.userId) &&
    (f.teamId === undefined || row.team_id === f.teamId) &&
    (f.requestId === undefined || row.request_id === f.requestId) &&
    (f.model === undefined || row.model === f.model) &&
    (f.status === undefined || row.status === f.status) &&
    startMs >= f.fromMs && startMs <= f.toMs;
}

interface Page {
  second: number;
  rows: SpendLogRow[];
}

/** Every page of the seconds `from` ≤ second < `end`, newest second first (or oldest first). */
async function* pagesOf(kv: Deno.Kv, from: number, end: number, reverse = true): AsyncGenerator<Page> {
  const it = kv.list<SpendLogRow[]>({ start: [SPEND_LOG_PAGE, from], end: [SPEND_LOG_PAGE, end] }, {
    reverse,
    batchSize: PAGE_BATCH,
  });
  for await (const e of it) yield { second: e.key[1] as number, rows: e.value };
}

/** The pages an index lists for one key hash or user in the seconds `from` ≤ second < `end`, newest first. */
async function* indexedPages(
  kv: Deno.Kv,
  index: typeof SPEND_LOG_BY_KEY | typeof SPEND_LOG_BY_USER,
  value: string,
  from: number,
  end: number,
): AsyncGenerator<Page> {
  const pointers = kv.list({ start: [index, value, from], end: [index, value, end] }, {
    reverse: true,
    batchSize: 100,
  });
  let batch: Deno.KvKey[] = [];
  const fetch = async function* () {
    const got = await kv.getMany<SpendLogRow[][]>(batch);
    batch = [];
    // A page can be gone while its index entry lingers (both expire, not necessarily in the same instant).
    for (const e of got) if (e.value) yield { second: e.key[1] as number, rows: e.value };
  };
  for await (const e of pointers) {
    batch.push(spendLogPageKey(e.key[2] as number, e.key[3] as string, e.key[4] as number));
    if (batch.length === GET_MANY) yield* fetch();
  }
  if (batch.length) yield* fetch();
}

/** The pages that can hold rows matching the filter's key or user and time range, newest second first. */
function candidatePages(kv: Deno.Kv, f: Filter): AsyncGenerator<Page> {
  const from = logSecond(f.fromMs), end = logSecond(f.toMs) + 1;
  if (f.keyHash !== undefined) return indexedPages(kv, SPEND_LOG_BY_KEY, f.keyHash, from, end);
  if (f.userId !== undefined) return indexedPages(kv, SPEND_LOG_BY_USER, f.userId, from, end);
  return pagesOf(kv, from, end);
}

/** One request id's row: near the time its UUIDv7 holds, else (other ids) the newest row with it anywhere. */
async function* rowById(kv: Deno.Kv, f: Filter, id: string): AsyncGenerator<SpendLogRow> {
  const at = uuidV7Time(id);
  let pages: AsyncGenerator<Page>;
  if (at === undefined) pages = candidatePages(kv, f);
  else {
    const from = Math.max(logSecond(at - ID_BEFORE_MS), logSecond(f.fromMs));
    const end = Math.min(logSecond(at + ID_AFTER_MS), logSecond(f.toMs)) + 1;
    if (from >= end) return;
    pages = pagesOf(kv, from, end, false);
  }
  for await (const page of pages) {
    const row = page.rows.find((r) => r.request_id === id);
    if (row) {
      if (matches(row, f, Date.parse(row.startTime))) yield row;
      return;
    }
  }
}

interface Timed {
  row: SpendLogRow;
  at: number;
}

/** Start time, then request id, both descending: the order one KV key per row (`[startTime, requestId]`) gave. */
const newestFirst = (a: Timed, b: Timed) =>
  b.at - a.at || (a.row.request_id < b.row.request_id ? 1 : a.row.request_id > b.row.request_id ? -1 : 0);

/** Rows matching the filter, newest first. */
export async function* rowsNewestFirst(kv: Deno.Kv, f: Filter): AsyncGenerator<SpendLogRow> {
  if (f.requestId !== undefined) {
    yield* rowById(kv, f, f.requestId);
    return;
  }
  // Rows of one second can be spread over several pages (batches, instances): gather the second, then order it.
  let second: number | undefined;
  let rows: Timed[] = [];
  for await (const page of candidatePages(kv, f)) {
    if (page.second !== second) {
      for (const t of rows.sort(newestFirst)) yield t.row;
      rows = [];
      second = page.second;
    }
    for (const row of page.rows) {
      const at = Date.parse(row.startTime);
      if (matches(row, f, at)) rows.push({ row, at });
    }
  }
  for (const t of rows.sort(newestFirst)) yield t.row;
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
    teamId: q.team_id,
    requestId: q.request_id,
    fromMs,
    toMs,
  };
  const summarize = q.start_date !== undefined && q.end_date !== undefined && q.summarize;
  return await retryBusy(async () => {
    if (summarize) {
      checkRange(fromMs, toMs);
      const days = daysBetween(dayOf(fromMs), dayOf(toMs));
      const wholeDays = DATE_ONLY.test(q.start_date!) && DATE_ONLY.test(q.end_date!);
      const unfiltered = filter.keyHash === undefined && filter.userId === undefined &&
        filter.teamId === undefined && filter.requestId === undefined;
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
