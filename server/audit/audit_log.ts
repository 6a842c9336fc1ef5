/**
 * @module
 * The audit trail: every admin change of a key, team or user (`keys/admin.ts`, `owners/changes.ts` announce them)
 * becomes an `audit` log line at once and a record in KV (`["audit", at, n, id]`, `n` ordering one instance's
 * records within a millisecond; newest first when listed in reverse), read a page at a time by `GET /audit/logs` (master key only).
 *
 * The record is written after the change (as LiteLLM writes its audit rows in the background), retried while KV is
 * busy; a record that cannot be written is said so in a `warn` line that carries the same fields, so the log keeps
 * the trail. `idle()` resolves once every record this instance took has been written (the route waits for it, so a
 * change is readable right after its response).
 */
import type { Logger } from "../core/log.ts";
import { retryBusy } from "../kv/retry.ts";
import { type AuditChange, type AuditRow, auditRow } from "./audit_record.ts";

export const AUDIT_PREFIX: Deno.KvKey = ["audit"];
/** Records a filtered page may scan at most (newest first); past it the answer says `total` is a lower bound. */
export const MAX_AUDIT_SCAN = 50_000;

export interface AuditLogDeps {
  kv: Deno.Kv;
  log: Logger;
  newId: () => string;
  /** The master key's hash: every change is made with it (undefined: an open gateway). */
  masterKeyHash?: string;
}

export interface AuditQuery {
  action?: string;
  table_name?: string;
  object_id?: string;
  changed_by?: string;
  /** Epoch ms bounds, inclusive. */
  from?: number;
  to?: number;
  page: number;
  page_size: number;
}

export interface AuditPage {
  data: AuditRow[];
  total: number;
  page: number;
  page_size: number;
  total_pages: number;
}

export interface AuditLog {
  /** Logs the change and writes its record in the background; never throws. */
  record(change: AuditChange): void;
  /** Resolves once every record taken so far is written (or given up on). */
  idle(): Promise<void>;
  page(q: AuditQuery): Promise<AuditPage>;
}

export function createAuditLog(deps: AuditLogDeps): AuditLog {
  const { kv, log } = deps;
  const pending = new Set<Promise<void>>();
  /** Orders this instance's records within one millisecond (the injected clock may stand still). */
  let seq = 0;

  const matches = (r: AuditRow, q: AuditQuery, at: number) =>
    (q.action === undefined || r.action === q.action) &&
    (q.table_name === undefined || r.table_name === q.table_name) &&
    (q.object_id === undefined || r.object_id === q.object_id) &&
    (q.changed_by === undefined || r.changed_by === q.changed_by) &&
    (q.from === undefined || at >= q.from) && (q.to === undefined || at <= q.to);

  return {
    record(change) {
      let row: AuditRow;
      try {
        row = auditRow(deps.newId(), change, deps.masterKeyHash);
      } catch (e) {
        log.error("audit record failed", { error: (e as Error).name, message: (e as Error).message });
        return;
      }
      log.info("audit", { ...row });
      const key = [...AUDIT_PREFIX, change.at, seq++, row.id];
      const p = retryBusy(() => kv.set(key, row)).then(
        () => {},
        (e) => log.warn("audit record not written to KV", { id: row.id, error: (e as Error).name }),
      ).finally(() => pending.delete(p));
      pending.add(p);
    },

    async idle() {
      while (pending.size) await Promise.all([...pending]);
    },

    async page(q) {
      const skip = (q.page - 1) * q.page_size;
      const data: AuditRow[] = [];
      let total = 0, scanned = 0;
      const start = q.from === undefined ? undefined : [...AUDIT_PREFIX, q.from];
      const end = q.to === undefined ? undefined : [...AUDIT_PREFIX, q.to + 1];
      const selector: Deno.KvListSelector = start && end
        ? { start, end }
        : start
        ? { prefix: AUDIT_PREFIX, start }
        : end
        ? { prefix: AUDIT_PREFIX, end }
        : { prefix: AUDIT_PREFIX };
      for await (const entry of kv.list<AuditRow>(selector, { reverse: true, batchSize: 500 })) {
        if (++scanned > MAX_AUDIT_SCAN) break;
        if (!matches(entry.value, q, entry.key[1] as number)) continue;
        if (total >= skip && data.length < q.page_size) data.push(entry.value);
        total++;
      }
      return { data, total, page: q.page, page_size: q.page_size, total_pages: Math.ceil(total / q.page_size) };
    },
  };
}
