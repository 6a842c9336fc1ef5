/**
 * @module
 * LiteLLM's request and deployment metrics, with its names and labels (in the order it declares them), on the
 * gateway's registry (`metrics.ts`):
 *
 * - `litellm_proxy_total_requests_metric_total`, `litellm_proxy_failed_requests_metric_total`: every `/bedrock`
 *   request a client made, and those it got an error for — settled calls and refusals alike, except 401s (LiteLLM
 *   skips invalid keys, so they never make series);
 * - `litellm_llm_api_latency_metric` (final attempt's start to the call's end) and `litellm_overhead_latency_metric`
 *   (the gateway's own time before it: admission, validation, holds, earlier attempts' gaps), successes only;
 * - `litellm_deployment_total_requests_total`, `…_success_responses_total`, `…_failure_responses_total`: per upstream
 *   attempt, retries included; `litellm_deployment_successful_fallbacks_total`, `…_failed_fallbacks_total`: per
 *   fallback group that answered, or failed too; `litellm_deployment_cooled_down_total`: per cooldown started;
 * - `litellm_remaining_api_key_requests_for_model`, `litellm_remaining_api_key_tokens_for_model`: read at scrape time
 *   for keys with an `rpm_limit` / `tpm_limit` (the key's limit; the gateway has no per-model key limits), per model a
 *   key was served;
 * - and the gateway's own `gateway_refused_requests_total{reason, status_code, route}`, 401s included.
 *
 * Values LiteLLM fills and the gateway does not know (`end_user`, `user_email`, `team_alias`) are empty. Keys are
 * labelled by alias and a 12-character hash prefix (LiteLLM: the full hash), never by the key. Per-call counters are
 * summed in memory per label set and handed to prom-client when scraped, as in `metrics.ts`.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { AttemptRecord, CallRecord } from "../core/call_record.ts";
import type { Refusal } from "../core/errors.ts";
import { hashPrefix } from "../core/redact.ts";
import type { KeyRateLimit } from "../keys/admission.ts";

type Labels = Record<string, string>;

/** What a cooldown metric says of the deployment that cooled down. */
export interface CooldownFacts {
  bedrockModelId: string;
  deploymentId: string;
  apiBase?: string;
  status: number;
}

export interface RequestMetrics {
  /** Counts a settled call: the request, its attempts, its fallbacks, its latencies. */
  observe(record: CallRecord): void;
  /** Counts a refused request. */
  refused(refusal: Refusal, requestedModel: string): void;
  /** Counts a deployment's cooldown. */
  cooledDown(facts: CooldownFacts): void;
  /** Fills the gauges read at scrape time. */
  beforeScrape(limits: KeyRateLimit[]): void;
}

/** The latency buckets LiteLLM uses (seconds). */
export interface MetricsOptions {
  registry: Registry;
  buckets: number[];
  /** Distinct (key, model) pairs remembered for the remaining-limit gauges' `model_id`; past it, it starts over. */
  maxKeyModels?: number;
}

/** Increments summed per label set until a scrape hands them to prom-client. */
class PendingCounts {
  readonly #counts = new Map<string, { labels: Labels; n: number }>();
  readonly #dirty = new Set<{ labels: Labels; n: number }>();
  constructor(readonly counter: Counter<string>) {}

  /** `values` in the counter's label order. */
  add(names: readonly string[], values: string[]): void {
    const id = values.join("\u0001");
    let entry = this.#counts.get(id);
    if (!entry) {
      const labels: Labels = {};
      names.forEach((name, i) => labels[name] = values[i]);
      this.#counts.set(id, entry = { labels, n: 0 });
    }
    entry.n++;
    this.#dirty.add(entry);
  }

  drain(): void {
    for (const e of this.#dirty) {
      this.counter.inc(e.labels, e.n);
      e.n = 0;
    }
    this.#dirty.clear();
  }
}

const PROXY_TOTAL = [
  "end_user",
  "hashed_api_key",
  "api_key_alias",
  "requested_model",
  "team",
  "team_alias",
  "user",
  "status_code",
  "user_email",
  "route",
  "client_ip",
  "user_agent",
  "model_id",
] as const;
const PROXY_FAILED = [
  "end_user",
  "hashed_api_key",
  "api_key_alias",
  "requested_model",
  "team",
  "team_alias",
  "user",
  "user_email",
  "exception_status",
  "exception_class",
  "route",
  "client_ip",
  "user_agent",
  "model_id",
] as const;
const API_LATENCY = [
  "model",
  "hashed_api_key",
  "api_key_alias",
  "team",
  "team_alias",
  "requested_model",
  "end_user",
  "user",
  "model_id",
] as const;
const OVERHEAD_LATENCY = [
  "model_group",
  "api_provider",
  "api_base",
  "litellm_model_name",
  "hashed_api_key",
  "api_key_alias",
  "model_id",
] as const;
const DEPLOYMENT = [
  "requested_model",
  "litellm_model_name",
  "model_id",
  "api_base",
  "api_provider",
  "hashed_api_key",
  "api_key_alias",
  "team",
  "team_alias",
  "client_ip",
  "user_agent",
] as const;
const DEPLOYMENT_FAILURE = [...DEPLOYMENT, "exception_status", "exception_class"] as const;
const COOLED_DOWN = ["litellm_model_name", "model_id", "api_base", "api_provider", "exception_status"] as const;
const FALLBACK = [
  "requested_model",
  "fallback_model",
  "hashed_api_key",
  "api_key_alias",
  "team",
  "team_alias",
  "exception_status",
  "exception_class",
  "model_id",
] as const;
const REMAINING = ["hashed_api_key", "api_key_alias", "model", "model_id"] as const;
const REFUSED = ["reason", "status_code", "route"] as const;

/** LiteLLM's `exception_class`: `Bedrock.<exception>` for Bedrock's errors, the gateway's own name otherwise. */
const exceptionClass = (type: string | undefined, upstream: boolean) =>
  type === undefined ? "" : upstream ? `Bedrock.${type}` : type;

/** The route a settled call is labelled with: its pattern for model calls, its route for pass-through ones. */
const routeOf = (r: CallRecord) => r.route ?? `/bedrock/model/{modelId}/${r.callType}`;

const ok = (a: AttemptRecord) => a.status !== undefined && a.status >= 200 && a.status < 300;

export function createRequestMetrics(opts: MetricsOptions): RequestMetrics {
  const registers = [opts.registry];
  const buckets = opts.buckets;
  const maxKeyModels = opts.maxKeyModels ?? 10_000;
  const pending: PendingCounts[] = [];
  // Every counter drains every pending count before a scrape reads it (cheap when nothing is pending).
  const collect = () => {
    for (const p of pending) p.drain();
  };
  const counter = (name: string, help: string, labelNames: readonly string[]) => {
    const p = new PendingCounts(new Counter({ name, help, labelNames, registers, collect }));
    pending.push(p);
    return p;
  };

  const proxyTotal = counter(
    "litellm_proxy_total_requests_metric_total",
    "Requests clients made to /bedrock (settled calls and refusals; 401s are not counted, as in LiteLLM)",
    PROXY_TOTAL,
  );
  const proxyFailed = counter(
    "litellm_proxy_failed_requests_metric_total",
    "Requests to /bedrock a client got an error for (401s are not counted, as in LiteLLM)",
    PROXY_FAILED,
  );
  const deploymentTotal = counter(
    "litellm_deployment_total_requests_total",
    "Upstream attempts per deployment, retries included",
    DEPLOYMENT,
  );
  const deploymentSuccess = counter(
    "litellm_deployment_success_responses_total",
    "Upstream attempts a deployment answered successfully",
    DEPLOYMENT,
  );
  const deploymentFailure = counter(
    "litellm_deployment_failure_responses_total",
    "Upstream attempts that failed (an error answer, a timeout, a connection failure), retries included",
    DEPLOYMENT_FAILURE,
  );
  const successfulFallbacks = counter(
    "litellm_deployment_successful_fallbacks_total",
    "Calls a fallback model group answered after the requested group failed",
    FALLBACK,
  );
  const failedFallbacks = counter(
    "litellm_deployment_failed_fallbacks_total",
    "Fallback model groups that failed too",
    FALLBACK,
  );
  const cooledDown = counter(
    "litellm_deployment_cooled_down_total",
    "Cooldowns started per deployment (allowed_fails reached, or an upstream 429 with Retry-After)",
    COOLED_DOWN,
  );
  const refusedCounter = counter(
    "gateway_refused_requests_total",
    "Requests the gateway refused before serving them, by reason (auth, budget, rpm, tpm, parallel, validation, …)",
    REFUSED,
  );
  const apiLatency = new Histogram({
    name: "litellm_llm_api_latency_metric",
    help: "Seconds from the final upstream attempt's start to the call's end (successes)",
    labelNames: API_LATENCY,
    buckets,
    registers,
  });
  const overheadLatency = new Histogram({
    name: "litellm_overhead_latency_metric",
    help: "Seconds the gateway spent on a call outside upstream attempts, before the final one (successes)",
    labelNames: OVERHEAD_LATENCY,
    buckets,
    registers,
  });
  const remainingRequests = new Gauge({
    name: "litellm_remaining_api_key_requests_for_model",
    help: "Requests left this minute under the key's rpm_limit (keys with one), per model it was served",
    labelNames: REMAINING,
    registers,
    // Under --workers N, each worker's view of this minute's use: the process shows the most used.
    aggregator: "min",
  });
  const remainingTokens = new Gauge({
    name: "litellm_remaining_api_key_tokens_for_model",
    help: "Tokens left this minute under the key's tpm_limit (keys with one), per model it was served",
    labelNames: REMAINING,
    registers,
    // Under --workers N, each worker's view of this minute's use: the process shows the most used.
    aggregator: "min",
  });

  /** Histogram children by label set (prom-client hashes labels on every `observe` otherwise). */
  const children = new Map<string, { observe(v: number): void }>();
  const observeIn = (h: Histogram<string>, names: readonly string[], values: string[], seconds: number) => {
    const id = `${names.length}\u0002${values.join("\u0001")}`;
    let child = children.get(id);
    if (!child) {
      const labels: Labels = {};
      names.forEach((name, i) => labels[name] = values[i]);
      children.set(id, child = h.labels(labels));
    }
    child.observe(Math.max(0, seconds));
  };

  /** The deployment that last served each key and model group (`key hash, model`): the gauges' `model_id`. */
  const served = new Map<string, string>();
  const noteServed = (r: CallRecord) => {
    const hash = r.caller.keyHash;
    if (!hash) return;
    const id = `${hash}\u0001${r.modelName}`;
    if (served.size >= maxKeyModels && !served.has(id)) served.clear();
    served.set(id, r.deploymentId ?? "");
  };

  return {
    observe(r) {
      const c = r.caller;
      const keyHash = hashPrefix(c.keyHash) ?? "";
      const alias = c.keyAlias ?? "";
      const team = c.teamId ?? "";
      const user = c.userId ?? "";
      const route = routeOf(r);
      const ip = r.clientIp ?? "";
      const agent = r.userAgent ?? "";
      const modelId = r.deploymentId ?? "";
      const attempts = r.attempts ?? [];
      const upstream = attempts.some((a) => a.answered);
      proxyTotal.add(PROXY_TOTAL, [
        "",
        keyHash,
        alias,
        r.modelName,
        team,
        "",
        user,
        String(r.httpStatus),
        "",
        route,
        ip,
        agent,
        modelId,
      ]);
      if (r.status === "failure") {
        proxyFailed.add(PROXY_FAILED, [
          "",
          keyHash,
          alias,
          r.modelName,
          team,
          "",
          user,
          "",
          String(r.httpStatus),
          exceptionClass(r.errorType, upstream),
          route,
          ip,
          agent,
          modelId,
        ]);
      }

      // Each attempt that was sent, at its deployment.
      for (const a of attempts) {
        const t = a.target;
        if (!t || a.status === undefined) continue;
        const labels = [
          r.modelName,
          t.bedrockModelId ?? "",
          t.id,
          t.apiBase ?? "",
          "bedrock",
          keyHash,
          alias,
          team,
          "",
          ip,
          agent,
        ];
        deploymentTotal.add(DEPLOYMENT, labels);
        if (ok(a)) deploymentSuccess.add(DEPLOYMENT, labels);
        else {
          deploymentFailure.add(DEPLOYMENT_FAILURE, [
            ...labels,
            String(a.status),
            exceptionClass(a.errorType, a.answered ?? false),
          ]);
        }
      }

      // Fallbacks: every model group tried after the requested one answered (the last) or failed too; the
      // exception is the requested group's last.
      const groups: string[] = [];
      for (const a of attempts) {
        const g = a.target?.modelName;
        if (g !== undefined && a.status !== undefined && groups.at(-1) !== g) groups.push(g);
      }
      if (groups.length > 1 && groups[0] === r.modelName) {
        const original = attempts.findLast((a) => a.target?.modelName === r.modelName && a.status !== undefined);
        const status = original?.status === undefined ? "" : String(original.status);
        const cls = exceptionClass(original?.errorType, original?.answered ?? false);
        const answered = r.status === "success";
        groups.slice(1).forEach((g, i, rest) => {
          const last = i === rest.length - 1;
          const model = attempts.findLast((a) => a.target?.modelName === g)?.target?.id ?? "";
          const values = [r.modelName, g, keyHash, alias, team, "", status, cls, model];
          if (last && answered) successfulFallbacks.add(FALLBACK, values);
          else failedFallbacks.add(FALLBACK, values);
        });
      }

      // Latencies of successes: the final attempt's time to the end, and the gateway's own time before it.
      if (r.status !== "success") return;
      noteServed(r);
      const final = attempts.at(-1);
      if (!final) return;
      const model = final.target?.bedrockModelId ?? r.bedrockModelId ?? "";
      observeIn(
        apiLatency,
        API_LATENCY,
        [model, keyHash, alias, team, "", r.modelName, "", user, modelId],
        (r.endTime - final.start) / 1000,
      );
      let inAttempts = 0;
      for (const a of attempts) if (a !== final) inAttempts += (a.end ?? a.start) - a.start;
      observeIn(
        overheadLatency,
        OVERHEAD_LATENCY,
        [r.modelName, "bedrock", final.target?.apiBase ?? "", model, keyHash, alias, modelId],
        (final.start - r.startTime - inAttempts) / 1000,
      );
    },

    refused(f, requestedModel) {
      refusedCounter.add(REFUSED, [f.reason, String(f.status), f.route]);
      // LiteLLM's request counters: /bedrock requests not counted by their settled call already, 401s left out.
      if (!f.bedrock || f.settled || f.status === 401) return;
      const c = f.caller ?? {};
      const keyHash = hashPrefix(c.keyHash) ?? "";
      const base = ["", keyHash, c.keyAlias ?? "", requestedModel, c.teamId ?? "", "", c.userId ?? ""];
      const ip = f.clientIp ?? "", agent = f.userAgent ?? "";
      proxyTotal.add(PROXY_TOTAL, [...base, String(f.status), "", f.route, ip, agent, ""]);
      proxyFailed.add(PROXY_FAILED, [...base, "", String(f.status), f.errorType, f.route, ip, agent, ""]);
    },

    cooledDown(f) {
      cooledDown.add(COOLED_DOWN, [f.bedrockModelId, f.deploymentId, f.apiBase ?? "", "bedrock", String(f.status)]);
    },

    beforeScrape(limits) {
      remainingRequests.reset();
      remainingTokens.reset();
      for (const l of limits) {
        const labels = {
          hashed_api_key: hashPrefix(l.hash)!,
          api_key_alias: l.alias ?? "",
          model: l.model,
          model_id: served.get(`${l.hash}\u0001${l.model}`) ?? "",
        };
        if (l.rpmLimit !== undefined) remainingRequests.set(labels, Math.max(0, l.rpmLimit - l.rpmUsed));
        if (l.tpmLimit !== undefined) remainingTokens.set(labels, Math.max(0, l.tpmLimit - l.tpmUsed));
      }
    },
  };
}
