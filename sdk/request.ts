/**
 * @module
 * One HTTP exchange with the gateway: URL, headers, the caller's signal and the client's timeout combined into
 * one AbortController, and non-2xx answers turned into typed errors. Shared by every client method.
 */
import { ConverseError, errorFromResponse } from "./errors.ts";

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
   */
  timeoutMs?: number;
}

/** What every call needs from the client's options. */
export interface Transport {
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

/** Encodes a model id as one path segment, as the AWS SDKs do: `:` → `%3A`, `/` → `%2F`, plus `!'()*`. */
export function encodeModelId(modelId: string): string {
  return encodeURIComponent(modelId).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
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
    timer = setTimeout(
      () => controller.abort(new DOMException(`request timed out after ${timeoutMs} ms`, "TimeoutError")),
      timeoutMs,
    );
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
    response = await t.fetch(t.baseUrl.replace(/\/+$/, "") + path, {
      method,
      headers,
      body,
      signal: controller.signal,
    });
    if (!response.ok) throw await errorFromResponse(response);
  } catch (e) {
    // Report our own timeout (or the caller's abort reason) rather than the fetch implementation's wrapper;
    // read before end(), which aborts the controller itself.
    const aborted = controller.signal.aborted;
    end();
    throw aborted && !(e instanceof ConverseError) ? controller.signal.reason : e;
  }
  return { response, signal: controller.signal, headersArrived: () => clearTimeout(timer), end };
}

/** Sends a JSON request and resolves with the parsed JSON answer (undefined for an empty body). */
export async function sendJson(
  t: Transport,
  method: string,
  path: string,
  body: string | undefined,
  opts?: RequestOptions,
): Promise<unknown> {
  const exchange = await send(t, method, path, body, "application/json", opts);
  try {
    const text = await exchange.response.text();
    return text === "" ? undefined : JSON.parse(text);
  } catch (e) {
    throw exchange.signal.aborted ? exchange.signal.reason : e;
  } finally {
    exchange.end();
  }
}
