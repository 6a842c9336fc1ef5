/**
 * @module
 * Builds cost tracking from the gateway's dependencies and gives settlement (`calls/settle.ts`) its one entry point,
 * `account(record)`: price the call, queue its roll-up sums and spend-log row for the ledger (written off the
 * response path, in the same batches as the key's spend; rows are built and packed into pages at batch time),
 * count it in the metrics and write its log line.
 */
import type { GatewayConfig } from "../config/types.ts";
import type { Admission } from "../keys/admission.ts";
import type { Authenticator } from "../keys/auth.ts";
import type { Logger } from "../core/log.ts";
import type { CallRecord } from "../core/call_record.ts";
import type { Refusal } from "../core/errors.ts";
import { logRefusal } from "./refusal_log.ts";
import type { CooldownFacts } from "./request_metrics.ts";
import type { Pricing, Quote } from "../pricing/cost.ts";
import type { Ledger } from "../kv/ledger.ts";
import { createMetrics, type DeploymentView, type Metrics, type MetricsSnapshot } from "./metrics.ts";
import { logCall } from "./request_log.ts";
import { createSpendReads, type SpendReads } from "./reads.ts";
import { createRollupBatch } from "./rollup_batch.ts";
import type { SpendRouteServices } from "./routes.ts";
import { createSpendLogPages } from "./spend_log_pages.ts";

export interface SpendServicesDeps {
  config: GatewayConfig;
  kv: Deno.Kv;
  ledger: Ledger;
  pricing: Pricing;
  auth: Authenticator;
  admission: Pick<Admission, "budgets" | "rateLimits">;
  /** The router's view of every deployment, for the in-flight and cooldown gauges. */
  deployments: () => DeploymentView[];
  /** The other workers' metrics (`--workers N`), so that a scrape shows the whole process. */
  metricsPeers?: () => Promise<MetricsSnapshot[]>;
  now: () => number;
  log: Logger;
}

export interface SpendServices {
  /** Accounts for a finished call; never waits, never throws. Returns its price. */
  account(record: CallRecord): Quote;
  /** What `/spend/logs`, `/global/spend`, `/global/spend/report` and `/metrics` (`SPEND_ROUTES`) are served with. */
  routes: SpendRouteServices;
  /** What the admin UI reads (reports, per-day sums, filtered rows). */
  reads: SpendReads;
  /** Logs and counts a refused request (the app's error edge calls it); never throws. */
  refused(refusal: Refusal): void;
  /** Counts a deployment's cooldown (the router tells). */
  cooledDown(facts: CooldownFacts): void;
  /** This gateway's metrics alone, as data (what a worker sends the one answering a scrape). */
  metricsSnapshot: Metrics["snapshot"];
}

export function createSpendServices(deps: SpendServicesDeps): SpendServices {
  const { config, kv, ledger, pricing, log } = deps;
  const pages = createSpendLogPages({ ledger, retentionMs: config.spendLogRetentionMs, log });
  const metrics = createMetrics({
    deployments: deps.deployments,
    budgets: () => deps.admission.budgets(),
    // Rows wait in two places: calls queued for their page, then pages queued in the ledger.
    ledger: () => {
      const l = ledger.stats(), p = pages.stats();
      return { ...l, pendingRows: l.pendingRows + p.pending, droppedRows: l.droppedRows + p.dropped };
    },
    now: deps.now,
    rateLimits: () => deps.admission.rateLimits(),
    peers: deps.metricsPeers,
  });
  const routes: SpendRouteServices = {
    kv,
    auth: deps.auth,
    metrics,
    flush: () => ledger.flush(),
    metricsPublic: config.metricsPublic,
    proxyMaxBudget: config.proxyBudget?.maxBudget,
    now: deps.now,
  };

  const rollups = createRollupBatch(ledger);

  /** A model named in a refused request's path, as a label: only the gateway's own (bounded), else "". */
  const servedModel = (name: string | undefined) => name !== undefined && config.byModelName.has(name) ? name : "";

  return {
    routes,
    reads: createSpendReads({ kv, flush: () => ledger.flush() }),
    refused(refusal) {
      try {
        metrics.refused(refusal, servedModel(refusal.model));
        logRefusal(log, refusal);
      } catch (e) {
        log.error("recording a refusal failed", { error: (e as Error).name, message: (e as Error).message });
      }
    },
    cooledDown: (facts) => metrics.cooledDown(facts),
    metricsSnapshot: () => metrics.snapshot(),
    account(record) {
      const quote = pricing.quote(record);
      // Each part on its own: one that fails (a bug, an odd value) must not cost the call its other records, nor
      // break the response or the key's billing (done by the sink either way).
      const part = (what: string, run: () => void) => {
        try {
          run();
        } catch (e) {
          log.error(`accounting a call failed: ${what}`, {
            requestId: record.requestId,
            error: (e as Error).name,
            message: (e as Error).message,
          });
        }
      };
      part("roll-ups", () => rollups.add(record, quote.nanos));
      part("spend-log row", () => pages.add(record, quote));
      part("metrics", () => metrics.observe(record, quote));
      part("request log", () => logCall(log, record, quote));
      return quote;
    },
  };
}
