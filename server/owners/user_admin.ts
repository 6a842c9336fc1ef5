/**
 * @module
 * The `/user/*` operations in LiteLLM's semantics: new (with a key for the user, answered once, unless
 * `auto_create_key: false`), info (with spend, keys and teams), list (paged, filtered), update, delete (with the
 * user's keys, as LiteLLM does). A user's `teams` must name existing teams; an email belongs to one user. Every
 * written change is announced once (`changes.ts`).
 */
import type { Ledger } from "../kv/ledger.ts";
import type { KeyAdmin } from "../keys/admin.ts";
import type { OwnerCache } from "../keys/owner_cache.ts";
import type { UserRecord } from "../keys/owner_record.ts";
import type { OwnerStore, StoredOwner } from "../keys/owner_store.ts";
import { validation } from "../core/errors.ts";
import type { OwnerChangeListener } from "./changes.ts";
import { applyLimits, limitView, ownerConflict, ownerNotFound, ownerSpend, WRITE_ATTEMPTS } from "./owner_fields.ts";
import type {
  UserDeleteResponse,
  UserInfo,
  UserInfoResponse,
  UserListQuery,
  UserListResponse,
  UserNewRequest,
  UserNewResponse,
  UserSettings,
  UserUpdateRequest,
  UserUpdateResponse,
} from "./schemas.ts";
import type { TeamAdmin } from "./team_admin.ts";

export interface UserAdminDeps {
  kv: Deno.Kv;
  ledger: Ledger;
  store: OwnerStore;
  cache: OwnerCache;
  /** The user's keys: made with it, listed with it, deleted with it. */
  keys: Pick<KeyAdmin, "owned" | "remove" | "generate">;
  /** The user's teams, as `/user/info` shows them. */
  teams: Pick<TeamAdmin, "list">;
  changed: OwnerChangeListener;
  now: () => number;
  newId: () => string;
}

export type UserAdmin = ReturnType<typeof createUserAdmin>;

const DEFAULT_ROLE = "internal_user";

export function createUserAdmin(deps: UserAdminDeps) {
  const { kv, ledger, store, cache, keys, changed, now } = deps;

  async function views(users: UserRecord[]): Promise<UserInfo[]> {
    const t = now();
    const spends = await ownerSpend(kv, ledger, "user", users, t);
    return users.map((r, i) => ({
      user_id: r.id,
      user_email: r.email ?? null,
      user_alias: r.alias ?? null,
      user_role: r.role,
      teams: r.teams,
      ...limitView(r, spends[i], t),
    }));
  }

  /** Checks what a user's settings name: teams that exist, an email no other user has. */
  async function checkSettings(s: UserSettings, userId: string) {
    for (const teamId of s.teams ?? []) {
      if (!(await store.get("team", teamId))) {
        throw validation(`Team not found: team_id "${teamId}" does not exist; create it with /team/new first`, "teams");
      }
    }
    const email = s.user_email?.toLowerCase();
    if (email) {
      const taken = await store.list("user", (u) => u.email?.toLowerCase() === email && u.id !== userId);
      if (taken.length) throw validation(`User with email ${s.user_email} already exists`, "user_email");
    }
  }

  function applyUser(r: UserRecord, s: UserSettings, now: number): UserRecord {
    const next = applyLimits(r, s, now);
    if (s.user_email === null) delete next.email;
    else if (s.user_email !== undefined) next.email = s.user_email;
    if (s.user_alias === null) delete next.alias;
    else if (s.user_alias !== undefined) next.alias = s.user_alias;
    if (s.user_role !== undefined) next.role = s.user_role;
    if (s.teams !== undefined) next.teams = [...new Set(s.teams)];
    return next;
  }

  async function mustGet(id: string, param = "user_id"): Promise<StoredOwner<"user">> {
    const found = await store.get("user", id);
    if (!found) throw ownerNotFound("user", id, param);
    return found;
  }

  return {
    async create(input: UserNewRequest, by: string): Promise<UserNewResponse> {
      const t = now();
      const { user_id, auto_create_key, key_alias, duration, team_id, send_invite_email: _, ...settings } = input;
      const id = user_id ?? deps.newId();
      if (team_id !== undefined) settings.teams = [...new Set([...(settings.teams ?? []), team_id])];
      await checkSettings(settings, id);
      const base: UserRecord = {
        id,
        role: DEFAULT_ROLE,
        models: [],
        teams: [],
        budgetAnchor: t,
        metadata: {},
        createdAt: t,
        updatedAt: t,
      };
      const record = applyUser(base, settings, t);
      if (!(await store.create("user", record))) {
        throw validation(`User id = ${id} already exists. Please use a different user id.`, "user_id");
      }
      cache.invalidate("user", id);
      let key: Awaited<ReturnType<typeof keys.generate>> | undefined;
      if (auto_create_key) {
        try {
          key = await keys.generate({ user_id: id, team_id, key_alias, duration }, by);
        } catch (e) {
          // The user and its key come together, or not at all.
          const written = await store.get("user", id);
          if (written) await store.delete("user", written);
          cache.invalidate("user", id);
          throw e;
        }
      }
      changed({ kind: "user", action: "created", id, by, after: record, at: t });
      return {
        ...(await views([record]))[0],
        key: key?.key ?? null,
        key_alias: key?.key_alias ?? null,
        expires: key?.expires ?? null,
      };
    },

    /** `id`: the user; its keys and teams with it. */
    async info(id: string): Promise<UserInfoResponse> {
      const { record } = await mustGet(id);
      const [view, userKeys, teams] = await Promise.all([
        views([record]),
        keys.owned({ userId: id }),
        record.teams.length ? deps.teams.list(id) : Promise.resolve([]),
      ]);
      return {
        user_id: id,
        user_info: view[0],
        keys: userKeys,
        teams: teams.map(({ keys: _, team_memberships: __, ...team }) => team),
      };
    },

    async list(q: UserListQuery): Promise<UserListResponse> {
      const ids = q.user_ids?.split(",").map((s) => s.trim()).filter(Boolean);
      const email = q.user_email?.toLowerCase();
      const users = await store.list("user", (u) =>
        (!ids?.length || ids.includes(u.id)) &&
        (q.team === undefined || u.teams.includes(q.team)) &&
        (q.role === undefined || u.role === q.role) &&
        (email === undefined || (u.email?.toLowerCase().includes(email) ?? false)));
      // Newest first, as LiteLLM orders them.
      users.sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
      const page = users.slice((q.page - 1) * q.page_size, q.page * q.page_size);
      const [shown, counts] = await Promise.all([
        views(page),
        Promise.all(page.map(async (u) => (await keys.owned({ userId: u.id })).length)),
      ]);
      return {
        users: shown.map((u, i) => ({ ...u, key_count: counts[i] })),
        total: users.length,
        page: q.page,
        page_size: q.page_size,
        total_pages: Math.ceil(users.length / q.page_size),
      };
    },

    async update(input: UserUpdateRequest, by: string): Promise<UserUpdateResponse> {
      const { user_id: id, ...settings } = input;
      await checkSettings(settings, id);
      for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        const current = await mustGet(id);
        const t = now();
        const next = applyUser(current.record, settings, t);
        if (await store.replace("user", current, next)) {
          cache.invalidate("user", id);
          changed({ kind: "user", action: "updated", id, by, before: current.record, after: next, at: t });
          return { user_id: id, data: (await views([next]))[0] };
        }
      }
      throw ownerConflict("user");
    },

    /** Deletes users (all or none must exist), their keys and their counters. */
    async remove(ids: string[], by: string): Promise<UserDeleteResponse> {
      const found = await Promise.all(ids.map((id) => store.get("user", id)));
      const missing = ids.filter((_, i) => !found[i]);
      if (missing.length) throw ownerNotFound("user", missing.join(", "), "user_ids");
      for (const [i, id] of ids.entries()) {
        const userKeys = await keys.owned({ userId: id });
        if (userKeys.length) await keys.remove({ keys: userKeys.map((k) => k.token) }, by);
        let current = found[i];
        for (let attempt = 0; current && !(await store.delete("user", current)); attempt++) {
          if (attempt >= WRITE_ATTEMPTS) throw ownerConflict("user");
          current = await store.get("user", id);
        }
        cache.invalidate("user", id);
        await store.deleteCounters("user", id);
        changed({ kind: "user", action: "deleted", id, by, before: found[i]!.record, at: now() });
      }
      return { deleted_users: ids };
    },
  };
}
