/**
 * @module
 * Team and user records in Deno KV (`["team", id]`, `["user", id]`): create (an id is taken once), read, replace
 * under a versionstamp check, delete, list; and the removal of a deleted owner's counters.
 */
import { retryBusy } from "../kv/retry.ts";
import { ownerKey, ownerPrefix, ownerRpmKey, ownerSpendPrefix, ownerTpmKey } from "./kv_layout.ts";
import type { OwnerKind, OwnerRecords } from "./owner_record.ts";

/** A record as read, with the versionstamp a later write checks against. */
export interface StoredOwner<K extends OwnerKind> {
  record: OwnerRecords[K];
  versionstamp: string;
}

export interface OwnerStore {
  get<K extends OwnerKind>(kind: K, id: string): Promise<StoredOwner<K> | null>;
  /** False when the id is taken. */
  create<K extends OwnerKind>(kind: K, record: OwnerRecords[K]): Promise<boolean>;
  /** False when the record changed (or vanished) since it was read. */
  replace<K extends OwnerKind>(kind: K, current: StoredOwner<K>, next: OwnerRecords[K]): Promise<boolean>;
  /** False when the record changed since it was read. */
  delete<K extends OwnerKind>(kind: K, current: StoredOwner<K>): Promise<boolean>;
  /** Every record of a kind, in id order, that `keep` accepts (teams and users are few: a scan). */
  list<K extends OwnerKind>(kind: K, keep?: (r: OwnerRecords[K]) => boolean): Promise<OwnerRecords[K][]>;
  /** Best-effort removal of a deleted owner's counters (spend windows, rate counters). */
  deleteCounters(kind: OwnerKind, id: string): Promise<void>;
}

export function createOwnerStore(kv: Deno.Kv): OwnerStore {
  return {
    async get(kind, id) {
      const e = await retryBusy(() => kv.get<OwnerRecords[typeof kind]>(ownerKey(kind, id)));
      return e.value && e.versionstamp ? { record: e.value, versionstamp: e.versionstamp } : null;
    },

    async create(kind, record) {
      const key = ownerKey(kind, record.id);
      const res = await retryBusy(() => kv.atomic().check({ key, versionstamp: null }).set(key, record).commit());
      return res.ok;
    },

    async replace(kind, current, next) {
      const key = ownerKey(kind, current.record.id);
      const res = await retryBusy(() =>
        kv.atomic().check({ key, versionstamp: current.versionstamp }).set(key, next).commit()
      );
      return res.ok;
    },

    async delete(kind, current) {
      const key = ownerKey(kind, current.record.id);
      const res = await retryBusy(() =>
        kv.atomic().check({ key, versionstamp: current.versionstamp }).delete(key).commit()
      );
      return res.ok;
    },

    list(kind, keep = () => true) {
      return retryBusy(async () => {
        const out: OwnerRecords[typeof kind][] = [];
        for await (const e of kv.list<OwnerRecords[typeof kind]>({ prefix: ownerPrefix(kind) }, { batchSize: 500 })) {
          if (keep(e.value)) out.push(e.value);
        }
        return out;
      });
    },

    async deleteCounters(kind, id) {
      const keys: Deno.KvKey[] = [ownerRpmKey(kind, id), ownerTpmKey(kind, id)];
      await retryBusy(async () => {
        keys.length = 2;
        for await (const e of kv.list({ prefix: ownerSpendPrefix(kind, id) })) keys.push(e.key);
      });
      for (let i = 0; i < keys.length; i += 500) {
        await retryBusy(() => {
          const op = kv.atomic();
          for (const key of keys.slice(i, i + 500)) op.delete(key);
          return op.commit();
        });
      }
    },
  };
}
