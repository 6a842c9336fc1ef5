/**
 * @module
 * One HTTP exchange with the gateway: URL, headers, the caller's signal and the client's timeout combined into
 * one AbortController, non-2xx answers turned into typed errors, network failures into `ConnectionError` and the
 * timeout into `TimeoutError`. Shared by every client method; retries wrap it (`retry.ts`).
 */
import { ConnectionError, errorFromResponse, TimeoutError } from "./errors.ts";
import { retrying, type RetryPolicy } from "./retry.ts";

/** The `fetch` the client calls; the global one unless given (tests, proxies, instrumentation). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Options of one call. */
export interface RequestOptions {
  /** Aborting it cancels the HTTP request (and a stream in progress). */
  signal?: AbortSignal;
  /** Extra request headers for this call, e.g. `{ "x-litellm-tags": "team-a" }`. */
  headers?: Record<string, string>;
  /**
   * Overrides the client's `timeoutMs` for this call: for `converse` and admin calls the whole exchange, for
   * `converseStream` the wait for the response headers (a stream may then run as long as the model writes).
   * Each try has its own.
   */
  timeoutMs?: number;
  /** Overrides the client's `maxRetries` for this call (0: one try only). */
  maxRetries?: number;
}

/** What every call needs from the client's options. */
export interface Transport extends RetryPolicy {
  /** The gateway's root URL, without trailing slashes. */
  baseUrl: string;
  apiKey?: string;
  fetch: FetchLike;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** A response in flight; `end()` releases the abort wiring and cancels the request if it still runs. */
export interface Exchange {
  response: Response;
  /** Aborted when the caller's signal or the timeout fired (or after `end()`); `reason` says which. */
  signal: AbortSignal;
  /** Stops the timeout (the rest of a stream is not bound by it). */
  headersArrived(): void;
  /** Cancels whatever is still running and detaches from the caller's signal. Idempotent. */
  end(): void;
}

/**
 * What to throw for `e`, caught while talking to the gateway: the caller's abort reason as it is (never wrapped),
 * the client's timeout, typed errors unchanged, and a network failure as a {@link ConnectionError}.
 * @param network whether `e` can only be a network failure (`fetch` rejected), or may be anything (a body read)
 */
export function failure(e: unknown, signal: AbortSignal, network: boolean): unknown {
  if (signal.aborted) return signal.reason;
  // The Fetch standard fails a request, or a body read, with a TypeError; a fetch of one's own may throw anything.
  if (!network && !(e instanceof TypeError)) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new ConnectionError(`connection to the gateway failed: ${detail}`, {
    status: 0,
    type: "ConnectionError",
    cause: e,
  });
}

/**
 * Sends one request and resolves once the response headers are in; a non-2xx answer is read and thrown as its
 * typed error. The caller must `end()` the exchange when done with the body.
 */
export async function send(
  t: Transport,
  method: string,
  path: string,
  body: string | undefined,
  accept: string,
  opts: RequestOptions = {},
): Promise<Exchange> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const timeoutMs = opts.timeoutMs ?? t.timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (timeoutMs !== undefined) {
    timer = setTimeout(() => {
      const message = `no answer from the gateway within ${timeoutMs} ms`;
      controller.abort(new TimeoutError(message, { status: 0, type: "TimeoutError" }));
    }, timeoutMs);
  }
  const end = () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    controller.abort();
  };
  const headers: Record<string, string> = { accept, ...t.headers, ...opts.headers };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (t.apiKey) headers.authorization = `Bearer ${t.apiKey}`;
  let response: Response;
  try {
    response = await t.fetch(t.baseUrl + path, { method, headers, body, signal: controller.signal });
  } catch (e) {
    // Read before end(), which aborts the controller itself.
    const thrown = failure(e, controller.signal, true);
    end();
    throw thrown;
  }
  if (!response.ok) {
    // The error body is read under the same timeout and signal; an abort meanwhile wins over the HTTP error.
    const error = await errorFromResponse(response);
    const thrown = controller.signal.aborted ? controller.signal.reason : error;
    end();
    throw thrown;
  }
  return { response, signal: controller.signal, headersArrived: () => clearTimeout(timer), end };
}

/** The client's retry policy with the call's `maxRetries`, if it set one. */
export function policyOf(t: Transport, opts: RequestOptions): RetryPolicy {
  return opts.maxRetries === undefined ? t : { ...t, maxRetries: opts.maxRetries };
}

/** A JSON answer: the parsed body (undefined when empty) and the response headers. */
export interface JsonAnswer {
  body: unknown;
  headers: Headers;
}

/** One try of a JSON call: the answer parsed, or the typed failure. */
async function jsonOnce(
  t: Transport,
  method: string,
  path: string,
  body: string | undefined,
  opts: RequestOptions,
): Promise<JsonAnswer> {
  const exchange = await send(t, method, path, body, "application/json", opts);
  let text: string;
  try {
    text = await exchange.response.text();
  } catch (e) {
    throw failure(e, exchange.signal, false);
  } finally {
    exchange.end();
  }
  return { body: text === "" ? undefined : JSON.parse(text), headers: exchange.response.headers };
}

/** Sends a JSON request, with retries, and resolves with the parsed JSON answer and its headers. */
export function sendJsonWithHeaders(
  t: Transport,
  method: string,
  path: string,
  body: string | undefined,
  opts: RequestOptions = {},
): Promise<JsonAnswer> {
  return retrying(policyOf(t, opts), opts.signal, () => jsonOnce(t, method, path, body, opts));
}

/** Sends a JSON request, with retries, and resolves with the parsed JSON answer (undefined for an empty body). */
export async function sendJson(
  t: Transport,
  method: string,
  path: string,
  body: string | undefined,
  opts?: RequestOptions,
): Promise<unknown> {
  return (await sendJsonWithHeaders(t, method, path, body, opts)).body;
}
