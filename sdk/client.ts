/**
 * @module
 * `createClient`: a typed client for one gateway — `converse`, `converseStream` (an async iterable of events),
 * `invoke`, `invokeStream` (model-native bodies), `countTokens` and the generated admin methods, each retried on
 * throttling, 5xx and connection failures. Plain `fetch`, no runtime-specific APIs: Deno, Node 20+, Bun and
 * browsers.
 *
 * @example
 * ```ts
 * import { createClient } from "./mod.ts";
 *
 * const client = createClient({ baseURL: "http://localhost:4000", apiKey: "sk-1234" });
 * const answer = await client.converse("claude", { messages: [{ role: "user", content: [{ text: "Hi" }] }] });
 * console.log(answer.output.message?.content[0].text);
 *
 * for await (const text of client.converseStream("claude", { messages: [] }).textStream()) console.log(text);
 * ```
 */
import { type AdminApi, adminApi } from "./admin.ts";
import { collect, textStream } from "./collect.ts";
import { requestIdOf } from "./errors.ts";
import {
  failure,
  type FetchLike,
  policyOf,
  type RequestOptions,
  send,
  sendJson,
  sendJsonWithHeaders,
  type Transport,
} from "./request.ts";
import { EVENT_STREAM_CONTENT_TYPE } from "../wire/eventstream.ts";
import { encodeModelId } from "../wire/model_id.ts";
import { DEFAULT_MAX_RETRIES, retryingStream, type Sleep, sleep } from "./retry.ts";
import { converseEvents, invokeChunks } from "./stream.ts";
import type {
  ConverseRequest,
  ConverseResponse,
  ConverseStreamRequest,
  CountTokensRequest,
  CountTokensResponse,
  InvokeModelBody,
} from "./types.gen.ts";
import type { ConverseStream, ConverseStreamEvent, InvokeModelResult, InvokeModelStream } from "./types.ts";

/** Options of {@link createClient} besides the gateway's URL. */
export interface ClientSettings {
  /** A gateway key (virtual key or master key), sent as `Authorization: Bearer`. Leave out for an open gateway. */
  apiKey?: string;
  /**
   * Retries after a throttled (429), transient (500, 502, 503, 504), unreachable or timed-out try, with
   * exponential backoff and jitter, never sooner than a `Retry-After`. Default 2; 0 turns retries off.
   */
  maxRetries?: number;
  /**
   * Milliseconds before a try is aborted with a `TimeoutError` (then retried): for `converse`, `invoke` and admin
   * calls the whole exchange, for streams the wait for the response headers. Default: no timeout.
   */
  timeoutMs?: number;
  /** The `fetch` to call; defaults to the global one. */
  fetch?: FetchLike;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The randomness of the backoff's jitter, in [0, 1); default `Math.random` (tests pass their own). */
  random?: () => number;
  /** How the client waits between tries; default `setTimeout`, cut short by the call's signal. */
  sleep?: Sleep;
}

/**
 * Options of {@link createClient}: the gateway's root URL, e.g. `http://localhost:4000` (not `…/bedrock`), as
 * `baseURL` (the OpenAI, Anthropic and Vercel SDKs' spelling) or `baseUrl`; when both are given, `baseURL` wins.
 */
export type ClientOptions =
  & ClientSettings
  & ({ baseURL: string; baseUrl?: string } | { baseUrl: string; baseURL?: string });

/** A client for one gateway. */
export interface Client extends AdminApi {
  /**
   * Bedrock Converse through the gateway.
   * @param modelId a `model_name` from the gateway's config; encoded as one path segment
   * @throws {ConverseError} a typed subclass (`ValidationException`, `ThrottlingException`, …) for error answers,
   *   `ConnectionError` when the gateway cannot be reached
   */
  converse(modelId: string, request: ConverseRequest, options?: RequestOptions): Promise<ConverseResponse>;
  /**
   * Bedrock ConverseStream through the gateway: iterate the result with `for await`. The request is sent when
   * iteration starts; errors before the stream and exception frames inside it are thrown from the loop as the
   * same typed errors as `converse`'s. Retried only until the first event has arrived. Breaking out of the loop
   * or aborting `options.signal` cancels the request.
   */
  converseStream(modelId: string, request: ConverseStreamRequest, options?: RequestOptions): ConverseStream;
  /**
   * Bedrock InvokeModel: a model-native JSON request (for Claude, the Anthropic Messages API with
   * `anthropic_version`), the parsed answer plus Bedrock's token counts. Bedrock's InvokeModel headers (guardrail,
   * trace, service tier, …) go in `options.headers`.
   * @typeParam T the answer's type; unchecked at run time
   */
  invoke<T = InvokeModelBody>(
    modelId: string,
    body: InvokeModelBody | object,
    options?: RequestOptions,
  ): Promise<InvokeModelResult<T>>;
  /**
   * Bedrock InvokeModelWithResponseStream: iterate the result with `for await` to get each chunk's model-native
   * JSON, decoded from the `chunk` events' base64 `bytes`. Errors as in `converseStream`.
   * @typeParam T one chunk's type; unchecked at run time
   */
  invokeStream<T = InvokeModelBody>(
    modelId: string,
    body: InvokeModelBody | object,
    options?: RequestOptions,
  ): InvokeModelStream<T>;
  /** Bedrock CountTokens: how many input tokens a Converse or InvokeModel request would use. Free. */
  countTokens(modelId: string, request: CountTokensRequest, options?: RequestOptions): Promise<CountTokensResponse>;
}

const modelPath = (modelId: string, operation: string) => `/bedrock/model/${encodeModelId(modelId)}/${operation}`;

/** A header as a number, or undefined when absent or not a number. */
function numberHeader(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  const n = value === null || value.trim() === "" ? NaN : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** The transport for `options`, checked once here so calls only do per-request work. */
function transportOf(options: ClientOptions): Transport {
  const baseUrl = options.baseURL ?? options.baseUrl;
  if (typeof baseUrl !== "string" || baseUrl === "") throw new TypeError("createClient: baseURL is required");
  const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new RangeError(`createClient: maxRetries must be a whole number ≥ 0, not ${maxRetries}`);
  }
  return {
    baseUrl: baseUrl.replace(/\/+$/, ""),
    apiKey: options.apiKey,
    // Called through a wrapper so the global fetch is looked up per call and never invoked with a wrong `this`.
    fetch: options.fetch ?? ((url, init) => fetch(url, init)),
    headers: options.headers,
    timeoutMs: options.timeoutMs,
    maxRetries,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? sleep,
  };
}

/** Creates a client. Nothing is sent until a method is called. */
export function createClient(options: ClientOptions): Client {
  const t = transportOf(options);

  /**
   * A single-use iterable over a streaming call: each try sends the request and decodes the answer; tries after
   * the first happen only while no item has been delivered.
   */
  function streaming<T>(
    path: string,
    body: string,
    opts: RequestOptions = {},
    decode: (body: ReadableStream<Uint8Array>, requestId?: string) => AsyncIterable<T>,
  ): AsyncIterable<T> {
    async function* once(): AsyncGenerator<T, void, undefined> {
      const exchange = await send(t, "POST", path, body, EVENT_STREAM_CONTENT_TYPE, opts);
      exchange.headersArrived();
      try {
        const { response } = exchange;
        if (response.body) yield* decode(response.body, requestIdOf(response.headers));
      } catch (e) {
        throw failure(e, exchange.signal, false);
      } finally {
        exchange.end();
      }
    }
    let started = false;
    return {
      async *[Symbol.asyncIterator]() {
        if (started) throw new Error("a stream can be iterated only once");
        started = true;
        yield* retryingStream(policyOf(t, opts), opts.signal, once);
      },
    };
  }

  const converse = (modelId: string, request: ConverseRequest, opts?: RequestOptions) =>
    sendJson(t, "POST", modelPath(modelId, "converse"), JSON.stringify(request), opts) as Promise<ConverseResponse>;

  const converseStream = (modelId: string, request: ConverseStreamRequest, opts?: RequestOptions) => {
    const events: AsyncIterable<ConverseStreamEvent> = streaming(
      modelPath(modelId, "converse-stream"),
      JSON.stringify(request),
      opts,
      converseEvents,
    );
    const stream: ConverseStream = {
      [Symbol.asyncIterator]: () => events[Symbol.asyncIterator](),
      textStream: () => textStream(stream),
      collect: () => collect(stream),
    };
    return stream;
  };

  async function invoke<T>(modelId: string, body: object, opts?: RequestOptions): Promise<InvokeModelResult<T>> {
    const answer = await sendJsonWithHeaders(t, "POST", modelPath(modelId, "invoke"), JSON.stringify(body), opts);
    const { headers } = answer;
    return {
      body: answer.body as T,
      inputTokens: numberHeader(headers, "x-amzn-bedrock-input-token-count"),
      outputTokens: numberHeader(headers, "x-amzn-bedrock-output-token-count"),
      cost: numberHeader(headers, "x-litellm-response-cost"),
      requestId: requestIdOf(headers),
      headers,
    };
  }

  const invokeStream = <T>(modelId: string, body: object, opts?: RequestOptions): InvokeModelStream<T> =>
    streaming(modelPath(modelId, "invoke-with-response-stream"), JSON.stringify(body), opts, invokeChunks<T>);

  const countTokens = (modelId: string, request: CountTokensRequest, opts?: RequestOptions) =>
    sendJson(t, "POST", modelPath(modelId, "count-tokens"), JSON.stringify(request), opts) as Promise<
      CountTokensResponse
    >;

  return { ...adminApi(t), converse, converseStream, invoke, invokeStream, countTokens };
}
