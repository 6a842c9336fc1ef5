/**
 * @module
 * `/metrics` in the Prometheus text format, written by prom-client (a registry per gateway, no global state).
 *
 * Names are LiteLLM's where it has one, with the `_total` suffix its Python client puts on counters, so existing
 * dashboards keep working: `litellm_requests_metric_total`, `litellm_spend_metric_total`,
 * `litellm_input_tokens_metric_total`, `litellm_output_tokens_metric_total`, `litellm_total_tokens_metric_total`,
 * `litellm_request_total_latency_metric`, `litellm_llm_api_time_to_first_token_metric`,
 * `litellm_remaining_api_key_budget_metric`, `litellm_api_key_max_budget_metric`, `litellm_in_flight_requests`,
 * `litellm_deployment_state`. Cache tokens and the gateway's own queue have names in the same style.
 *
 * Counters and histograms are fed from finished calls (`observe`); gauges are read when scraped (router state,
 * key budgets, the ledger's queue). Values are this instance's: scrape every instance. Under `--workers N` the
 * worker a scrape reaches gathers the other workers' snapshots (`sources.peers`) and answers for the whole process:
 * counters and histograms summed, gauges by their `aggregator` (calls in flight and queues summed; states, cooldowns
 * and budgets, which every worker reads alike, by their maximum or minimum). Keys are labelled by alias and a
 * 12-character hash prefix, never by the key.
 *
 * LiteLLM's request and deployment families (proxy requests, deployment attempts, fallbacks, cooldowns,
 * latencies, remaining limits) and the refusal counter are in `request_metrics.ts`, on the same registry.
 *
 * Deployment labels are LiteLLM's: `litellm_model_name` is the deployment's Bedrock model id, `model_id` its id.
 */
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from "prom-client";
import type { Deployment } from "../config/types.ts";
import type { KeyBudget, KeyRateLimit } from "../keys/admission.ts";
import type { Caller, CallRecord } from "../core/call_record.ts";
import { type Quote } from "../pricing/cost.ts";
import { nanosToUsd } from "../core/money.ts";
import type { LedgerStats } from "../kv/ledger.ts";
import { hashPrefix, publicBase } from "../core/redact.ts";
import type { Refusal } from "../core/errors.ts";
import { type CooldownFacts, createRequestMetrics } from "./request_metrics.ts";
import { promptTokens } from "../core/usage.ts";

/** LiteLLM's latency buckets (seconds); prom-client adds `+Inf`. */
const LATENCY_BUCKETS = [
  0.005,
  0.00625,
  0.0125,
  0.025,
  0.05,
  0.1,
  0.5,
  1,
  1.5,
  2,
  2.5,
  3,
  3.5,
  4,
  4.5,
  5,
  5.5,
  6,
  6.5,
  7,
  7.5,
  8,
  8.5,
  9,
  9.5,
  10,
  15,
  20,
  25,
  30,
  60,
  120,
  180,
  240,
  300,
];

const CALLER = ["hashed_api_key", "api_key_alias", "user", "team"] as const;
const BY_CALL = ["model", "model_id", ...CALLER] as const;

type Observe = { observe(value: number): void };

/**
 * One caller and deployment's label set: counter increments not yet handed to prom-client (they are, when
 * `/metrics` is scraped), and its histogram children.
 */
interface CallSeries {
  /** The call's `modelName` and `deploymentId ?? ""`: with its caller, what picks the series. */
  model: string;
  modelId: string;
  labels: Record<(typeof BY_CALL)[number], string>;
  requests: Map<string, number>;
  spendNanos: bigint;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheRead: number;
  cacheWrite: number;
  latency(callType: string): Observe;
  ttfb: Observe;
}

/** What the deployment gauges read of a deployment's live state (the router's view, `router.health()`). */
export interface DeploymentView {
  deployment: Deployment;
  coolingDown: boolean;
  /** Why it cannot be called (its config, or its credentials now); undefined when it can. */
  unavailableReason?: string;
  failuresLastMinute: number;
  stats: { readonly inFlight: number; readonly cooldownUntil: number };
}

export interface MetricsSources {
  /** Every deployment's live state, in config order (injected: `router.health()`). */
  deployments(): DeploymentView[];
  /** Budgeted keys and their spend (`admission.budgets()`). */
  budgets(): Promise<KeyBudget[]>;
  ledger(): LedgerStats;
  now(): number;
  /** Keys with rpm/tpm limits this instance served, and this minute's use (`admission.rateLimits()`). */
  rateLimits?(): KeyRateLimit[];
  /** The other workers' snapshots, when this gateway is one of `--workers N`: `render` then shows the process. */
  peers?: () => Promise<MetricsSnapshot[]>;
}

/** A registry's metrics as plain data (`getMetricsAsJSON`): what workers send each other to answer a scrape. */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

export interface Metrics {
  /** Counts a finished call. */
  observe(record: CallRecord, quote: Quote): void;
  /** Counts a refused request; `requestedModel` is the model it named if the gateway serves it, else "". */
  refused(refusal: Refusal, requestedModel: string): void;
  /** Counts a deployment's cooldown. */
  cooledDown(facts: CooldownFacts): void;
  /** The exposition text and its content type (the whole process's, with `peers`). */
  render(): Promise<{ body: string; contentType: string }>;
  /** This gateway's metrics alone, as data (for the worker answering a scrape). */
  snapshot(): Promise<MetricsSnapshot>;
}

/**
 * litellm_deployment_state: 0 healthy, 1 partial outage (recent failures), 2 complete outage (cooling down, or
 * unavailable: its config, or its AWS credentials now).
 */
function deploymentState(h: DeploymentView): number {
  if (h.coolingDown || h.unavailableReason !== undefined) return 2;
  return h.failuresLastMinute > 0 ? 1 : 0;
}

const deploymentLabels = (d: Deployment) => ({
  litellm_model_name: d.bedrockModelId,
  model_id: d.id,
  api_base: d.auth.kind === "mock" ? "" : publicBase(d.endpoint) ?? "",
  api_provider: "bedrock",
});

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  const registers = [registry];

  // Every counter drains the pending increments before it is read (`drain` is cheap when nothing is pending).
  const collect = () => drain();
  const requests = new Counter({
    name: "litellm_requests_metric_total",
    help: "Calls to /bedrock models, by model_name, deployment, status and caller",
    labelNames: [...BY_CALL, "status"],
    registers,
    collect,
  });
  const spend = new Counter({
    name: "litellm_spend_metric_total",
    help: "Spend in USD, by model_name, deployment and caller",
    labelNames: BY_CALL,
    registers,
    collect,
  });
  const tokenCounter = (name: string, help: string) =>
    new Counter({ name, help, labelNames: BY_CALL, registers, collect });
  const inputTokens = tokenCounter(
    "litellm_input_tokens_metric_total",
    "Prompt tokens (including cache reads and writes)",
  );
  const outputTokens = tokenCounter("litellm_output_tokens_metric_total", "Output (completion) tokens");
  const totalTokens = tokenCounter("litellm_total_tokens_metric_total", "Input + output tokens");
  const cacheRead = tokenCounter("litellm_cache_read_input_tokens_metric_total", "Prompt tokens read from the cache");
  const cacheWrite = tokenCounter(
    "litellm_cache_creation_input_tokens_metric_total",
    "Prompt tokens written to the cache",
  );
  const estimated = new Counter({
    name: "gateway_usage_estimated_calls_total",
    help: "Calls billed an estimate, not Bedrock's usage: their client left a stream mid-generation",
    labelNames: ["model", "model_id"],
    registers,
  });
  const latency = new Histogram({
    name: "litellm_request_total_latency_metric",
    help: "Whole-call latency in seconds (request start to last byte relayed)",
    labelNames: ["model", "model_id", "call_type"],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const ttfb = new Histogram({
    name: "litellm_llm_api_time_to_first_token_metric",
    help: "converse-stream: seconds from request start to the stream's first upstream byte",
    labelNames: ["model", "model_id"],
    buckets: LATENCY_BUCKETS,
    registers,
  });

  new Gauge({
    name: "litellm_in_flight_requests",
    help: "Calls in flight on this instance, per deployment",
    labelNames: ["model", "model_id"],
    registers,
    collect() {
      this.reset();
      for (const h of sources.deployments()) {
        this.set({ model: h.deployment.modelName, model_id: h.deployment.id }, h.stats.inFlight);
      }
    },
  });
  new Gauge({
    name: "litellm_deployment_state",
    help: "Deployment state: 0 = healthy, 1 = partial outage (failures in the last minute), 2 = cooling down or " +
      "unavailable",
    labelNames: ["litellm_model_name", "model_id", "api_base", "api_provider"],
    registers,
    aggregator: "max",
    collect() {
      this.reset();
      for (const h of sources.deployments()) this.set(deploymentLabels(h.deployment), deploymentState(h));
    },
  });
  new Gauge({
    name: "litellm_deployment_cooldown_remaining_seconds",
    help: "Seconds until a cooling-down deployment is tried again (0 when not cooling down)",
    labelNames: ["litellm_model_name", "model_id"],
    registers,
    aggregator: "max",
    collect() {
      this.reset();
      const t = sources.now();
      for (const h of sources.deployments()) {
        const left = Math.max(0, h.stats.cooldownUntil - t) / 1000;
        this.set({ litellm_model_name: h.deployment.bedrockModelId, model_id: h.deployment.id }, left);
      }
    },
  });
  const remaining = new Gauge({
    name: "litellm_remaining_api_key_budget_metric",
    help: "USD left in the key's current budget window (keys with max_budget that called this instance)",
    labelNames: ["hashed_api_key", "api_key_alias"],
    registers,
    aggregator: "min",
  });
  const maxBudget = new Gauge({
    name: "litellm_api_key_max_budget_metric",
    help: "The key's max_budget in USD",
    labelNames: ["hashed_api_key", "api_key_alias"],
    registers,
    aggregator: "max",
  });
  new Gauge({
    name: "gateway_spend_queue_pending_rows",
    help: "Spend-log rows waiting to be written to KV",
    registers,
    collect() {
      this.set(sources.ledger().pendingRows);
    },
  });
  new Gauge({
    name: "gateway_spend_log_dropped_rows",
    help: "Spend-log rows dropped since start because KV could not keep up (spend sums are never dropped)",
    registers,
    collect() {
      this.set(sources.ledger().droppedRows);
    },
  });

  /**
   * Per label set, counter increments are summed here and handed to prom-client only when `/metrics` is scraped:
   * prom-client's `inc` builds and validates a hash of the label set on every call, a visible share of the gateway's
   * CPU at a few thousand calls per second (docs/benchmarks.md). The scraped totals are the same (spend is summed in
   * exact nano-USD). Histograms are observed per call, through cached label children.
   */
  const series = new WeakMap<Caller, CallSeries[]>();
  /** Series with increments not yet handed to prom-client. */
  const dirty = new Set<CallSeries>();

  function drain() {
    for (const m of dirty) {
      for (const [status, n] of m.requests) requests.inc({ ...m.labels, status }, n);
      m.requests.clear();
      if (m.spendNanos > 0n) spend.inc(m.labels, nanosToUsd(m.spendNanos));
      if (m.inputTokens) inputTokens.inc(m.labels, m.inputTokens);
      if (m.outputTokens) outputTokens.inc(m.labels, m.outputTokens);
      if (m.totalTokens) totalTokens.inc(m.labels, m.totalTokens);
      if (m.cacheRead) cacheRead.inc(m.labels, m.cacheRead);
      if (m.cacheWrite) cacheWrite.inc(m.labels, m.cacheWrite);
      m.spendNanos = 0n;
      m.inputTokens =
        m.outputTokens =
        m.totalTokens =
        m.cacheRead =
        m.cacheWrite =
          0;
    }
    dirty.clear();
  }

  /** Budgets need a KV read, so they are filled when scraped rather than in a synchronous collect(). */
  async function fillBudgets() {
    const budgets = await sources.budgets();
    remaining.reset();
    maxBudget.reset();
    for (const b of budgets) {
      const labels = { hashed_api_key: hashPrefix(b.hash)!, api_key_alias: b.alias ?? "" };
      remaining.set(labels, nanosToUsd(b.maxBudgetNanos - b.spentNanos));
      maxBudget.set(labels, nanosToUsd(b.maxBudgetNanos));
    }
    requestMetrics.beforeScrape(sources.rateLimits?.() ?? []);
  }

  async function snapshot(): Promise<MetricsSnapshot> {
    await fillBudgets();
    return await registry.getMetricsAsJSON();
  }

  /**
   * A call's series, found by its caller object (one per principal, never changed: its key, alias, user and team),
   * then its model and deployment: no id is built per call. Two callers with the same labels (a key's record re-read)
   * get two series, which prom-client adds up under the same label set.
   */
  function seriesFor(record: CallRecord): CallSeries {
    const model = record.modelName, modelId = record.deploymentId ?? "";
    const c = record.caller;
    let list = series.get(c);
    if (!list) series.set(c, list = []);
    for (let i = 0; i < list.length; i++) {
      if (list[i].model === model && list[i].modelId === modelId) return list[i];
    }
    const labels = {
      model,
      model_id: modelId,
      hashed_api_key: hashPrefix(c.keyHash) ?? "",
      api_key_alias: c.keyAlias ?? "",
      user: c.userId ?? "",
      team: c.teamId ?? "",
    };
    const where = { model, model_id: modelId };
    const byType = new Map<string, Observe>();
    const m: CallSeries = {
      model,
      modelId,
      labels,
      requests: new Map(),
      spendNanos: 0n,
      inputTokens: 0,
      outputTokens: 0,
      totalTokens: 0,
      cacheRead: 0,
      cacheWrite: 0,
      latency: (callType) => {
        let child = byType.get(callType);
        if (!child) byType.set(callType, child = latency.labels({ ...where, call_type: callType }));
        return child;
      },
      ttfb: ttfb.labels(where),
    };
    list.push(m);
    return m;
  }

  const requestMetrics = createRequestMetrics({ registry, buckets: LATENCY_BUCKETS });

  return {
    refused: requestMetrics.refused,
    cooledDown: requestMetrics.cooledDown,
    observe(record, quote) {
      requestMetrics.observe(record);
      const m = seriesFor(record);
      dirty.add(m);
      m.requests.set(record.status, (m.requests.get(record.status) ?? 0) + 1);
      if (quote.nanos > 0n) m.spendNanos += quote.nanos;
      const u = record.usage;
      if (u) {
        m.inputTokens += promptTokens(u);
        m.outputTokens += u.outputTokens;
        m.totalTokens += u.totalTokens;
        m.cacheRead += u.cacheReadInputTokens;
        m.cacheWrite += u.cacheWriteInputTokens;
      }
      if (record.usageEstimated) estimated.inc({ model: record.modelName, model_id: record.deploymentId ?? "" });
      m.latency(record.callType).observe(Math.max(0, record.endTime - record.startTime) / 1000);
      if (record.callType === "converse-stream" && record.firstByteTime !== undefined) {
        m.ttfb.observe(Math.max(0, record.firstByteTime - record.startTime) / 1000);
      }
    },

    async render() {
      if (sources.peers) {
        const [own, others] = await Promise.all([snapshot(), sources.peers()]);
        const process = AggregatorRegistry.aggregate([own, ...others]);
        return { body: await process.metrics(), contentType: process.contentType };
      }
      await fillBudgets();
      return { body: await registry.metrics(), contentType: registry.contentType };
    },
    snapshot,
  };
}
