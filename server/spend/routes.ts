/**
 * @module
 * The spend and metrics routes: `GET /spend/logs`, `GET /global/spend`, `GET /global/spend/report` (master key)
 * and `GET /metrics` (master key, or anyone with `general_settings.metrics_public: true`).
 *
 * Before reading, this instance's queued spend and rows are flushed to KV, so an answer includes every call this
 * instance has finished (other instances' calls once their batches land, within ~10 ms).
 */
import { type Context, Hono } from "hono";
import type { z } from "zod";
import { GatewayError } from "../core/errors.ts";
import { parseInput } from "../api/input.ts";
import type { Authenticator } from "../keys/auth.ts";
import { nanosToUsd } from "../core/money.ts";
import { checkRange, dayOf, parseDateParam } from "./days.ts";
import { querySpendLogs } from "./log_query.ts";
import type { Metrics } from "./metrics.ts";
import { globalSpendNanos, spendReport } from "./reports.ts";
import { GlobalSpendQuery, GlobalSpendReportQuery, type GlobalSpendResponse, SpendLogsQuery } from "./schemas.ts";

export interface SpendRoutesDeps {
  kv: Deno.Kv;
  auth: Authenticator;
  metrics: Metrics;
  /** Writes this instance's queued spend and rows (`ledger.flush`). */
  flush: () => Promise<void>;
  metricsPublic: boolean;
}

const parseQuery = <S extends z.ZodType>(schema: S, c: Context): z.infer<S> =>
  parseInput(schema, c.req.query(), "query");

const forbidden = (what: string) =>
  new GatewayError(403, "AccessDeniedException", `Only the master key can read ${what}`, {
    litellmType: "auth_error",
  });

export function createSpendRoutes(deps: SpendRoutesDeps): Hono {
  const { kv, auth, metrics, flush } = deps;
  const app = new Hono();

  async function requireAdmin(c: Context, what: string) {
    const p = await auth.authenticate(c.req.raw.headers);
    if (p.kind === "virtual") throw forbidden(what);
  }

  app.get(
    "/spend/logs",
    async (c) => {
      await requireAdmin(c, "spend logs");
      const q = parseQuery(SpendLogsQuery, c);
      await flush();
      return c.json(await querySpendLogs(kv, q));
    },
  );

  app.get(
    "/global/spend",
    async (c) => {
      await requireAdmin(c, "global spend");
      const q = parseQuery(GlobalSpendQuery, c);
      const from = q.start_date === undefined ? undefined : parseDateParam(q.start_date, "start_date", false);
      const to = q.end_date === undefined ? undefined : parseDateParam(q.end_date, "end_date", true);
      if (from !== undefined && to !== undefined) checkRange(from, to);
      await flush();
      const nanos = await globalSpendNanos(kv, {
        from: from === undefined ? undefined : dayOf(from),
        to: to === undefined ? undefined : dayOf(to),
      });
      const body: GlobalSpendResponse = { spend: nanosToUsd(nanos), max_budget: null };
      return c.json(body);
    },
  );

  app.get(
    "/global/spend/report",
    async (c) => {
      await requireAdmin(c, "spend reports");
      const q = parseQuery(GlobalSpendReportQuery, c);
      const from = parseDateParam(q.start_date, "start_date", false);
      const to = parseDateParam(q.end_date, "end_date", true);
      checkRange(from, to);
      await flush();
      return c.json(await spendReport(kv, dayOf(from), dayOf(to), q.group_by));
    },
  );

  app.get(
    "/metrics",
    async (c) => {
      if (!deps.metricsPublic) await requireAdmin(c, "metrics");
      const { body, contentType } = await metrics.render();
      return new Response(body, { headers: { "content-type": contentType } });
    },
  );

  return app;
}
