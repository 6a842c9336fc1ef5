/**
 * @module
 * Finding the key record for a presented key's hash on the hot path, with at most one KV read per request.
 *
 * - Records are cached in memory for `key_cache_ttl_ms` (injected clock). Unknown hashes are cached too
 *   (bounded), so a flood of bad keys does not become a flood of KV reads.
 * - Keys with budgets or rate limits need counters, so their record is read together with the counters (spend of
 *   the current budget window, requests and tokens of the current minute) in one `getMany`, and that read is
 *   reused for `key_counter_max_age_ms` (default 1 s; 0: every request reads). The budget check uses that
 *   snapshot plus this instance's own sums (always exact), so it sees other instances' spend, and admin changes
 *   made elsewhere, up to that late.
 * - Keys without such limits are served from memory within the TTL; this instance's own admin changes
 *   invalidate them at once, other instances see them once the TTL runs out (at most 2 s by default).
 * - Concurrent lookups of one hash share one read.
 *
 * Counter reads are handed to the ledger (`observe`), which owns the newest snapshot of every counter.
 */
import { retryBusy } from "../kv/retry.ts";
import type { Ledger } from "../kv/ledger.ts";
import { sameDigest } from "./credentials.ts";
import { recordKey, rpmKey, spendKey, tpmKey } from "./kv_layout.ts";
import { budgetWindow, hasCounterLimits, type KeyRecord } from "./record.ts";

export interface KeyCacheDeps {
  kv: Deno.Kv;
  ledger: Ledger;
  ttlMs: number;
  /**
   * Keys with budgets or rate limits: how long their record and counter snapshot may be reused without a read
   * (0 when absent: every request reads; the config's default is 1000). This instance's own sums are always in the ledger's totals; other instances'
   * spend and admin changes are seen up to this late.
   */
  counterMaxAgeMs?: number;
  now: () => number;
  /** Bound on cached hashes (known and unknown); the oldest entries go first. Default 10 000. */
  maxEntries?: number;
}

export interface KeyCache {
  /**
   * The record for a key hash (null when there is none). For keys with budgets or rate limits their counters
   * have just been read into the ledger.
   */
  resolve(hash: string): Promise<KeyRecord | null>;
  /** Forgets a hash at once: this instance has just changed or deleted it. */
  invalidate(hash: string): void;
}

/** The counters a record's limits need, read together with the record. */
export function counterKeys(r: KeyRecord, now: number): Deno.KvKey[] {
  const keys: Deno.KvKey[] = [];
  if (r.maxBudget !== undefined || r.softBudget !== undefined) keys.push(spendKey(r.id, budgetWindow(r, now).start));
  if (r.rpmLimit !== undefined) keys.push(rpmKey(r.id));
  if (r.tpmLimit !== undefined) keys.push(tpmKey(r.id));
  return keys;
}

interface Entry {
  record: KeyRecord | null;
  fetchedAt: number;
}

interface PendingRead {
  promise: Promise<Entry>;
  /** Set when the hash was invalidated while the read was in flight: its result must not be cached. */
  stale: boolean;
}

const sameKey = (a: Deno.KvKey, b: Deno.KvKey) => a.length === b.length && a.every((p, i) => p === b[i]);

export function createKeyCache(deps: KeyCacheDeps): KeyCache {
  const { kv, ledger, ttlMs, now } = deps;
  const counterMaxAgeMs = deps.counterMaxAgeMs ?? 0;
  const maxEntries = deps.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();
  const reads = new Map<string, PendingRead>();

  function store(hash: string, entry: Entry) {
    entries.delete(hash); // re-insert: Map order is the eviction order
    entries.set(hash, entry);
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  }

  async function read(hash: string, known: KeyRecord | null | undefined, pending: PendingRead): Promise<Entry> {
    const t = now();
    // Guess the counters from what we knew; right unless the key's budget settings changed meanwhile.
    const guessed = known ? counterKeys(known, t) : [];
    // The ledger's watermark rides along, so it knows which of this instance's sums the counters contain.
    const extra = guessed.length ? [ledger.watermarkKey] : [];
    const got = await retryBusy(() => kv.getMany([recordKey(hash), ...guessed, ...extra]));
    let record = got[0].value as KeyRecord | null;
    // Defence in depth: the stored record must carry the hash it is filed under.
    if (record && !sameDigest(record.hash, hash)) record = null;
    if (guessed.length) ledger.observe(guessed.map((key, i) => ({ key, entry: got[i + 1] })), got.at(-1)!);
    if (record) {
      // First sight of a limited key (or its budget window settings changed): one more read, for its counters.
      const missing = counterKeys(record, t).filter((k) => !guessed.some((g) => sameKey(g, k)));
      if (missing.length) {
        const more = await retryBusy(() => kv.getMany([...missing, ledger.watermarkKey]));
        ledger.observe(missing.map((key, i) => ({ key, entry: more[i] })), more.at(-1)!);
      }
    }
    const entry = { record, fetchedAt: t };
    if (!pending.stale) store(hash, entry);
    return entry;
  }

  return {
    async resolve(hash) {
      const cached = entries.get(hash);
      if (cached) {
        const age = now() - cached.fetchedAt;
        const limited = cached.record !== null && hasCounterLimits(cached.record);
        if (limited ? age < counterMaxAgeMs : age < ttlMs) return cached.record;
      }
      let pending = reads.get(hash);
      if (!pending) {
        const p = { stale: false } as PendingRead;
        p.promise = read(hash, cached?.record, p).finally(() => {
          if (reads.get(hash) === p) reads.delete(hash);
        });
        reads.set(hash, p);
        pending = p;
      }
      return (await pending.promise).record;
    },

    invalidate(hash) {
      entries.delete(hash);
      const pending = reads.get(hash);
      if (pending) {
        pending.stale = true;
        reads.delete(hash);
      }
    },
  };
}
