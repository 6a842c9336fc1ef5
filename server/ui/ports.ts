/**
 * @module
 * What the admin UI needs from the rest of the gateway, as narrow interfaces. `gateway.ts` passes the same
 * services the admin API uses (the UI makes no HTTP calls to itself), so a page shows exactly what `/key/*`,
 * `/spend/*`, `/global/*` and `/health` answer. The types are those services' own (their zod schemas), named here
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
import type { HealthReport } from "../health/schemas.ts";
import type { DeploymentPrices } from "../pricing/deployment_prices.ts";
import type { SpendReads } from "../spend/reads.ts";

export type { KeyInfo } from "../keys/schemas.ts";
export type { EndpointHealth, HealthReport } from "../health/schemas.ts";
export type { DeploymentPrices, PriceOrigin } from "../pricing/deployment_prices.ts";
export type { DayTotals, ModelDay, SpendLogFilter, SpendReads } from "../spend/reads.ts";
export type { GlobalSpendReportRow, SpendLogRow } from "../spend/schemas.ts";

/** The `/key/*` operations (`server/keys/admin.ts`); errors are `GatewayError`s with a 4xx status and a `param`. */
export interface UiKeyAdmin {
  generate(input: KeyGenerateRequest): Promise<KeyGenerateResponse>;
  /** `ref`: a raw key or its hash. */
  info(ref: string): Promise<KeyInfoResponse>;
  update(input: KeyUpdateRequest): Promise<KeyUpdateResponse>;
  setBlocked(ref: string, blocked: boolean): Promise<KeyUpdateResponse>;
  regenerate(ref: string, input: Omit<KeyRegenerateRequest, "key">): Promise<KeyGenerateResponse>;
  remove(input: KeyDeleteRequest): Promise<KeyDeleteResponse>;
  list(q: KeyListQuery): Promise<KeyListResponse>;
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
  spend: SpendReads;
  models: UiModels;
  /** Signed-out sessions are listed here (`revocations.ts`). */
  kv: Deno.Kv;
  now: () => number;
  /** Unexpected errors (with the request id; the page shows only the id). */
  log: Pick<Logger, "error">;
}
