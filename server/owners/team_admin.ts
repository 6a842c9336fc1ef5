/**
 * @module
 * The `/team/*` operations in LiteLLM's semantics: new, info (with spend and keys), list, update, block, unblock,
 * delete (with the team's keys, as LiteLLM does). Inputs arrive validated (`schemas.ts`); records are written through
 * the owner store under versionstamp checks, this instance's cached copy is dropped at once, and every written change
 * is announced once (`changes.ts`). A team's members are the users whose `teams` name it.
 */
import type { Ledger } from "../kv/ledger.ts";
import type { KeyAdmin } from "../keys/admin.ts";
import type { OwnerCache } from "../keys/owner_cache.ts";
import type { TeamRecord, UserRecord } from "../keys/owner_record.ts";
import type { OwnerStore, StoredOwner } from "../keys/owner_store.ts";
import { validation } from "../core/errors.ts";
import type { OwnerAction, OwnerChangeListener } from "./changes.ts";
import { applyLimits, limitView, ownerConflict, ownerNotFound, ownerSpend, WRITE_ATTEMPTS } from "./owner_fields.ts";
import type {
  TeamDeleteResponse,
  TeamInfo,
  TeamInfoResponse,
  TeamListEntry,
  TeamNewRequest,
  TeamSettings,
  TeamUpdateRequest,
  TeamUpdateResponse,
} from "./schemas.ts";

export interface TeamAdminDeps {
  kv: Deno.Kv;
  ledger: Ledger;
  store: OwnerStore;
  cache: OwnerCache;
  /** The team's keys: listed with it, deleted with it. */
  keys: Pick<KeyAdmin, "owned" | "remove">;
  changed: OwnerChangeListener;
  now: () => number;
  newId: () => string;
}

export type TeamAdmin = ReturnType<typeof createTeamAdmin>;

function applyTeam(r: TeamRecord, s: TeamSettings, now: number): TeamRecord {
  const next = applyLimits(r, s, now);
  if (s.team_alias === null) delete next.alias;
  else if (s.team_alias !== undefined) next.alias = s.team_alias;
  if (s.blocked !== undefined) next.blocked = s.blocked;
  return next;
}

export function createTeamAdmin(deps: TeamAdminDeps) {
  const { kv, ledger, store, cache, keys, changed, now } = deps;

  /** The teams as the API shows them, with their spend and members. */
  async function views(teams: TeamRecord[]): Promise<TeamInfo[]> {
    if (!teams.length) return [];
    const t = now();
    const ids = new Set(teams.map((r) => r.id));
    const [spends, users] = await Promise.all([
      ownerSpend(kv, ledger, "team", teams, t),
      store.list("user", (u) => u.teams.some((id) => ids.has(id))),
    ]);
    return teams.map((r, i) => ({
      team_id: r.id,
      team_alias: r.alias ?? null,
      ...limitView(r, spends[i], t),
      blocked: r.blocked,
      members_with_roles: users.filter((u) => u.teams.includes(r.id)).map((u) => ({ user_id: u.id, role: "user" })),
    }));
  }

  async function mustGet(id: string, param = "team_id"): Promise<StoredOwner<"team">> {
    const found = await store.get("team", id);
    if (!found) throw ownerNotFound("team", id, param);
    return found;
  }

  /** Read, change, write; retried when another writer changed the record in between. */
  async function modify(id: string, by: string, action: OwnerAction, change: (r: TeamRecord, t: number) => TeamRecord) {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const current = await mustGet(id);
      const t = now();
      const next = change(current.record, t);
      if (await store.replace("team", current, next)) {
        cache.invalidate("team", id);
        changed({ kind: "team", action, id, by, before: current.record, after: next, at: t });
        return next;
      }
    }
    throw ownerConflict("team");
  }

  return {
    async create(input: TeamNewRequest, by: string): Promise<TeamInfo> {
      const t = now();
      const { team_id, ...settings } = input;
      const id = team_id ?? deps.newId();
      const base: TeamRecord = {
        id,
        models: [],
        budgetAnchor: t,
        metadata: {},
        blocked: false,
        createdAt: t,
        updatedAt: t,
      };
      const record = applyTeam(base, settings, t);
      if (!(await store.create("team", record))) {
        throw validation(`Team id = ${id} already exists. Please use a different team id.`, "team_id");
      }
      cache.invalidate("team", id);
      changed({ kind: "team", action: "created", id, by, after: record, at: t });
      return (await views([record]))[0];
    },

    async info(id: string): Promise<TeamInfoResponse> {
      const { record } = await mustGet(id);
      const [view, teamKeys] = await Promise.all([views([record]), keys.owned({ teamId: id })]);
      return { team_id: id, team_info: view[0], keys: teamKeys, team_memberships: [] };
    },

    /** Every team (those `userId` belongs to, when given), by alias then id, with its keys. */
    async list(userId?: string): Promise<TeamListEntry[]> {
      let teams = await store.list("team");
      if (userId !== undefined) {
        const user = await store.get("user", userId);
        const mine = new Set(user?.record.teams ?? []);
        teams = teams.filter((r) => mine.has(r.id));
      }
      teams.sort((a, b) => (a.alias ?? "").localeCompare(b.alias ?? "") || a.id.localeCompare(b.id));
      const shown = await views(teams);
      const owned = await Promise.all(teams.map((r) => keys.owned({ teamId: r.id })));
      return shown.map((v, i) => ({ ...v, keys: owned[i], team_memberships: [] }));
    },

    async update(input: TeamUpdateRequest, by: string): Promise<TeamUpdateResponse> {
      const { team_id, ...settings } = input;
      const record = await modify(team_id, by, "updated", (r, t) => applyTeam(r, settings, t));
      return { team_id, data: (await views([record]))[0] };
    },

    async setBlocked(id: string, blocked: boolean, by: string): Promise<TeamInfo> {
      const action = blocked ? "blocked" : "unblocked";
      const record = await modify(id, by, action, (r, t) => ({ ...r, blocked, updatedAt: t }));
      return (await views([record]))[0];
    },

    /** Deletes teams (all or none must exist), their keys, their counters, and them from their users' `teams`. */
    async remove(ids: string[], by: string): Promise<TeamDeleteResponse> {
      const found = await Promise.all(ids.map((id) => store.get("team", id)));
      const missing = ids.filter((_, i) => !found[i]);
      if (missing.length) throw ownerNotFound("team", missing.join(", "), "team_ids");
      for (const [i, id] of ids.entries()) {
        const teamKeys = await keys.owned({ teamId: id });
        if (teamKeys.length) await keys.remove({ keys: teamKeys.map((k) => k.token) }, by);
        let current = found[i];
        for (let attempt = 0; current && !(await store.delete("team", current)); attempt++) {
          if (attempt >= WRITE_ATTEMPTS) throw ownerConflict("team");
          current = await store.get("team", id);
        }
        cache.invalidate("team", id);
        await store.deleteCounters("team", id);
        for (const user of await store.list("user", (u) => u.teams.includes(id))) await leave(user, id, by);
        changed({ kind: "team", action: "deleted", id, by, before: found[i]!.record, at: now() });
      }
      return { deleted_teams: ids };
    },
  };

  /** Takes a deleted team out of a user's `teams`. */
  async function leave(user: UserRecord, teamId: string, by: string) {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const current = await store.get("user", user.id);
      if (!current || !current.record.teams.includes(teamId)) return;
      const t = now();
      const next = { ...current.record, teams: current.record.teams.filter((id) => id !== teamId), updatedAt: t };
      if (await store.replace("user", current, next)) {
        cache.invalidate("user", user.id);
        changed({ kind: "user", action: "updated", id: user.id, by, before: current.record, after: next, at: t });
        return;
      }
    }
  }
}
