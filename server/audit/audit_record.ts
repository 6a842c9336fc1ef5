/**
 * @module
 * One audit record of an admin change, in LiteLLM's `LiteLLM_AuditLogs` shape: `id`, `updated_at`, `changed_by`
 * (the `litellm-changed-by` header, else `master_key`, `admin UI` or `open gateway`), `changed_by_api_key` (a hash
 * prefix of the key that made it), `action` (`created`, `updated`, `blocked`, `unblocked`, `deleted`, `rotated` for a
 * regenerated key), `table_name` (`LiteLLM_VerificationToken`, `LiteLLM_TeamTable`, `LiteLLM_UserTable`),
 * `object_id` (the key's hash, the team's or user's id), `before_value` and `updated_values`: the fields that
 * changed, before and after, in LiteLLM's snake_case names (`max_budget`, `rpm_limit`, `blocked`, …).
 *
 * A record never holds key material: a key's hash and name are left out (a rotation shows the new hash prefix as
 * `token`), and metadata values pass through the secret redaction of log lines.
 */
import { hashPrefix, redactSecrets } from "../core/redact.ts";

export type AuditTable = "key" | "team" | "user";
export type AuditAction = "created" | "updated" | "blocked" | "unblocked" | "deleted" | "rotated";

/** A written change, as the admin services announce it. */
export interface AuditChange {
  table: AuditTable;
  action: AuditAction;
  /** The key's hash, the team's or user's id. */
  objectId: string;
  by: string;
  before?: object;
  after?: object;
  /** Epoch ms. */
  at: number;
}

export interface AuditRow {
  id: string;
  updated_at: string;
  changed_by: string;
  changed_by_api_key: string | null;
  action: AuditAction;
  table_name: (typeof TABLE_NAMES)[AuditTable];
  object_id: string;
  before_value: Record<string, unknown> | null;
  updated_values: Record<string, unknown>;
}

export const TABLE_NAMES = {
  key: "LiteLLM_VerificationToken",
  team: "LiteLLM_TeamTable",
  user: "LiteLLM_UserTable",
} as const;

/** Record fields that are bookkeeping or key material, never shown. */
const HIDDEN: ReadonlySet<string> = new Set([
  "id",
  "hash",
  "keyName",
  "createdAt",
  "updatedAt",
  "budgetAnchor",
  "modelBudgetAnchor",
]);

/** Our field names as LiteLLM's tables name them, where snake_case alone does not. */
const RENAMED: Record<AuditTable, Record<string, string>> = {
  key: { alias: "key_alias", expires: "expires" },
  team: { alias: "team_alias", id: "team_id" },
  user: { alias: "user_alias", email: "user_email", role: "user_role" },
};

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A value as a record shows it: times as ISO 8601, strings (nested ones too) redacted and bounded. */
function shown(field: string, v: unknown, depth = 0): unknown {
  if ((field === "expires" || field.endsWith("At")) && typeof v === "number") return new Date(v).toISOString();
  if (typeof v === "string") return redactSecrets(v, 200);
  if (v === null || typeof v !== "object") return v;
  if (depth > 4) return "[nested]";
  if (Array.isArray(v)) return v.slice(0, 100).map((x) => shown("", x, depth + 1));
  return Object.fromEntries(
    Object.entries(v).slice(0, 100).map(([k, x]) => [redactSecrets(k, 100), shown("", x, depth + 1)]),
  );
}

/** The fields that differ between `before` and `after` (all of one when the other is absent), before and after. */
export function changedFields(
  table: AuditTable,
  before: object | undefined,
  after: object | undefined,
): { before: Record<string, unknown>; after: Record<string, unknown> } {
  const b = (before ?? {}) as Record<string, unknown>, a = (after ?? {}) as Record<string, unknown>;
  const out = { before: {} as Record<string, unknown>, after: {} as Record<string, unknown> };
  for (const field of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (HIDDEN.has(field)) continue;
    if (JSON.stringify(b[field]) === JSON.stringify(a[field])) continue;
    const name = RENAMED[table][field] ?? snake(field);
    if (before) out.before[name] = b[field] === undefined ? null : shown(field, b[field]);
    if (after) out.after[name] = a[field] === undefined ? null : shown(field, a[field]);
  }
  return out;
}

/** The row for `change`, made by the key whose hash is `apiKeyHash` (undefined: an open gateway). */
export function auditRow(id: string, change: AuditChange, apiKeyHash: string | undefined): AuditRow {
  const { before, after } = changedFields(change.table, change.before, change.after);
  const b = change.before as { hash?: string } | undefined, a = change.after as { hash?: string } | undefined;
  // A rotated key: its new hash's prefix says which key replaced it (never the key).
  if (change.table === "key" && b?.hash && a?.hash && b.hash !== a.hash) after.token = hashPrefix(a.hash);
  return {
    id,
    updated_at: new Date(change.at).toISOString(),
    changed_by: change.by,
    changed_by_api_key: hashPrefix(apiKeyHash) ?? null,
    action: change.action,
    table_name: TABLE_NAMES[change.table],
    object_id: change.objectId,
    before_value: change.before ? before : null,
    updated_values: change.after ? after : {},
  };
}
