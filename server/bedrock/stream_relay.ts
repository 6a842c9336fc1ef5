/**
 * @module
 * Relaying a Bedrock event stream (`/converse-stream`, `/invoke-with-response-stream`, InvokeAgent) to the client
 * chunk by chunk, exactly as it arrives, while a {@link StreamTap} reads its frames on the side for accounting.
 *
 * - Unbuffered: every upstream chunk is handed to the client as soon as it is read, unchanged. The relay pulls
 *   from upstream only when the client side asks for more (highWaterMark 0), so a slow client slows the upstream
 *   read instead of filling memory; memory stays at one chunk plus the tap's one frame in progress.
 * - Stalls: `stream_timeout` bounds the time to the first byte ({@link awaitFirstChunk}, a typed 504 before
 *   anything was sent) and every wait for the next chunk after that. A mid-stream stall aborts the upstream and
 *   ends the client's stream with an `internalServerException` frame, which the SDKs raise as
 *   `InternalServerException`.
 * - Client gone: the upstream request is aborted at once and the call is recorded as `client_disconnected` with
 *   whatever usage was seen.
 * - Gateway shutting down (`shutdown` aborts, at the end of the drain period): the upstream request is stopped and
 *   the client's stream ends with a `serviceUnavailableException` frame (its SDK raises the retryable
 *   `ServiceUnavailableException`), or is broken off when that would land mid-frame.
 * - `finish()` (accounting) runs exactly once, when the stream is over for whatever reason; the idle timer is
 *   cleared on every path.
 */
import { encodeException } from "../../sdk/eventstream.ts";
import { type ChunkReader, chunkReader } from "../http/chunk_reader.ts";
import type { CallRecord, CallStatus } from "../spend/call_record.ts";
import { IdleWatchdog, type WatchdogClock } from "./watchdog.ts";
import { exceptionName, StreamTap, type StreamUsageSource } from "./stream_tap.ts";

export { exceptionName } from "./stream_tap.ts";

export const EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream";

export interface StreamRelayOptions {
  record: CallRecord;
  clientSignal: AbortSignal;
  upstreamAbort: AbortController;
  /** The listener that aborts the upstream when the client leaves; removed when the stream is over. */
  onClientAbort: () => void;
  /** Hands the record to accounting; called exactly once. */
  finish: () => void;
  /** Keep the assembled text for spend logs (only when prompts are stored). */
  storeResponse: boolean;
  /** Where the stream reports usage (default ConverseStream's `metadata` event). */
  usageFrom?: StreamUsageSource;
  /** Longest wait for the next upstream chunk (`stream_timeout`), in ms; 0 for no limit (local mock streams). */
  idleTimeoutMs: number;
  /** Clock for the idle timeout; injected by tests to move time by hand and check that no timer is left. */
  clock?: WatchdogClock;
  /** Aborts when the gateway stops: the stream is ended with an error event. */
  shutdown?: AbortSignal;
}

/**
 * Waits for the first body byte of a successful streaming response, then hands back a new `Response` that
 * replays that chunk and continues with the rest.
 *
 * Run inside the upstream attempt, so a stall or failure before the first byte still throws like any other
 * upstream failure (typed 502/504, under the attempt's timer, retryable by the router) instead of surfacing as a
 * 200 that breaks at once. When `signal` aborts (timeout, client gone) the wait ends with its reason and the body
 * is cancelled, even if the fetch behind it does not watch the signal. Error responses and bodiless ones are
 * returned as they are.
 *
 * When the returned body goes to {@link relayStream} (the gateway's path), the relay does not read the wrapper: it
 * takes the first chunk and the upstream reader straight from {@link primedBodies}, so each chunk crosses one
 * JavaScript stream fewer. Anyone else reading the body gets the wrapper, which replays the same bytes.
 */
/** What {@link awaitFirstChunk} has read: its first chunk (none when the stream was empty) and the reader. */
interface PrimedBody {
  reader: ChunkReader;
  first: Uint8Array | undefined;
}

/** The wrapper bodies `awaitFirstChunk` returned, to what they replay (weak: an unread wrapper is just dropped). */
const primedBodies = new WeakMap<ReadableStream<Uint8Array>, PrimedBody>();

export async function awaitFirstChunk(response: Response, signal?: AbortSignal): Promise<Response> {
  if (!response.ok || !response.body) return response;
  // Not `getReader()`: on a fetch body that allocates a 64 KiB buffer per read, i.e. per event (chunk_reader.ts).
  const reader = chunkReader(response.body);
  let first: ReadableStreamReadResult<Uint8Array>;
  const onAbort = () => reader.cancel(signal?.reason).catch(() => {});
  if (signal?.aborted) {
    onAbort();
    throw signal.reason;
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    do first = await reader.read(); while (!first.done && first.value.byteLength === 0);
    // A cancel on abort ends the read as "done": that is the abort, not an empty stream.
    if (signal?.aborted) throw signal.reason;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  let pending: Uint8Array | undefined = first.done ? undefined : first.value;
  let ended = first.done;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      if (ended) return controller.close();
      const next = await reader.read(); // a rejection errors this stream, and so reaches the relay
      if (next.done) {
        ended = true;
        controller.close();
      } else controller.enqueue(next.value);
    },
    cancel(reason) {
      ended = true;
      pending = undefined;
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  primedBodies.set(body, { reader, first: pending });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * Relays `upstreamBody` to the client as a 200 event stream with `headers` (plus the event-stream
 * content-type), reading usage and exceptions into `opts.record` on the way.
 */
export function relayStream(
  upstreamBody: ReadableStream<Uint8Array>,
  headers: Record<string, string>,
  opts: StreamRelayOptions,
): Response {
  const { record, clientSignal, upstreamAbort, idleTimeoutMs } = opts;
  // The head said 200: success unless an exception frame, a broken upstream, a stall or the client says otherwise.
  record.status = "success";
  const tap = new StreamTap(record, { keepText: opts.storeResponse, usageFrom: opts.usageFrom });
  // A body from awaitFirstChunk: read its upstream reader directly, starting with the chunk it already has.
  const primed = upstreamBody.locked ? undefined : primedBodies.get(upstreamBody);
  if (primed) primedBodies.delete(upstreamBody);
  const reader = primed?.reader ?? chunkReader(upstreamBody);
  let firstChunk = primed?.first;
  let over = false;
  let stalled = false;
  let stopping = false;

  const stopUpstream = (reason: unknown) => {
    upstreamAbort.abort(reason);
    // Also cancel our reader: the pending read settles even if an injected fetch ignores the signal.
    reader.cancel(reason).catch(() => {});
  };

  // Idle time is measured only while waiting on upstream, never while the client is slow to read.
  const watchdog = new IdleWatchdog(idleTimeoutMs, () => {
    stalled = true;
    stopUpstream(new DOMException(`no upstream data for ${idleTimeoutMs} ms`, "TimeoutError"));
  }, opts.clock);

  const onShutdown = () => {
    stopping = true;
    stopUpstream(new DOMException("the gateway is shutting down", "AbortError"));
  };
  if (opts.shutdown?.aborted) onShutdown();
  else opts.shutdown?.addEventListener("abort", onShutdown, { once: true });

  /** The one exit: timer cleared, client listener removed, record completed and handed to accounting. */
  const end = (status: CallStatus) => {
    if (over) return;
    over = true;
    watchdog.stop();
    clientSignal.removeEventListener("abort", opts.onClientAbort);
    opts.shutdown?.removeEventListener("abort", onShutdown);
    if (status !== "success") record.status = status;
    tap.close();
    opts.finish();
  };

  /**
   * Ends the client's stream early because of the gateway or the upstream connection. On a frame boundary the
   * client gets a well-formed `internalServerException` frame (its SDK raises a typed error); mid-frame no
   * frame can be parsed any more, so the stream is broken off instead.
   */
  const failStream = (
    controller: ReadableStreamDefaultController<Uint8Array>,
    message: string,
    cause: unknown,
    exception = "internalServerException",
  ) => {
    record.errorType = exceptionName(exception);
    record.errorMessage = message;
    if (tap.atFrameBoundary) {
      controller.enqueue(encodeException(exception, { message }));
      controller.close();
    } else controller.error(cause);
    end("failure");
  };

  const onStalled = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (tap.sawMetadata || tap.sawException) {
      // The answer (or its error) is complete; the upstream just failed to close. End cleanly.
      controller.close();
      end("success");
    } else {
      failStream(
        controller,
        `Bedrock stream stalled: no data for ${idleTimeoutMs} ms (stream_timeout)`,
        new DOMException("stream stalled", "TimeoutError"),
      );
    }
  };

  const onStopping = (controller: ReadableStreamDefaultController<Uint8Array>) =>
    failStream(
      controller,
      "The gateway is shutting down; retry the call",
      new DOMException("the gateway is shutting down", "AbortError"),
      "serviceUnavailableException",
    );

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (over) return;
      if (stopping) return onStopping(controller);
      if (stalled) return onStalled(controller);
      if (firstChunk) {
        // Already read by awaitFirstChunk: no upstream wait.
        const chunk = firstChunk;
        firstChunk = undefined;
        tap.push(chunk);
        controller.enqueue(chunk);
        return;
      }
      watchdog.beginWait();
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (e) {
        watchdog.endWait();
        if (over) return; // the client left first (cancel has recorded it)
        if (stopping) return onStopping(controller);
        if (stalled) return onStalled(controller);
        if (clientSignal.aborted) {
          end("client_disconnected");
          controller.error(e);
          return;
        }
        return failStream(controller, `Bedrock stream broke off mid-way (${(e as Error).name})`, e);
      }
      watchdog.endWait();
      if (over) return;
      if (next.done) {
        if (stopping) return onStopping(controller);
        if (stalled) return onStalled(controller);
        controller.close();
        // Ended inside a frame: the client's SDK will fail on the truncated frame, so the call failed.
        end(tap.endedMidFrame ? "failure" : "success");
        return;
      }
      tap.push(next.value);
      controller.enqueue(next.value);
    },
    cancel(reason) {
      firstChunk = undefined;
      // The client went away: stop the upstream request at once so no connection or timer is left behind.
      stopUpstream(reason ?? new DOMException("client disconnected", "AbortError"));
      end("client_disconnected");
    },
  }, { highWaterMark: 0 });

  headers["content-type"] = EVENT_STREAM_CONTENT_TYPE;
  // Reverse proxies such as nginx buffer responses by default, which turns a stream into one burst at the end.
  headers["x-accel-buffering"] = "no";
  return new Response(body, { status: 200, headers });
}
