/**
 * @module
 * One call to a Bedrock operation through the gateway, top to bottom, the same for model calls
 * (`/bedrock/model/{model}/{operation}`) and pass-through calls (guardrails, the agent runtime). What differs between
 * them is a {@link CallKind}: `model_call.ts` and `passthrough_call.ts`.
 *
 * 1. parse: the path names an operation (a 404 otherwise, before any KV read);
 * 2. admit: the caller authenticated; a virtual key's budget, rate limits and parallel slot (`keys/admission.ts`);
 * 3. validate: the route allowed to the key; the body read under the bodies-in-flight budget and checked (it is
 *    forwarded byte for byte, never re-serialized);
 * 4. hold: what the request is expected to use, held against the key's limits until the call settles;
 * 5. route and send: the attempts (the router's for model calls: deployments, retries, fallbacks), each signed fresh
 *    under its own timeout;
 * 6. relay: a stream chunk by chunk as it arrives (`stream_relay.ts`), a JSON answer read whole (`answer.ts`);
 * 7. settle: exactly once, when the answer or the stream is over, whatever the client does (`settle.ts`);
 * 8. release: the body's share of the budget once answered; a call refused before it reached settlement frees its
 *    slot and holds.
 *
 * Every call that got past its hold reaches settlement exactly once; every call that reached Bedrock is billed.
 */
import { pathOf } from "../api/url.ts";
import type { BodyBudget, BodyLease } from "../api/body_budget.ts";
import type { BodyWatch } from "../api/body_watch.ts";
import type { Deployment } from "../config/types.ts";
import type { CallRecord, CallSink, RequestEstimate } from "../core/call_record.ts";
import { GatewayError } from "../core/errors.ts";
import { formatUsd } from "../core/money.ts";
import { withExtraInput } from "../core/usage.ts";
import type { StreamUsageSource } from "../bedrock/operation.ts";
import type { CallHandler } from "../bedrock/routes.ts";
import type { Admission } from "../keys/admission.ts";
import { checkRouteAccess } from "../keys/allowed_routes.ts";
import type { Principal } from "../keys/auth.ts";
import { readAnswer } from "./answer.ts";
import { asGatewayError, Attempts } from "./attempts.ts";
import type { Deadlines } from "./deadlines.ts";
import type { OpenStreams } from "./open_streams.ts";
import { relayStream } from "./stream_relay.ts";
import { relayHeaders } from "./upstream.ts";
import type { CallTracing } from "./call_span.ts";

/** The request a kind validates, with who is calling (as admission found them). */
export interface CallRequest {
  req: Request;
  requestId: string;
  principal: Principal;
  /** This request's share of the bodies-in-flight budget, for reading the body. */
  bodyLease: BodyLease;
  /** The server's watch over a slow body, when it has one. */
  bodyWatch?: BodyWatch;
  /**
   * The call's record, started: what every call's says (id, caller, start time, tags, the body when prompts are
   * stored; a failure until it says otherwise) and `what` the kind says the call is.
   */
  record(what: Pick<CallRecord, "callType" | "modelName"> & Partial<CallRecord>, body: Uint8Array): CallRecord;
}

/** Where a call's attempts ended: the final response and, for a model call, the deployment that gave it. */
export interface Sent {
  /** The successful response, or the last upstream error response when every attempt failed. */
  response: Response;
  deployment?: Deployment;
  /** Attempts made beyond the first. */
  retries: number;
  /** Frees the deployment's in-flight slot, counting the call's tokens toward its tpm (the router's `release`). */
  release?(tokens: number): void;
}

/** A validated call, ready to hold and send: what its kind decided. */
export interface Call {
  /** The record settlement gets, started (times, caller, what was asked) and completed on the way. */
  record: CallRecord;
  /** What the hold is placed under: the model name, or the pass-through label. */
  holdAs: string;
  /** What the request is expected to use: its hold, and the input billed for a stream its client left mid-way. */
  estimate: RequestEstimate;
  /** The answer is an event stream. */
  stream: boolean;
  /** Where a streamed answer reports its usage. */
  usageFrom: StreamUsageSource;
  /** A JSON answer carries its cost as `x-litellm-response-cost`. */
  costHeader: boolean;
  /** Makes the attempts (each through `attempts`); resolves with where they ended or throws the call's error. */
  send(attempts: Attempts): Promise<Sent>;
  /** Notes what a successful answer's head says (the service tier some operations echo in headers). */
  served?(headers: Headers): void;
  /** Notes what a successful JSON answer says for accounting (usage, latency, guardrail units, tier). */
  answered(headers: Headers, bytes: Uint8Array): void;
}

/** What makes model calls and pass-through calls different; the pipeline does the rest. */
export interface CallKind<Target> {
  /** The operation the request URL names; undefined when it names none (a 404); a 400 for an undecodable id. */
  parse(url: string): Target | undefined;
  /** The route a key's `allowed_routes` must cover, and whether it is a `/bedrock/model/…` route. */
  access(target: Target): { route: string; modelRoute: boolean };
  /** Validates the request and builds the call; throws the 4xx to answer instead. */
  validate(target: Target, request: CallRequest): Promise<Call>;
}

export interface PipelineDeps {
  admission: Pick<Admission, "admit" | "hold" | "release">;
  /** Request bodies held at once across all requests. */
  bodies: BodyBudget;
  /** Settlement: accounting, exactly once per call (`settle.ts`). */
  settle: CallSink;
  now: () => number;
  /** Where attempt timeouts run (one timer per duration). */
  deadlines: Deadlines;
  /** Keep request and response bodies on the record (`store_prompts_in_spend_logs`). */
  storePrompts: boolean;
  /** `router_settings.stream_timeout`: a stream's longest silence, unless its deployment says otherwise. */
  streamTimeoutMs: number;
  /** Told of a stream's read for its usage after the client left (for the log; `openStreams` counts the stream). */
  background?: (task: Promise<void>, requestId: string) => void;
  /** Aborts when the gateway stops: streams still running end with an error event. */
  shutdown?: AbortSignal;
  /** Traces (`call_span.ts`), when OpenTelemetry tracing is on; absent, no span is made. */
  tracing?: CallTracing;
  /** Where streams count as open until settled (`Gateway.close()` waits for them before closing the ledger). */
  openStreams?: OpenStreams;
  /** `general_settings.stream_send_timeout_ms`: the longest a stream waits for its client to read; 0: no limit. */
  streamSendTimeoutMs?: number;
}

/** Serves one call of a kind: the handler the Bedrock routes are served with (`bedrock/routes.ts`). */
export type { CallHandler };

const decoder = new TextDecoder();

/** The `x-litellm-tags` header's tags, then the key's own `tags` (each once), for the spend log. */
export function tagsOf(headers: Headers, keyTags?: readonly string[]): string[] | undefined {
  const raw = headers.get("x-litellm-tags");
  const tags = raw ? raw.split(",").map((t) => t.trim()).filter(Boolean) : [];
  if (keyTags) { for (const t of keyTags) if (!tags.includes(t)) tags.push(t); }
  return tags.length ? tags : undefined;
}

/** Notes a failure that ended the call before any answer was relayed, on its record. */
function noteFailure(call: Call, err: GatewayError, attempts: Attempts, clientSignal: AbortSignal): void {
  const { record } = call;
  if (clientSignal.aborted) record.status = "client_disconnected";
  record.deploymentId = attempts.target;
  record.attempts = attempts.records;
  record.retries = Math.max(0, attempts.made - 1);
  record.httpStatus = err.status;
  record.errorType = err.type;
  record.errorMessage = err.message;
}

/** Notes where the call was answered from and how the answer's head looked. */
function noteSent(record: CallRecord, sent: Sent, attempts: Attempts, at: number): void {
  record.attempts = attempts.records;
  const d = sent.deployment;
  if (d) {
    record.deploymentId = d.id;
    record.bedrockModelId = d.bedrockModelId;
    record.region = d.region;
    record.apiBase = d.auth.kind === "mock" ? undefined : d.endpoint;
  }
  record.retries = sent.retries;
  record.firstByteTime = at;
  record.httpStatus = sent.response.status;
}

export function createPipeline(deps: PipelineDeps) {
  const { admission, bodies, now, background, tracing } = deps;

  /** What every call's record starts with: who, when, its tags, its body when prompts are stored; a failure so far. */
  function recordStarter(
    req: Request,
    requestId: string,
    principal: Principal,
    clientIp: string | undefined,
  ): CallRequest["record"] {
    const startTime = now();
    return (what, body) => ({
      requestId,
      caller: principal.caller,
      startTime,
      endTime: startTime,
      status: "failure",
      httpStatus: 0,
      retries: 0,
      clientIp,
      userAgent: req.headers.get("user-agent") ?? undefined,
      requestTags: tagsOf(req.headers, principal.key?.tags),
      requestBody: deps.storePrompts ? decoder.decode(body) : undefined,
      ...what,
    });
  }

  /** Steps 5–7: attempts, then the relay or the answer, and settlement exactly once. */
  async function complete(call: Call, req: Request, requestId: string): Promise<Response> {
    const { record } = call;
    const clientSignal = req.signal;
    const attempts = new Attempts(clientSignal, deps.deadlines, now);
    // The call's span (with tracing on): a child of the request's server span, ended at settlement.
    const span = tracing?.start(record);
    let sent: Sent | undefined;
    let settled = false;
    /** Once, however the call ends: its end time, the deployment's in-flight slot, accounting, then its span. */
    const settle = () => {
      if (settled) return 0n;
      settled = true;
      record.endTime = now();
      // Attempts given up after they were sent (timed out, the client left, the answer broke off): Bedrock had each
      // one's prompt, so each adds its input estimate, whatever the call's outcome. (ApplyGuardrail has no tokens to
      // estimate, and which policy units an unanswered one used is unknown: it adds nothing.)
      if (attempts.abandonedAfterSend && call.estimate.billable && call.estimate.inputTokens > 0) {
        record.usage = withExtraInput(record.usage, attempts.abandonedAfterSend * call.estimate.inputTokens);
        record.usageEstimated = true;
      }
      sent?.release?.(record.usage?.totalTokens ?? 0);
      const cost = deps.settle(record);
      if (span) tracing!.end(span, record, cost);
      return cost;
    };
    try {
      // 5. route and send
      try {
        sent = await call.send(attempts);
      } catch (e) {
        attempts.abandon();
        const err = e instanceof GatewayError ? e : asGatewayError(e, clientSignal, 0);
        noteFailure(call, err, attempts, clientSignal);
        throw err;
      }
      const { response, deployment } = sent;
      noteSent(record, sent, attempts, now());
      if (response.ok) call.served?.(response.headers);
      const headers = relayHeaders(response.headers, requestId);
      // The router returns only the last attempt's response: its control, and what its first-byte wait read.
      const last = attempts.last();

      // 6. relay: a stream settles when it is over, whatever the client does (`stream_relay.ts`).
      if (call.stream && response.ok && response.body) {
        last.control.clearTimer();
        return relayStream(last.upstream ?? response.body, headers, {
          record,
          clientSignal,
          upstreamAbort: last.control.controller,
          onClientAbort: last.control.onClientAbort,
          finish: deps.openStreams?.track(settle) ?? settle,
          sendTimeoutMs: deps.streamSendTimeoutMs,
          storeResponse: deps.storePrompts,
          shutdown: deps.shutdown,
          usageFrom: call.usageFrom,
          inputEstimate: call.estimate.billable ? call.estimate.inputTokens : undefined,
          background: background && ((task) => background(task, requestId)),
          // Mock streams are local: nothing can stall.
          idleTimeoutMs: deployment?.auth.kind === "mock" ? 0 : deployment?.streamTimeoutMs ?? deps.streamTimeoutMs,
        });
      }
      // JSON answers (and any error): the body is read whole — converse's usage is in it, and a model-native answer
      // is bounded like its request — then sent with a fresh content-length (LiteLLM's #28388: never answer 200 with
      // an empty body). A body cut off mid-read is noted on the record and thrown as a 502.
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await readAnswer(response, record, {
          clientSignal,
          dispose: () => last.control.dispose(),
          storeResponse: deps.storePrompts,
        });
      } catch (e) {
        // Cut off mid-answer: Bedrock served the request it had.
        attempts.answerLost();
        throw e;
      }
      if (response.ok) call.answered(response.headers, bytes);

      // 7. settle; its cost is known before the answer is sent (streams learn theirs only at the end).
      const cost = settle();
      if (call.costHeader) headers["x-litellm-response-cost"] = formatUsd(cost);
      return new Response(bytes, { status: response.status, headers });
    } catch (e) {
      // 7. settle a call that failed before its answer was complete (its record says how); its error is then
      // logged and counted as that call's, not as a refusal.
      settle();
      if (e instanceof GatewayError) e.settled = true;
      throw e;
    }
  }

  /** Steps 1–4 and 8 around {@link complete}. */
  function handler<Target>(kind: CallKind<Target>): CallHandler {
    return async (req, requestId, path, clientIp, bodyWatch) => {
      // 1. parse
      const target = kind.parse(req.url);
      if (target === undefined) {
        throw new GatewayError(404, "UnknownOperationException", `No route for POST ${path ?? pathOf(req.url)}`);
      }
      // 2. admit
      const principal = await admission.admit(req.headers, requestId);
      const bodyLease = bodies.lease();
      try {
        // 3. validate
        const { route, modelRoute } = kind.access(target);
        checkRouteAccess(principal, route, modelRoute);
        const record = recordStarter(req, requestId, principal, clientIp);
        const call = await kind.validate(target, { req, requestId, principal, bodyLease, bodyWatch, record });
        // 4. hold
        await admission.hold(requestId, call.holdAs, call.estimate);
        return await complete(call, req, requestId);
      } catch (e) {
        // 8. Refused before settlement saw it (bad input, model not allowed, hold refused): free the key's slot and
        // holds. A no-op once the call has settled. The refusal names who was refused (the error edge logs it).
        admission.release(requestId);
        if (e instanceof GatewayError) e.caller ??= principal.caller;
        throw e;
      } finally {
        // 8. Answered (a stream's head, or a whole JSON answer) or refused: the request body is not needed any more.
        bodyLease.release();
      }
    };
  }

  return { handler };
}

export type Pipeline = ReturnType<typeof createPipeline>;
