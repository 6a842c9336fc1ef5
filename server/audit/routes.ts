/**
 * @module
 * `GET /audit/logs` (LiteLLM's route and answer): the admin changes of keys, teams and users, newest first,
 * filtered and paged; for the master key only.
 */
import { routesOver } from "../api/route.ts";
import { validation } from "../core/errors.ts";
import { type Authenticator, requireMaster } from "../keys/auth.ts";
import type { AuditLog } from "./audit_log.ts";
import { AuditLogsQuery, AuditLogsResponse } from "./schemas.ts";

export interface AuditRouteServices {
  auth: Authenticator;
  audit: AuditLog;
}

const route = routesOver<AuditRouteServices>();

/** `YYYY-MM-DD` (a whole UTC day: an end date includes it) or an ISO 8601 time, as epoch ms. */
function dateParam(text: string, param: string, end: boolean): number {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const t = Date.parse(day ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(t)) throw validation(`Invalid request: ${param} is not an ISO 8601 date or time`, param);
  return day && end ? t + 86_400_000 - 1 : t;
}

export const AUDIT_ROUTES = [
  route({
    tag: "audit",
    auth: "admin",
    errorFormat: "litellm",
    method: "get",
    path: "/audit/logs",
    operationId: "auditLogs",
    summary: "The audit trail of admin changes",
    description: "Every create, update, block, unblock, delete and regenerate (`rotated`) of keys, teams and users: " +
      "who made it, which object, and the fields that changed before and after (never a key). Newest first, " +
      "filtered by `action`, `table_name`, `object_id`, `changed_by` and dates, paged by `page`/`page_size`.",
    errors: [400, 401, 403, 500],
    query: AuditLogsQuery,
    responses: { 200: { description: "One page of records.", schema: AuditLogsResponse } },
    sdk: { group: "audit", method: "logs" },
  }, async (input, s) => {
    await requireMaster(s.auth, input.request.headers, "Only the master key can read the audit log");
    const q = input.query();
    const from = q.start_date === undefined ? undefined : dateParam(q.start_date, "start_date", false);
    const to = q.end_date === undefined ? undefined : dateParam(q.end_date, "end_date", true);
    // What this instance was told of is readable once its response has gone.
    await s.audit.idle();
    return input.json(await s.audit.page({ ...q, from, to }));
  }),
];
