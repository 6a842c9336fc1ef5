/**
 * @module
 * One call to `/bedrock/model/{model}/{operation}`: validate, route, send, relay, account.
 *
 * The client's body bytes are validated but forwarded untouched. Exactly one `CallRecord` reaches the sink per
 * call that got past validation (and its holds), after the response (or the stream) has finished.
 *
 * Every call that reached the upstream is billed, whatever the client does:
 * - A JSON answer (converse, invoke, count-tokens) is read to its end once the request has been sent, even when the
 *   client has left (bounded by the attempt's timeout): it is billed its real usage, as `client_disconnected`. A
 *   client that leaves before anything was sent (during a retry's backoff) ends the call, and no attempt starts
 *   after it left.
 * - A stream follows the client while it waits for the first byte: if the client leaves then, the upstream is
 *   aborted and the call billed its input estimate; after that the stream relay decides (`stream_relay.ts`).
 */
import type { Deployment, GatewayConfig } from "../config/types.ts";
import { GatewayError, validation } from "../core/errors.ts";
import { readBody } from "../api/body.ts";
import type { BodyLease } from "../api/body_budget.ts";
import type { Router, RouteResult } from "../router/router.ts";
import type { Caller, CallRecord, CallSink, CallType, RequestEstimate } from "../core/call_record.ts";
import { readAnswer } from "./answer.ts";
import { type AttemptControl, startAttempt } from "./attempt_control.ts";
import { createDeadlines, type Deadlines } from "./deadlines.ts";
import { pricingTier } from "../config/price_fields.ts";
import { MODEL_OPERATIONS } from "../bedrock/model_operations.ts";
import type { ModelPath } from "../bedrock/model_path.ts";
import { checkGuardrailGrant } from "../bedrock/guardrail_grant.ts";
import type { ServiceTierChoice } from "../bedrock/service_tier.ts";
import { awaitFirstChunk, relayStream } from "./stream_relay.ts";
import { relayHeaders, type Upstream } from "./upstream.ts";
import { plainUsage } from "../core/usage.ts";
import { formatUsd } from "../core/money.ts";

export interface ModelCallDeps {
  config: GatewayConfig;
  router: Router;
  upstream: Upstream;
  now: () => number;
  /** Accounting; what it returns (the call's cost) is sent as `x-litellm-response-cost` on non-stream answers. */
  sink: CallSink;
  /** Where attempt timeouts run (one timer per duration); a private one when absent. */
  deadlines?: Deadlines;
  /** Hands over a stream's read for its usage after the client left (`Gateway.close()` waits for them). */
  background?: (task: Promise<void>, requestId: string) => void;
  /** Aborts when the gateway stops: streams still running end with an error event. */
  shutdown?: AbortSignal;
  /**
   * Whether a call under budget scopes may go to a deployment at a pricing tier (`Pricing.refuseUnpriced`): the error
   * to answer instead, checked before each attempt is sent. Absent: every call may.
   */
  refuseUnpriced?: (deploymentId: string, tier: string, budgetScopes: readonly string[]) => GatewayError | undefined;
}

/** Who is calling and what they may do; filled in by authentication. */
export interface CallContext {
  requestId: string;
  caller: Caller;
  /** Model names this caller may use; undefined means all. */
  allowedModels?: readonly string[];
  requestTags?: string[];
  /**
   * Holds what the validated request is expected to use against the caller's budget and limits (admission), or
   * throws the refusal. Called once, before anything is sent; the hold is settled when the record reaches the sink.
   */
  reserve?: (modelName: string, estimate: RequestEstimate) => Promise<void>;
  /** This request's share of the bodies-in-flight budget; the route releases it when the call is answered. */
  bodyLease?: BodyLease;
  /**
   * Whether the caller may call a `/bedrock/…` route (its `allowed_routes`; `modelRoute` for `/bedrock/model/…`):
   * asked for fallback groups and guardrails, which the call reaches without the client naming their routes.
   * Undefined: every route.
   */
  mayCall?: (route: string, modelRoute: boolean) => boolean;
  /** The caller's budgets (or USD limits), as `budgetScopes` names them: a call under any is never served unpriced. */
  budgetScopes?: readonly string[];
}

const decoder = new TextDecoder();

/** Maps what an upstream attempt threw to the typed error the client gets. */
export function asGatewayError(e: unknown, signal: AbortSignal, timeoutMs: number): GatewayError {
  if (e instanceof GatewayError) return e;
  const reason = signal.aborted ? signal.reason : e;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new GatewayError(504, "ServiceUnavailableException", `upstream timed out after ${timeoutMs} ms`, {
      litellmType: "timeout",
    });
  }
  if (reason instanceof DOMException && reason.name === "AbortError") {
    return new GatewayError(499, "ClientDisconnected", "client disconnected", { litellmType: "client_disconnected" });
  }
  return new GatewayError(502, "ServiceUnavailableException", `upstream response failed (${(e as Error).name})`, {
    litellmType: "api_connection_error",
  });
}

/** Notes a tier on the record: what an answer says replaces what was asked for; what it leaves out stays. */
function setTier(record: CallRecord, tier: ServiceTierChoice | undefined): void {
  if (tier?.serviceTier !== undefined) record.serviceTier = tier.serviceTier;
  if (tier?.latency !== undefined) record.performanceLatency = tier.latency;
}

export function createModelCall(deps: ModelCallDeps) {
  const { config, router, upstream, now, sink } = deps;
  const deadlines = deps.deadlines ?? createDeadlines();

  function modelsFor(ctx: CallContext): string[] {
    const all = [...config.byModelName.keys()];
    return ctx.allowedModels ? all.filter((m) => ctx.allowedModels!.includes(m)) : all;
  }

  return async function modelCall(req: Request, path: ModelPath, ctx: CallContext): Promise<Response> {
    const startTime = now();
    const { modelName, operation } = path;
    if (!config.byModelName.has(modelName)) {
      const otherProvider = config.otherProviders.get(modelName);
      if (otherProvider) {
        throw validation(`Model "${modelName}" is not served by this Bedrock gateway: ${otherProvider}`);
      }
      throw validation(
        `The provided model identifier is invalid: unknown model "${modelName}". ` +
          `Models available to this key: ${modelsFor(ctx).join(", ") || "(none)"}`,
      );
    }
    if (ctx.allowedModels && !ctx.allowedModels.includes(modelName)) {
      throw new GatewayError(403, "AccessDeniedException", `This key is not allowed to call model "${modelName}"`, {
        litellmType: "key_model_access_denied",
      });
    }
    const op = MODEL_OPERATIONS[operation];
    const body = await readBody(req, config.maxRequestBodyBytes, ctx.bodyLease);
    const prepared = op.prepare(body, req.headers, config.limits.json);
    if (prepared.guardrail && ctx.mayCall) checkGuardrailGrant(prepared.guardrail, ctx.mayCall);
    const estimate = prepared.estimate;
    // Held at the tier asked for (priority costs more than standard).
    await ctx.reserve?.(modelName, {
      ...estimate,
      tier: pricingTier(prepared.tier?.serviceTier, prepared.tier?.latency),
    });

    const callType: CallType = operation;
    const record: CallRecord = {
      requestId: ctx.requestId,
      callType,
      modelName,
      caller: ctx.caller,
      startTime,
      endTime: startTime,
      status: "failure",
      httpStatus: 0,
      retries: 0,
      requestTags: ctx.requestTags,
      requestMetadata: prepared.requestMetadata,
      requestBody: config.storePrompts ? decoder.decode(body) : undefined,
    };
    setTier(record, prepared.tier);
    // The tier asked for: a budgeted call is refused before it reaches a deployment with no price for it.
    const tier = pricingTier(record.serviceTier, record.performanceLatency);
    const scopes = op.free ? undefined : ctx.budgetScopes;
    // Set once the router has a final response; its release frees the deployment's in-flight slot.
    let routed: RouteResult | undefined;
    const finish = () => {
      record.endTime = now();
      routed?.release(record.usage?.totalTokens ?? 0);
      return sink(record);
    };

    const clientSignal = req.signal;
    // One control (abort controller linked to the client, timeout timer) per attempt, so a timed-out attempt can
    // be given up and retried elsewhere. For JSON answers the timer covers the whole upstream exchange, for streams
    // the wait for the first body byte (stalls after that are the stream relay's business).
    let control: AttemptControl | undefined;
    let attempts = 0;
    let lastDeployment: Deployment | undefined;
    /** A stream's request was sent and the client left before its first byte: bill the input estimate. */
    let abandonedAfterSend = false;
    const attempt = async (d: Deployment): Promise<Response> => {
      attempts++;
      lastDeployment = d;
      // A retry: whatever the previous attempt still holds (connection, timer, listener) goes now.
      control?.abandon();
      const refused = scopes?.length ? deps.refuseUnpriced?.(d.id, tier, scopes) : undefined;
      if (refused) throw refused;
      if (d.auth.kind === "mock") {
        control = startAttempt(clientSignal);
        return op.mock(d.auth.text, prepared, ctx.requestId);
      }
      const timeoutMs = op.stream
        ? d.streamTimeoutMs ?? config.router.streamTimeoutMs
        : d.timeoutMs ?? config.router.timeoutMs;
      // Only a stream's attempt follows the client; a JSON exchange, once sent, is read to its end and billed.
      const current = control = startAttempt(op.stream ? clientSignal : undefined, timeoutMs, deadlines);
      try {
        const response = await upstream.send({
          deployment: d,
          operation,
          body,
          headers: prepared.headers,
          signal: current.signal,
        });
        // A stream is committed to only once its first byte is here: a stall or failure before it is this
        // attempt's error (typed 504/502, retryable), never a 200 that breaks at once.
        return op.stream ? await awaitFirstChunk(response, current.signal) : response;
      } catch (e) {
        const err = asGatewayError(e, current.signal, timeoutMs);
        if (err.status === 499) abandonedAfterSend = true;
        current.abandon();
        throw err;
      }
    };

    try {
      routed = await router.run(modelName, attempt, {
        stream: op.stream,
        signal: clientSignal,
        allowedModels: ctx.allowedModels,
        mayFallBackTo: ctx.mayCall && ((group) => ctx.mayCall!(`/bedrock/model/${group}/${operation}`, true)),
      });
    } catch (e) {
      control?.abandon();
      const err = e instanceof GatewayError ? e : asGatewayError(e, clientSignal, 0);
      if (clientSignal.aborted) record.status = "client_disconnected";
      if (abandonedAfterSend) {
        // Bedrock had the request: the prompt was read even if nothing was generated yet.
        record.usage = plainUsage(estimate.inputTokens, 0);
        record.usageEstimated = true;
      }
      record.deploymentId = lastDeployment?.id;
      record.retries = Math.max(0, attempts - 1);
      record.httpStatus = err.status;
      record.errorType = err.type;
      record.errorMessage = err.message;
      finish();
      throw err;
    }
    // The final attempt's control: the router returns only the last attempt's response.
    const final = control!;
    const { controller: upstreamAbort, onClientAbort } = final;

    const { response, deployment } = routed;
    record.deploymentId = deployment.id;
    record.bedrockModelId = deployment.bedrockModelId;
    record.region = deployment.region;
    record.apiBase = deployment.auth.kind === "mock" ? undefined : deployment.endpoint;
    record.retries = routed.retries;
    record.firstByteTime = now();
    record.httpStatus = response.status;
    if (response.ok && op.servedTier) setTier(record, op.servedTier(response.headers));
    const headers = relayHeaders(response.headers, ctx.requestId);

    if (op.stream && response.ok && response.body) {
      final.clearTimer();
      return relayStream(response.body, headers, {
        record,
        clientSignal,
        upstreamAbort,
        onClientAbort,
        finish,
        storeResponse: config.storePrompts,
        shutdown: deps.shutdown,
        usageFrom: op.streamUsage,
        inputEstimate: estimate.inputTokens,
        background: deps.background && ((task) => deps.background!(task, ctx.requestId)),
        // Mock streams are local: nothing can stall.
        idleTimeoutMs: deployment.auth.kind === "mock"
          ? 0
          : deployment.streamTimeoutMs ?? config.router.streamTimeoutMs,
      });
    }

    // JSON answers (and any error): the body is read whole — converse's usage is in it, and a model-native answer
    // is bounded like its request — then sent with a fresh content-length (LiteLLM's #28388: never answer 200 with
    // an empty body).
    const bytes = await readAnswer(response, record, {
      clientSignal,
      dispose: () => final.dispose(),
      finish,
      storeResponse: config.storePrompts,
    });
    if (response.ok) {
      const facts = op.answer(response.headers, bytes);
      record.usage = facts.usage;
      if (facts.latencyMs !== undefined) record.bedrockLatencyMs = facts.latencyMs;
      if (facts.problem) record.errorMessage = facts.problem;
      if (facts.guardrailUnits) record.guardrailUnits = facts.guardrailUnits;
      if (facts.tier) setTier(record, facts.tier);
    }
    // Known before the answer is sent (streams learn their usage only at the end, so they carry no cost header).
    headers["x-litellm-response-cost"] = formatUsd(finish());
    return new Response(bytes, { status: response.status, headers });
  };
}
