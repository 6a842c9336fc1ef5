/**
 * @module
 * The spend and metrics routes as documented routes (see `server/openapi/routes.ts`): the schemas `routes.ts`
 * validates with, LiteLLM's error format, and the SDK methods `client.spend.logs(…)`, `.global(…)`, `.report(…)`.
 */
import { z } from "zod";
import type { RouteDoc } from "../api/route_doc.ts";
import {
  GlobalSpendQuery,
  GlobalSpendReport,
  GlobalSpendReportQuery,
  GlobalSpendResponse,
  SpendLogsQuery,
  SpendLogsResponse,
  SpendLogsSummary,
} from "./schemas.ts";

/** Statuses every spend call can answer: bad input, no key, not the master key, internal error. */
const ADMIN_ERRORS = [400, 401, 403, 500] as const;

const spend = { tag: "spend", auth: "admin", errorFormat: "litellm", errors: ADMIN_ERRORS } as const;

const Metrics = z.string().meta({
  id: "PrometheusText",
  description: "Prometheus text exposition format 0.0.4.",
});

export const SPEND_ROUTES: readonly RouteDoc[] = [
  {
    ...spend,
    method: "get",
    path: "/spend/logs",
    operationId: "spendLogs",
    summary: "Spend-log rows, or spend per day",
    description: "Rows newest first, filtered by any combination of `api_key` (a key or its hash), `user_id`, " +
      "`request_id` and start time, paged by `page`/`page_size`. With both `start_date` and `end_date` and " +
      "`summarize` (LiteLLM's default, `true`) the answer is one entry per UTC day instead: total spend, spend per " +
      "user and per model, and spend per key hash at the top level.",
    query: SpendLogsQuery,
    responses: {
      200: {
        description: "Rows (`SpendLogRow[]`), or with both dates and `summarize`, days (`SpendLogsDay[]`).",
        schema: z.union([SpendLogsResponse, SpendLogsSummary]),
      },
    },
    sdk: { group: "spend", method: "logs", overloads: [{ when: { summarize: false }, output: SpendLogsResponse }] },
  },
  {
    ...spend,
    method: "get",
    path: "/global/spend",
    operationId: "globalSpend",
    summary: "Total spend",
    description: "All spend, or the whole UTC days of a date range, from the daily roll-ups.",
    query: GlobalSpendQuery,
    responses: { 200: { description: "Spend in USD.", schema: GlobalSpendResponse } },
    sdk: { group: "spend", method: "global" },
  },
  {
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
  },
  {
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics",
    description: "This instance's counters, histograms and gauges (LiteLLM's metric names). Master key only, " +
      "unless `general_settings.metrics_public: true`.",
    tag: "spend",
    auth: "admin",
    errorFormat: "litellm",
    errors: [401, 403, 500],
    responses: {
      200: { description: "The exposition.", schema: Metrics, contentType: "text/plain; version=0.0.4" },
    },
  },
];
