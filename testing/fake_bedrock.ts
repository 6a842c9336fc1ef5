/**
 * @module
 * A fake AWS Bedrock Runtime server for tests.
 *
 * It speaks the real wire protocol (see /work/shared/reference/bedrock-wire.md) closely enough
 * that the real `@aws-sdk/client-bedrock-runtime` accepts it: SigV4 requests are verified by
 * re-signing with `@smithy/signature-v4`, Bedrock API keys are accepted as bearer tokens, errors
 * carry `x-amzn-ErrorType`, and streams are binary event-stream frames encoded with
 * `@smithy/eventstream-codec` (deliberately a different implementation from the gateway's own
 * codec, so the two cannot share a bug unnoticed).
 *
 * One fake plays one AWS API: `bedrock-runtime` (the model operations and ApplyGuardrail, the default) or
 * `bedrock-agent-runtime` (Retrieve, RetrieveAndGenerate, InvokeAgent: `startFakeBedrock({ api: "agent-runtime" })`);
 * each answers 404 `UnknownOperationException` to the other's paths, so a request sent to the wrong endpoint shows.
 * Both verify SigV4 with signing name `bedrock`, as the real services do.
 *
 * Everything is scripted through {@link Behavior}s; pauses are {@link Latch}es, never timers,
 * so tests stay deterministic.
 *
 * Caveat: the fake only reads `request.signal` while a response is being held back (`hang`,
 * `waitFor`), because Deno 2.9 prints a one-time "legacy abort" notice the first time a
 * process touches it. Streams detect client aborts through the body stream's cancel callback.
 */

import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { Latch } from "./latch.ts";

export { Latch };

/** A SigV4 identity the fake accepts. */
export interface FakeCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /**
   * Temporary credentials: from this instant (ms since the epoch, on the fake's `now`) requests signed with them are
   * refused with 403 `ExpiredTokenException`, as AWS does. (Not `expiration`: the AWS SDK's field is a `Date`.)
   */
  expiresAt?: number;
}

/**
 * Default SigV4 identity accepted by a fake started without `credentials`. Not frozen: the AWS
 * SDK writes a `$source` marker into credential objects it is given (pass a copy if that matters).
 */
export const FAKE_CREDENTIALS: FakeCredentials = {
  accessKeyId: "AKIAFAKEBEDROCK00001",
  secretAccessKey: "fake/Secret+Access/Key/For/Tests/000001",
};

/** Default Bedrock API key accepted by a fake started without `bearerTokens`. */
export const FAKE_BEARER_TOKEN = "bedrock-api-key-test";

/** Default signing region expected by the fake. */
export const FAKE_REGION = "us-west-2";

/** Options for {@link startFakeBedrock}. */
export interface FakeBedrockOptions {
  /** Accepted SigV4 identities (default: `[FAKE_CREDENTIALS]`). */
  credentials?: FakeCredentials[];
  /** Accepted Bedrock API keys (default: `[FAKE_BEARER_TOKEN]`). */
  bearerTokens?: string[];
  /** Expected signing region (default `us-west-2`). */
  region?: string;
  /** Clock used for the ±15 minute SigV4 skew check (default: real clock). */
  now?: () => Date;
  /** Which AWS API this fake plays (default `runtime`). */
  api?: FakeApi;
  /** Serve HTTPS with this certificate chain and key (PEM); `url` is then `https://127.0.0.1:<port>`. */
  tls?: { cert: string; key: string };
}

/** `runtime`: bedrock-runtime; `agent-runtime`: bedrock-agent-runtime. */
export type FakeApi = "runtime" | "agent-runtime";

/** Bedrock `TokenUsage`. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

/** How a request was authenticated (or tried to be). `none` = no usable Authorization header. */
export type RecordedAuth =
  | { kind: "sigv4"; accessKeyId: string; region: string; service: string; signedHeaders: string[] }
  | { kind: "bearer"; token: string }
  | { kind: "none" };

/** Everything the fake saw of one request, plus how it answered. */
export interface RecordedRequest {
  method: string;
  /** Path exactly as received (still percent-encoded), as far as URL parsing preserves it. */
  rawPath: string;
  /** Raw query string including the leading `?`, or "". */
  rawQuery: string;
  /** The `{modelId}` path segment decoded once ("" when the path did not route or names no model). */
  modelId: string;
  /**
   * Last path segment for `/model/{id}/{op}` paths; `apply-guardrail`, `retrieve`, `retrieve-and-generate` or
   * `invoke-agent` for those operations ("" when the path did not route).
   */
  operation:
    | "converse"
    | "converse-stream"
    | "invoke"
    | "invoke-with-response-stream"
    | "count-tokens"
    | "apply-guardrail"
    | "retrieve"
    | "retrieve-and-generate"
    | "invoke-agent"
    | string;
  /** The other path labels, decoded once: guardrailIdentifier/guardrailVersion, knowledgeBaseId, agentId, …. */
  pathParams: Record<string, string>;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  body: Uint8Array;
  auth: RecordedAuth;
  /** True when the client went away before the response finished. */
  aborted: boolean;
  /** `x-amzn-RequestId` the fake answered with. */
  requestId: string;
  /** HTTP status the fake answered with (0 while the response is still pending). */
  status: number;
  /** Short error type sent in `x-amzn-ErrorType` (for rejections and `error` behaviors). */
  errorType?: string;
  /** True when the fake itself refused the request (auth, routing or body validation). */
  rejected: boolean;
  /** Why the fake refused it, in more detail than the wire message (debugging aid). */
  rejectReason?: string;
  /** Index into `FakeBedrock.streamBytes` when the answer was an event stream. */
  streamIndex?: number;
}

/** A scripted answer. */
export type Behavior =
  | {
    /** A successful answer, rendered for the operation: Converse JSON, ConverseStream events, a Claude-style
     * InvokeModel body / chunk stream, a CountTokens result, an ApplyGuardrail verdict, Retrieve results, a
     * RetrieveAndGenerate answer, or an InvokeAgent stream of `chunk` events. */
    kind: "converse";
    /** Default: "echo: <last user text>" ("Hello from fake" when there is none). */
    text?: string;
    /** Merged over {inputTokens: 10, outputTokens: 5}; totalTokens is derived unless given. */
    usage?: Partial<TokenUsage>;
    stopReason?: string;
    latencyMs?: number;
    /** Extension: hold the answer until this latch is released. */
    waitFor?: Latch;
  }
  | {
    kind: "error";
    status: number;
    /** Exception name, e.g. "ThrottlingException". */
    type: string;
    message: string;
    retryAfter?: string;
    /** Extension: hold the answer until this latch is released. */
    waitFor?: Latch;
  }
  | {
    /** Always answered as an event stream, whatever the operation. */
    kind: "stream";
    /** Default: messageStart, "Hello" / " from" / " fake" deltas, contentBlockStop, messageStop
     * end_turn, metadata (or Claude-style `chunk` events for invoke-with-response-stream). */
    events?: Array<[eventType: string, payload: object]>;
    /** Add the undocumented `"p"` padding field to event payloads like real Bedrock (default true). */
    padding?: boolean;
    /** Re-chunk the byte stream into writes of this many bytes. */
    chunkSize?: number;
    /** Send all frames (between pause points) in one write; takes precedence over chunkSize. */
    packAll?: boolean;
    /** After the first frame, wait for this latch before sending the rest. */
    pauseAfterFirst?: Latch;
    /** After this many frames, wait for the latch before sending the rest. */
    pauseAfter?: { frames: number; latch: Latch };
    /** Replace event #index with an exception frame (lowerCamel type) and end the stream. */
    exceptionAt?: { index: number; type: string; message: string };
    /** End the stream cleanly after N frames. */
    truncateAfter?: number;
    /** After N frames, send nothing more and never end (until the client aborts / close()). */
    stallAfter?: number;
  }
  | { kind: "hang" }
  | {
    kind: "raw";
    status: number;
    /** Sent exactly as given (no request id or content-type is added). */
    headers?: Record<string, string>;
    body: Uint8Array | string;
    /** Extension: hold the answer until this latch is released. */
    waitFor?: Latch;
  };

/** Handle to a running fake. */
export interface FakeBedrock {
  /** `http://127.0.0.1:<port>` (`https://` with the `tls` option) */
  url: string;
  /** Every request that reached the fake, in order (including rejected ones). */
  requests: RecordedRequest[];
  /** For each event-stream response (in order), the exact bytes sent so far. */
  streamBytes: Uint8Array[];
  /** Accepts one more SigV4 identity from now on (temporary credentials a test's fake STS or IMDS issued). */
  addCredentials(c: FakeCredentials): void;
  /** Behaviour used when neither `handler` nor the queue supplies one. */
  setDefault(b: Behavior): void;
  /** One-shot behaviours, consumed in order before the default. */
  enqueue(...b: Behavior[]): void;
  /** Per-request override consulted first; return undefined to fall through. */
  handler?: (req: RecordedRequest) => Behavior | undefined;
  /** Resolves with `requests[index]` once that request has been recorded. */
  whenRequest(index: number): Promise<RecordedRequest>;
  /** Resolves once `requests[index]` exists and its client has gone away. */
  whenAborted(index: number): Promise<RecordedRequest>;
  /** Resolves once the response to `requests[index]` has been fully produced or aborted. */
  whenDone(index: number): Promise<RecordedRequest>;
  /** Clear requests, streamBytes, queue, default and handler. */
  reset(): void;
  /** Abort held/stalled responses and shut the server down. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/";
const KNOWN_OPERATIONS: Record<FakeApi, ReadonlySet<string>> = {
  "runtime": new Set([
    "converse",
    "converse-stream",
    "invoke",
    "invoke-with-response-stream",
    "count-tokens",
    "apply-guardrail",
  ]),
  "agent-runtime": new Set(["retrieve", "retrieve-and-generate", "invoke-agent"]),
};
const DEFAULT_USAGE = { inputTokens: 10, outputTokens: 5 };
const DEFAULT_LATENCY_MS = 42;
const DEFAULT_STREAM_TEXT = "Hello from fake";
/** Real Bedrock pads payloads with a prefix of this alphabet (wire digest §5.4). */
const PAD_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0";
const MAX_SKEW_MS = 15 * 60 * 1000;
const SIGNATURE_MISMATCH = "The request signature we calculated does not match the signature you provided. " +
  "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const INVALID_TOKEN = "The security token included in the request is invalid.";
const EXPIRED_TOKEN = "The security token included in the request is expired";
const MALFORMED = "Malformed input request, please reformat your input and try again.";

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const textEncoder = new TextEncoder();

/** Start a fake on 127.0.0.1 with an OS-assigned port. */
export function startFakeBedrock(opts: FakeBedrockOptions = {}): Promise<FakeBedrock> {
  // Deno.serve is listening as soon as it returns; the Promise keeps room for async setup later.
  return Promise.resolve(new FakeBedrockServer(opts));
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Bookkeeping kept next to each RecordedRequest without exposing it on the record. */
interface Entry {
  rec: RecordedRequest;
  abortedD: Deferred<RecordedRequest>;
  doneD: Deferred<RecordedRequest>;
  done: boolean;
}

type Outcome = "ok" | "client-gone" | "closed";

class FakeBedrockServer implements FakeBedrock {
  readonly url: string;
  readonly requests: RecordedRequest[] = [];
  readonly streamBytes: Uint8Array[] = [];
  handler?: (req: RecordedRequest) => Behavior | undefined;

  #entries: Entry[] = [];
  #waiters = new Map<number, Deferred<void>[]>();
  #queue: Behavior[] = [];
  #default?: Behavior;
  /** Bumped by reset() so stale in-flight responses stop writing into the new arrays. */
  #generation = 0;
  /** One controller per held or streaming response, so close() can end them. */
  #pending = new Set<AbortController>();
  #closed = false;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #credentials: Map<string, FakeCredentials>;
  #bearer: Set<string>;
  #region: string;
  #now: () => Date;
  #api: FakeApi;

  constructor(opts: FakeBedrockOptions) {
    this.#credentials = new Map((opts.credentials ?? [FAKE_CREDENTIALS]).map((c) => [c.accessKeyId, c]));
    this.#bearer = new Set(opts.bearerTokens ?? [FAKE_BEARER_TOKEN]);
    this.#region = opts.region ?? FAKE_REGION;
    this.#api = opts.api ?? "runtime";
    this.#now = opts.now ?? (() => new Date());
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      ...opts.tls,
      onListen: () => {},
      // An unexpected bug in the fake should look like a Bedrock 500, not a Deno text page.
      onError: (err) => errorResponse(500, "InternalServerException", `fake bedrock bug: ${String(err)}`),
    }, (req) => this.#handle(req));
    this.url = `${opts.tls ? "https" : "http"}://127.0.0.1:${this.#server.addr.port}`;
  }

  addCredentials(c: FakeCredentials): void {
    this.#credentials.set(c.accessKeyId, c);
  }

  setDefault(b: Behavior): void {
    this.#default = b;
  }

  enqueue(...b: Behavior[]): void {
    this.#queue.push(...b);
  }

  whenRequest(index: number): Promise<RecordedRequest> {
    const existing = this.requests[index];
    if (existing) return Promise.resolve(existing);
    const d = deferred<void>();
    const list = this.#waiters.get(index) ?? [];
    list.push(d);
    this.#waiters.set(index, list);
    return d.promise.then(() => this.requests[index]);
  }

  async whenAborted(index: number): Promise<RecordedRequest> {
    await this.whenRequest(index);
    return this.#entries[index].abortedD.promise;
  }

  async whenDone(index: number): Promise<RecordedRequest> {
    await this.whenRequest(index);
    return this.#entries[index].doneD.promise;
  }

  reset(): void {
    this.#generation++;
    this.requests.length = 0;
    this.#entries.length = 0;
    this.streamBytes.length = 0;
    this.#queue.length = 0;
    this.#default = undefined;
    this.handler = undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return await this.#server.finished;
    this.#closed = true;
    for (const ac of this.#pending) ac.abort(new Error("fake bedrock closed"));
    this.#pending.clear();
    await this.#server.shutdown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- request pipeline

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const body = new Uint8Array(await req.arrayBuffer());
    const route = parseRoute(url.pathname);
    const rec: RecordedRequest = {
      method: req.method,
      rawPath: url.pathname,
      rawQuery: url.search,
      modelId: route?.modelId ?? "",
      operation: route?.operation ?? "",
      pathParams: route?.pathParams ?? {},
      headers: Object.fromEntries(req.headers),
      body,
      auth: { kind: "none" },
      aborted: false,
      requestId: crypto.randomUUID(),
      status: 0,
      rejected: false,
    };
    const entry = this.#record(rec);

    const auth = await this.#authenticate(req, url, body);
    rec.auth = auth.auth;
    if (!auth.ok) return this.#reject(entry, auth.status, auth.type, auth.message, auth.reason);

    if (req.method !== "POST") {
      return this.#reject(entry, 405, "UnknownOperationException", `${req.method} is not supported for this resource.`);
    }
    if (!route || !KNOWN_OPERATIONS[this.#api].has(route.operation)) {
      return this.#reject(entry, 404, "UnknownOperationException", "The requested operation is not recognized.");
    }
    if (route.badEncoding) {
      return this.#reject(entry, 400, "ValidationException", "The model identifier is not validly percent-encoded.");
    }
    if (route.model && (route.modelId.length < 1 || route.modelId.length > 2048)) {
      return this.#reject(
        entry,
        400,
        "ValidationException",
        "1 validation error detected: Value at 'modelId' failed to satisfy constraint: Member must have length between 1 and 2048",
      );
    }
    const invalid = validateBody(route.operation, route.modelId, body);
    if (invalid) return this.#reject(entry, 400, "ValidationException", invalid);

    const behavior = this.handler?.(rec) ?? this.#queue.shift() ?? this.#default ?? defaultFor(rec.operation);
    return await this.#respond(entry, req, behavior);
  }

  #record(rec: RecordedRequest): Entry {
    const entry: Entry = { rec, abortedD: deferred(), doneD: deferred(), done: false };
    const index = this.requests.push(rec) - 1;
    this.#entries[index] = entry;
    for (const d of this.#waiters.get(index) ?? []) d.resolve();
    this.#waiters.delete(index);
    return entry;
  }

  #finish(entry: Entry): void {
    if (entry.done) return;
    entry.done = true;
    entry.doneD.resolve(entry.rec);
  }

  #markAborted(entry: Entry): void {
    if (entry.done) return;
    entry.rec.aborted = true;
    entry.abortedD.resolve(entry.rec);
    this.#finish(entry);
  }

  #reject(entry: Entry, status: number, type: string, message: string, reason?: string): Response {
    entry.rec.rejected = true;
    entry.rec.rejectReason = reason ?? message;
    return this.#error(entry, status, type, message);
  }

  #error(entry: Entry, status: number, type: string, message: string, retryAfter?: string): Response {
    entry.rec.status = status;
    entry.rec.errorType = type;
    this.#finish(entry);
    return errorResponse(status, type, message, entry.rec.requestId, retryAfter);
  }

  /**
   * Wait for `p`, but give up when the client disconnects or the fake closes. Only here do we
   * touch request.signal (see module caveat); the listener is removed before we return so the
   * legacy "abort after success" never marks a finished request as aborted.
   */
  async #hold(entry: Entry, req: Request, p: Promise<void>): Promise<Outcome> {
    const ac = new AbortController();
    this.#pending.add(ac);
    // An object, not a `let`, so TS does not narrow away the write made inside the listener.
    const state: { outcome: Outcome } = { outcome: "ok" };
    const onClientAbort = () => {
      state.outcome = "client-gone";
      ac.abort();
    };
    req.signal.addEventListener("abort", onClientAbort, { once: true });
    if (req.signal.aborted) onClientAbort();
    try {
      await abortable(p, ac.signal);
    } catch {
      if (state.outcome === "ok") state.outcome = "closed";
    } finally {
      req.signal.removeEventListener("abort", onClientAbort);
      this.#pending.delete(ac);
    }
    if (state.outcome === "client-gone") this.#markAborted(entry);
    return state.outcome;
  }

  async #respond(entry: Entry, req: Request, b: Behavior): Promise<Response> {
    const rec = entry.rec;
    const gate = b.kind === "hang" ? new Promise<void>(() => {}) : b.kind === "stream" ? undefined : b.waitFor?.wait();
    if (gate) {
      const outcome = await this.#hold(entry, req, gate);
      // Nobody reads this response: the client is gone.
      if (outcome === "client-gone") return new Response(null, { status: 499 });
      if (outcome === "closed") {
        return this.#error(entry, 503, "ServiceUnavailableException", "The fake Bedrock server is shutting down.");
      }
    }
    switch (b.kind) {
      case "hang":
        // Unreachable in practice: a hang only ends by abort or close.
        return this.#error(entry, 503, "ServiceUnavailableException", "hang ended");
      case "error":
        return this.#error(entry, b.status, b.type, b.message, b.retryAfter);
      case "raw": {
        rec.status = b.status;
        this.#finish(entry);
        // Bytes, not a string, so Deno does not add a text/plain content-type of its own.
        const raw = typeof b.body === "string" ? textEncoder.encode(b.body) : new Uint8Array(b.body);
        return new Response(raw, { status: b.status, headers: b.headers ?? {} });
      }
      case "stream":
        return this.#stream(entry, b, defaultEvents(rec, undefined));
      case "converse":
        return this.#success(entry, b);
    }
  }

  #success(entry: Entry, b: Extract<Behavior, { kind: "converse" }>): Response {
    const rec = entry.rec;
    const text = b.text ?? (rec.operation === "invoke-agent" ? agentText(rec) : echoText(rec.body));
    const usage = fullUsage(b.usage);
    const stopReason = b.stopReason ?? "end_turn";
    const latencyMs = b.latencyMs ?? DEFAULT_LATENCY_MS;
    const answer: Answer = { text, usage, stopReason, latencyMs };
    switch (rec.operation) {
      case "converse-stream":
      case "invoke-with-response-stream":
      case "invoke-agent":
        return this.#stream(entry, { kind: "stream" }, defaultEvents(rec, answer));
      case "apply-guardrail":
      case "retrieve":
      case "retrieve-and-generate":
        rec.status = 200;
        this.#finish(entry);
        return jsonResponse(agentLikeAnswer(rec, b.text), rec.requestId);
      case "invoke": {
        rec.status = 200;
        this.#finish(entry);
        return jsonResponse(claudeMessage(rec.modelId, answer), rec.requestId, {
          "x-amzn-bedrock-input-token-count": String(usage.inputTokens),
          "x-amzn-bedrock-output-token-count": String(usage.outputTokens),
          "x-amzn-bedrock-invocation-latency": String(latencyMs),
        });
      }
      case "count-tokens":
        rec.status = 200;
        this.#finish(entry);
        return jsonResponse({ inputTokens: usage.inputTokens }, rec.requestId);
      default:
        rec.status = 200;
        this.#finish(entry);
        return jsonResponse({
          output: { message: { role: "assistant", content: [{ text }] } },
          stopReason,
          usage,
          metrics: { latencyMs },
        }, rec.requestId);
    }
  }

  #stream(
    entry: Entry,
    b: Extract<Behavior, { kind: "stream" }>,
    fallbackEvents: Array<[string, object]>,
  ): Response {
    const rec = entry.rec;
    const frames = planFrames(b, b.events ?? fallbackEvents);
    const generation = this.#generation;
    const streamIndex = this.streamBytes.push(new Uint8Array(0)) - 1;
    rec.streamIndex = streamIndex;
    rec.status = 200;

    const ac = new AbortController();
    this.#pending.add(ac);
    const chunks = produceChunks(frames, b, ac.signal);
    const recordSent = (chunk: Uint8Array) => {
      if (generation !== this.#generation) return;
      this.streamBytes[streamIndex] = concat([this.streamBytes[streamIndex], chunk]);
    };
    const settle = () => {
      this.#pending.delete(ac);
      this.#finish(entry);
    };

    // highWaterMark 0: a chunk is produced only when Deno asks for one, so a latch or stall really
    // leaves the already-written frames on the wire and nothing else.
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        // close() aborts `ac`; ending the body lets server.shutdown() finish even if the
        // producer is parked at a latch or stall.
        ac.signal.addEventListener("abort", () => {
          try {
            controller.close();
          } catch { /* already closed or cancelled */ }
        }, { once: true });
      },
      pull: async (controller) => {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await chunks.next();
        } catch {
          // Aborted: by the client (cancel already ran) or by close(). End cleanly either way;
          // erroring the stream would only make Deno print a stack trace.
          settle();
          try {
            controller.close();
          } catch { /* already cancelled */ }
          return;
        }
        if (next.done) {
          settle();
          controller.close();
          return;
        }
        recordSent(next.value);
        controller.enqueue(next.value);
      },
      cancel: () => {
        this.#markAborted(entry);
        settle();
        ac.abort();
      },
    }, { highWaterMark: 0 });

    const headers: Record<string, string> = {
      "content-type": "application/vnd.amazon.eventstream",
      "x-amzn-requestid": rec.requestId,
    };
    if (rec.operation === "invoke-with-response-stream") headers["x-amzn-bedrock-content-type"] = "application/json";
    if (rec.operation === "invoke-agent") {
      headers["x-amzn-bedrock-agent-content-type"] = "application/json";
      headers["x-amz-bedrock-agent-session-id"] = rec.pathParams.sessionId;
    }
    return new Response(body, { status: 200, headers });
  }

  // ---------------------------------------------------------------- authentication

  async #authenticate(req: Request, url: URL, body: Uint8Array): Promise<AuthResult> {
    const authorization = req.headers.get("authorization");
    const none: RecordedAuth = { kind: "none" };
    if (!authorization) {
      return fail(none, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    }
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (bearer) {
      const auth: RecordedAuth = { kind: "bearer", token: bearer[1] };
      if (req.headers.has("x-amz-date")) {
        return fail(
          auth,
          403,
          "IncompleteSignatureException",
          "Bearer token authentication cannot be combined with SigV4 headers.",
          "bearer request also carried x-amz-date",
        );
      }
      if (!this.#bearer.has(bearer[1])) return fail(auth, 403, "UnrecognizedClientException", INVALID_TOKEN);
      return { ok: true, auth };
    }
    const sig = /^AWS4-HMAC-SHA256\s+(.+)$/s.exec(authorization);
    if (!sig) {
      return fail(
        none,
        403,
        "IncompleteSignatureException",
        `Authorization header requires 'Credential' parameter. Authorization=${authorization}`,
      );
    }
    return await this.#verifySigV4(req, url, body, sig[1]);
  }

  async #verifySigV4(req: Request, url: URL, body: Uint8Array, params: string): Promise<AuthResult> {
    const fields = new Map<string, string>();
    for (const part of params.split(",")) {
      const eq = part.indexOf("=");
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const credential = fields.get("Credential");
    const signedHeadersField = fields.get("SignedHeaders");
    const signature = fields.get("Signature");
    const none: RecordedAuth = { kind: "none" };
    for (
      const [name, value] of [["Credential", credential], ["SignedHeaders", signedHeadersField], [
        "Signature",
        signature,
      ]]
    ) {
      if (!value) {
        return fail(none, 403, "IncompleteSignatureException", `Authorization header requires '${name}' parameter.`);
      }
    }
    const scope = credential!.split("/");
    if (scope.length !== 5) {
      return fail(
        none,
        403,
        "IncompleteSignatureException",
        "Credential must have exactly 5 slash-delimited elements.",
      );
    }
    const [accessKeyId, scopeDate, region, service, terminator] = scope;
    const signedHeaders = signedHeadersField!.split(";").map((h) => h.trim().toLowerCase());
    const auth: RecordedAuth = { kind: "sigv4", accessKeyId, region, service, signedHeaders };
    const bad = (message: string, reason?: string) => fail(auth, 403, "InvalidSignatureException", message, reason);

    if (terminator !== "aws4_request") {
      return fail(
        auth,
        403,
        "IncompleteSignatureException",
        "Credential should be scoped with a valid terminator: 'aws4_request'.",
      );
    }
    const amzDate = req.headers.get("x-amz-date");
    if (!amzDate) {
      return fail(
        auth,
        403,
        "IncompleteSignatureException",
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
      );
    }
    const signingDate = parseAmzDate(amzDate);
    if (!signingDate) {
      return fail(
        auth,
        403,
        "IncompleteSignatureException",
        `Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`,
      );
    }
    if (scopeDate !== amzDate.slice(0, 8)) {
      return bad(
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${
          amzDate.slice(0, 8)
        }', from '${amzDate}'.`,
      );
    }
    if (region !== this.#region) {
      return bad("Credential should be scoped to a valid region.", `region ${region} != ${this.#region}`);
    }
    if (service !== "bedrock") return bad("Credential should be scoped to correct service: 'bedrock'.");

    const identity = this.#credentials.get(accessKeyId);
    if (!identity) {
      return fail(auth, 403, "UnrecognizedClientException", INVALID_TOKEN, `unknown access key ${accessKeyId}`);
    }

    const now = this.#now();
    const skew = signingDate.getTime() - now.getTime();
    if (skew < -MAX_SKEW_MS) {
      return bad(
        `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(new Date(now.getTime() - MAX_SKEW_MS))} (${
          formatAmzDate(now)
        } - 15 min.)`,
      );
    }
    if (skew > MAX_SKEW_MS) {
      return bad(
        `Signature not yet current: ${amzDate} is still later than ${
          formatAmzDate(new Date(now.getTime() + MAX_SKEW_MS))
        } (${formatAmzDate(now)} + 15 min.)`,
      );
    }

    const token = req.headers.get("x-amz-security-token") ?? undefined;
    if (token !== identity.sessionToken) {
      return fail(auth, 403, "UnrecognizedClientException", INVALID_TOKEN, "session token mismatch");
    }
    if (identity.expiresAt !== undefined && now.getTime() >= identity.expiresAt) {
      return fail(auth, 403, "ExpiredTokenException", EXPIRED_TOKEN, `credentials expired at ${identity.expiresAt}`);
    }

    if (!signedHeaders.includes("host")) {
      return fail(
        auth,
        403,
        "IncompleteSignatureException",
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
      );
    }
    if (!signedHeaders.includes("x-amz-date")) {
      return bad(SIGNATURE_MISMATCH, "x-amz-date is not signed");
    }
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const value = req.headers.get(name);
      if (value === null) return bad(SIGNATURE_MISMATCH, `signed header ${name} is missing`);
      headers[name] = value;
    }

    // The canonical request hashes the body we actually got, so a declared hash must match it.
    const declaredHash = req.headers.get("x-amz-content-sha256");
    if (declaredHash !== null && declaredHash !== await sha256Hex(body)) {
      return bad(SIGNATURE_MISMATCH, "x-amz-content-sha256 does not match the body");
    }

    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    // The session token was checked above; leaving it out of the signer's credentials stops
    // smithy from injecting an x-amz-security-token header the client may not have signed.
    const signer = new SignatureV4({
      service: "bedrock",
      region: this.#region,
      credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey },
      sha256: Sha256,
      uriEscapePath: true,
      // Otherwise smithy adds x-amz-content-sha256 itself, changing the signed header set.
      applyChecksum: false,
    });
    const resigned = await signer.sign({
      method: req.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers,
      body,
    }, {
      signingDate,
      // Lets a client that chose to sign normally-unsignable headers still verify.
      signableHeaders: new Set(signedHeaders),
    });
    const expected = /Signature=([0-9a-f]+)/.exec(resigned.headers["authorization"] ?? "")?.[1];
    if (!expected || !timingSafeEqual(expected, signature!)) return bad(SIGNATURE_MISMATCH, "signature mismatch");
    return { ok: true, auth };
  }
}

type AuthResult =
  | { ok: true; auth: RecordedAuth }
  | { ok: false; auth: RecordedAuth; status: number; type: string; message: string; reason?: string };

function fail(auth: RecordedAuth, status: number, type: string, message: string, reason?: string): AuthResult {
  return { ok: false, auth, status, type, message, reason };
}

// ------------------------------------------------------------------ routing & validation

interface Route {
  modelId: string;
  operation: string;
  pathParams: Record<string, string>;
  /** A `/model/{id}/{op}` path (the model id is checked). */
  model: boolean;
  badEncoding: boolean;
}

/**
 * `/model/{enc}/{op}`: `{enc}` is one segment (possibly with raw `:`), decoded exactly once. Likewise every label
 * of the guardrail and agent-runtime paths (each one segment, as the services' labels are not greedy).
 */
function parseRoute(rawPath: string): Route | undefined {
  const segments = rawPath.split("/");
  if (segments[0] !== "") return undefined;
  let badEncoding = false;
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      badEncoding = true;
      return s;
    }
  };
  const route = (operation: string, pathParams: Record<string, string>, modelId = ""): Route => ({
    modelId,
    operation,
    pathParams,
    model: segments[1] === "model",
    badEncoding,
  });
  const [, first, a, b, c, d, e, f] = segments;
  if (segments.length === 4 && first === "model" && b) return route(b, {}, decode(a));
  if (segments.length === 6 && first === "guardrail" && b === "version" && d === "apply") {
    return route("apply-guardrail", { guardrailIdentifier: decode(a), guardrailVersion: decode(c) });
  }
  if (segments.length === 4 && first === "knowledgebases" && b === "retrieve") {
    return route("retrieve", { knowledgeBaseId: decode(a) });
  }
  if (segments.length === 2 && first === "retrieveAndGenerate") return route("retrieve-and-generate", {});
  if (segments.length === 8 && first === "agents" && b === "agentAliases" && d === "sessions" && f === "text") {
    return route("invoke-agent", { agentId: decode(a), agentAliasId: decode(c), sessionId: decode(e) });
  }
  return undefined;
}

function defaultFor(operation: string): Behavior {
  return operation === "converse-stream" || operation === "invoke-with-response-stream" || operation === "invoke-agent"
    ? { kind: "stream" }
    : { kind: "converse" };
}

function parseJsonObject(body: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(body));
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The JSON object body, else the ValidationException message of the first required member it lacks. */
function requireMembers(body: Uint8Array, members: Array<[name: string, type: "object" | "string" | "array"]>) {
  const obj = parseJsonObject(body);
  if (!obj) return MALFORMED;
  for (const [name, type] of members) {
    const v = obj[name];
    const ok = type === "array" ? Array.isArray(v) : type === "object" ? isObject(v) : typeof v === "string";
    if (!ok) {
      return `Malformed input request: #: required key [${name}] not found or not a JSON ${type}, please reformat your input and try again.`;
    }
  }
  return undefined;
}

/** Light version of the real service's checks; returns the ValidationException message. */
function validateBody(operation: string, modelId: string, body: Uint8Array): string | undefined {
  switch (operation) {
    case "apply-guardrail": {
      const missing = requireMembers(body, [["source", "string"], ["content", "array"]]);
      if (missing) return missing;
      const source = parseJsonObject(body)!.source;
      return source === "INPUT" || source === "OUTPUT"
        ? undefined
        : "1 validation error detected: Value at 'source' failed to satisfy constraint: Member must satisfy enum value set: [INPUT, OUTPUT]";
    }
    case "retrieve":
      return requireMembers(body, [["retrievalQuery", "object"]]);
    case "retrieve-and-generate":
      return requireMembers(body, [["input", "object"]]);
    case "invoke-agent":
      return requireMembers(body, []);
  }
  if (operation === "count-tokens") {
    const obj = parseJsonObject(body);
    if (!obj) return MALFORMED;
    if (!isObject(obj.input)) {
      return "Malformed input request: #: required key [input] not found, please reformat your input and try again.";
    }
    return undefined;
  }
  if (operation !== "converse" && operation !== "converse-stream") return undefined;
  const obj = parseJsonObject(body);
  if (!obj) return MALFORMED;
  const promptArn = /^arn:aws[a-z-]*:bedrock:[^:]*:[0-9]*:prompt\//.test(modelId);
  if (obj.messages === undefined) {
    return promptArn
      ? undefined
      : "Malformed input request: #: required key [messages] not found, please reformat your input and try again.";
  }
  if (!Array.isArray(obj.messages)) {
    return "Malformed input request: #/messages: expected type: JSONArray, please reformat your input and try again.";
  }
  if (obj.messages.length === 0 && !promptArn) {
    return "A conversation must start with a user message. Try again with a conversation that starts with a user message.";
  }
  for (const [i, m] of obj.messages.entries()) {
    if (!isObject(m) || (m.role !== "user" && m.role !== "assistant") || !Array.isArray(m.content)) {
      return `Malformed input request: #/messages/${i}: expected {role: user|assistant, content: [...]}, please reformat your input and try again.`;
    }
  }
  if (obj.messages.length > 0 && (obj.messages[0] as Record<string, unknown>).role !== "user") {
    return "A conversation must start with a user message. Try again with a conversation that starts with a user message.";
  }
  return undefined;
}

/** Text of the last user message (Converse or Claude-native body), for the echo-ish default. */
function echoText(body: Uint8Array): string {
  const obj = parseJsonObject(body);
  const messages = Array.isArray(obj?.messages) ? obj.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m: unknown = messages[i];
    if (!isObject(m) || m.role !== "user") continue;
    if (typeof m.content === "string") return `echo: ${m.content}`;
    if (!Array.isArray(m.content)) continue;
    const text = m.content
      .map((c: unknown) => (isObject(c) && typeof c.text === "string" ? c.text : ""))
      .join("");
    if (text) return `echo: ${text}`;
  }
  return DEFAULT_STREAM_TEXT;
}

function fullUsage(u: Partial<TokenUsage> = {}): TokenUsage {
  const usage: TokenUsage = {
    inputTokens: u.inputTokens ?? DEFAULT_USAGE.inputTokens,
    outputTokens: u.outputTokens ?? DEFAULT_USAGE.outputTokens,
    totalTokens: 0,
  };
  if (u.cacheReadInputTokens !== undefined) usage.cacheReadInputTokens = u.cacheReadInputTokens;
  if (u.cacheWriteInputTokens !== undefined) usage.cacheWriteInputTokens = u.cacheWriteInputTokens;
  // Bedrock's total includes cache reads/writes (wire digest §4).
  usage.totalTokens = u.totalTokens ??
    usage.inputTokens + usage.outputTokens + (usage.cacheReadInputTokens ?? 0) + (usage.cacheWriteInputTokens ?? 0);
  return usage;
}

// ------------------------------------------------------------------ responses

function jsonResponse(obj: unknown, requestId: string, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(obj), {
    status: 200,
    headers: { "content-type": "application/json", "x-amzn-requestid": requestId, ...extra },
  });
}

function errorResponse(
  status: number,
  type: string,
  message: string,
  requestId: string = crypto.randomUUID(),
  retryAfter?: string,
): Response {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-amzn-requestid": requestId,
    "x-amzn-errortype": `${type}:${ERROR_NAMESPACE}`,
  };
  if (retryAfter !== undefined) headers["retry-after"] = retryAfter;
  return new Response(JSON.stringify({ message }), { status, headers });
}

interface Answer {
  text: string;
  usage: TokenUsage;
  stopReason: string;
  latencyMs: number;
}

/** Split into word-ish deltas the way a model streams: "Hello from fake" → "Hello", " from", " fake". */
function splitDeltas(text: string): string[] {
  const parts = text.split(/(?=\s)/);
  return parts.length ? parts : [""];
}

function defaultEvents(rec: RecordedRequest, answer: Answer | undefined): Array<[string, object]> {
  const a: Answer = answer ?? {
    text: DEFAULT_STREAM_TEXT,
    usage: fullUsage(),
    stopReason: "end_turn",
    latencyMs: DEFAULT_LATENCY_MS,
  };
  if (rec.operation === "invoke-with-response-stream") return claudeChunkEvents(rec.modelId, a);
  if (rec.operation === "invoke-agent") return agentChunkEvents(answer ? a.text : agentText(rec));
  return [
    ["messageStart", { role: "assistant" }],
    ...splitDeltas(a.text).map((t): [string, object] => [
      "contentBlockDelta",
      { contentBlockIndex: 0, delta: { text: t } },
    ]),
    ["contentBlockStop", { contentBlockIndex: 0 }],
    ["messageStop", { stopReason: a.stopReason }],
    ["metadata", { usage: a.usage, metrics: { latencyMs: a.latencyMs } }],
  ];
}

const CLAUDE_STOP: Record<string, string> = { end_turn: "end_turn", max_tokens: "max_tokens", tool_use: "tool_use" };

/** InvokeModel body in the Anthropic Messages format Bedrock returns for Claude models. */
function claudeMessage(modelId: string, a: Answer): object {
  return {
    id: "msg_bdrk_fake0001",
    type: "message",
    role: "assistant",
    model: modelId,
    content: [{ type: "text", text: a.text }],
    stop_reason: CLAUDE_STOP[a.stopReason] ?? a.stopReason,
    stop_sequence: null,
    usage: { input_tokens: a.usage.inputTokens, output_tokens: a.usage.outputTokens },
  };
}

/** InvokeModelWithResponseStream `chunk` events: base64 Anthropic stream events (wire digest §1.2). */
function claudeChunkEvents(modelId: string, a: Answer): Array<[string, object]> {
  const native: object[] = [
    {
      type: "message_start",
      message: {
        ...claudeMessage(modelId, a),
        content: [],
        stop_reason: null,
        usage: { input_tokens: a.usage.inputTokens, output_tokens: 1 },
      },
    },
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    ...splitDeltas(a.text).map((t) => ({
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: t },
    })),
    { type: "content_block_stop", index: 0 },
    {
      type: "message_delta",
      delta: { stop_reason: CLAUDE_STOP[a.stopReason] ?? a.stopReason, stop_sequence: null },
      usage: { output_tokens: a.usage.outputTokens },
    },
    {
      type: "message_stop",
      "amazon-bedrock-invocationMetrics": {
        inputTokenCount: a.usage.inputTokens,
        outputTokenCount: a.usage.outputTokens,
        invocationLatency: a.latencyMs,
        firstByteLatency: Math.min(a.latencyMs, 10),
      },
    },
  ];
  return native.map((e): [string, object] => ["chunk", { bytes: toBase64(textEncoder.encode(JSON.stringify(e))) }]);
}

/** The agent runtime's default answer text: an echo of `inputText`. */
function agentText(rec: RecordedRequest): string {
  const input = parseJsonObject(rec.body)?.inputText;
  return typeof input === "string" ? `agent echo: ${input}` : DEFAULT_STREAM_TEXT;
}

/** InvokeAgent `chunk` events: base64 answer text, the last one with an attribution (a knowledge-base citation). */
function agentChunkEvents(text: string): Array<[string, object]> {
  const pieces = splitDeltas(text);
  return pieces.map((piece, i): [string, object] => {
    const payload: Record<string, unknown> = { bytes: toBase64(textEncoder.encode(piece)) };
    if (i === pieces.length - 1) {
      payload.attribution = {
        citations: [{
          generatedResponsePart: { textResponsePart: { text, span: { start: 0, end: Math.max(0, text.length - 1) } } },
          retrievedReferences: [{
            content: { text: "A fake passage." },
            location: { type: "S3", s3Location: { uri: "s3://fake-kb/doc1.txt" } },
          }],
        }],
      };
    }
    return ["chunk", payload];
  });
}

/** ApplyGuardrail, Retrieve and RetrieveAndGenerate answers in the services' shapes. */
function agentLikeAnswer(rec: RecordedRequest, text: string | undefined): object {
  const body = parseJsonObject(rec.body) ?? {};
  switch (rec.operation) {
    case "apply-guardrail": {
      // Content mentioning "forbidden" is blocked, like a denied topic.
      const intervened = JSON.stringify(body.content ?? "").includes("forbidden");
      return {
        usage: {
          topicPolicyUnits: 1,
          contentPolicyUnits: 1,
          wordPolicyUnits: 1,
          sensitiveInformationPolicyUnits: 1,
          sensitiveInformationPolicyFreeUnits: 0,
          contextualGroundingPolicyUnits: 0,
        },
        action: intervened ? "GUARDRAIL_INTERVENED" : "NONE",
        ...(intervened ? { actionReason: "Guardrail blocked." } : {}),
        outputs: intervened ? [{ text: text ?? "Sorry, I can't help with that." }] : [],
        assessments: [
          intervened ? { topicPolicy: { topics: [{ name: "forbidden", type: "DENY", action: "BLOCKED" }] } } : {},
        ],
      };
    }
    case "retrieve": {
      const query = (body.retrievalQuery as { text?: unknown } | undefined)?.text;
      return {
        retrievalResults: [{
          content: { type: "TEXT", text: text ?? `passage about ${String(query)}` },
          location: { type: "S3", s3Location: { uri: "s3://fake-kb/doc1.txt" } },
          score: 0.87,
          metadata: { "x-amz-bedrock-kb-source-uri": "s3://fake-kb/doc1.txt" },
        }],
      };
    }
    default: {
      const question = (body.input as { text?: unknown } | undefined)?.text;
      const answer = text ?? `answer to ${String(question)}`;
      return {
        sessionId: typeof body.sessionId === "string" ? body.sessionId : "fake-session-0001",
        output: { text: answer },
        citations: [{
          generatedResponsePart: { textResponsePart: { text: answer, span: { start: 0, end: answer.length - 1 } } },
          retrievedReferences: [{
            content: { text: "A fake passage." },
            location: { type: "S3", s3Location: { uri: "s3://fake-kb/doc1.txt" } },
          }],
        }],
      };
    }
  }
}

// ------------------------------------------------------------------ event stream

/** Encode the frames of a stream behaviour, applying exceptionAt / truncateAfter. */
function planFrames(b: Extract<Behavior, { kind: "stream" }>, events: Array<[string, object]>): Uint8Array[] {
  const padding = b.padding ?? true;
  const frames: Uint8Array[] = [];
  for (const [i, [eventType, payload]] of events.entries()) {
    if (b.exceptionAt && b.exceptionAt.index === i) break;
    const body = padding && !("p" in payload)
      ? { ...payload, p: PAD_ALPHABET.slice(0, ((i * 7 + 3) % 52) + 1) }
      : payload;
    frames.push(
      encodeFrame({ ":event-type": eventType, ":content-type": "application/json", ":message-type": "event" }, body),
    );
  }
  if (b.exceptionAt) {
    frames.push(encodeFrame({
      ":exception-type": b.exceptionAt.type,
      ":content-type": "application/json",
      ":message-type": "exception",
    }, { message: b.exceptionAt.message }));
  }
  return b.truncateAfter !== undefined ? frames.slice(0, b.truncateAfter) : frames;
}

function encodeFrame(headers: Record<string, string>, payload: object): Uint8Array {
  return codec.encode({
    headers: Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, { type: "string" as const, value: v }]),
    ),
    body: fromUtf8(JSON.stringify(payload)),
  });
}

/** Yields the writes of a stream response; pause/stall points await latches, never timers. */
async function* produceChunks(
  frames: Uint8Array[],
  b: Extract<Behavior, { kind: "stream" }>,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const barriers: Array<[at: number, wait: () => Promise<void>]> = [];
  if (b.pauseAfterFirst) {
    const latch = b.pauseAfterFirst;
    barriers.push([Math.min(1, frames.length), () => latch.wait()]);
  }
  if (b.pauseAfter) {
    const { frames: at, latch } = b.pauseAfter;
    barriers.push([Math.min(at, frames.length), () => latch.wait()]);
  }
  if (b.stallAfter !== undefined) {
    barriers.push([Math.min(b.stallAfter, frames.length), () => new Promise<void>(() => {})]);
  }
  barriers.sort((x, y) => x[0] - y[0]);
  let pos = 0;
  for (const [at, wait] of barriers) {
    yield* writesFor(frames.slice(pos, at), b);
    pos = at;
    await abortable(wait(), signal);
  }
  yield* writesFor(frames.slice(pos), b);
}

function* writesFor(frames: Uint8Array[], b: Extract<Behavior, { kind: "stream" }>): Generator<Uint8Array> {
  if (frames.length === 0) return;
  if (b.packAll) {
    yield concat(frames);
  } else if (b.chunkSize !== undefined && b.chunkSize > 0) {
    const all = concat(frames);
    for (let i = 0; i < all.length; i += b.chunkSize) yield all.slice(i, i + b.chunkSize);
  } else {
    yield* frames;
  }
}

// ------------------------------------------------------------------ small helpers

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(data)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function toBase64(data: Uint8Array): string {
  let s = "";
  for (const b of data) s += String.fromCharCode(b);
  return btoa(s);
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function formatAmzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}
