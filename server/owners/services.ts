/**
 * @module
 * Builds the team and user operations (`team_admin.ts`, `user_admin.ts`) over the stores and caches the key services
 * built, with the one listener their written changes are announced to (`changes.ts`).
 */
import type { Logger } from "../core/log.ts";
import type { Ledger } from "../kv/ledger.ts";
import type { KeyServices } from "../keys/services.ts";
import { type OwnerChangeListener, ownerChanges } from "./changes.ts";
import type { OwnerRouteServices } from "./routes.ts";
import { createTeamAdmin, type TeamAdmin } from "./team_admin.ts";
import { createUserAdmin, type UserAdmin } from "./user_admin.ts";

export interface OwnerServicesDeps {
  kv: Deno.Kv;
  ledger: Ledger;
  keys: Pick<KeyServices, "admin" | "owners" | "auth">;
  now: () => number;
  newId: () => string;
  log: Logger;
  /** Told of every written change of a team or user (an audit trail hooks in here). */
  onChange?: OwnerChangeListener;
}

export interface OwnerServices {
  teams: TeamAdmin;
  users: UserAdmin;
  /** What the `/team/*` and `/user/*` routes are served with. */
  routes: OwnerRouteServices;
}

export function createOwnerServices(deps: OwnerServicesDeps): OwnerServices {
  const { kv, ledger, keys, now } = deps;
  const changed = ownerChanges(deps.log, deps.onChange);
  const { store, cache } = keys.owners;
  const teams = createTeamAdmin({ kv, ledger, store, cache, keys: keys.admin, changed, now, newId: deps.newId });
  const users = createUserAdmin({ kv, ledger, store, cache, keys: keys.admin, teams, changed, now, newId: deps.newId });
  return { teams, users, routes: { auth: keys.auth, teams, users } };
}
