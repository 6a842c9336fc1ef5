/**
 * @module
 * Team and user records on the hot path, as `key_cache.ts` keeps key records: in memory for `key_cache_ttl_ms`;
 * owners with a budget or rate limits are read together with their counters (spend of the current window, requests
 * and tokens this minute) in one `getMany` and reused for `key_counter_max_age_ms`, the counters handed to the
 * ledger (`observe`). A key's team and user are read in one `getMany` when both are due. Unknown ids are cached too
 * (a key may name a user that has no record). Concurrent lookups of one owner share one read; this instance's own
 * admin changes invalidate at once.
 */
import { retryBusy } from "../kv/retry.ts";
import type { Ledger } from "../kv/ledger.ts";
import { ownerKey, ownerRpmKey, ownerSpendKey, ownerTpmKey } from "./kv_layout.ts";
import { ownerHasCounterLimits, type OwnerKind, type OwnerRecord, type OwnerRecords } from "./owner_record.ts";
import { budgetWindow } from "./record.ts";

export interface OwnerCacheDeps {
  kv: Deno.Kv;
  ledger: Ledger;
  ttlMs: number;
  /** Owners with budgets or rate limits: how long their record and counters may be reused (0: every call reads). */
  counterMaxAgeMs?: number;
  now: () => number;
  /** Bound on cached owners (known and unknown); the oldest go first. Default 10 000. */
  maxEntries?: number;
}

/** A key's owners, as found: absent when the key names none, null when it names one without a record. */
export interface Owners {
  team?: OwnerRecords["team"] | null;
  user?: OwnerRecords["user"] | null;
}

export interface OwnerCache {
  /** The records of a key's team and user (each read only when its cached copy is due). */
  resolve(teamId: string | undefined, userId: string | undefined): Promise<Owners>;
  /** Forgets an owner at once: this instance has just changed or deleted it. */
  invalidate(kind: OwnerKind, id: string): void;
}

/** The counters an owner's limits need, read together with its record. */
export function ownerCounterKeys(kind: OwnerKind, r: OwnerRecord, now: number): Deno.KvKey[] {
  const keys: Deno.KvKey[] = [];
  if (r.maxBudget !== undefined) keys.push(ownerSpendKey(kind, r.id, budgetWindow(r, now).start));
  if (r.rpmLimit !== undefined) keys.push(ownerRpmKey(kind, r.id));
  if (r.tpmLimit !== undefined) keys.push(ownerTpmKey(kind, r.id));
  return keys;
}

interface Entry {
  record: OwnerRecord | null;
  fetchedAt: number;
}

interface Pending {
  /** The owner's record as read. */
  promise: Promise<OwnerRecord | null>;
  /** Set when the owner was invalidated while the read was in flight: its result must not be cached. */
  stale: boolean;
}

/** getMany reads at most 10 keys. */
const GET_MANY = 10;

export function createOwnerCache(deps: OwnerCacheDeps): OwnerCache {
  const { kv, ledger, ttlMs, now } = deps;
  const counterMaxAgeMs = deps.counterMaxAgeMs ?? 0;
  const maxEntries = deps.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();
  const reads = new Map<string, Pending>();
  const name = (kind: OwnerKind, id: string) => `${kind}\u0000${id}`;

  function fresh(e: Entry | undefined, t: number): boolean {
    if (!e) return false;
    const limited = e.record !== null && ownerHasCounterLimits(e.record);
    return t - e.fetchedAt < (limited ? counterMaxAgeMs : ttlMs);
  }

  function store(key: string, entry: Entry) {
    entries.delete(key);
    entries.set(key, entry);
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  }

  /** Reads the due owners (and the counters their known records need) in one `getMany`, then any missing counters. */
  async function read(due: Array<{ kind: OwnerKind; id: string; pending: Pending }>): Promise<(OwnerRecord | null)[]> {
    const t = now();
    const guessed = due.map(({ kind, id }) => {
      const known = entries.get(name(kind, id))?.record;
      return known ? ownerCounterKeys(kind, known, t) : [];
    });
    const keys = [...due.map(({ kind, id }) => ownerKey(kind, id)), ...guessed.flat()];
    const counters = guessed.flat();
    const got = await retryBusy(() => kv.getMany(counters.length ? [...keys, ledger.watermarkKey] : keys));
    if (counters.length) {
      ledger.observe(counters.map((key, i) => ({ key, entry: got[due.length + i] })), got.at(-1)!);
    }
    const missing: Deno.KvKey[] = [];
    const records = due.map(({ kind }, i) => {
      const record = (got[i].value as OwnerRecord | null) ?? null;
      if (record) {
        // First sight of a limited owner (or its budget window moved): its counters are read too.
        const have = new Set(guessed[i].map((k) => JSON.stringify(k)));
        missing.push(...ownerCounterKeys(kind, record, t).filter((k) => !have.has(JSON.stringify(k))));
      }
      return record;
    });
    for (let i = 0; i < missing.length; i += GET_MANY - 1) {
      const chunk = missing.slice(i, i + GET_MANY - 1);
      const more = await retryBusy(() => kv.getMany([...chunk, ledger.watermarkKey]));
      ledger.observe(chunk.map((key, j) => ({ key, entry: more[j] })), more.at(-1)!);
    }
    due.forEach(({ kind, id, pending }, i) => {
      if (!pending.stale) store(name(kind, id), { record: records[i], fetchedAt: t });
    });
    return records;
  }

  return {
    async resolve(teamId, userId) {
      const t = now();
      const wanted: Array<{ kind: OwnerKind; id: string }> = [];
      if (teamId !== undefined) wanted.push({ kind: "team", id: teamId });
      if (userId !== undefined) wanted.push({ kind: "user", id: userId });
      const due: Array<{ kind: OwnerKind; id: string; pending: Pending }> = [];
      // Each owner: its cached record, a read in flight, or one to make now (all due ones in one read).
      const found = wanted.map(({ kind, id }): { record: OwnerRecord | null } | Pending => {
        const cached = entries.get(name(kind, id));
        if (cached && fresh(cached, t)) return { record: cached.record };
        const inFlight = reads.get(name(kind, id));
        if (inFlight) return inFlight;
        const pending = { stale: false } as Pending;
        due.push({ kind, id, pending });
        return pending;
      });
      if (due.length) {
        const all = read(due);
        due.forEach((d, i) => {
          const key = name(d.kind, d.id);
          d.pending.promise = all.then((records) => records[i]).finally(() => {
            if (reads.get(key) === d.pending) reads.delete(key);
          });
          reads.set(key, d.pending);
        });
      }
      const records = await Promise.all(found.map((f) => "promise" in f ? f.promise : f.record));
      const out: Owners = {};
      let i = 0;
      if (teamId !== undefined) out.team = records[i++] as Owners["team"];
      if (userId !== undefined) out.user = records[i++] as Owners["user"];
      return out;
    },

    invalidate(kind, id) {
      const key = name(kind, id);
      entries.delete(key);
      const pending = reads.get(key);
      if (pending) {
        pending.stale = true;
        reads.delete(key);
      }
    },
  };
}
