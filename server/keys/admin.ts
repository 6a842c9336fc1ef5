/**
 * @module
 * The `/key/*` admin operations (LiteLLM's semantics): generate, info, update, delete, list, regenerate,
 * block/unblock. Inputs arrive validated (`schemas.ts`); this module turns them into key records, writes them
 * through the store, drops this instance's cached copy at once, and renders LiteLLM's response shapes.
 * A raw key appears in exactly two responses, once each: generate and regenerate.
 */
import { GatewayError, validation } from "../core/errors.ts";
import { retryBusy } from "../kv/retry.ts";
import { nanosToUsd } from "../core/money.ts";
import type { Ledger } from "../kv/ledger.ts";
import { hashKey, sameSecret } from "./credentials.ts";
import { addPeriod, parseDuration, windowOf } from "../core/durations.ts";
import type { KeyCache } from "./key_cache.ts";
import { modelSpendKey, spendKey } from "./kv_layout.ts";
import type { OwnerStore } from "./owner_store.ts";
import { budgetDurationFields, budgetWindow, keyNameOf, type KeyRecord, type ModelBudget } from "./record.ts";
import type {
  KeyDeleteRequest,
  KeyDeleteResponse,
  KeyGenerateRequest,
  KeyGenerateResponse,
  KeyInfo,
  KeyInfoResponse,
  KeyListQuery,
  KeyListResponse,
  KeyRegenerateRequest,
  KeySettings,
  KeyUpdateRequest,
  KeyUpdateResponse,
} from "./schemas.ts";
import { type KeyStore, MAX_RECORD_BYTES, recordBytes, type StoredKey, type WriteResult } from "./store.ts";

export interface KeyAdminDeps {
  kv: Deno.Kv;
  store: KeyStore;
  cache: KeyCache;
  /** Team records: a key's `team_id` must name one. */
  owners: OwnerStore;
  ledger: Ledger;
  masterKey: string | undefined;
  now: () => number;
  /** Stable ids for new keys. */
  newId: () => string;
  /** Told of each deleted key and how to delete its counters (admission runs it again after calls in progress). */
  keyDeleted?: (keyId: string, clean: () => Promise<void>) => void;
  /** Told of every written change (the audit trail hooks in here); called synchronously, must not throw or wait. */
  onChange?: (change: KeyChange) => void;
}

export type KeyAction = "created" | "updated" | "blocked" | "unblocked" | "deleted" | "rotated";

/** One written change of a key: who made it, the record before and after. */
export interface KeyChange {
  action: KeyAction;
  /** Who made it: LiteLLM's `litellm-changed-by` header when sent, else the caller (`master_key`, `admin UI`). */
  by: string;
  before?: KeyRecord;
  after?: KeyRecord;
  /** Epoch ms. */
  at: number;
}

export type KeyAdmin = ReturnType<typeof createKeyAdmin>;

/** Most keys `owned` answers (a team's or user's keys in `/team/info`, `/user/info`). */
export const MAX_OWNED_KEYS = 10_000;
/** How often a read-modify-write is retried when another writer got there first. */
const WRITE_ATTEMPTS = 5;
const HASH = /^[0-9a-f]{64}$/;

const notFound = (what: string, param: string) =>
  new GatewayError(404, "ResourceNotFoundException", `Key not found: ${what}`, {
    litellmType: "not_found_error",
    param,
  });

const conflict = () =>
  new GatewayError(409, "ConflictException", "The key was changed concurrently; try again", {
    litellmType: "conflict_error",
  });

/** A raw key or a hash → the hash. Raw keys start with `sk-`, so they are never mistaken for a hash. */
export function hashOfRef(ref: string): string {
  return HASH.test(ref) ? ref : hashKey(ref);
}

/** How a key is named in an error: its hash stays, a raw key is shortened to `sk-...abcd`. */
const describeRef = (ref: string) => HASH.test(ref) ? ref : keyNameOf(ref);

/** A fresh key: `sk-` and 32 characters of base64url from a CSPRNG (192 bits). */
function newRawKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return "sk-" + btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

const iso = (ms: number | undefined) => ms === undefined ? null : new Date(ms).toISOString();

/** `model_max_budget` as the request gives it → as the record keeps it. */
function modelBudgets(m: NonNullable<KeySettings["model_max_budget"]>): Record<string, ModelBudget> {
  const out: Record<string, ModelBudget> = {};
  for (const [model, b] of Object.entries(m)) {
    const duration = b.time_period ?? b.budget_duration;
    out[model] = { maxBudget: (b.budget_limit ?? b.max_budget)! };
    if (duration !== undefined) {
      out[model].budgetDuration = duration;
      out[model].period = parseDuration(duration);
    }
  }
  return out;
}

/** Applies the settings present in a request (`null` clears) to a record. */
function applySettings(r: KeyRecord, s: KeySettings, now: number): KeyRecord {
  const next: KeyRecord = { ...r, updatedAt: now };
  const set = <K extends keyof KeyRecord>(field: K, value: KeyRecord[K] | null | undefined) => {
    if (value === undefined) return;
    if (value === null) delete next[field];
    else next[field] = value;
  };
  if (s.models !== undefined) next.models = [...new Set(s.models)];
  if (s.allowed_routes === null || s.allowed_routes?.length === 0) delete next.allowedRoutes;
  else if (s.allowed_routes !== undefined) next.allowedRoutes = [...new Set(s.allowed_routes)];
  set("maxBudget", s.max_budget);
  set("softBudget", s.soft_budget);
  set("rpmLimit", s.rpm_limit);
  set("tpmLimit", s.tpm_limit);
  set("maxParallelRequests", s.max_parallel_requests);
  set("alias", s.key_alias);
  set("userId", s.user_id);
  set("teamId", s.team_id);
  if (s.metadata !== undefined) next.metadata = s.metadata;
  if (s.blocked !== undefined) next.blocked = s.blocked;
  if (s.budget_duration !== undefined) {
    // A new window length starts a new window now (LiteLLM: budget_reset_at = now + budget_duration).
    delete next.budgetDuration, delete next.budgetDurationMs, delete next.budgetMonths;
    const d = s.budget_duration;
    Object.assign(next, budgetDurationFields(d, d === null ? undefined : parseDuration(d), now));
  }
  if (s.duration !== undefined) {
    set("expires", s.duration === null ? null : addPeriod(now, parseDuration(s.duration)!));
  }
  if (s.model_max_budget !== undefined) {
    // New per-model budgets start their windows now.
    set("modelMaxBudget", s.model_max_budget === null ? null : modelBudgets(s.model_max_budget));
    next.modelBudgetAnchor = now;
  }
  set("modelRpmLimit", s.model_rpm_limit);
  set("modelTpmLimit", s.model_tpm_limit);
  if (s.tags !== undefined) set("tags", s.tags === null || !s.tags.length ? null : [...new Set(s.tags)]);
  if (s.aliases !== undefined) set("aliases", s.aliases === null || !Object.keys(s.aliases).length ? null : s.aliases);
  if (recordBytes(next) > MAX_RECORD_BYTES) {
    throw validation(`the key's settings are too large to store (at most ${MAX_RECORD_BYTES} bytes)`, "metadata");
  }
  return next;
}

function writeError(result: WriteResult & { ok: false }, alias: string | undefined, keyParam: string): GatewayError {
  if (result.reason === "alias_taken") {
    return validation(`Unique key aliases across all keys are required: "${alias}" is already in use`, "key_alias");
  }
  if (result.reason === "key_exists") return validation("A key with this value already exists", keyParam);
  return conflict();
}

/** The counters of a per-model budget's current window, by model. */
function modelSpendKeys(r: KeyRecord, t: number): Array<[string, Deno.KvKey]> {
  return Object.entries(r.modelMaxBudget ?? {}).map(([model, b]) => [
    model,
    modelSpendKey(r.id, model, windowOf(r.modelBudgetAnchor ?? r.createdAt, b.period, t).start),
  ]);
}

/** Counters as this instance knows them: read fresh from KV (nine per `getMany`) plus its not-yet-written sums. */
export async function readCounters(kv: Deno.Kv, ledger: Ledger, keys: Deno.KvKey[]): Promise<bigint[]> {
  for (let i = 0; i < keys.length; i += 9) {
    // getMany reads at most 10 keys: nine counters and the ledger's watermark.
    const chunk = keys.slice(i, i + 9);
    const got = await retryBusy(() => kv.getMany([...chunk, ledger.watermarkKey]));
    ledger.observe(chunk.map((key, j) => ({ key, entry: got[j] })), got.at(-1)!);
  }
  return keys.map((key) => ledger.total(key));
}

export function createKeyAdmin(deps: KeyAdminDeps) {
  const { kv, store, cache, ledger, now } = deps;
  const changed = (c: KeyChange) => deps.onChange?.(c);

  /** Spend of each record's current budget window (and per-model windows), in USD. */
  async function spendOf(records: KeyRecord[]): Promise<Array<{ spend: number; models: Record<string, number> }>> {
    const t = now();
    const perModel = records.map((r) => modelSpendKeys(r, t));
    const keys = [
      ...records.map((r) => spendKey(r.id, budgetWindow(r, t).start)),
      ...perModel.flat().map(([, k]) => k),
    ];
    const totals = await readCounters(kv, ledger, keys);
    let next = records.length;
    return records.map((_, i) => ({
      spend: nanosToUsd(totals[i]),
      models: Object.fromEntries(perModel[i].map(([model]) => [model, nanosToUsd(totals[next++])])),
    }));
  }

  function view(r: KeyRecord, spend: { spend: number; models: Record<string, number> }): KeyInfo {
    const window = budgetWindow(r, now());
    return {
      token: r.hash,
      key_name: r.keyName,
      key_alias: r.alias ?? null,
      spend: spend.spend,
      max_budget: r.maxBudget ?? null,
      soft_budget: r.softBudget ?? null,
      budget_duration: r.budgetDuration ?? null,
      budget_reset_at: iso(window.resetAt),
      expires: iso(r.expires),
      models: r.models,
      allowed_routes: r.allowedRoutes ?? [],
      rpm_limit: r.rpmLimit ?? null,
      tpm_limit: r.tpmLimit ?? null,
      max_parallel_requests: r.maxParallelRequests ?? null,
      user_id: r.userId ?? null,
      team_id: r.teamId ?? null,
      metadata: r.metadata,
      blocked: r.blocked,
      model_max_budget: Object.fromEntries(
        Object.entries(r.modelMaxBudget ?? {}).map(([m, b]) => [
          m,
          { budget_limit: b.maxBudget, time_period: b.budgetDuration ?? null },
        ]),
      ),
      model_spend: spend.models,
      model_rpm_limit: r.modelRpmLimit ?? {},
      model_tpm_limit: r.modelTpmLimit ?? {},
      tags: r.tags ?? [],
      aliases: r.aliases ?? {},
      created_at: iso(r.createdAt)!,
      updated_at: iso(r.updatedAt)!,
    };
  }

  async function views(records: KeyRecord[]): Promise<KeyInfo[]> {
    const spends = await spendOf(records);
    return records.map((r, i) => view(r, spends[i]));
  }

  /** A key's `team_id` must name a team (LiteLLM: create it with `/team/new` first). */
  async function checkTeam(teamId: string | null | undefined) {
    if (teamId === undefined || teamId === null) return;
    if (!(await deps.owners.get("team", teamId))) {
      throw validation(`Team not found: team_id "${teamId}" does not exist; create it with /team/new first`, "team_id");
    }
  }

  function refuseMasterKey(raw: string, param: string) {
    if (deps.masterKey && sameSecret(raw, deps.masterKey)) {
      throw validation("A virtual key cannot be the master key", param);
    }
  }

  async function mustGet(ref: string, param = "key"): Promise<StoredKey> {
    const found = await store.get(hashOfRef(ref));
    if (!found) throw notFound(describeRef(ref), param);
    return found;
  }

  /** Read, change, write; retried when another writer changed the record in between. */
  async function modify(
    ref: string,
    change: (r: KeyRecord, t: number) => KeyRecord,
    announce: { action: KeyAction; by: string },
    newKeyParam = "key",
  ): Promise<KeyRecord> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const current = await mustGet(ref);
      const t = now();
      const next = change(current.record, t);
      const result = await store.replace(current, next);
      if (result.ok) {
        cache.invalidate(current.record.hash);
        cache.invalidate(next.hash);
        changed({ ...announce, before: current.record, after: next, at: t });
        return next;
      }
      if (result.reason !== "conflict") throw writeError(result, next.alias, newKeyParam);
    }
    throw conflict();
  }

  return {
    async generate(input: KeyGenerateRequest, by: string): Promise<KeyGenerateResponse> {
      const t = now();
      const raw = input.key ?? newRawKey();
      refuseMasterKey(raw, "key");
      const base: KeyRecord = {
        id: deps.newId(),
        hash: hashKey(raw),
        keyName: keyNameOf(raw),
        models: [],
        budgetAnchor: t,
        metadata: {},
        blocked: false,
        createdAt: t,
        updatedAt: t,
      };
      const { key: _, ...settings } = input;
      await checkTeam(settings.team_id);
      const record = applySettings(base, settings, t);
      const result = await store.create(record);
      if (!result.ok) throw writeError(result, record.alias, "key");
      // A lookup of this hash may have been cached as unknown just before.
      cache.invalidate(record.hash);
      changed({ action: "created", by, after: record, at: t });
      return {
        key: raw,
        ...view(record, { spend: 0, models: Object.fromEntries(modelSpendKeys(record, t).map(([m]) => [m, 0])) }),
      };
    },

    /** `ref` is a raw key or a hash. */
    async info(ref: string): Promise<KeyInfoResponse> {
      const { record } = await mustGet(ref);
      return { key: record.hash, info: (await views([record]))[0] };
    },

    async update(input: KeyUpdateRequest, by: string): Promise<KeyUpdateResponse> {
      const { key: ref, ...settings } = input;
      await checkTeam(settings.team_id);
      const record = await modify(ref, (r, t) => applySettings(r, settings, t), { action: "updated", by });
      return { key: record.hash, ...(await views([record]))[0] };
    },

    async setBlocked(ref: string, blocked: boolean, by: string): Promise<KeyUpdateResponse> {
      const action = blocked ? "blocked" : "unblocked";
      const record = await modify(ref, (r, t) => ({ ...r, blocked, updatedAt: t }), { action, by });
      return { key: record.hash, ...(await views([record]))[0] };
    },

    async regenerate(
      ref: string,
      input: Omit<KeyRegenerateRequest, "key">,
      by: string,
    ): Promise<KeyGenerateResponse> {
      const raw = input.new_key ?? newRawKey();
      refuseMasterKey(raw, "new_key");
      const { new_key: _, ...settings } = input;
      await checkTeam(settings.team_id);
      const record = await modify(
        ref,
        (r, t) => applySettings({ ...r, hash: hashKey(raw), keyName: keyNameOf(raw) }, settings, t),
        { action: "rotated", by },
        "new_key",
      );
      return { key: raw, ...(await views([record]))[0] };
    },

    async remove(input: KeyDeleteRequest, by: string): Promise<KeyDeleteResponse> {
      const byAlias = input.key_aliases !== undefined;
      const refs = input.keys ?? input.key_aliases ?? [];
      const param = byAlias ? "key_aliases" : "keys";
      const found: StoredKey[] = [];
      const missing: string[] = [];
      for (const ref of refs) {
        const hash = byAlias ? await store.hashForAlias(ref) : hashOfRef(ref);
        const stored = hash ? await store.get(hash) : null;
        if (stored) found.push(stored);
        else missing.push(byAlias ? ref : describeRef(ref));
      }
      // All or nothing as far as the request goes: nothing is deleted when any key is unknown.
      if (missing.length) throw notFound(missing.join(", "), param);
      for (const stored of found) {
        let current: StoredKey | null = stored;
        for (let attempt = 0; current && !(await store.delete(current)); attempt++) {
          if (attempt >= WRITE_ATTEMPTS) throw conflict();
          current = await store.get(current.record.hash);
        }
        cache.invalidate(stored.record.hash);
        changed({ action: "deleted", by, before: (current ?? stored).record, at: now() });
        const clean = () => store.deleteCounters(stored.record.id);
        await clean();
        deps.keyDeleted?.(stored.record.id, clean);
      }
      return { deleted_keys: refs };
    },

    /** Every key of a team or user (at most `MAX_OWNED_KEYS`), as `/key/info` shows them. */
    async owned(filter: { teamId?: string; userId?: string }): Promise<KeyInfo[]> {
      const { records } = await store.list(filter, 1, MAX_OWNED_KEYS);
      return await views(records);
    },

    async list(q: KeyListQuery): Promise<KeyListResponse> {
      const filter = { userId: q.user_id, teamId: q.team_id, alias: q.key_alias };
      const { records, total } = await store.list(filter, q.page, q.size);
      return {
        keys: q.return_full_object ? await views(records) : records.map((r) => r.hash),
        total_count: total,
        current_page: q.page,
        total_pages: Math.ceil(total / q.size),
      };
    },
  };
}
