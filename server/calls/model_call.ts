/**
 * @module
 * Model calls, `/bedrock/model/{model}/{operation}`, as a {@link CallKind} of the call pipeline (`pipeline.ts`): the
 * model must be served here and allowed to the key; the body is validated by its operation (`bedrock/`), a guardrail
 * it names needs its own grant; the attempts go through the router (deployments, retries, fallbacks), each refused
 * before it is sent when the call is under a budget and the deployment has no price for the tier asked for.
 *
 * Every call that reached the upstream is billed, whatever the client does:
 * - A JSON answer (converse, invoke, count-tokens) is read to its end once the request has been sent, even when the
 *   client has left (bounded by the attempt's timeout): it is billed its real usage, as `client_disconnected`. A
 *   client that leaves before anything was sent (during a retry's backoff) ends the call, and no attempt starts
 *   after it left.
 * - A stream follows the client while it waits for the first byte: if the client leaves then, the upstream is
 *   aborted and the call billed its input estimate; after that the stream relay decides (`stream_relay.ts`).
 */
import { rawPathAfter } from "../api/url.ts";
import { readBody } from "../api/body.ts";
import { pricingTier } from "../config/price_fields.ts";
import type { Deployment, GatewayConfig } from "../config/types.ts";
import type { AttemptTarget, CallRecord } from "../core/call_record.ts";
import { publicBase } from "../core/redact.ts";
import { GatewayError, validation } from "../core/errors.ts";
import { checkGuardrailGrant } from "../bedrock/guardrail_grant.ts";
import { MODEL_OPERATIONS } from "../bedrock/model_operations.ts";
import { type ModelPath, parseModelPath } from "../bedrock/model_path.ts";
import type { ServiceTierChoice } from "../bedrock/service_tier.ts";
import { mayCallRoute } from "../keys/allowed_routes.ts";
import type { Principal } from "../keys/auth.ts";
import { budgetScopes } from "../keys/budget_scopes.ts";
import { modelGroupOf } from "../keys/model_access.ts";
import type { Router } from "../router/router.ts";
import type { Attempts } from "./attempts.ts";
import type { CallKind } from "./pipeline.ts";
import type { Upstream } from "./upstream.ts";

/** Where model calls are served: the path after it is `{model}/{operation}`. */
export const MODEL_PREFIX = "/bedrock/model/";

export interface ModelCallDeps {
  config: GatewayConfig;
  router: Router;
  upstream: Pick<Upstream, "send">;
  /**
   * Whether a call under budget scopes may go to a deployment at a pricing tier (`Pricing.refuseUnpriced`): the error
   * to answer instead, checked before each attempt is sent. Absent: every call may.
   */
  refuseUnpriced?: (deploymentId: string, tier: string, budgetScopes: readonly string[]) => GatewayError | undefined;
}

/** Notes a tier on the record: what an answer says replaces what was asked for; what it leaves out stays. */
function setTier(record: CallRecord, tier: ServiceTierChoice | undefined): void {
  if (tier?.serviceTier !== undefined) record.serviceTier = tier.serviceTier;
  if (tier?.latency !== undefined) record.performanceLatency = tier.latency;
}

/** How a deployment is named on its attempts' records (metrics, traces): no secret in it. */
function attemptTarget(d: Deployment): AttemptTarget {
  return {
    id: d.id,
    modelName: d.modelName,
    bedrockModelId: d.bedrockModelId,
    apiBase: d.auth.kind === "mock" ? undefined : publicBase(d.endpoint),
  };
}

export function modelCalls(deps: ModelCallDeps): CallKind<ModelPath> {
  const { config, router, upstream } = deps;
  // Built once per deployment: every attempt at it shares the same target.
  const targets: ReadonlyMap<Deployment, AttemptTarget> = new Map(config.deployments.map((d) => [d, attemptTarget(d)]));
  const targetOf = (d: Deployment) => targets.get(d) ?? attemptTarget(d);

  /**
   * The model group a name calls (a key's alias stands for its group), which must be served here (a 400 naming what
   * is) and allowed to the key, its team and its user (a 403).
   */
  function modelGroup(name: string, principal: Principal): string {
    const allowed = principal.allowedModels;
    const modelName = modelGroupOf(principal.aliases, name);
    if (modelName !== name && !config.byModelName.has(modelName)) {
      throw validation(
        `The provided model identifier is invalid: this key's alias "${name}" names model "${modelName}", which ` +
          "is not served by this gateway",
      );
    }
    if (!config.byModelName.has(modelName)) {
      const otherProvider = config.otherProviders.get(modelName);
      if (otherProvider) {
        throw validation(`Model "${modelName}" is not served by this Bedrock gateway: ${otherProvider}`);
      }
      const available = [...config.byModelName.keys()].filter((m) => !allowed || allowed.includes(m));
      throw validation(
        `The provided model identifier is invalid: unknown model "${modelName}". ` +
          `Models available to this key: ${available.join(", ") || "(none)"}`,
      );
    }
    if (allowed && !allowed.includes(modelName)) {
      const who = principal.team || principal.user ? "This key (with its team and user)" : "This key";
      throw new GatewayError(403, "AccessDeniedException", `${who} is not allowed to call model "${modelName}"`, {
        litellmType: "key_model_access_denied",
      });
    }
    return modelName;
  }

  return {
    parse: (url) => parseModelPath(rawPathAfter(url, MODEL_PREFIX)),
    access: (path) => ({ route: `${MODEL_PREFIX}${path.modelName}/${path.operation}`, modelRoute: true }),

    async validate({ modelName: called, operation }, request) {
      const { req, requestId, principal, bodyLease, bodyWatch } = request;
      const modelName = modelGroup(called, principal);
      const op = MODEL_OPERATIONS[operation];
      const servedTier = op.servedTier;
      const body = await readBody(req, config.maxRequestBodyBytes, { lease: bodyLease, watch: bodyWatch });
      const prepared = op.prepare(body, req.headers, config.limits.json);
      const mayCall = (route: string, modelRoute: boolean) => mayCallRoute(principal, route, modelRoute);
      if (prepared.guardrail) checkGuardrailGrant(prepared.guardrail, mayCall);

      const record = request.record({
        callType: operation,
        modelName,
        requestMetadata: prepared.requestMetadata,
        requestParams: prepared.params,
        guardrailId: prepared.guardrail?.identifier,
      }, body);
      setTier(record, prepared.tier);
      // The tier asked for: held at its prices (priority costs more than standard), and a budgeted call is refused
      // before it reaches a deployment with no price for it.
      const tier = pricingTier(record.serviceTier, record.performanceLatency);
      const scopes = op.free ? [] : budgetScopes(principal, modelName, config.proxyBudget);
      const clientSignal = req.signal;

      /** One attempt at deployment `d` (the router's seam: it knows nothing of Bedrock). */
      const attempt = async (attempts: Attempts, d: Deployment): Promise<Response> => {
        attempts.begin(targetOf(d));
        const refused = scopes.length ? deps.refuseUnpriced?.(d.id, tier, scopes) : undefined;
        if (refused) throw refused;
        if (d.auth.kind === "mock") return attempts.local(op.mock(d.auth.text, prepared, requestId));
        // Only a stream's attempt follows the client; a JSON exchange, once sent, is read to its end and billed. For
        // JSON answers the timer covers the whole upstream exchange, for streams the wait for the first body byte
        // (stalls after that are the relay's business).
        const plan = op.stream
          ? { followClient: true, stream: true, timeoutMs: d.streamTimeoutMs ?? config.router.streamTimeoutMs }
          : { followClient: false, stream: false, timeoutMs: d.timeoutMs ?? config.router.timeoutMs };
        return await attempts.send(
          plan,
          (signal, onSent) =>
            upstream.send({ deployment: d, operation, body, headers: prepared.headers, signal, onSent }),
        );
      };

      return {
        record,
        holdAs: modelName,
        estimate: { ...prepared.estimate, tier },
        stream: op.stream,
        usageFrom: op.streamUsage,
        costHeader: true,
        send: (attempts) =>
          router.run(modelName, (d) => attempt(attempts, d), {
            stream: op.stream,
            signal: clientSignal,
            allowedModels: principal.allowedModels,
            mayFallBackTo: (group) => mayCall(`${MODEL_PREFIX}${group}/${operation}`, true),
          }),
        served: servedTier && ((headers) => setTier(record, servedTier(headers))),
        answered(headers, bytes) {
          const facts = op.answer(headers, bytes);
          record.usage = facts.usage;
          if (facts.latencyMs !== undefined) record.bedrockLatencyMs = facts.latencyMs;
          if (facts.problem) record.errorMessage = facts.problem;
          if (facts.guardrailUnits) record.guardrailUnits = facts.guardrailUnits;
          if (facts.tier) setTier(record, facts.tier);
          if (facts.stopReason !== undefined) record.stopReason = facts.stopReason;
        },
      };
    },
  };
}
