/**
 * @module
 * zod schemas of the spend routes (`/spend/logs`, `/global/spend`, `/global/spend/report`) in LiteLLM's names and
 * shapes: query validation here, and the source the OpenAPI document and the SDK's admin client are generated from
 * (each schema carries a `.meta({ id })`). Money is USD as a JSON number (integer nano-USD ÷ 10^9, so
 * `Math.round(spend * 1e9)` recovers the exact integer).
 */
import { z } from "zod";
import { queryBoolean } from "../api/query_boolean.ts";
import { CALL_TYPES } from "../core/call_record.ts";

const Timestamp = z.string().meta({ description: "ISO 8601, UTC." });
const Usd = z.number().meta({ description: "USD." });
const Tokens = z.number().int().nonnegative();
const DateParam = z.string().min(1).max(64).meta({
  description: "`YYYY-MM-DD` (a whole UTC day; an end date includes its day, e.g. `2025-06-01`) or an ISO 8601 " +
    "timestamp (`2025-06-01T12:00:00Z`).",
});

/** One finished call (success or failure), as stored and as `/spend/logs` answers. */
export const SpendLogRow = z.object({
  request_id: z.string().meta({ description: "The call's id, also sent as `x-litellm-call-id`." }),
  call_type: z.enum(CALL_TYPES),
  api_key: z.string().nullable().meta({ description: "SHA-256 hex of the key used (never the key itself)." }),
  key_alias: z.string().nullable(),
  user: z.string().nullable().meta({ description: "The key's `user_id`." }),
  team_id: z.string().nullable(),
  model: z.string().meta({ description: "The `model_name` called." }),
  model_group: z.string().meta({ description: "Same as `model` (LiteLLM's name for the model group)." }),
  model_id: z.string().nullable().meta({ description: "The deployment that served (its `model_info.id`)." }),
  bedrock_model_id: z.string().nullable().meta({ description: "Model id, inference profile or ARN sent upstream." }),
  custom_llm_provider: z.literal("bedrock"),
  api_base: z.string().nullable(),
  region: z.string().nullable(),
  startTime: Timestamp,
  endTime: Timestamp,
  completionStartTime: Timestamp.nullable().meta({
    description: "First upstream byte (streams) or the upstream response (converse); null if none arrived.",
  }),
  request_duration_ms: z.number().int().nonnegative(),
  prompt_tokens: Tokens.meta({ description: "Input tokens including cache reads and writes (LiteLLM's meaning)." }),
  completion_tokens: Tokens,
  total_tokens: Tokens,
  cache_read_input_tokens: Tokens,
  cache_creation_input_tokens: Tokens,
  spend: Usd,
  price_unknown: z.boolean().meta({
    description: "Some tokens of this call had no known price and were counted at 0 (see `unpriced_tokens`).",
  }),
  unpriced_tokens: z.array(z.enum(["input", "output", "cache_read", "cache_write", "cache_write_1h"])).meta({
    description: "Token kinds of this call without a known price at its tier (`cache_write_1h`: 1-hour cache writes).",
  }),
  service_tier: z.string().nullable().meta({
    description: "Bedrock's service tier (`default`, `priority`, `flex`, `reserved`): the one the answer reports, " +
      "else the one requested; null when neither says. Calls are priced at their tier's prices.",
  }),
  performance_latency: z.string().nullable().meta({
    description: "`performanceConfig.latency` likewise (`standard`, `optimized`); latency-optimized calls are " +
      "priced at the `latency_optimized` prices.",
  }),
  status: z.enum(["success", "failure", "client_disconnected"]),
  http_status: z.number().int(),
  error_type: z.string().nullable().meta({ description: "Bedrock exception name when the call failed." }),
  error_message: z.string().nullable(),
  retries: z.number().int().nonnegative(),
  incomplete: z.boolean().meta({ description: "A stream that ended without its usage (`metadata`) event." }),
  usage_estimated: z.literal(true).optional().meta({
    description: "Present when the tokens (and spend) are the gateway's estimate, not Bedrock's count: the client " +
      "left a stream mid-generation (input from the request or Anthropic's `message_start`, output from what was " +
      "relayed).",
  }),
  request_tags: z.array(z.string()).meta({
    description: "`x-litellm-tags` header values, then the request's `requestMetadata` as `key:value`.",
  }),
  metadata: z.looseObject({
    request_metadata: z.record(z.string(), z.string()).optional(),
    messages_truncated: z.boolean().optional(),
    response_truncated: z.boolean().optional(),
    messages_stored_as_text: z.boolean().optional().meta({
      description: "The request body is stored as its text: parsed, it was nested too deeply to store.",
    }),
    response_stored_as_text: z.boolean().optional(),
    messages_unstorable: z.boolean().optional().meta({ description: "The request body could not be stored." }),
    response_unstorable: z.boolean().optional(),
  }),
  messages: z.unknown().nullable().meta({
    description: "The request body (only with `store_prompts_in_spend_logs`; a truncated string when very large).",
  }),
  response: z.unknown().nullable().meta({
    description: "The response body, or a stream's text (only with `store_prompts_in_spend_logs`).",
  }),
}).meta({ id: "SpendLogRow" });
export type SpendLogRow = z.infer<typeof SpendLogRow>;

export const SpendLogsQuery = z.strictObject({
  api_key: z.string().min(1).max(512).optional().meta({ description: "A key (`sk-…`) or its hash." }),
  user_id: z.string().min(1).max(256).optional(),
  team_id: z.string().min(1).max(256).optional(),
  request_id: z.string().min(1).max(256).optional(),
  start_date: DateParam.optional(),
  end_date: DateParam.optional(),
  summarize: queryBoolean(true).meta({
    description: "With both dates: `true` answers spend per day (LiteLLM's summary), `false` the rows.",
  }),
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  page_size: z.coerce.number().int().min(1).max(1000).default(100),
}).meta({ id: "SpendLogsQuery" });
export type SpendLogsQuery = z.infer<typeof SpendLogsQuery>;

/** `/spend/logs` without a summary: rows, newest first. */
export const SpendLogsResponse = z.array(SpendLogRow).meta({ id: "SpendLogsResponse" });

/** One day of `/spend/logs?start_date&end_date` (summarize): spend, per user and per model, and per key hash. */
export const SpendLogsDay = z.object({
  startTime: z.string().meta({ description: "The UTC day, `YYYY-MM-DD`." }),
  spend: Usd,
  users: z.record(z.string(), z.number()),
  models: z.record(z.string(), z.number()),
}).catchall(z.number().meta({ description: "Spend per key hash (LiteLLM puts them at the top level)." }))
  .meta({ id: "SpendLogsDay" });
export const SpendLogsSummary = z.array(SpendLogsDay).meta({ id: "SpendLogsSummary" });
/** TypeScript cannot express "these fields, plus numbers under any other name"; this is the usable form. */
export type SpendLogsDay = {
  startTime: string;
  spend: number;
  users: Record<string, number>;
  models: Record<string, number>;
  [keyHash: string]: string | number | Record<string, number>;
};

export const GlobalSpendQuery = z.strictObject({
  start_date: DateParam.optional(),
  end_date: DateParam.optional(),
}).meta({ id: "GlobalSpendQuery" });

/** `GET /global/spend`: all spend (or a date range's), from the daily roll-ups. */
export const GlobalSpendResponse = z.object({
  spend: Usd,
  max_budget: z.number().nullable().meta({
    description: "The proxy's budget (`litellm_settings.max_budget`), if set.",
  }),
}).meta({ id: "GlobalSpendResponse" });
export type GlobalSpendResponse = z.infer<typeof GlobalSpendResponse>;

export const GROUP_BY = ["model", "key", "user", "team", "deployment", "day"] as const;
export const GlobalSpendReportQuery = z.strictObject({
  start_date: DateParam,
  end_date: DateParam,
  group_by: z.enum(GROUP_BY).default("day"),
}).meta({ id: "GlobalSpendReportQuery" });
export type GlobalSpendReportQuery = z.infer<typeof GlobalSpendReportQuery>;

/**
 * One group of `/global/spend/report`. The group's field is named as on spend-log rows: `model`, `api_key`,
 * `user`, `team_id`, `model_id` (deployment), or `group_by_day`; null collects calls without that attribute (no
 * key, user or team; no deployment when routing failed before one was chosen).
 */
export const GlobalSpendReportRow = z.object({
  model: z.string().optional(),
  api_key: z.string().nullable().optional(),
  user: z.string().nullable().optional(),
  team_id: z.string().nullable().optional(),
  model_id: z.string().nullable().optional(),
  group_by_day: z.string().optional(),
  total_spend: Usd,
  api_requests: Tokens,
  failed_requests: Tokens,
  total_input_tokens: Tokens.meta({ description: "Prompt tokens, cache reads and writes included." }),
  total_output_tokens: Tokens,
  total_cache_read_input_tokens: Tokens,
  total_cache_creation_input_tokens: Tokens,
  total_tokens: Tokens,
}).meta({ id: "GlobalSpendReportRow" });
export const GlobalSpendReport = z.array(GlobalSpendReportRow).meta({
  id: "GlobalSpendReport",
  description: "Groups by spend, highest first (by day: oldest first).",
});
export type GlobalSpendReportRow = z.infer<typeof GlobalSpendReportRow>;

export const SpendTagsQuery = z.strictObject({
  start_date: DateParam.optional(),
  end_date: DateParam.optional(),
}).meta({ id: "SpendTagsQuery" });

/** One tag of `/spend/tags` (LiteLLM's shape). */
export const SpendTag = z.object({
  individual_request_tag: z.string(),
  log_count: Tokens.meta({ description: "Calls with the tag." }),
  total_spend: Usd,
}).meta({ id: "SpendTag" });
export type SpendTag = z.infer<typeof SpendTag>;
export const SpendTagsResponse = z.array(SpendTag).meta({
  id: "SpendTagsResponse",
  description: "Tags by spend, highest first. A call counts once for each of its tags (`x-litellm-tags` and its " +
    "key's `tags`; not `requestMetadata` pairs).",
});

export const GlobalSpendTopQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(10_000).optional().meta({ description: "The top n; all when absent." }),
}).meta({ id: "GlobalSpendTopQuery" });

/** One key of `/global/spend/keys` (LiteLLM's `Last30dKeysBySpend`). */
export const GlobalSpendKey = z.object({
  api_key: z.string().meta({ description: "The key's hash." }),
  key_alias: z.string().nullable(),
  key_name: z.string().nullable().meta({ description: "`sk-...abcd`; null once the key is deleted." }),
  total_spend: Usd,
}).meta({ id: "GlobalSpendKey" });
export const GlobalSpendKeys = z.array(GlobalSpendKey).meta({ id: "GlobalSpendKeys" });

/** One model of `/global/spend/models` (LiteLLM's `Last30dModelsBySpend`). */
export const GlobalSpendModel = z.object({ model: z.string(), total_spend: Usd }).meta({ id: "GlobalSpendModel" });
export const GlobalSpendModels = z.array(GlobalSpendModel).meta({ id: "GlobalSpendModels" });
