/**
 * @module
 * `createClient`: a typed client for one gateway — `converse`, `converseStream` (an async iterable of events)
 * and the generated admin methods. Plain `fetch`, no runtime-specific APIs: Deno, Node 20+, Bun and browsers.
 *
 * @example
 * ```ts
 * import { createClient } from "./mod.ts";
 *
 * const client = createClient({ baseUrl: "http://localhost:4000", apiKey: "sk-1234" });
 * const answer = await client.converse("claude", { messages: [{ role: "user", content: [{ text: "Hi" }] }] });
 * console.log(answer.output.message?.content[0].text);
 *
 * for await (const text of client.converseStream("claude", { messages: [] }).textStream()) console.log(text);
 * ```
 */
import { type AdminApi, adminApi } from "./admin.ts";
import { collect, textStream } from "./collect.ts";
import { requestIdOf } from "./errors.ts";
import { encodeModelId, type FetchLike, type RequestOptions, send, sendJson, type Transport } from "./request.ts";
import { streamEvents } from "./stream.ts";
import type { ConverseRequest, ConverseResponse, ConverseStreamRequest } from "./types.gen.ts";
import type { ConverseStream, ConverseStreamEvent } from "./types.ts";

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The gateway's root URL, e.g. `http://localhost:4000` (not `…/bedrock`). */
  baseUrl: string;
  /** A gateway key (virtual key or master key), sent as `Authorization: Bearer`. Leave out for an open gateway. */
  apiKey?: string;
  /** The `fetch` to call; defaults to the global one. */
  fetch?: FetchLike;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /**
   * Milliseconds before a call is aborted with a `TimeoutError`: for `converse` and admin calls the whole
   * exchange, for `converseStream` the wait for the response headers. Default: no timeout.
   */
  timeoutMs?: number;
}

/** A client for one gateway. */
export interface Client extends AdminApi {
  /**
   * Bedrock Converse through the gateway.
   * @param modelId a `model_name` from the gateway's config; encoded as one path segment
   * @throws {ConverseError} a typed subclass (`ValidationException`, `ThrottlingException`, …) for error answers
   */
  converse(modelId: string, request: ConverseRequest, options?: RequestOptions): Promise<ConverseResponse>;
  /**
   * Bedrock ConverseStream through the gateway: iterate the result with `for await`. The request is sent when
   * iteration starts; errors before the stream and exception frames inside it are thrown from the loop as the
   * same typed errors as `converse`'s. Breaking out of the loop or aborting `options.signal` cancels the request.
   */
  converseStream(modelId: string, request: ConverseStreamRequest, options?: RequestOptions): ConverseStream;
}

const EVENT_STREAM = "application/vnd.amazon.eventstream";

const modelPath = (modelId: string, operation: string) => `/bedrock/model/${encodeModelId(modelId)}/${operation}`;

/** Creates a client. Nothing is sent until a method is called. */
export function createClient(options: ClientOptions): Client {
  const transport: Transport = {
    baseUrl: options.baseUrl,
    apiKey: options.apiKey,
    // Called through a wrapper so the global fetch is looked up per call and never invoked with a wrong `this`.
    fetch: options.fetch ?? ((url, init) => fetch(url, init)),
    headers: options.headers,
    timeoutMs: options.timeoutMs,
  };

  const converse = (modelId: string, request: ConverseRequest, opts?: RequestOptions) =>
    sendJson(transport, "POST", modelPath(modelId, "converse"), JSON.stringify(request), opts) as Promise<
      ConverseResponse
    >;

  const converseStream = (modelId: string, request: ConverseStreamRequest, opts?: RequestOptions) => {
    let started = false;
    async function* events(): AsyncGenerator<ConverseStreamEvent, void, undefined> {
      if (started) throw new Error("a ConverseStream can be iterated only once");
      started = true;
      const path = modelPath(modelId, "converse-stream");
      const exchange = await send(transport, "POST", path, JSON.stringify(request), EVENT_STREAM, opts);
      exchange.headersArrived();
      try {
        const { response } = exchange;
        if (!response.body) return;
        yield* streamEvents(response.body, requestIdOf(response.headers));
      } catch (e) {
        throw exchange.signal.aborted ? exchange.signal.reason : e;
      } finally {
        exchange.end();
      }
    }
    const stream: ConverseStream = {
      [Symbol.asyncIterator]: events,
      textStream: () => textStream(stream),
      collect: () => collect(stream),
    };
    return stream;
  };

  return { ...adminApi(transport), converse, converseStream };
}
