/**
 * @module
 * Key records in Deno KV: create, read, replace (update and regenerate), delete, list. Every write that touches
 * an alias updates the alias index in the same atomic operation, guarded by versionstamp checks, so aliases stay
 * unique and the index never points at a missing record. Only hashes are stored, never a raw key.
 */
import { serialize } from "node:v8";
import { retryBusy } from "../kv/retry.ts";
import { aliasKey, recordKey, rpmKey, softBudgetAlertPrefix, spendPrefix, tpmKey } from "./kv_layout.ts";
import type { KeyRecord } from "./record.ts";

/** Deno KV refuses values over 64 KiB; records are kept well under it (checked before every write). */
export const MAX_RECORD_BYTES = 60 * 1024;

/** A record as read, with the versionstamp a later write checks against. */
export interface StoredKey {
  record: KeyRecord;
  versionstamp: string;
}

export type WriteResult =
  | { ok: true }
  /** The target alias belongs to another key. */
  | { ok: false; reason: "alias_taken" }
  /** A record already exists under the target hash. */
  | { ok: false; reason: "key_exists" }
  /** The record changed (or vanished) since it was read; read again and retry. */
  | { ok: false; reason: "conflict" };

export interface ListFilter {
  userId?: string;
  teamId?: string;
  alias?: string;
}

export interface KeyStore {
  get(hash: string): Promise<StoredKey | null>;
  hashForAlias(alias: string): Promise<string | null>;
  create(record: KeyRecord): Promise<WriteResult>;
  /** Writes `next` over `current`; handles a changed hash (regenerate) and a changed alias atomically. */
  replace(current: StoredKey, next: KeyRecord): Promise<WriteResult>;
  /** Deletes one record and its alias, if it has not changed since it was read. */
  delete(current: StoredKey): Promise<boolean>;
  /** Best-effort removal of a deleted key's counters (spend windows, rate counters, soft-budget markers). */
  deleteCounters(id: string): Promise<void>;
  /** One page of records (in hash order) and how many match in total. */
  list(filter: ListFilter, page: number, size: number): Promise<{ records: KeyRecord[]; total: number }>;
}

/** Size of a record as KV will store it (V8 serialization, like Deno KV). */
export function recordBytes(record: object): number {
  return serialize(record).byteLength;
}

export function createKeyStore(kv: Deno.Kv): KeyStore {
  /** Works out why a failed write failed, so the admin gets a precise error. */
  async function whyFailed(next: KeyRecord, current?: StoredKey): Promise<WriteResult> {
    const [target, alias, now] = await retryBusy(() =>
      kv.getMany<[KeyRecord, string, KeyRecord]>([
        recordKey(next.hash),
        // Aliases are never empty, so this placeholder reads nothing for a key without one.
        aliasKey(next.alias ?? ""),
        recordKey(current?.record.hash ?? next.hash),
      ])
    );
    if (current && now.versionstamp !== current.versionstamp) return { ok: false, reason: "conflict" };
    if (next.hash !== current?.record.hash && target.versionstamp !== null) return { ok: false, reason: "key_exists" };
    if (next.alias !== undefined && alias.value !== null && alias.value !== current?.record.hash) {
      return { ok: false, reason: "alias_taken" };
    }
    return { ok: false, reason: "conflict" };
  }

  return {
    async get(hash) {
      const e = await retryBusy(() => kv.get<KeyRecord>(recordKey(hash)));
      return e.value && e.versionstamp ? { record: e.value, versionstamp: e.versionstamp } : null;
    },

    async hashForAlias(alias) {
      return (await retryBusy(() => kv.get<string>(aliasKey(alias)))).value;
    },

    async create(record) {
      const res = await retryBusy(() => {
        const op = kv.atomic().check({ key: recordKey(record.hash), versionstamp: null });
        if (record.alias !== undefined) {
          op.check({ key: aliasKey(record.alias), versionstamp: null }).set(aliasKey(record.alias), record.hash);
        }
        return op.set(recordKey(record.hash), record).commit();
      });
      return res.ok ? { ok: true } : whyFailed(record);
    },

    async replace(current, next) {
      const old = current.record;
      const res = await retryBusy(() => {
        const op = kv.atomic().check({ key: recordKey(old.hash), versionstamp: current.versionstamp });
        if (next.hash !== old.hash) {
          op.check({ key: recordKey(next.hash), versionstamp: null }).delete(recordKey(old.hash));
        }
        if (next.alias !== old.alias) {
          if (old.alias !== undefined) op.delete(aliasKey(old.alias));
          if (next.alias !== undefined) op.check({ key: aliasKey(next.alias), versionstamp: null });
        }
        // The alias index points at the current hash (it moves with a regenerated key).
        if (next.alias !== undefined && (next.alias !== old.alias || next.hash !== old.hash)) {
          op.set(aliasKey(next.alias), next.hash);
        }
        return op.set(recordKey(next.hash), next).commit();
      });
      return res.ok ? { ok: true } : whyFailed(next, current);
    },

    async delete(current) {
      const { record } = current;
      const res = await retryBusy(() => {
        const op = kv.atomic()
          .check({ key: recordKey(record.hash), versionstamp: current.versionstamp })
          .delete(recordKey(record.hash));
        if (record.alias !== undefined) op.delete(aliasKey(record.alias));
        return op.commit();
      });
      return res.ok;
    },

    async deleteCounters(id) {
      const keys: Deno.KvKey[] = [rpmKey(id), tpmKey(id)];
      await retryBusy(async () => {
        keys.length = 2;
        for await (const e of kv.list({ prefix: spendPrefix(id) })) keys.push(e.key);
        for await (const e of kv.list({ prefix: softBudgetAlertPrefix(id) })) keys.push(e.key);
      });
      for (let i = 0; i < keys.length; i += 500) {
        await retryBusy(() => {
          const op = kv.atomic();
          for (const key of keys.slice(i, i + 500)) op.delete(key);
          return op.commit();
        });
      }
    },

    list(filter, page, size) {
      const from = (page - 1) * size;
      return retryBusy(async () => {
        const records: KeyRecord[] = [];
        let total = 0;
        for await (const e of kv.list<KeyRecord>({ prefix: ["keys"] }, { batchSize: 500 })) {
          const r = e.value;
          if (filter.userId !== undefined && r.userId !== filter.userId) continue;
          if (filter.teamId !== undefined && r.teamId !== filter.teamId) continue;
          if (filter.alias !== undefined && r.alias !== filter.alias) continue;
          if (total >= from && records.length < size) records.push(r);
          total++;
        }
        return { records, total };
      });
    },
  };
}
