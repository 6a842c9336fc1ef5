/**
 * @module
 * zod schemas of the `/team/*` and `/user/*` admin API in LiteLLM's names and shapes: request validation here, and
 * the source the OpenAPI document and the SDK's `client.teams.*` and `client.users.*` are generated from. Requests
 * are strict (an unknown field is a 400 naming it); sizes are capped so a record fits Deno KV's value limit.
 */
import { z } from "zod";
import { Count, Duration, KeyInfo, Metadata, Name, Usd } from "../keys/schemas.ts";

const Timestamp = z.string().meta({ description: "ISO 8601" });
const Models = z.array(Name).max(100).meta({
  description: "Model names its keys may call; empty or absent means all (`all-proxy-models` too).",
});

/** Budget and limits shared by teams and users. `null` clears a setting on update. */
const OwnerLimits = {
  models: Models.optional(),
  max_budget: Usd.nullable().optional().meta({
    description: "USD over all its keys together; calls are refused once their spend reaches it (calls in flight " +
      "count against it too).",
  }),
  budget_duration: Duration.nullable().optional().meta({ description: "Spend resets at the end of each window." }),
  tpm_limit: Count.nullable().optional().meta({ description: "Tokens per minute over all its keys." }),
  rpm_limit: Count.nullable().optional().meta({ description: "Requests per minute over all its keys." }),
  metadata: Metadata.optional(),
};

const TeamSettings = {
  team_alias: Name.nullable().optional().meta({ description: "A human-readable name." }),
  ...OwnerLimits,
  blocked: z.boolean().optional().meta({ description: "A blocked team's keys are refused." }),
};

export const TeamNewRequest = z.strictObject({
  team_id: Name.optional().meta({ description: "Chosen id; a UUID is made when absent." }),
  ...TeamSettings,
}).meta({ id: "TeamNewRequest" });

export const TeamUpdateRequest = z.strictObject({ team_id: Name, ...TeamSettings }).meta({ id: "TeamUpdateRequest" });
export const TeamIdRequest = z.strictObject({ team_id: Name }).meta({ id: "TeamIdRequest" });
export const TeamDeleteRequest = z.strictObject({ team_ids: z.array(Name).min(1).max(100) })
  .meta({ id: "TeamDeleteRequest" });
export const TeamInfoQuery = z.strictObject({ team_id: Name.optional() }).meta({ id: "TeamInfoQuery" });
export const TeamListQuery = z.strictObject({
  user_id: Name.optional().meta({ description: "Only the teams this user belongs to." }),
}).meta({ id: "TeamListQuery" });

/** A team as the API shows it (LiteLLM's `LiteLLM_TeamTable`). */
export const TeamInfo = z.object({
  team_id: z.string(),
  team_alias: z.string().nullable(),
  models: z.array(z.string()),
  max_budget: z.number().nullable(),
  budget_duration: z.string().nullable(),
  budget_reset_at: Timestamp.nullable(),
  spend: z.number().meta({ description: "USD spent by all its keys in the current budget window." }),
  tpm_limit: z.number().nullable(),
  rpm_limit: z.number().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  blocked: z.boolean(),
  members_with_roles: z.array(z.object({ user_id: z.string(), role: z.literal("user") })).meta({
    description: "The users whose `teams` name it.",
  }),
  created_at: Timestamp,
  updated_at: Timestamp,
}).meta({ id: "TeamInfo" });

export const TeamInfoResponse = z.object({
  team_id: z.string(),
  team_info: TeamInfo,
  keys: z.array(KeyInfo),
  team_memberships: z.array(z.unknown()).meta({ description: "Always empty (no per-member budgets)." }),
}).meta({ id: "TeamInfoResponse" });

/** One entry of `/team/list`: the team, its keys. */
export const TeamListEntry = TeamInfo.extend({
  keys: z.array(KeyInfo),
  team_memberships: z.array(z.unknown()),
}).meta({ id: "TeamListEntry" });
export const TeamListResponse = z.array(TeamListEntry).meta({ id: "TeamListResponse" });

export const TeamUpdateResponse = z.object({ team_id: z.string(), data: TeamInfo }).meta({ id: "TeamUpdateResponse" });
export const TeamDeleteResponse = z.object({ deleted_teams: z.array(z.string()) }).meta({ id: "TeamDeleteResponse" });

const UserSettings = {
  user_email: z.email().max(256).nullable().optional(),
  user_alias: Name.nullable().optional(),
  user_role: z.enum(["proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer"]).optional()
    .meta({ description: "Kept as LiteLLM's; the gateway grants nothing by it (only the master key administers)." }),
  teams: z.array(Name).max(100).optional().meta({ description: "Team ids the user belongs to (each must exist)." }),
  ...OwnerLimits,
};

export const UserNewRequest = z.strictObject({
  user_id: Name.optional().meta({ description: "Chosen id; a UUID is made when absent." }),
  ...UserSettings,
  auto_create_key: z.boolean().default(true).meta({
    description: "LiteLLM's default: a key for the user is made and answered once (`key`).",
  }),
  key_alias: Name.optional().meta({ description: "The auto-created key's alias." }),
  duration: Duration.optional().meta({ description: "The auto-created key's expiry." }),
  team_id: Name.optional().meta({ description: "The auto-created key's team (the user joins it)." }),
  send_invite_email: z.boolean().optional().meta({ description: "Accepted for LiteLLM's clients; no email is sent." }),
}).meta({ id: "UserNewRequest" });

export const UserUpdateRequest = z.strictObject({ user_id: Name, ...UserSettings }).meta({ id: "UserUpdateRequest" });
export const UserDeleteRequest = z.strictObject({ user_ids: z.array(Name).min(1).max(100) })
  .meta({ id: "UserDeleteRequest" });
export const UserInfoQuery = z.strictObject({ user_id: Name.optional() }).meta({ id: "UserInfoQuery" });
export const UserListQuery = z.strictObject({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  page_size: z.coerce.number().int().min(1).max(100).default(25),
  user_ids: z.string().max(4096).optional().meta({ description: "Comma-separated user ids." }),
  team: Name.optional().meta({ description: "Only the users of this team." }),
  role: z.string().max(64).optional(),
  user_email: z.string().max(256).optional().meta({ description: "Part of the email, any case." }),
}).meta({ id: "UserListQuery" });

/** A user as the API shows it (LiteLLM's `LiteLLM_UserTable`). */
export const UserInfo = z.object({
  user_id: z.string(),
  user_email: z.string().nullable(),
  user_alias: z.string().nullable(),
  user_role: z.string(),
  teams: z.array(z.string()),
  models: z.array(z.string()),
  max_budget: z.number().nullable(),
  budget_duration: z.string().nullable(),
  budget_reset_at: Timestamp.nullable(),
  spend: z.number().meta({ description: "USD spent by all the user's keys in the current budget window." }),
  tpm_limit: z.number().nullable(),
  rpm_limit: z.number().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  created_at: Timestamp,
  updated_at: Timestamp,
}).meta({ id: "UserInfo" });

/** `/user/new`: the user, and the key made for it (answered once). */
export const UserNewResponse = UserInfo.extend({
  key: z.string().nullable().meta({ description: "The new key (with `auto_create_key`); shown only here." }),
  key_alias: z.string().nullable(),
  expires: Timestamp.nullable().meta({ description: "The new key's expiry." }),
}).meta({ id: "UserNewResponse" });

export const UserInfoResponse = z.object({
  user_id: z.string(),
  user_info: UserInfo,
  keys: z.array(KeyInfo),
  teams: z.array(TeamInfo),
}).meta({ id: "UserInfoResponse" });

export const UserListResponse = z.object({
  users: z.array(UserInfo.extend({ key_count: z.number().int() })),
  total: z.number().int(),
  page: z.number().int(),
  page_size: z.number().int(),
  total_pages: z.number().int(),
}).meta({ id: "UserListResponse" });

export const UserUpdateResponse = z.object({ user_id: z.string(), data: UserInfo }).meta({ id: "UserUpdateResponse" });
export const UserDeleteResponse = z.object({ deleted_users: z.array(z.string()) }).meta({ id: "UserDeleteResponse" });

export type TeamNewRequest = z.infer<typeof TeamNewRequest>;
export type TeamUpdateRequest = z.infer<typeof TeamUpdateRequest>;
export type TeamInfo = z.infer<typeof TeamInfo>;
export type TeamInfoResponse = z.infer<typeof TeamInfoResponse>;
export type TeamListEntry = z.infer<typeof TeamListEntry>;
export type TeamUpdateResponse = z.infer<typeof TeamUpdateResponse>;
export type TeamDeleteResponse = z.infer<typeof TeamDeleteResponse>;
export type UserNewRequest = z.infer<typeof UserNewRequest>;
export type UserUpdateRequest = z.infer<typeof UserUpdateRequest>;
export type UserListQuery = z.infer<typeof UserListQuery>;
export type UserInfo = z.infer<typeof UserInfo>;
export type UserNewResponse = z.infer<typeof UserNewResponse>;
export type UserInfoResponse = z.infer<typeof UserInfoResponse>;
export type UserListResponse = z.infer<typeof UserListResponse>;
export type UserUpdateResponse = z.infer<typeof UserUpdateResponse>;
export type UserDeleteResponse = z.infer<typeof UserDeleteResponse>;
/** Settings of a team, as create and update apply them. */
export type TeamSettings = Omit<TeamUpdateRequest, "team_id">;
/** Settings of a user, as create and update apply them. */
export type UserSettings = Omit<UserUpdateRequest, "user_id">;
