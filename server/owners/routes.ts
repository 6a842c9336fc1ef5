/**
 * @module
 * The `/team/*` and `/user/*` admin API, each route declared once (`api/route.ts`): schemas (`schemas.ts`), LiteLLM's
 * error format, the SDK methods `client.teams.new(…)`, `.info`, `.list`, `.update`, `.delete`, `.block`, `.unblock`
 * and `client.users.new(…)`, `.info`, `.list`, `.update`, `.delete`, and their handlers: authorize (the master key;
 * a virtual key may read its own team's and user's info), validate, call the operations (`team_admin.ts`,
 * `user_admin.ts`), answer JSON.
 */
import { type RouteInput, routesOver } from "../api/route.ts";
import { validation } from "../core/errors.ts";
import { accessDenied, type Authenticator, changedBy, type Principal, requireMaster } from "../keys/auth.ts";
import {
  TeamDeleteRequest,
  TeamDeleteResponse,
  TeamIdRequest,
  TeamInfo,
  TeamInfoQuery,
  TeamInfoResponse,
  TeamListQuery,
  TeamListResponse,
  TeamNewRequest,
  TeamUpdateRequest,
  TeamUpdateResponse,
  UserDeleteRequest,
  UserDeleteResponse,
  UserInfoQuery,
  UserInfoResponse,
  UserListQuery,
  UserListResponse,
  UserNewRequest,
  UserNewResponse,
  UserUpdateRequest,
  UserUpdateResponse,
} from "./schemas.ts";
import type { TeamAdmin } from "./team_admin.ts";
import type { UserAdmin } from "./user_admin.ts";

/** What the team and user routes are served with. */
export interface OwnerRouteServices {
  auth: Authenticator;
  teams: TeamAdmin;
  users: UserAdmin;
}

const route = routesOver<OwnerRouteServices>();

const ADMIN_ERRORS = [400, 401, 403, 500] as const;
const NAMED_ERRORS = [400, 401, 403, 404, 500] as const;
const team = { tag: "teams", auth: "admin", errorFormat: "litellm" } as const;
const user = { tag: "users", auth: "admin", errorFormat: "litellm" } as const;

/** The caller, who must hold the master key (or an open gateway's access). */
const requireAdmin = (input: RouteInput, auth: Authenticator, what: string) =>
  requireMaster(auth, input.request.headers, `Only the master key can ${what}`);

const actor = (input: RouteInput, p: Principal) => changedBy(input.request.headers, p);

export const OWNER_ROUTES = [
  route({
    ...team,
    method: "post",
    path: "/team/new",
    operationId: "teamNew",
    summary: "Create a team",
    description: "A team's `max_budget`, `budget_duration`, `tpm_limit`, `rpm_limit` and `models` apply to all keys " +
      "generated with its `team_id`, together (calls in flight count), on top of each key's own.",
    errors: ADMIN_ERRORS,
    body: { schema: TeamNewRequest },
    responses: { 200: { description: "The team.", schema: TeamInfo } },
    sdk: { group: "teams", method: "new" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth, "manage teams");
    return input.json(await s.teams.create(await input.body(), actor(input, p)));
  }),
  route({
    ...team,
    auth: "key",
    method: "get",
    path: "/team/info",
    operationId: "teamInfo",
    summary: "Show a team, its spend and its keys",
    description: "The master key may ask about any team (`team_id` required); a virtual key about its own team.",
    errors: NAMED_ERRORS,
    query: TeamInfoQuery,
    responses: { 200: { description: "The team and its keys (never a raw key).", schema: TeamInfoResponse } },
    sdk: { group: "teams", method: "info" },
  }, async (input, s) => {
    const p = await s.auth.authenticate(input.request.headers);
    const { team_id } = input.query();
    if (p.kind === "virtual") {
      const own = p.key?.teamId;
      if (own === undefined || (team_id !== undefined && team_id !== own)) {
        throw accessDenied("A virtual key may only read its own team's info", p.caller);
      }
      return input.json(await s.teams.info(own));
    }
    if (team_id === undefined) throw validation("Invalid request: team_id is required", "team_id");
    return input.json(await s.teams.info(team_id));
  }),
  route({
    ...team,
    method: "get",
    path: "/team/list",
    operationId: "teamList",
    summary: "List teams, with their spend and keys",
    errors: ADMIN_ERRORS,
    query: TeamListQuery,
    responses: { 200: { description: "Every team, by alias.", schema: TeamListResponse } },
    sdk: { group: "teams", method: "list" },
  }, async (input, s) => {
    await requireAdmin(input, s.auth, "list teams");
    return input.json(await s.teams.list(input.query().user_id));
  }),
  route({
    ...team,
    method: "post",
    path: "/team/update",
    operationId: "teamUpdate",
    summary: "Change a team's settings",
    description: "Fields left out keep their value; `null` clears a setting; a new `budget_duration` starts a new " +
      "window now.",
    errors: NAMED_ERRORS,
    body: { schema: TeamUpdateRequest },
    responses: { 200: { description: "The team as it now is.", schema: TeamUpdateResponse } },
    sdk: { group: "teams", method: "update" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth, "manage teams");
    return input.json(await s.teams.update(await input.body(), actor(input, p)));
  }),
  route({
    ...team,
    method: "post",
    path: "/team/delete",
    operationId: "teamDelete",
    summary: "Delete teams and their keys",
    description: "As LiteLLM: the teams' keys are deleted with them, and the teams leave their users' `teams`. " +
      "Nothing is deleted when any team is unknown.",
    errors: NAMED_ERRORS,
    body: { schema: TeamDeleteRequest },
    responses: { 200: { description: "The deleted teams.", schema: TeamDeleteResponse } },
    sdk: { group: "teams", method: "delete" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth, "manage teams");
    return input.json(await s.teams.remove((await input.body()).team_ids, actor(input, p)));
  }),
  route({
    ...team,
    method: "post",
    path: "/team/block",
    operationId: "teamBlock",
    summary: "Block a team: calls with its keys are refused until unblocked",
    errors: NAMED_ERRORS,
    body: { schema: TeamIdRequest },
    responses: { 200: { description: "The team as it now is.", schema: TeamInfo } },
    sdk: { group: "teams", method: "block" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth, "manage teams");
    return input.json(await s.teams.setBlocked((await input.body()).team_id, true, actor(input, p)));
  }),
  route({
    ...team,
    method: "post",
    path: "/team/unblock",
    operationId: "teamUnblock",
    summary: "Unblock a team",
    errors: NAMED_ERRORS,
    body: { schema: TeamIdRequest },
    responses: { 200: { description: "The team as it now is.", schema: TeamInfo } },
    sdk: { group: "teams", method: "unblock" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth, "manage teams");
    return input.json(await s.teams.setBlocked((await input.body()).team_id, false, actor(input, p)));
  }),
  route({
    ...user,
    method: "post",
    path: "/user/new",
    operationId: "userNew",
    summary: "Create a user (and, by default, a key for it)",
    description: "A user's `max_budget`, `budget_duration`, `tpm_limit`, `rpm_limit` and `models` apply to all keys " +
      "generated with its `user_id`, together. With `auto_create_key` (LiteLLM's default) a key for the user is " +
      "made and answered once as `key`.",
    errors: ADMIN_ERRORS,
    body: { schema: UserNewRequest },
    responses: { 200: { description: "The user, and its new key.", schema: UserNewResponse } },
    sdk: { group: "users", method: "new" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth, "manage users");
    return input.json(await s.users.create(await input.body(), actor(input, p)));
  }),
  route({
    ...user,
    auth: "key",
    method: "get",
    path: "/user/info",
    operationId: "userInfo",
    summary: "Show a user, its spend, keys and teams",
    description: "The master key may ask about any user (`user_id` required); a virtual key about its own user.",
    errors: NAMED_ERRORS,
    query: UserInfoQuery,
    responses: { 200: { description: "The user, its keys and teams.", schema: UserInfoResponse } },
    sdk: { group: "users", method: "info" },
  }, async (input, s) => {
    const p = await s.auth.authenticate(input.request.headers);
    const { user_id } = input.query();
    if (p.kind === "virtual") {
      const own = p.key?.userId;
      if (own === undefined || (user_id !== undefined && user_id !== own)) {
        throw accessDenied("A virtual key may only read its own user's info", p.caller);
      }
      return input.json(await s.users.info(own));
    }
    if (user_id === undefined) throw validation("Invalid request: user_id is required", "user_id");
    return input.json(await s.users.info(user_id));
  }),
  route({
    ...user,
    method: "get",
    path: "/user/list",
    operationId: "userList",
    summary: "List users, a page at a time",
    errors: ADMIN_ERRORS,
    query: UserListQuery,
    responses: { 200: { description: "One page of users, newest first.", schema: UserListResponse } },
    sdk: { group: "users", method: "list" },
  }, async (input, s) => {
    await requireAdmin(input, s.auth, "list users");
    return input.json(await s.users.list(input.query()));
  }),
  route({
    ...user,
    method: "post",
    path: "/user/update",
    operationId: "userUpdate",
    summary: "Change a user's settings",
    description: "Fields left out keep their value; `null` clears a setting; `teams` replaces the user's teams.",
    errors: NAMED_ERRORS,
    body: { schema: UserUpdateRequest },
    responses: { 200: { description: "The user as it now is.", schema: UserUpdateResponse } },
    sdk: { group: "users", method: "update" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth, "manage users");
    return input.json(await s.users.update(await input.body(), actor(input, p)));
  }),
  route({
    ...user,
    method: "post",
    path: "/user/delete",
    operationId: "userDelete",
    summary: "Delete users and their keys",
    description: "As LiteLLM: the users' keys are deleted with them. Nothing is deleted when any user is unknown.",
    errors: NAMED_ERRORS,
    body: { schema: UserDeleteRequest },
    responses: { 200: { description: "The deleted users.", schema: UserDeleteResponse } },
    sdk: { group: "users", method: "delete" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth, "manage users");
    return input.json(await s.users.remove((await input.body()).user_ids, actor(input, p)));
  }),
];
