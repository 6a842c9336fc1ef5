/**
 * @module
 * zod schemas of `GET /audit/logs` in LiteLLM's names and shape (`{data, total, page, page_size, total_pages}`,
 * rows as `LiteLLM_AuditLogs`): query validation here, and the source of the OpenAPI document and the SDK's
 * `client.audit.logs()`.
 */
import { z } from "zod";

const Changes = z.record(z.string(), z.unknown()).meta({
  description: "The fields that changed, in LiteLLM's names (`max_budget`, `rpm_limit`, `blocked`, …).",
});

export const AuditLogRow = z.object({
  id: z.string(),
  updated_at: z.string().meta({ description: "ISO 8601, UTC: when the change was written." }),
  changed_by: z.string().meta({
    description: "The `litellm-changed-by` header when sent, else `master_key`, `admin UI` or `open gateway`.",
  }),
  changed_by_api_key: z.string().nullable().meta({
    description: "12-character SHA-256 prefix of the key that made the change (never the key).",
  }),
  action: z.enum(["created", "updated", "blocked", "unblocked", "deleted", "rotated"]).meta({
    description: "`rotated`: a key regenerated.",
  }),
  table_name: z.enum(["LiteLLM_VerificationToken", "LiteLLM_TeamTable", "LiteLLM_UserTable"]),
  object_id: z.string().meta({ description: "The key's hash, or the team's or user's id." }),
  before_value: Changes.nullable().meta({ description: "The changed fields before (null for a creation)." }),
  updated_values: Changes.meta({ description: "The changed fields after (`{}` for a deletion)." }),
}).meta({ id: "AuditLogRow" });

const DateParam = z.string().min(1).max(64).meta({ description: "ISO 8601 (`2025-06-01` or `2025-06-01T12:00:00Z`)." });

export const AuditLogsQuery = z.strictObject({
  action: z.string().min(1).max(32).optional(),
  table_name: z.string().min(1).max(64).optional(),
  object_id: z.string().min(1).max(256).optional(),
  changed_by: z.string().min(1).max(256).optional(),
  start_date: DateParam.optional(),
  end_date: DateParam.optional(),
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  page_size: z.coerce.number().int().min(1).max(500).default(50),
}).meta({ id: "AuditLogsQuery" });
export type AuditLogsQuery = z.infer<typeof AuditLogsQuery>;

export const AuditLogsResponse = z.object({
  data: z.array(AuditLogRow),
  total: z.number().int().nonnegative(),
  page: z.number().int(),
  page_size: z.number().int(),
  total_pages: z.number().int().nonnegative(),
}).meta({ id: "AuditLogsResponse" });
