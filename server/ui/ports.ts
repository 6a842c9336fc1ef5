/**
 * @module
 * What the admin UI needs from the rest of the gateway, as narrow interfaces. `gateway.ts` passes the same
 * services the admin API uses (the UI makes no HTTP calls to itself), so a page shows exactly what `/key/*`,
 * `/team/*`, `/user/*`, `/spend/*`, `/global/*` and `/health` answer. The types are those services' own (their zod schemas), named here
 * once; nothing else in `server/ui/` imports another folder's code but the constant-time compare.
 */
import type {
  KeyDeleteRequest,
  KeyDeleteResponse,
  KeyGenerateRequest,
  KeyGenerateResponse,
  KeyInfoResponse,
  KeyListQuery,
  KeyListResponse,
  KeyRegenerateRequest,
  KeyUpdateRequest,
  KeyUpdateResponse,
} from "../keys/schemas.ts";
import type { Logger } from "../core/log.ts";
import type {
  TeamDeleteResponse,
  TeamInfo,
  TeamInfoResponse,
  TeamListEntry,
  TeamNewRequest,
  TeamUpdateRequest,
  TeamUpdateResponse,
  UserDeleteResponse,
  UserInfoResponse,
  UserListQuery,
  UserListResponse,
  UserNewRequest,
  UserNewResponse,
  UserUpdateRequest,
  UserUpdateResponse,
} from "../owners/schemas.ts";
import type { HealthReport } from "../health/schemas.ts";
import type { DeploymentPrices } from "../pricing/deployment_prices.ts";
import type { SpendReads } from "../spend/reads.ts";

export type { KeyInfo } from "../keys/schemas.ts";
export type { TeamInfo, TeamListEntry, UserInfo } from "../owners/schemas.ts";
export type { EndpointHealth, HealthReport } from "../health/schemas.ts";
export type { DeploymentPrices, PriceOrigin } from "../pricing/deployment_prices.ts";
export type { DayTotals, ModelDay, SpendLogFilter, SpendReads } from "../spend/reads.ts";
export type { GlobalSpendReportRow, SpendLogRow } from "../spend/schemas.ts";

/** The `/key/*` operations (`server/keys/admin.ts`); errors are `GatewayError`s with a 4xx status and a `param`. */
export interface UiKeyAdmin {
  generate(input: KeyGenerateRequest, by: string): Promise<KeyGenerateResponse>;
  /** `ref`: a raw key or its hash. */
  info(ref: string): Promise<KeyInfoResponse>;
  update(input: KeyUpdateRequest, by: string): Promise<KeyUpdateResponse>;
  setBlocked(ref: string, blocked: boolean, by: string): Promise<KeyUpdateResponse>;
  regenerate(ref: string, input: Omit<KeyRegenerateRequest, "key">, by: string): Promise<KeyGenerateResponse>;
  remove(input: KeyDeleteRequest, by: string): Promise<KeyDeleteResponse>;
  list(q: KeyListQuery): Promise<KeyListResponse>;
}

/** The `/team/*` operations (`server/owners/team_admin.ts`); `by` names who made a change. */
export interface UiTeamAdmin {
  create(input: TeamNewRequest, by: string): Promise<TeamInfo>;
  info(id: string): Promise<TeamInfoResponse>;
  list(userId?: string): Promise<TeamListEntry[]>;
  update(input: TeamUpdateRequest, by: string): Promise<TeamUpdateResponse>;
  setBlocked(id: string, blocked: boolean, by: string): Promise<TeamInfo>;
  remove(ids: string[], by: string): Promise<TeamDeleteResponse>;
}

/** The `/user/*` operations (`server/owners/user_admin.ts`). */
export interface UiUserAdmin {
  create(input: UserNewRequest, by: string): Promise<UserNewResponse>;
  info(id: string): Promise<UserInfoResponse>;
  list(q: UserListQuery): Promise<UserListResponse>;
  update(input: UserUpdateRequest, by: string): Promise<UserUpdateResponse>;
  remove(ids: string[], by: string): Promise<UserDeleteResponse>;
}

/** Who a presented key is (`server/keys/auth.ts`); rejects unknown, blocked and expired keys. */
export interface UiAuthenticator {
  authenticate(headers: Headers): Promise<{ kind: "master" | "open" | "virtual"; key?: { hash: string } }>;
}

/** The deployments: the router's view of their health, and their prices with where each came from. */
export interface UiModels {
  /** `GET /health` without probes. */
  health(): Promise<HealthReport>;
  /** `Pricing.describe()`, in config order. */
  prices(): readonly DeploymentPrices[];
}

export interface UiDeps {
  /** Undefined: the gateway runs open, and the UI is off (it has nothing to sign sessions with). */
  masterKey: string | undefined;
  auth: UiAuthenticator;
  keys: UiKeyAdmin;
  teams: UiTeamAdmin;
  users: UiUserAdmin;
  spend: SpendReads;
  models: UiModels;
  /** Signed-out sessions are listed here (`revocations.ts`). */
  kv: Deno.Kv;
  now: () => number;
  /** Unexpected errors (with the request id; the page shows only the id). */
  log: Pick<Logger, "error">;
}
