/**
 * @module
 * `GET /health`: each deployment's state as the router sees it (healthy, cooling down until, in flight, recent
 * latency, error counts), in LiteLLM's `healthy_endpoints` / `unhealthy_endpoints` shape. It calls no model,
 * unless asked to probe: then each callable deployment gets one minimal live Converse call (`maxTokens: 1`).
 *
 * A probe is a real, billed Bedrock call, so it is accounted like any other: one `CallRecord` per probe, tagged
 * `health_probe`, attributed to the caller. Probes bypass the router (no retries, no effect on cooldowns).
 */
import type { Deployment, GatewayConfig } from "../config/types.ts";
import type { Upstream } from "../calls/upstream.ts";
import { readUsage } from "../core/usage.ts";
import { publicBase } from "../core/redact.ts";
import type { Caller, CallRecord, CallSink } from "../core/call_record.ts";
import { errorTypeHeader } from "../router/retry_policy.ts";
import type { EndpointHealth, HealthReport, ProbeResult } from "./schemas.ts";
import type { DeploymentHealth, Router } from "../router/router.ts";

export interface HealthDeps {
  config: GatewayConfig;
  router: Router;
  upstream: Upstream;
  now: () => number;
  newId: () => string;
  /** Settlement (`calls/settle.ts`): a probe is a billed call, accounted like any other. */
  settle: CallSink;
}

/** The smallest Converse request every model accepts. */
const PROBE_BODY = new TextEncoder().encode(
  JSON.stringify({ messages: [{ role: "user", content: [{ text: "ping" }] }], inferenceConfig: { maxTokens: 1 } }),
);
/** A probe that has not answered by then is reported as failed (the deployment's own timeout may be minutes). */
const PROBE_TIMEOUT_MS = 30_000;

const round = (ms: number | undefined) => ms === undefined ? null : Math.round(ms * 10) / 10;

function describe(h: DeploymentHealth, router: Router): EndpointHealth {
  const { deployment: d, stats: s, credentials } = h;
  const usage = router.state.usage(d);
  const status: EndpointHealth["status"] = h.unavailableReason !== undefined
    ? "unavailable"
    : h.coolingDown
    ? "cooling_down"
    : h.overCap
    ? "rate_limited"
    : "healthy";
  return {
    model_name: d.modelName,
    model_id: d.id,
    model: d.bedrockModelId,
    region: d.region,
    api_base: d.auth.kind === "mock" ? undefined : publicBase(d.endpoint),
    status,
    cooldown_until: h.coolingDown ? new Date(s.cooldownUntil).toISOString() : null,
    in_flight: s.inFlight + s.peerInFlight,
    latency_ms: round(s.latencyMs),
    time_to_first_byte_ms: round(s.ttfbMs),
    requests_this_minute: usage.requests,
    tokens_this_minute: usage.tokens,
    rpm: d.rpm ?? null,
    tpm: d.tpm ?? null,
    failures_last_minute: h.failuresLastMinute,
    total_requests: s.totalRequests,
    total_failures: s.totalFailures,
    last_error: s.lastError
      ? { type: s.lastError.type, status: s.lastError.status, at: new Date(s.lastError.at).toISOString() }
      : null,
    ...(h.unavailableReason !== undefined ? { unavailable_reason: h.unavailableReason } : {}),
    credential_source: credentials?.kind ?? null,
    ...(credentials?.state === "ready" && credentials.error ? { credential_error: credentials.error } : {}),
  };
}

export function createHealth(deps: HealthDeps) {
  const { config, router, upstream, now, settle } = deps;

  async function probe(d: Deployment, caller: Caller): Promise<ProbeResult> {
    if (d.auth.kind === "mock") return { ok: true, status: 200, latency_ms: 0 };
    const started = now();
    const record: CallRecord = {
      requestId: deps.newId(),
      callType: "converse",
      modelName: d.modelName,
      deploymentId: d.id,
      bedrockModelId: d.bedrockModelId,
      region: d.region,
      apiBase: d.endpoint,
      caller,
      startTime: started,
      endTime: started,
      status: "failure",
      httpStatus: 0,
      retries: 0,
      requestTags: ["health_probe"],
    };
    const timeoutMs = Math.min(d.timeoutMs ?? config.router.timeoutMs, PROBE_TIMEOUT_MS);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new DOMException("timed out", "TimeoutError")), timeoutMs);
    let result: ProbeResult;
    try {
      const res = await upstream.send({ deployment: d, operation: "converse", body: PROBE_BODY, signal: abort.signal });
      const text = await res.text();
      record.httpStatus = res.status;
      record.firstByteTime = now();
      result = { ok: res.ok, status: res.status, latency_ms: now() - started };
      if (res.ok) {
        record.status = "success";
        try {
          record.usage = readUsage((JSON.parse(text) as { usage?: unknown }).usage);
        } catch {
          record.errorMessage = "upstream response was not JSON";
        }
      } else {
        result.error_type = record.errorType = errorTypeHeader(res.headers) ?? `HTTP${res.status}`;
        try {
          result.error = record.errorMessage = String((JSON.parse(text) as { message?: unknown }).message ?? "");
        } catch {
          result.error = undefined;
        }
      }
    } catch (e) {
      const timedOut = abort.signal.aborted;
      const message = timedOut ? `timed out after ${timeoutMs} ms` : (e as Error).message;
      result = { ok: false, status: timedOut ? 504 : 502, latency_ms: now() - started };
      result.error_type = record.errorType = "ServiceUnavailableException";
      result.error = record.errorMessage = message;
      record.httpStatus = result.status;
    } finally {
      clearTimeout(timer);
    }
    record.endTime = now();
    settle(record);
    return result;
  }

  /** The report; with `probe`, after one live call per callable deployment (all in parallel). */
  return async function health(opts: { probe: boolean; caller: Caller }): Promise<HealthReport> {
    const endpoints = router.health().map((h) => describe(h, router));
    if (opts.probe) {
      await Promise.all(config.deployments.map(async (d, i) => {
        if (endpoints[i].status === "unavailable") return;
        const result = await probe(d, opts.caller);
        endpoints[i].probe = result;
        if (!result.ok) endpoints[i].status = "probe_failed";
      }));
    }
    const healthy = endpoints.filter((e) => e.status === "healthy" || e.status === "rate_limited");
    const unhealthy = endpoints.filter((e) => !(e.status === "healthy" || e.status === "rate_limited"));
    return {
      healthy_endpoints: healthy,
      unhealthy_endpoints: unhealthy,
      healthy_count: healthy.length,
      unhealthy_count: unhealthy.length,
    };
  };
}

export type Health = ReturnType<typeof createHealth>;
