/**
 * @module
 * Spend-log rows packed into pages (layout in `kv_layout.ts`). Calls are queued here (one array push per call);
 * just before the ledger takes its next batch, its collector builds the queued calls' rows, groups them by the
 * second their call started and packs each group into pages of at most ~56 KiB, each with one index entry per
 * distinct key hash and user in it. The pages go into that batch as ledger rows, so they commit in the same batch
 * as the calls' spend sums, exactly once (the ledger's batch marker guards them like the sums), and each page
 * commits atomically with its index entries.
 *
 * Rows are built at batch time, off the response path, except for calls with stored bodies: those are built (and
 * their bodies capped) at once, so a queue of calls never holds whole request and response bodies. The queue is
 * bounded: while KV cannot keep up, calls beyond `maxPending` lose their row (counted, logged); their spend is
 * accounted elsewhere and never dropped.
 */
import { createIsoTime } from "../core/iso_time.ts";
import type { Logger } from "../core/log.ts";
import type { CallRecord } from "../core/call_record.ts";
import type { Quote } from "../pricing/cost.ts";
import { logSecond, SPEND_LOG_BY_KEY, SPEND_LOG_BY_USER, spendLogIndexKey, spendLogPageKey } from "./kv_layout.ts";
import type { Collected, Ledger, LedgerRow } from "../kv/ledger.ts";
import type { SpendLogRow } from "./schemas.ts";
import { spendLogRow, type StoredRow } from "./spend_log.ts";

/**
 * Pages are closed at this many bytes (estimated upper bound of the serialized rows): Deno KV's value limit is
 * 64 KiB, and the margin covers the array around the rows. A row larger than this gets a page of its own (rows
 * are capped below the limit).
 */
export const PAGE_BYTES = 56 * 1024;
/** The array holding a page's rows: tag, length, end tag. */
const PAGE_OVERHEAD_BYTES = 16;

export interface SpendLogPagesOptions {
  ledger: Pick<Ledger, "addLater" | "instanceId">;
  /** Ms until KV deletes a page and its index entries. */
  retentionMs: number;
  log: Logger;
  /** Calls beyond this many waiting for their batch lose their row (counted). Default 20 000. */
  maxPending?: number;
  /** Page size bound (tests use small pages); default `PAGE_BYTES`. */
  pageBytes?: number;
}

export interface SpendLogPages {
  /** Queues a finished call's row; never waits, never throws. */
  add(record: CallRecord, quote: Quote): void;
  /** Rows waiting for the next batch, and rows dropped because the queue was full. */
  stats(): { pending: number; dropped: number };
}

/**
 * A queued call: what to build its row from (a finished call's record no longer changes: the sink gets it once it
 * is complete), or its row already built (calls with stored bodies).
 */
type Queued = { record: CallRecord; quote: Quote } | { startTime: number; stored: StoredRow };

/**
 * A row with its stored bodies; should building it fail anyway (`spendLogRow` is written not to), the row without
 * them, saying so: a call never goes without its row because of what its bodies hold.
 */
function rowWithBodies(record: CallRecord, quote: Quote, iso: (ms: number) => string): StoredRow {
  try {
    return spendLogRow(record, quote, iso);
  } catch {
    const stored = spendLogRow({ ...record, requestBody: undefined, responseBody: undefined }, quote, iso);
    if (record.requestBody !== undefined) stored.row.metadata.messages_unstorable = true;
    if (record.responseBody !== undefined) stored.row.metadata.response_unstorable = true;
    return stored;
  }
}

export function createSpendLogPages(opts: SpendLogPagesOptions): SpendLogPages {
  const { ledger, retentionMs, log } = opts;
  const maxPending = opts.maxPending ?? 20_000;
  const pageBytes = opts.pageBytes ?? PAGE_BYTES;
  let queue: Queued[] = [];
  let dropped = 0;
  let dropEvents = 0;
  /** Numbers this instance's pages (with the ledger's instance id, a page key nobody else writes). */
  let seq = 0;
  /** Formats the rows' times; its cache of the current second is this writer's own. */
  const iso = createIsoTime();

  /** Builds one page (a ledger row with its index entries) from rows of one second. */
  function page(second: number, rows: SpendLogRow[], bytes: number): LedgerRow {
    const key = spendLogPageKey(second, ledger.instanceId, ++seq);
    const index: Deno.KvKey[] = [];
    const keys = new Set<string>(), users = new Set<string>();
    for (const r of rows) {
      if (r.api_key && !keys.has(r.api_key)) {
        keys.add(r.api_key);
        index.push(spendLogIndexKey(SPEND_LOG_BY_KEY, r.api_key, key));
      }
      if (r.user && !users.has(r.user)) {
        users.add(r.user);
        index.push(spendLogIndexKey(SPEND_LOG_BY_USER, r.user, key));
      }
    }
    return { key, value: rows, expireIn: retentionMs, bytes, index, count: rows.length };
  }

  /** The ledger's collector: the queued calls' rows as pages. */
  function take(): Collected {
    const taken = queue;
    queue = [];
    // Almost every batch holds one or two seconds; a Map keeps them in arrival order.
    const bySecond = new Map<number, StoredRow[]>();
    for (const q of taken) {
      let stored: StoredRow, second: number;
      try {
        if ("stored" in q) {
          stored = q.stored;
          second = logSecond(q.startTime);
        } else {
          stored = spendLogRow(q.record, q.quote, iso);
          second = logSecond(q.record.startTime);
        }
      } catch (e) {
        dropped++;
        log.error("spend log: building a row failed", { error: (e as Error).name, message: (e as Error).message });
        continue;
      }
      const group = bySecond.get(second);
      if (group) group.push(stored);
      else bySecond.set(second, [stored]);
    }
    const pages: LedgerRow[] = [];
    for (const [second, group] of bySecond) {
      let rows: SpendLogRow[] = [];
      let bytes = PAGE_OVERHEAD_BYTES;
      for (const { row, bytes: b } of group) {
        if (rows.length && bytes + b > pageBytes) {
          pages.push(page(second, rows, bytes));
          rows = [];
          bytes = PAGE_OVERHEAD_BYTES;
        }
        rows.push(row);
        bytes += b;
      }
      if (rows.length) pages.push(page(second, rows, bytes));
    }
    return { rows: pages };
  }

  return {
    add(record, quote) {
      if (queue.length >= maxPending) {
        // KV is not keeping up: losing log rows beats growing without bound (the call's spend is still kept).
        if (dropEvents++ % 1000 === 0) {
          log.error("spend log: row queue full, dropping spend-log rows", { pending: queue.length, dropped });
        }
        dropped++;
        return;
      }
      // Stored bodies are capped now, so the queue holds at most a capped row per call, never whole bodies.
      const withBodies = record.requestBody !== undefined || record.responseBody !== undefined;
      const queued: Queued = withBodies ? { startTime: record.startTime, stored: rowWithBodies(record, quote, iso) } : {
        record,
        quote,
      };
      if (queue.length === 0) ledger.addLater(take);
      queue.push(queued);
    },
    stats: () => ({ pending: queue.length, dropped }),
  };
}
