/**
 * @module
 * The zod schema of `config.yaml` (LiteLLM's `model_list` format, the subset this gateway understands).
 *
 * Objects are loose: configs are shared with LiteLLM, so keys we do not know are kept and reported as warnings
 * by `unknownKeys`, never rejected. Values that may be `os.environ/NAME` references are plain strings here;
 * `load.ts` resolves them after validation so that error paths point at the YAML the user wrote.
 */
import { z } from "zod";
import { MAX_OUTPUT_TOKENS_FIELD, PRICE_FIELD_NAMES, type PriceFieldName } from "./price_fields.ts";

const nonNegative = z.number().nonnegative();
const positive = z.number().positive();

/**
 * Per-token USD prices in LiteLLM's names (every tier and long-context variant: `price_fields.ts`) and the model's
 * output limit, accepted in `litellm_params` and in `model_info`.
 */
export const PriceFields = {
  ...Object.fromEntries(PRICE_FIELD_NAMES.map((name) => [name, nonNegative.optional()])) as Record<
    PriceFieldName,
    z.ZodOptional<z.ZodNumber>
  >,
  [MAX_OUTPUT_TOKENS_FIELD]: z.number().int().positive().optional(),
};

/**
 * The AWS account an entry calls: its region and LiteLLM's AWS credential parameters, shared by deployments and
 * `bedrock_passthrough` (written once, here); how the credentials combine is `server/aws/params.ts`. Strings may be
 * `os.environ/NAME`.
 */
export const AwsAccountFields = {
  aws_region_name: z.string().min(1).optional(),
  aws_access_key_id: z.string().min(1).optional(),
  aws_secret_access_key: z.string().min(1).optional(),
  aws_session_token: z.string().min(1).optional(),
  /** A profile of the shared config/credentials files (SSO included). */
  aws_profile_name: z.string().min(1).optional(),
  /** The ARN of a role to assume through STS, from whatever base credentials the entry has. */
  aws_role_name: z.string().min(1).optional(),
  aws_session_name: z.string().min(1).optional(),
  aws_external_id: z.string().min(1).optional(),
  /** With `aws_role_name`: AssumeRoleWithWebIdentity with this token (a file path, or `os.environ/NAME`). */
  aws_web_identity_token: z.string().min(1).optional(),
  /** STS endpoint (a VPC endpoint); its region is read from the host when it has one. */
  aws_sts_endpoint: z.string().min(1).optional(),
};
const AwsAccount = z.object(AwsAccountFields);
/** The AWS account fields as written (`aws_auth.ts` turns them into a credential spec). */
export type AwsAccount = z.infer<typeof AwsAccount>;

/**
 * A Bedrock API key, sent as `Authorization: Bearer` instead of SigV4 (bedrock-runtime only: the agent runtime accepts
 * only SigV4), and the bedrock-runtime endpoint; shared by deployments and `bedrock_passthrough`.
 */
const BedrockKeyFields = {
  api_key: z.string().min(1).optional(),
  /** LiteLLM also accepts this name for a Bedrock API key (its issue #12537). */
  aws_bearer_token: z.string().min(1).optional(),
  aws_bedrock_runtime_endpoint: z.url().optional(),
};

export const LitellmParams = z.looseObject({
  model: z.string().min(1),
  custom_llm_provider: z.string().optional(),
  ...AwsAccountFields,
  ...BedrockKeyFields,
  api_base: z.url().optional(),
  mock_response: z.string().optional(),
  weight: nonNegative.optional(),
  rpm: positive.optional(),
  tpm: positive.optional(),
  /** Seconds, like LiteLLM. */
  timeout: positive.optional(),
  stream_timeout: positive.optional(),
  cooldown_time: nonNegative.optional(),
  ...PriceFields,
});

export const ModelInfo = z.looseObject({
  id: z.string().min(1).optional(),
  /** The model id the deployment is priced as (LiteLLM's field), e.g. for an application inference profile. */
  base_model: z.string().min(1).optional(),
  ...PriceFields,
});

export const ModelEntry = z.looseObject({
  model_name: z.string().min(1),
  litellm_params: LitellmParams,
  model_info: ModelInfo.optional(),
});

/**
 * `general_settings.bedrock_passthrough`: the AWS account behind the routes that are not model calls (ApplyGuardrail on
 * bedrock-runtime; Retrieve, RetrieveAndGenerate and InvokeAgent on bedrock-agent-runtime). Same credential fields as
 * a deployment; anything left out falls back to the environment (`AWS_*`, `AWS_REGION`).
 */
export const BedrockPassthrough = z.looseObject({
  ...AwsAccountFields,
  ...BedrockKeyFields,
  aws_bedrock_agent_runtime_endpoint: z.url().optional(),
});

export const GeneralSettings = z.looseObject({
  master_key: z.string().min(1).optional(),
  /** Largest accepted request body; Bedrock itself caps InvokeModel at 25 MB. */
  max_request_body_bytes: z.number().int().positive().optional(),
  /** How long a key record may be served from memory before it is re-read from KV. */
  key_cache_ttl_ms: z.number().int().nonnegative().optional(),
  /**
   * How long a budgeted or rate-limited key's record and counters may be reused before a request re-reads them
   * (default 1000; 0: every request reads them).
   */
  key_counter_max_age_ms: z.number().int().nonnegative().optional(),
  store_prompts_in_spend_logs: z.boolean().optional(),
  /** LiteLLM's alerting: `["slack"]` posts alerts to `SLACK_WEBHOOK_URL` (`config/alerting.ts`). */
  alerting: z.array(z.string()).optional(),
  /** Per alert type (`budget_alerts`, `cooldown_deployment`, `outage_alerts`): a webhook URL or a list. */
  alert_to_webhook_url: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
  /**
   * Output tokens held for a call whose request does not say how many it allows (`maxTokens`, `max_tokens`):
   * default 4096, capped at the model's `max_output_tokens` when the price table knows it.
   */
  default_hold_output_tokens: z.number().int().positive().optional(),
  spend_logs_retention_days: positive.optional(),
  model_prices_file: z.string().min(1).optional(),
  /** Serve budgeted callers' calls to deployments without a known price (priced 0, flagged) instead of refusing. */
  allow_unpriced_models: z.boolean().optional(),
  metrics_public: z.boolean().optional(),
  bedrock_passthrough: BedrockPassthrough.optional(),
  /** Request-body bytes held at once across all requests; beyond it a 503 with Retry-After. */
  max_body_bytes_in_flight: z.number().int().positive().optional(),
  /** Deepest nesting of arrays/objects a JSON body may have, checked before it is parsed. */
  max_json_depth: z.number().int().min(1).max(10_000).optional(),
  /** Most values (arrays, objects, elements, members) a JSON body may have, counted before it is parsed. */
  max_json_values: z.number().int().positive().optional(),
  /** Longest a stream waits for its client to read the next chunk before it is cut (and billed its estimate). */
  stream_send_timeout_ms: z.number().int().positive().optional(),
  /** Open client connections at most (default: from the process's descriptor limit). */
  max_connections: z.number().int().positive().optional(),
  /** Longest wait from a new connection to its first request's complete headers. */
  header_timeout_ms: z.number().int().positive().optional(),
  /** Longest wait from a response to the next request's complete headers on a kept-alive connection. */
  keep_alive_timeout_ms: z.number().int().positive().optional(),
  /** How long a request body may take to arrive (extended by `body_min_bytes_per_second`); then a 408. */
  body_timeout_ms: z.number().int().positive().optional(),
  /** Each this many bytes of a body received extend its `body_timeout_ms` by a second. */
  body_min_bytes_per_second: z.number().int().positive().optional(),
  /** USD per 1,000 guardrail policy units, by `GuardrailUsage` field name; overrides the built-in prices. */
  guardrail_prices: z.record(z.string(), nonNegative).optional(),
  /** On SIGTERM/SIGINT, how long in-flight calls may finish before streams are ended and connections closed. */
  shutdown_grace_ms: z.number().int().nonnegative().optional(),
  /** Temporary AWS credentials are refreshed this many seconds before they expire (default 300). */
  aws_credentials_refresh_ahead_seconds: positive.optional(),
  /**
   * How the gateway calls Bedrock: `native` (the default: the gateway's own HTTP/1.1 client, server/upstream_client,
   * which hands to `fetch` whatever it does not speak, e.g. when a proxy is set) or `fetch` (Deno's).
   */
  upstream_client: z.enum(["native", "fetch"]).optional(),
  /**
   * Web pages (origins) allowed to call the gateway from a browser: a list, `"*"`, or one string of comma-separated
   * origins (LiteLLM's forms; `os.environ/NAME` works in either). Unset: any origin on `/bedrock/*` when a master key
   * is set, none on the admin API; set: this, on both. `[]` turns CORS off.
   */
  cors_allow_origins: z.union([z.string(), z.array(z.string())]).optional(),
  /** `Access-Control-Allow-Credentials: true` for listed origins (never with `"*"`). */
  cors_allow_credentials: z.boolean().optional(),
  /** Request headers pages may send besides the built-in ones (`"*"`: any). */
  cors_allow_headers: z.union([z.string(), z.array(z.string())]).optional(),
});

export const RoutingStrategy = z.enum([
  "simple-shuffle",
  "least-busy",
  "latency-based-routing",
  "usage-based-routing",
]);

export const RouterSettings = z.looseObject({
  routing_strategy: RoutingStrategy.optional(),
  num_retries: z.number().int().nonnegative().optional(),
  retry_after: nonNegative.optional(),
  allowed_fails: z.number().int().nonnegative().optional(),
  cooldown_time: nonNegative.optional(),
  timeout: positive.optional(),
  stream_timeout: positive.optional(),
  fallbacks: z.array(z.record(z.string(), z.array(z.string()))).optional(),
  enable_pre_call_checks: z.boolean().optional(),
});

export const ConfigFile = z.looseObject({
  model_list: z.array(ModelEntry).min(1),
  general_settings: GeneralSettings.optional(),
  router_settings: RouterSettings.optional(),
  litellm_settings: z.record(z.string(), z.unknown()).optional(),
  environment_variables: z.record(z.string(), z.unknown()).optional(),
});
export type ConfigFile = z.infer<typeof ConfigFile>;
export type ModelEntry = z.infer<typeof ModelEntry>;
export type LitellmParams = z.infer<typeof LitellmParams>;
export type GeneralSettings = z.infer<typeof GeneralSettings>;
export type RouterSettings = z.infer<typeof RouterSettings>;
export type BedrockPassthrough = z.infer<typeof BedrockPassthrough>;

/**
 * Lists keys of `value` that `schema` does not declare, as YAML paths, for the sections whose keys we own.
 * `litellm_settings` and `environment_variables` are LiteLLM's free-form sections, read by `litellm_settings.ts`.
 */
export function unknownKeys(value: unknown): string[] {
  const out: string[] = [];
  const check = (obj: unknown, shape: Record<string, unknown>, path: string) => {
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) return;
    for (const key of Object.keys(obj)) {
      if (!(key in shape)) out.push(path ? `${path}.${key}` : key);
    }
  };
  if (!value || typeof value !== "object") return out;
  const root = value as Record<string, unknown>;
  check(root, ConfigFile.shape, "");
  check(root.general_settings, GeneralSettings.shape, "general_settings");
  check(root.router_settings, RouterSettings.shape, "router_settings");
  const general = root.general_settings as Record<string, unknown> | null | undefined;
  check(general?.bedrock_passthrough, BedrockPassthrough.shape, "general_settings.bedrock_passthrough");
  if (Array.isArray(root.model_list)) {
    root.model_list.forEach((entry: unknown, i: number) => {
      const path = `model_list[${i}]`;
      check(entry, ModelEntry.shape, path);
      const e = entry as Record<string, unknown> | null;
      check(e?.litellm_params, LitellmParams.shape, `${path}.litellm_params`);
      check(e?.model_info, ModelInfo.shape, `${path}.model_info`);
    });
  }
  return out;
}
