/**
 * @module
 * One call to a `/bedrock/*` route that is not a model call — ApplyGuardrail (bedrock-runtime), Retrieve,
 * RetrieveAndGenerate, InvokeAgent (bedrock-agent-runtime) — sent with the credentials of the configured
 * pass-through account (`general_settings.bedrock_passthrough`).
 *
 * Like a model call: the body is validated and forwarded byte for byte, signed fresh, answered in Bedrock's wire
 * format, and one `CallRecord` reaches the sink per call that got past validation (logged and counted; no tokens:
 * ApplyGuardrail is billed by the policy units it reports, the agent runtime reports nothing to bill). InvokeAgent's event stream is relayed unbuffered by the same relay as model
 * streams. There are no deployments, so no routing and no retries: one attempt under the router's `timeout`
 * (`stream_timeout` for the first byte and the silences of a stream).
 */
import type { GatewayConfig } from "../config/types.ts";
import { GatewayError, validation } from "../core/errors.ts";
import { readBody } from "../api/body.ts";
import type { CallRecord, CallSink } from "../core/call_record.ts";
import { startAttempt } from "./attempt_control.ts";
import { createDeadlines, type Deadlines } from "./deadlines.ts";
import { readAnswer } from "./answer.ts";
import { asGatewayError, type CallContext } from "./model_call.ts";
import { readGuardrailUsage } from "../core/guardrail_usage.ts";
import { jsonObject, parseJsonBody } from "../bedrock/operation.ts";
import type { PassthroughRoute } from "../bedrock/passthrough_path.ts";
import { formatZodIssues } from "../bedrock/schemas.ts";
import { awaitFirstChunk, relayStream } from "./stream_relay.ts";
import { relayHeaders, type SignedTarget, type Upstream } from "./upstream.ts";

export interface PassthroughCallDeps {
  config: GatewayConfig;
  upstream: Pick<Upstream, "post">;
  now: () => number;
  sink: CallSink;
  /** Where attempt timeouts run (one timer per duration); a private one when absent. */
  deadlines?: Deadlines;
  /** Aborts when the gateway stops: streams still running end with an error event. */
  shutdown?: AbortSignal;
}

/** Request headers InvokeAgent binds besides the body (`sourceArn`). No other client header is forwarded. */
const INVOKE_AGENT_HEADERS = ["x-amz-source-arn"] as const;

const decoder = new TextDecoder();

export function createPassthroughCall(deps: PassthroughCallDeps) {
  const { config, upstream, now, sink } = deps;
  const deadlines = deps.deadlines ?? createDeadlines();
  const account = config.passthrough;

  return async function passthroughCall(req: Request, route: PassthroughRoute, ctx: CallContext): Promise<Response> {
    const startTime = now();
    const body = await readBody(req, config.maxRequestBodyBytes, ctx.bodyLease);
    const checked = route.schema.safeParse(parseJsonBody(body, config.limits.json));
    if (!checked.success) throw validation(`Malformed input request: ${formatZodIssues(checked.error)}`);
    // No token cost: only a key's requests per minute are held.
    await ctx.reserve?.(route.label, { inputTokens: 0, maxOutputTokens: 0, billable: false });

    const runtime = route.api === "runtime";
    const endpoint = runtime ? account.runtimeEndpoint : account.agentRuntimeEndpoint;
    const record: CallRecord = {
      requestId: ctx.requestId,
      callType: route.callType,
      modelName: route.label,
      route: route.route,
      caller: ctx.caller,
      startTime,
      endTime: startTime,
      status: "failure",
      httpStatus: 0,
      retries: 0,
      region: account.region,
      apiBase: endpoint,
      requestTags: ctx.requestTags,
      requestBody: config.storePrompts ? decoder.decode(body) : undefined,
    };
    const finish = () => {
      record.endTime = now();
      sink(record);
    };
    const fail = (err: GatewayError): never => {
      record.httpStatus = err.status;
      record.errorType = err.type;
      record.errorMessage = err.message;
      if (req.signal.aborted) record.status = "client_disconnected";
      finish();
      throw err;
    };

    const auth = runtime ? account.runtimeAuth : account.agentRuntimeAuth;
    if (auth.kind === "unavailable" || auth.kind === "mock") {
      fail(
        new GatewayError(
          503,
          "ServiceUnavailableException",
          `${route.operation} is unavailable: ${auth.kind === "unavailable" ? auth.reason : "no AWS account"}`,
          { litellmType: "service_unavailable" },
        ),
      );
    }
    const target: SignedTarget = {
      url: endpoint + route.upstreamPath,
      region: account.region,
      auth,
      name: `${route.operation} (general_settings.bedrock_passthrough)`,
    };
    const headers: Record<string, string> = {};
    if (route.callType === "invoke-agent") {
      for (const name of INVOKE_AGENT_HEADERS) {
        const v = req.headers.get(name);
        if (v !== null) headers[name] = v;
      }
    }

    const timeoutMs = route.stream ? config.router.streamTimeoutMs : config.router.timeoutMs;
    // A JSON exchange, once sent, runs to its end whatever the client does (it is recorded all the same).
    const control = startAttempt(route.stream ? req.signal : undefined, timeoutMs, deadlines);
    let response: Response;
    try {
      response = await upstream.post(target, body, headers, control.signal);
      if (route.stream) response = await awaitFirstChunk(response, control.signal);
    } catch (e) {
      control.abandon();
      return fail(asGatewayError(e, control.signal, timeoutMs));
    }
    record.firstByteTime = now();
    record.httpStatus = response.status;
    const out = relayHeaders(response.headers, ctx.requestId);

    if (route.stream && response.ok && response.body) {
      control.clearTimer();
      return relayStream(response.body, out, {
        record,
        clientSignal: req.signal,
        upstreamAbort: control.controller,
        onClientAbort: control.onClientAbort,
        finish,
        storeResponse: config.storePrompts,
        shutdown: deps.shutdown,
        usageFrom: "none",
        idleTimeoutMs: config.router.streamTimeoutMs,
      });
    }

    const bytes = await readAnswer(response, record, {
      clientSignal: req.signal,
      dispose: () => control.dispose(),
      finish,
      storeResponse: config.storePrompts,
    });
    // ApplyGuardrail reports the policy units it used; they are what the call costs.
    if (route.callType === "apply-guardrail" && response.ok) {
      record.guardrailUnits = readGuardrailUsage(jsonObject(bytes)?.usage);
    }
    finish();
    return new Response(bytes, { status: response.status, headers: out });
  };
}

export type PassthroughCall = ReturnType<typeof createPassthroughCall>;
