/**
 * @module
 * Builds cost tracking from the gateway's dependencies and gives the call sink its one entry point,
 * `account(record)`: price the call at once (the sink bills the key with that price), and queue the rest for the
 * ledger's next batch: roll-up sums, the spend-log row (packed into pages), the metrics and the request-log line.
 * That work runs as a ledger collector, so it is off the response path, done for a batch of calls at a time, and
 * lands in the same KV batch as the key's spend; `ledger.flush()` (every spend route, shutdown) and `/metrics` run
 * it first, so nothing finished is missing from an answer.
 */
import type { Hono } from "hono";
import type { GatewayConfig } from "../config/types.ts";
import type { Admission } from "../keys/admission.ts";
import type { Authenticator } from "../keys/auth.ts";
import type { Logger } from "../log.ts";
import type { DeploymentHealth } from "../router/router.ts";
import type { CallRecord } from "./call_record.ts";
import type { Pricing, Quote } from "./cost.ts";
import type { Ledger } from "./ledger.ts";
import { createMetrics } from "./metrics.ts";
import { logCall } from "./request_log.ts";
import { createRollupBatch } from "./rollup_batch.ts";
import { createSpendRoutes } from "./routes.ts";
import { createSpendLogPages } from "./spend_log_pages.ts";

export interface SpendServicesDeps {
  config: GatewayConfig;
  kv: Deno.Kv;
  ledger: Ledger;
  pricing: Pricing;
  auth: Authenticator;
  admission: Pick<Admission, "budgets">;
  /** The router's view of every deployment, for the in-flight and cooldown gauges. */
  deployments: () => DeploymentHealth[];
  now: () => number;
  log: Logger;
}

export interface SpendServices {
  /**
   * Prices a finished call and queues its accounting (roll-ups, spend-log row, metrics, request-log line), which
   * runs when the ledger takes its next batch (within ~10 ms) or on `ledger.flush()`: off the response path, and
   * for a batch of calls at a time. Never waits, never throws. Returns the price.
   */
  account(record: CallRecord): Quote;
  /** `/spend/logs`, `/global/spend`, `/global/spend/report`, `/metrics`. */
  routes: Hono;
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
  });
  const rollups = createRollupBatch(ledger);

  /** Calls priced but not yet accounted, in finishing order. */
  let queued: Array<{ record: CallRecord; quote: Quote }> = [];

  /** Accounts for the queued calls; the ledger runs it as a collector just before it takes a batch. */
  function settle(): [] {
    const taken = queued;
    queued = [];
    for (const { record, quote } of taken) {
      try {
        rollups.add(record, quote.nanos);
        pages.add(record, quote);
        metrics.observe(record, quote);
        logCall(log, record, quote);
      } catch (e) {
        // A bug here must not break other calls' accounting or the key's billing (done by the sink either way).
        log.error("accounting a call failed", {
          requestId: record.requestId,
          error: (e as Error).name,
          message: (e as Error).message,
        });
      }
    }
    return [];
  }

  const routes = createSpendRoutes({
    kv,
    auth: deps.auth,
    metrics,
    flush: () => ledger.flush(),
    settle: () => void settle(),
    metricsPublic: config.metricsPublic,
  });

  return {
    routes,
    account(record) {
      const quote = pricing.quote(record);
      if (queued.length === 0) ledger.addLater(settle);
      queued.push({ record, quote });
      return quote;
    },
  };
}
