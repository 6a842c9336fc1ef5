/**
 * @module
 * The upstream attempts of one call: each attempt's abort controller and timer, and what the call needs to know of
 * them once the router is done (how many were made, where the last one went, what the last one read).
 *
 * Each attempt gets its own controller, linked to the client's signal when it should follow the client, so a
 * timed-out or failed attempt can be given up (its connection closed) while the call goes on with another attempt.
 * A stream's attempt waits for the first body byte ({@link awaitFirstChunk}), so a stall before it is the attempt's
 * error, retryable; what that wait read (the first chunk and the upstream reader) is kept on the attempt and handed
 * to the relay by the pipeline, explicitly. Timeouts run on the gateway's shared `Deadlines` (one timer per
 * duration, not one per call).
 *
 * Each attempt is also noted as an {@link AttemptRecord} (where it went, when, how it ended): the call's record
 * carries them to settlement, where deployment metrics and a trace's attempt spans are made from them. That is the
 * one place attempts are observed; the router stays unaware of it.
 */
import type { AttemptRecord, AttemptTarget } from "../core/call_record.ts";
import { GatewayError } from "../core/errors.ts";
import { errorTypeHeader } from "../router/retry_policy.ts";
import type { Deadlines } from "./deadlines.ts";
import { awaitFirstChunk, type UpstreamBody } from "./stream_relay.ts";

export interface AttemptControl {
  readonly controller: AbortController;
  readonly signal: AbortSignal;
  /** The client-abort listener linking the client's signal to this attempt (the relay removes it when done). */
  readonly onClientAbort: () => void;
  /** Stops the timeout timer (a stream's timer only covers the wait for the response head). */
  clearTimer(): void;
  /** Clears the timer and unlinks the client's signal; the attempt's response may still be read. */
  dispose(): void;
  /** Disposes and aborts: the attempt is given up, its connection must go. Idempotent. */
  abandon(): void;
}

/**
 * Starts an attempt's control; with `timeoutMs` (and the `deadlines` to run it on), the attempt aborts with a
 * `TimeoutError` when it runs out. With `clientSignal`, it aborts when the client leaves; without, it runs to its
 * end (a JSON exchange once sent is read and billed whatever the client does).
 */
export function startAttempt(
  clientSignal: AbortSignal | undefined,
  timeoutMs?: number,
  deadlines?: Deadlines,
): AttemptControl {
  const controller = new AbortController();
  const onClientAbort = () => controller.abort(new DOMException("client disconnected", "AbortError"));
  let deadline: { cancel(): void } | undefined;
  if (clientSignal?.aborted) onClientAbort();
  else clientSignal?.addEventListener("abort", onClientAbort, { once: true });
  if (timeoutMs !== undefined && deadlines && !controller.signal.aborted) {
    deadline = deadlines.after(timeoutMs, () => controller.abort(new DOMException("timed out", "TimeoutError")));
  }
  const clearTimer = () => {
    deadline?.cancel();
    deadline = undefined;
  };
  const dispose = () => {
    clearTimer();
    clientSignal?.removeEventListener("abort", onClientAbort);
  };
  return {
    controller,
    signal: controller.signal,
    onClientAbort,
    clearTimer,
    dispose,
    abandon() {
      dispose();
      if (!controller.signal.aborted) controller.abort(new DOMException("attempt abandoned", "AbortError"));
    },
  };
}

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

/** How one attempt is sent: under what timeout, following the client or not, and whether it is a stream. */
export interface AttemptPlan {
  /** The attempt aborts when the client leaves (streams, while waiting for the first byte). */
  followClient: boolean;
  timeoutMs: number;
  /** Wait for the first body byte before the attempt counts as answered. */
  stream: boolean;
}

/** The status a failed attempt's answer had, and Bedrock's name for the failure (from `x-amzn-errortype`). */
function noteAnswer(record: AttemptRecord, response: Response, at: number): void {
  record.end = at;
  record.status = response.status;
  record.answered = true;
  if (!response.ok) record.errorType = errorTypeHeader(response.headers) ?? `HTTP${response.status}`;
}

/** The attempts of one call, in order; only the last one is ever live. */
export class Attempts {
  readonly #clientSignal: AbortSignal;
  readonly #deadlines: Deadlines;
  readonly #now: () => number;
  #target: string | undefined;
  #control: AttemptControl | undefined;
  #upstream: UpstreamBody | undefined;
  #abandonedAfterSend = 0;
  /** Every attempt begun, in order (what the call's record carries to settlement). */
  readonly records: AttemptRecord[] = [];

  constructor(clientSignal: AbortSignal, deadlines: Deadlines, now: () => number) {
    this.#clientSignal = clientSignal;
    this.#deadlines = deadlines;
    this.#now = now;
  }

  /** Attempts begun (a refused one included). */
  get made(): number {
    return this.records.length;
  }

  /** What the last attempt was aimed at (a deployment id); undefined before the first. */
  get target(): string | undefined {
    return this.#target;
  }

  /**
   * Attempts given up after their request was sent — timed out, the client left a stream before its first byte, the
   * answer broke off after its head — each one a prompt Bedrock had (and bills). A connection that failed before any
   * answer (refused, reset) is not counted: nothing says the request got there.
   */
  get abandonedAfterSend(): number {
    return this.#abandonedAfterSend;
  }

  /** The last attempt's answer broke off after the router took it (a JSON body cut mid-read). */
  answerLost(): void {
    this.#abandonedAfterSend++;
  }

  /** The next attempt, aimed at `target`: whatever the previous one still holds (connection, timer, listener) goes. */
  begin(target?: AttemptTarget): void {
    this.records.push({ target, start: this.#now() });
    this.#target = target?.id;
    this.#control?.abandon();
    this.#upstream = undefined;
  }

  /** The attempt begun last answered locally with `response` (a mock deployment): it only follows the client. */
  local(response: Response): Response {
    this.#control = startAttempt(this.#clientSignal);
    const record = this.records.at(-1);
    if (record) noteAnswer(record, response, this.#now());
    return response;
  }

  /**
   * Sends the attempt begun last with `request`, under its own control; a stream is answered once its first byte is
   * here. Resolves with the response (any status) or throws the attempt's typed error, its connection given up.
   */
  async send(
    plan: AttemptPlan,
    request: (signal: AbortSignal, onSent: () => void) => Promise<Response>,
  ): Promise<Response> {
    const control = this.#control = startAttempt(
      plan.followClient ? this.#clientSignal : undefined,
      plan.timeoutMs,
      this.#deadlines,
    );
    const record = this.records.at(-1);
    /**
     * The request was written whole to Bedrock's connection (the native client says so; `fetch` cannot): from here
     * Bedrock may have it. An answer (its head) says so too. Before either — connecting, a TLS or DNS stall, an
     * endpoint that never accepts — nothing reached Bedrock, and a timeout bills nothing.
     */
    let sent = false;
    let answered = false;
    try {
      const response = await request(control.signal, () => sent = true);
      answered = true;
      if (!plan.stream) {
        if (record) noteAnswer(record, response, this.#now());
        return response;
      }
      // A stream is committed to only once its first byte is here: a stall or failure before it is this attempt's
      // error (typed 504/502, retryable), never a 200 that breaks at once.
      const primed = await awaitFirstChunk(response, control.signal);
      this.#upstream = primed.upstream;
      if (record) noteAnswer(record, primed.response, this.#now());
      return primed.response;
    } catch (e) {
      const err = asGatewayError(e, control.signal, plan.timeoutMs);
      // Timed out or left while Bedrock had the request, or broken off after its answer began.
      if (answered || (sent && control.signal.aborted)) this.#abandonedAfterSend++;
      if (record) {
        record.end = this.#now();
        record.status = err.status;
        record.errorType = err.type;
      }
      control.abandon();
      throw err;
    }
  }

  /**
   * The last attempt's control and what its first-byte wait read, once the router has returned its response (the
   * router returns only the last attempt's response).
   */
  last(): { control: AttemptControl; upstream: UpstreamBody | undefined } {
    if (!this.#control) throw new Error("no attempt was sent");
    return { control: this.#control, upstream: this.#upstream };
  }

  /** Gives up the last attempt (the call failed). Idempotent. */
  abandon(): void {
    this.#control?.abandon();
  }
}
