/**
 * @module
 * The spend and metrics routes, each declared once (`api/route.ts`): `GET /spend/logs` (the master key; a virtual key
 * reads its own rows), `GET /spend/tags`, `GET /global/spend`, `GET /global/spend/report`, `GET /global/spend/keys`,
 * `GET /global/spend/models` (master key) and `GET /metrics` (master key, or anyone with
 * `general_settings.metrics_public: true`); their schemas (`schemas.ts`), LiteLLM's error format, the SDK methods
 * `client.spend.logs(…)`, `.tags(…)`, `.global(…)`, `.report(…)`, `.keys(…)`, `.models(…)`, and their handlers.
 *
 * Before reading, this instance's queued spend and rows are flushed to KV, so an answer includes every call this
 * instance has finished (other instances' calls once their batches land, within ~10 ms).
 */
import { z } from "zod";
import { type RouteInput, routesOver } from "../api/route.ts";
import { GatewayError } from "../core/errors.ts";
import { nanosToUsd } from "../core/money.ts";
import { type Authenticator, requireMaster } from "../keys/auth.ts";
import { hashKey } from "../keys/credentials.ts";
import { recordKey } from "../keys/kv_layout.ts";
import type { KeyRecord } from "../keys/record.ts";
import { retryBusy } from "../kv/retry.ts";
import { checkRange, dayOf, parseDateParam } from "./days.ts";
import { querySpendLogs } from "./log_query.ts";
import type { Metrics } from "./metrics.ts";
import { globalSpendNanos, spendReport, tagSpend, topSpenders } from "./reports.ts";
import {
  GlobalSpendKeys,
  GlobalSpendModels,
  GlobalSpendQuery,
  GlobalSpendReport,
  GlobalSpendReportQuery,
  GlobalSpendResponse,
  GlobalSpendTopQuery,
  SpendLogsQuery,
  SpendLogsResponse,
  SpendLogsSummary,
  SpendTagsQuery,
  SpendTagsResponse,
} from "./schemas.ts";

/** What the spend routes are served with. */
export interface SpendRouteServices {
  kv: Deno.Kv;
  auth: Authenticator;
  metrics: Metrics;
  /** Writes this instance's queued spend and rows (`ledger.flush`). */
  flush: () => Promise<void>;
  metricsPublic: boolean;
  /** `litellm_settings.max_budget`, shown by `/global/spend`. */
  proxyMaxBudget?: number;
  now: () => number;
}

const route = routesOver<SpendRouteServices>();

/** Statuses every spend call can answer: bad input, no key, not the master key, internal error. */
const ADMIN_ERRORS = [400, 401, 403, 500] as const;

const spend = { tag: "spend", auth: "admin", errorFormat: "litellm", errors: ADMIN_ERRORS } as const;

const Metrics = z.string().meta({
  id: "PrometheusText",
  description: "Prometheus text exposition format 0.0.4.",
});

/** Refuses a virtual key: `what` is only for the master key (or an open gateway). */
const requireAdmin = (input: RouteInput, auth: Authenticator, what: string) =>
  requireMaster(auth, input.request.headers, `Only the master key can read ${what}`);

const HASH = /^[0-9a-f]{64}$/;
/** LiteLLM's `Last30d…BySpend` views: from the day 30 days ago to today. */
const LAST_DAYS = 30;

/** The last 30 UTC days' range, as the `Last30d` views count them. */
function last30Days(now: number) {
  return { from: dayOf(now - LAST_DAYS * 86_400_000), to: dayOf(now) };
}

/** Alias and `sk-...abcd` of keys by hash (nulls for a key deleted since). */
async function keyNames(kv: Deno.Kv, hashes: string[]): Promise<Array<KeyRecord | null>> {
  const out: Array<KeyRecord | null> = [];
  for (let i = 0; i < hashes.length; i += 10) {
    const got = await retryBusy(() => kv.getMany<KeyRecord[]>(hashes.slice(i, i + 10).map(recordKey)));
    out.push(...got.map((e) => e.value));
  }
  return out;
}

export const SPEND_ROUTES = [
  route({
    ...spend,
    method: "get",
    path: "/spend/logs",
    operationId: "spendLogs",
    summary: "Spend-log rows, or spend per day",
    description: "Rows newest first, filtered by any combination of `api_key` (a key or its hash), `user_id`, " +
      "`team_id`, `request_id` and start time, paged by `page`/`page_size`. With both `start_date` and `end_date` " +
      "and `summarize` (LiteLLM's default, `true`) the answer is one entry per UTC day instead: total spend, spend " +
      "per user and per model, and spend per key hash at the top level. A virtual key reads only its own rows.",
    auth: "key",
    query: SpendLogsQuery,
    responses: {
      200: {
        description: "Rows (`SpendLogRow[]`), or with both dates and `summarize`, days (`SpendLogsDay[]`).",
        schema: z.union([SpendLogsResponse, SpendLogsSummary]),
      },
    },
    sdk: { group: "spend", method: "logs", overloads: [{ when: { summarize: false }, output: SpendLogsResponse }] },
  }, async (input, s) => {
    const p = await s.auth.authenticate(input.request.headers);
    const q = input.query();
    if (p.kind === "virtual") {
      // A virtual key reads its own rows, and no one else's.
      const own = p.key?.hash;
      if (
        own === undefined ||
        (q.api_key !== undefined && (HASH.test(q.api_key) ? q.api_key : hashKey(q.api_key)) !== own)
      ) {
        throw new GatewayError(403, "AccessDeniedException", "A virtual key may only read its own spend logs", {
          litellmType: "auth_error",
        });
      }
      q.api_key = own;
    }
    await s.flush();
    // Not `input.json`: a summary day's per-key entries have no type the schema can infer (`SpendLogsDay`).
    return Response.json(await querySpendLogs(s.kv, q));
  }),
  route({
    ...spend,
    method: "get",
    path: "/spend/tags",
    operationId: "spendTags",
    summary: "Spend and calls per request tag",
    description: "All days, or the whole UTC days of a date range, from the daily tag roll-ups. A call counts once " +
      "for each of its tags: `x-litellm-tags` and its key's `tags`.",
    query: SpendTagsQuery,
    responses: { 200: { description: "Tags by spend.", schema: SpendTagsResponse } },
    sdk: { group: "spend", method: "tags" },
  }, async (input, s) => {
    await requireAdmin(input, s.auth, "spend per tag");
    const q = input.query();
    const from = q.start_date === undefined ? undefined : parseDateParam(q.start_date, "start_date", false);
    const to = q.end_date === undefined ? undefined : parseDateParam(q.end_date, "end_date", true);
    if (from !== undefined && to !== undefined) checkRange(from, to);
    await s.flush();
    return input.json(
      await tagSpend(s.kv, {
        from: from === undefined ? undefined : dayOf(from),
        to: to === undefined ? undefined : dayOf(to),
      }),
    );
  }),
  route({
    ...spend,
    method: "get",
    path: "/global/spend",
    operationId: "globalSpend",
    summary: "Total spend",
    description: "All spend, or the whole UTC days of a date range, from the daily roll-ups.",
    query: GlobalSpendQuery,
    responses: { 200: { description: "Spend in USD.", schema: GlobalSpendResponse } },
    sdk: { group: "spend", method: "global" },
  }, async (input, s) => {
    await requireAdmin(input, s.auth, "global spend");
    const q = input.query();
    const from = q.start_date === undefined ? undefined : parseDateParam(q.start_date, "start_date", false);
    const to = q.end_date === undefined ? undefined : parseDateParam(q.end_date, "end_date", true);
    if (from !== undefined && to !== undefined) checkRange(from, to);
    await s.flush();
    const nanos = await globalSpendNanos(s.kv, {
      from: from === undefined ? undefined : dayOf(from),
      to: to === undefined ? undefined : dayOf(to),
    });
    return input.json({ spend: nanosToUsd(nanos), max_budget: s.proxyMaxBudget ?? null });
  }),
  route({
    ...spend,
    method: "get",
    path: "/global/spend/report",
    operationId: "globalSpendReport",
    summary: "Spend, calls and tokens per model, key, user, team, deployment or day",
    description: "Whole UTC days from `start_date` to `end_date` (both included), from the daily roll-ups; every " +
      "grouping of the same days adds up to the same total.",
    query: GlobalSpendReportQuery,
    responses: { 200: { description: "One entry per group.", schema: GlobalSpendReport } },
    sdk: { group: "spend", method: "report" },
  }, async (input, s) => {
    await requireAdmin(input, s.auth, "spend reports");
    const q = input.query();
    const from = parseDateParam(q.start_date, "start_date", false);
    const to = parseDateParam(q.end_date, "end_date", true);
    checkRange(from, to);
    await s.flush();
    return input.json(await spendReport(s.kv, dayOf(from), dayOf(to), q.group_by));
  }),
  route({
    ...spend,
    method: "get",
    path: "/global/spend/keys",
    operationId: "globalSpendKeys",
    summary: "The keys with the highest spend in the last 30 days",
    query: GlobalSpendTopQuery,
    responses: { 200: { description: "Keys by spend, highest first.", schema: GlobalSpendKeys } },
    sdk: { group: "spend", method: "keys" },
  }, async (input, s) => {
    await requireAdmin(input, s.auth, "global spend");
    const { limit } = input.query();
    await s.flush();
    const top = await topSpenders(s.kv, "key", last30Days(s.now()), limit);
    const records = await keyNames(s.kv, top.map((t) => t.value));
    return input.json(top.map((t, i) => ({
      api_key: t.value,
      key_alias: records[i]?.alias ?? null,
      key_name: records[i]?.keyName ?? null,
      total_spend: nanosToUsd(t.spend),
    })));
  }),
  route({
    ...spend,
    method: "get",
    path: "/global/spend/models",
    operationId: "globalSpendModels",
    summary: "The models with the highest spend in the last 30 days",
    query: GlobalSpendTopQuery,
    responses: { 200: { description: "Models by spend, highest first.", schema: GlobalSpendModels } },
    sdk: { group: "spend", method: "models" },
  }, async (input, s) => {
    await requireAdmin(input, s.auth, "global spend");
    const { limit } = input.query();
    await s.flush();
    const top = await topSpenders(s.kv, "model", last30Days(s.now()), limit);
    return input.json(top.map((t) => ({ model: t.value, total_spend: nanosToUsd(t.spend) })));
  }),
  route({
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics",
    description: "This instance's counters, histograms and gauges (LiteLLM's metric names); under " +
      "`--workers N`, the whole process's, whichever worker answers. Master key only, unless " +
      "`general_settings.metrics_public: true`.",
    tag: "spend",
    auth: "admin",
    errorFormat: "litellm",
    errors: [401, 403, 500],
    responses: {
      200: { description: "The exposition.", schema: Metrics, contentType: "text/plain; version=0.0.4" },
    },
  }, async (input, s) => {
    if (!s.metricsPublic) await requireAdmin(input, s.auth, "metrics");
    const { body, contentType } = await s.metrics.render();
    return new Response(body, { headers: { "content-type": contentType } });
  }),
];
