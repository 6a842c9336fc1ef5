/**
 * @module
 * The typed, resolved configuration the gateway runs on. Built once at start-up by `load.ts`;
 * per-request code only reads it.
 */
import type { CredentialSpec } from "../aws/mod.ts";
import type { Period } from "../core/durations.ts";
import type { CorsSettings } from "./cors.ts";
import type { AlertRoutes } from "./alerting.ts";
import type { ModelPrices } from "./price_fields.ts";
import type { RoutingStrategy } from "./schema.ts";
import type { z } from "zod";

/**
 * How the gateway authenticates to a deployment's upstream (or why it cannot). SigV4 names where its credentials
 * come from (`server/aws`): keys, a profile, a role, the default chain…; the gateway keeps one source per spec.
 */
export type DeploymentAuth =
  | { kind: "sigv4"; credentials: CredentialSpec }
  | { kind: "bearer"; token: string }
  | { kind: "mock"; text: string }
  | { kind: "unavailable"; reason: string };

export type { ModelPrices, TokenPrices } from "./price_fields.ts";

export interface Deployment {
  /** Stable id: `model_info.id`, else derived from the deployment's params (no secrets). */
  id: string;
  /** The public name clients call (`model_name`); several deployments may share it. */
  modelName: string;
  /** The Bedrock model id or ARN sent upstream, without LiteLLM's `bedrock/` prefixes. */
  bedrockModelId: string;
  region: string;
  /** Upstream base URL without a trailing slash. */
  endpoint: string;
  auth: DeploymentAuth;
  weight?: number;
  rpm?: number;
  tpm?: number;
  timeoutMs?: number;
  streamTimeoutMs?: number;
  cooldownMs?: number;
  /**
   * Price overrides from `litellm_params`/`model_info` (LiteLLM's field names, `litellm_params` winning field by
   * field); they win over the price tables.
   */
  prices: ModelPrices;
  /**
   * `model_info.base_model`: the model id this deployment is priced as (an application inference profile, a custom or
   * provisioned model), without LiteLLM's `bedrock/` prefixes.
   */
  baseModel?: string;
}

export interface RouterConfig {
  strategy: z.infer<typeof RoutingStrategy>;
  numRetries: number;
  retryAfterMs: number;
  allowedFails: number;
  cooldownMs: number;
  timeoutMs: number;
  streamTimeoutMs: number;
  fallbacks: Map<string, string[]>;
  enablePreCallChecks: boolean;
}

/**
 * The AWS account behind the pass-through routes that are not model calls (`general_settings.bedrock_passthrough`,
 * else the environment). Its auths say `unavailable` (with the reason) when nothing usable is configured.
 */
export interface PassthroughAccount {
  region: string;
  /** bedrock-runtime base URL without a trailing slash (ApplyGuardrail). */
  runtimeEndpoint: string;
  /** bedrock-agent-runtime base URL without a trailing slash (Retrieve, RetrieveAndGenerate, InvokeAgent). */
  agentRuntimeEndpoint: string;
  /** SigV4 or a Bedrock API key. */
  runtimeAuth: DeploymentAuth;
  /** SigV4 only: bedrock-agent-runtime does not accept Bedrock API keys. */
  agentRuntimeAuth: DeploymentAuth;
  /**
   * Whether `general_settings.bedrock_passthrough` is in the config: its credentials are then resolved at start-up;
   * without it, on the first pass-through call.
   */
  configured: boolean;
}

/** Bounds on what one request, and all requests together, may make the gateway hold (`general_settings`). */
export interface RequestLimits {
  /** Request-body bytes held at once across all requests. */
  maxBodyBytesInFlight: number;
  /** Deepest nesting of arrays/objects in a JSON body, and most values in it. */
  json: { maxDepth: number; maxValues: number };
  /**
   * Longest a stream waits for its client to take the next chunk (`stream_send_timeout_ms`) before it is cut and
   * billed: a client that keeps its connection without reading holds the call's budget hold, parallel slot and upstream
   * connection until then.
   */
  streamSendTimeoutMs: number;
}

/** How the CLI's server treats connections (`general_settings`); `deno serve` and Deno Deploy have their own. */
export interface ServerSettings {
  /** Open connections at most; undefined: derived from the descriptor limit at start-up. */
  maxConnections?: number;
  headerTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** A request body must arrive within this, plus a second per `bodyMinBytesPerSecond` bytes received. */
  bodyTimeoutMs: number;
  bodyMinBytesPerSecond: number;
  shutdownGraceMs: number;
}

/**
 * The proxy's own budget (`litellm_settings.max_budget`, `budget_duration`), over every call whoever makes it: windows
 * of `budget_duration` back to back from the epoch (UTC: `1d` resets at midnight, `1mo` on the first of the month).
 */
export interface ProxyBudget {
  /** USD. */
  maxBudget: number;
  /** As given, for messages. */
  budgetDuration?: string;
  period?: Period;
}

export interface GatewayConfig {
  deployments: Deployment[];
  /** Deployments by `model_name`, in config order. */
  byModelName: Map<string, Deployment[]>;
  /**
   * `model_name`s whose only entries are other providers' (skipped at start-up), with why: calls to them are told.
   */
  otherProviders: Map<string, string>;
  /** Undefined means the gateway runs open (loudly announced at start-up). */
  masterKey?: string;
  maxRequestBodyBytes: number;
  limits: RequestLimits;
  server: ServerSettings;
  keyCacheTtlMs: number;
  /**
   * Budgeted or rate-limited keys: reuse their record and counter snapshot this long before re-reading them (0:
   * read on every request). This instance's own spend is always counted at once; other instances' spend and changes
   * made elsewhere are seen up to this late.
   */
  keyCounterMaxAgeMs: number;
  storePrompts: boolean;
  /** Webhooks each alert type is posted to (`general_settings.alerting`); empty lists when alerting is off. */
  alerts: AlertRoutes;
  /** Output tokens held for a call whose request does not limit them (`general_settings.default_hold_output_tokens`). */
  defaultHoldOutputTokens: number;
  spendLogRetentionMs: number;
  modelPricesFile?: string;
  /** `general_settings.guardrail_prices`: USD per 1,000 policy units, by `GuardrailUsage` field name. */
  guardrailPrices: Record<string, number>;
  /**
   * `general_settings.allow_unpriced_models`: serve calls by budgeted callers to deployments without a known price
   * (priced 0 and flagged) instead of refusing them.
   */
  allowUnpricedModels: boolean;
  metricsPublic: boolean;
  /** `general_settings.upstream_client`: which HTTP client calls Bedrock (default `native`). */
  upstreamClient: "native" | "fetch";
  router: RouterConfig;
  passthrough: PassthroughAccount;
  /** Temporary AWS credentials are refreshed this long before they expire. */
  awsRefreshAheadMs: number;
  /** Which web pages on other origins may call `/bedrock/*` and the admin API (`general_settings.cors_*`). */
  cors: CorsSettings;
  /** `litellm_settings.max_budget`: a budget over all calls; absent when not set. */
  proxyBudget?: ProxyBudget;
  /** Non-fatal problems found while loading (unknown keys, unavailable deployments). */
  warnings: string[];
}
