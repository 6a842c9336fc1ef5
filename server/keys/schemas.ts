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
import { DURATION_PATTERN, parseDuration } from "./durations.ts";

const MAX_METADATA_JSON = 16 * 1024;

export const Duration = z.string()
  .regex(DURATION_PATTERN, "expected a duration like 30s, 30m, 1h, 1d or 30d")
  .refine((s) => parseDuration(s) !== undefined, "duration too long (at most 10 years)")
  .meta({ id: "Duration", description: "A number and a unit: s, m, h, d or w (e.g. `30d`)." });

const Usd = z.number().nonnegative().max(1e9);
const Count = z.number().int().nonnegative().max(1e9);
const Name = z.string().min(1).max(256);

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

const Metadata = z.record(z.string(), z.unknown()).refine(
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
  user_id: Name.nullable().optional(),
  team_id: Name.nullable().optional(),
  blocked: z.boolean().optional(),
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
