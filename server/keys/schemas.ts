/**
 * @module
 * zod schemas of the `/key/*` admin API (LiteLLM's names and shapes): request validation here, and the source
 * the OpenAPI document and the SDK's admin client are generated from (each schema carries a `.meta({ id })`).
 *
 * Requests are strict: an unknown field is a 400 naming it, never silently ignored. Sizes are capped so that a
 * key record always fits Deno KV's 64 KiB value limit.
 */
import { z } from "zod";
import { queryBoolean } from "../api/query_boolean.ts";
import { DURATION_PATTERN, parseDuration } from "../core/durations.ts";

const MAX_METADATA_JSON = 16 * 1024;

export const Duration = z.string()
  .regex(DURATION_PATTERN, "expected a duration like 30s, 30m, 1h, 1d, 2w or 1mo")
  .refine((s) => parseDuration(s) !== undefined, "duration too long (at most 10 years)")
  .meta({
    id: "Duration",
    description: "A number and a unit: s, m, h, d, w or mo (calendar months), e.g. `30d`, `1mo`; or LiteLLM's " +
      "`hourly`, `daily`, `weekly`, `monthly` (30 days).",
  });

export const Usd = z.number().nonnegative().max(1e9);
export const Count = z.number().int().nonnegative().max(1e9);
export const Name = z.string().min(1).max(256);
/** Most entries of a per-model map (`model_max_budget`, `aliases`, …). */
const MAX_MODEL_ENTRIES = 100;

/** A USD amount LiteLLM's clients may send as a string (`"0.0000001"`). */
const UsdLike = z.union([Usd, z.string().regex(/^\d+(\.\d+)?(e-?\d+)?$/i, "expected a number").transform(Number)])
  .pipe(Usd);

/**
 * One model's budget: LiteLLM's `{budget_limit, time_period}` (its key documentation's form) or its `BudgetConfig`
 * names `{max_budget, budget_duration}`.
 */
export const ModelBudgetEntry = z.strictObject({
  budget_limit: UsdLike.optional(),
  time_period: Duration.optional(),
  max_budget: UsdLike.optional(),
  budget_duration: Duration.optional(),
}).refine((b) => (b.budget_limit === undefined) !== (b.max_budget === undefined), {
  message: "give budget_limit (or max_budget), once",
}).refine((b) => b.time_period === undefined || b.budget_duration === undefined, {
  message: "give time_period or budget_duration, not both",
}).meta({
  id: "ModelBudget",
  description: "A budget in USD for one model, reset every `time_period` (never when absent).",
});

/** A map by model name, of at most 100 entries. */
function perModel<T extends z.ZodType>(value: T) {
  return z.record(Name, value).refine((m) => Object.keys(m).length <= MAX_MODEL_ENTRIES, {
    message: `at most ${MAX_MODEL_ENTRIES} models`,
  });
}

export const ModelMaxBudget = perModel(ModelBudgetEntry).meta({
  description: 'Per-model budgets: `{"claude": {"budget_limit": 10, "time_period": "1mo"}}`. A call to ' +
    "the model is refused once the key's spend on it in the window reaches the limit; the key's other models keep " +
    "working.",
});
export const ModelRateLimits = perModel(Count);
const Tag = z.string().min(1).max(128);

/** A raw key (`sk-…`) or its SHA-256 hex (LiteLLM's hashed `token`). */
export const KeyRef = z.string().min(1).max(512).meta({
  id: "KeyRef",
  description: "A virtual key (`sk-…`) or its SHA-256 hex hash (`token`).",
});

/** A caller-chosen key; LiteLLM requires the `sk-` prefix. */
export const CustomKey = z.string().startsWith("sk-", "must start with sk-").min(4).max(256);

/** A route a key may call: an exact path, or a prefix ending in `*` (LiteLLM's `allowed_routes`). */
export const RoutePattern = z.string().min(2).max(512)
  .regex(/^\/[^*]*\*?$/, "expected a path starting with / and at most one *, at the end (e.g. /bedrock/agents/*)")
  .meta({ id: "RoutePattern", examples: ["/bedrock/guardrail/*", "/bedrock/model/*"] });

export const Metadata = z.record(z.string(), z.unknown()).refine(
  (m) => JSON.stringify(m).length <= MAX_METADATA_JSON,
  `metadata too large (at most ${MAX_METADATA_JSON} bytes of JSON)`,
);

/** Settings shared by generate, update and regenerate. `null` clears a setting. */
const KeySettings = {
  models: z.array(Name).max(100).optional()
    .meta({ description: "Model names the key may call; empty or absent means all." }),
  allowed_routes: z.array(RoutePattern).max(100).nullable().optional().meta({
    description: "`/bedrock` routes the key may call: exact paths or prefixes ending in `*` (`/bedrock/guardrail/*`, " +
      "`/bedrock/knowledgebases/*`, `/bedrock/retrieveAndGenerate`, `/bedrock/agents/*`, `/bedrock/model/*`). " +
      "Absent, empty or null: model routes only (still limited by `models`). Once set, every `/bedrock` call must " +
      "match one, model routes included.",
  }),
  max_budget: Usd.nullable().optional().meta({ description: "USD; calls are refused once spend reaches it." }),
  soft_budget: Usd.nullable().optional().meta({ description: "USD; crossing it is logged once per window." }),
  budget_duration: Duration.nullable().optional().meta({ description: "Spend resets at the end of each window." }),
  duration: Duration.nullable().optional().meta({ description: "Expiry, counted from now; null: never." }),
  rpm_limit: Count.nullable().optional().meta({ description: "Requests per minute." }),
  tpm_limit: Count.nullable().optional().meta({ description: "Tokens (of completed calls) per minute." }),
  max_parallel_requests: Count.nullable().optional().meta({ description: "Calls in progress at once." }),
  key_alias: Name.nullable().optional().meta({ description: "Unique, human-readable name." }),
  metadata: Metadata.optional(),
  user_id: Name.nullable().optional()
    .meta({ description: "The user the key belongs to: its spend counts toward the user's budget and limits." }),
  team_id: Name.nullable().optional().meta({
    description: "The team the key belongs to (it must exist: `/team/new`): the key is limited by the team's " +
      "models, budget and rate limits too, and its spend counts toward the team's.",
  }),
  blocked: z.boolean().optional(),
  model_max_budget: ModelMaxBudget.nullable().optional(),
  model_rpm_limit: ModelRateLimits.nullable().optional()
    .meta({ description: 'Requests per minute per model name: `{"claude": 10}`.' }),
  model_tpm_limit: ModelRateLimits.nullable().optional()
    .meta({ description: "Tokens (of completed calls) per minute per model name." }),
  tags: z.array(Tag).max(32).nullable().optional()
    .meta({ description: "Added to the request tags of every call made with the key (spend logs, `/spend/tags`)." }),
  aliases: perModel(Name).nullable().optional().meta({
    description: 'Model-name aliases: `{"fast": "claude-haiku"}` makes calls to `fast` go to the ' +
      "`claude-haiku` model group (billed and limited as that group). `models` may name an alias: it allows the " +
      "group the alias stands for.",
  }),
};

export const KeyGenerateRequest = z.strictObject({
  ...KeySettings,
  key: CustomKey.optional().meta({ description: "A custom key (must start with sk-); generated when absent." }),
}).meta({ id: "KeyGenerateRequest" });

export const KeyUpdateRequest = z.strictObject({ key: KeyRef, ...KeySettings }).meta({ id: "KeyUpdateRequest" });

export const KeyRegenerateRequest = z.strictObject({
  ...KeySettings,
  key: KeyRef.optional().meta({ description: "The key to replace (or give it in the path)." }),
  new_key: CustomKey.optional().meta({ description: "The replacement (must start with sk-); generated if absent." }),
}).meta({ id: "KeyRegenerateRequest" });

export const KeyDeleteRequest = z.strictObject({
  keys: z.array(KeyRef).min(1).max(100).optional(),
  key_aliases: z.array(Name).min(1).max(100).optional(),
}).refine((r) => (r.keys === undefined) !== (r.key_aliases === undefined), {
  message: "give either keys or key_aliases",
  path: ["keys"],
}).meta({ id: "KeyDeleteRequest" });

export const KeyBlockRequest = z.strictObject({ key: KeyRef }).meta({ id: "KeyBlockRequest" });

export const KeyInfoQuery = z.strictObject({ key: KeyRef.optional() }).meta({ id: "KeyInfoQuery" });

export const KeyListQuery = z.strictObject({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  size: z.coerce.number().int().min(1).max(100).default(10),
  user_id: Name.optional(),
  team_id: Name.optional(),
  key_alias: Name.optional(),
  return_full_object: queryBoolean(false).meta({ description: "`true`: whole key objects instead of hashes." }),
}).meta({ id: "KeyListQuery" });

const Timestamp = z.string().meta({ description: "ISO 8601" });

/** What `/key/info` and `/key/list` show of a key: never the raw key, only its hash (`token`). */
export const KeyInfo = z.object({
  token: z.string().meta({ description: "SHA-256 hex of the key." }),
  key_name: z.string().meta({ description: "`sk-...` and the key's last four characters." }),
  key_alias: z.string().nullable(),
  spend: z.number().meta({ description: "USD spent in the current budget window." }),
  max_budget: z.number().nullable(),
  soft_budget: z.number().nullable(),
  budget_duration: z.string().nullable(),
  budget_reset_at: Timestamp.nullable(),
  expires: Timestamp.nullable(),
  models: z.array(z.string()),
  allowed_routes: z.array(z.string()),
  rpm_limit: z.number().nullable(),
  tpm_limit: z.number().nullable(),
  max_parallel_requests: z.number().nullable(),
  user_id: z.string().nullable(),
  team_id: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  blocked: z.boolean(),
  model_max_budget: z.record(z.string(), z.object({ budget_limit: z.number(), time_period: z.string().nullable() })),
  model_spend: z.record(z.string(), z.number()).meta({
    description: "USD spent per model with a `model_max_budget`, in its current window.",
  }),
  model_rpm_limit: z.record(z.string(), z.number()),
  model_tpm_limit: z.record(z.string(), z.number()),
  tags: z.array(z.string()),
  aliases: z.record(z.string(), z.string()),
  created_at: Timestamp,
  updated_at: Timestamp,
}).meta({ id: "KeyInfo" });

/** `/key/generate` and `/key/regenerate`: the only responses that carry the raw key, once. */
export const KeyGenerateResponse = KeyInfo.extend({
  key: z.string().meta({ description: "The raw key. Shown only here; store it now." }),
}).meta({ id: "KeyGenerateResponse" });

export const KeyInfoResponse = z.object({
  key: z.string().meta({ description: "The key's hash." }),
  info: KeyInfo,
}).meta({ id: "KeyInfoResponse" });

/** `/key/update`, `/key/block`, `/key/unblock`: the key as it now is; `key` is its hash. */
export const KeyUpdateResponse = KeyInfo.extend({ key: z.string() }).meta({ id: "KeyUpdateResponse" });

export const KeyDeleteResponse = z.object({ deleted_keys: z.array(z.string()) }).meta({ id: "KeyDeleteResponse" });

export const KeyListResponse = z.object({
  keys: z.union([z.array(z.string()), z.array(KeyInfo)])
    .meta({ description: "Hashes, or whole objects with return_full_object=true." }),
  total_count: z.number().int(),
  current_page: z.number().int(),
  total_pages: z.number().int(),
}).meta({ id: "KeyListResponse" });
/** `/key/list`'s page by `return_full_object`: hashes (the default) or whole objects; the SDK's narrowed types. */
export const KeyListHashesResponse = KeyListResponse.extend({ keys: z.array(z.string()) });
export const KeyListObjectsResponse = KeyListResponse.extend({ keys: z.array(KeyInfo) });

export type KeyGenerateRequest = z.infer<typeof KeyGenerateRequest>;
export type KeyUpdateRequest = z.infer<typeof KeyUpdateRequest>;
export type KeyRegenerateRequest = z.infer<typeof KeyRegenerateRequest>;
export type KeyDeleteRequest = z.infer<typeof KeyDeleteRequest>;
export type KeyListQuery = z.infer<typeof KeyListQuery>;
export type KeyInfo = z.infer<typeof KeyInfo>;
export type KeyGenerateResponse = z.infer<typeof KeyGenerateResponse>;
export type KeyInfoResponse = z.infer<typeof KeyInfoResponse>;
export type KeyUpdateResponse = z.infer<typeof KeyUpdateResponse>;
export type KeyDeleteResponse = z.infer<typeof KeyDeleteResponse>;
export type KeyListResponse = z.infer<typeof KeyListResponse>;

/** Settings fields as the admin service applies them. */
export type KeySettings = Omit<KeyGenerateRequest, "key">;
