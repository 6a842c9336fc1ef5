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
 * - Client gone (its body cancelled, or its request signal aborted), recorded as `client_disconnected` and billed:
 *   - after generation ended (`messageStop`; Anthropic's `message_delta` stop reason or `message_stop`) but before
 *     the usage event: the upstream is read on, off the response path and relaying nothing, for at most
 *     `STREAM_USAGE_GRACE_MS` (5 s), and the call is billed Bedrock's exact usage;
 *   - mid-generation (or before the first chunk was relayed): the upstream is aborted at once, so Bedrock stops
 *     generating, and the call is billed an estimate (`usageEstimated`): input from the request (or Anthropic's
 *     `message_start`), output from what was relayed; when the usage event was already seen, that usage.
 * - Client not reading (`sendTimeoutMs`, `general_settings.stream_send_timeout_ms`): the relay waits that long at most
 *   for the client to ask for the next chunk; then the upstream is aborted and the client's stream errored (its
 *   connection goes), so a client that keeps its socket without reading cannot keep the call's hold, parallel slot
 *   and upstream connection. Recorded as `client_disconnected`.
 * - Upstream ending cleanly before its usage event: after generation ended the client's stream ends as Bedrock's did;
 *   mid-generation the client gets an `internalServerException` frame (its SDK would otherwise take the truncated
 *   answer for a whole one) and the call is a failure.
 * - Gateway shutting down (`shutdown` aborts, at the end of the drain period): the upstream request is stopped and
 *   the client's stream ends with a `serviceUnavailableException` frame (its SDK raises the retryable
 *   `ServiceUnavailableException`), or is broken off when that would land mid-frame — at once, whether or not the
 *   client is reading, so the call is settled before the gateway closes its ledger.
 * - Billing: a stream that ends without its usage event — whatever ended it: the client, the gateway, the upstream's
 *   end or an exception event from Bedrock — is billed the estimate (`usageEstimated`), in one place (`end`).
 * - `finish()` (accounting) runs exactly once, when the stream is over for whatever reason; the timers are cleared
 *   on every path.
 */
import { encodeException, EVENT_STREAM_CONTENT_TYPE } from "../../wire/eventstream.ts";
import { type ChunkReader, chunkReader } from "./chunk_reader.ts";
import type { CallRecord, CallStatus } from "../core/call_record.ts";
import { IdleWatchdog, systemClock, type WatchdogClock } from "./watchdog.ts";
import type { StreamUsageSource } from "../bedrock/operation.ts";
import { exceptionName, StreamTap } from "./stream_tap.ts";

export { exceptionName } from "./stream_tap.ts";

/**
 * How long the upstream is read on for its usage event after the client left a stream whose generation had ended.
 * Bedrock sends `metadata` (or the invocation metrics) right after `messageStop`; past this the call is billed an
 * estimate instead.
 */
export const STREAM_USAGE_GRACE_MS = 5_000;

export interface StreamRelayOptions {
  record: CallRecord;
  clientSignal: AbortSignal;
  upstreamAbort: AbortController;
  /**
   * The listener that aborts the upstream when the client leaves (linked while waiting for the first byte): the
   * relay removes it at once and handles the client's leaving itself.
   */
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
  /**
   * Input tokens estimated from the request: with it, a client leaving mid-generation is billed an estimate
   * (`record.usageEstimated`); without it (streams that bill nothing), it is not.
   */
  inputEstimate?: number;
  /** How long to read on for the usage after the client left once generation ended; default `STREAM_USAGE_GRACE_MS`. */
  usageGraceMs?: number;
  /** Hands over the read that goes on after the client left (bounded by the grace; it ends in `finish`). */
  background?: (task: Promise<void>) => void;
  /** Aborts when the gateway stops: the stream is ended with an error event. */
  shutdown?: AbortSignal;
  /**
   * Longest wait for the client to ask for the next chunk (`general_settings.stream_send_timeout_ms`), in ms, on
   * `clock`; 0 or absent for no limit.
   */
  sendTimeoutMs?: number;
}

/** An upstream event stream as the relay reads it: the chunk already read (if any), then the reader. */
export interface UpstreamBody {
  reader: ChunkReader;
  first: Uint8Array | undefined;
}

/** What {@link awaitFirstChunk} hands back. */
export interface PrimedStream {
  /**
   * The response, its body replaying the first chunk and continuing with the rest: for the router (which judges the
   * head) and anyone else who reads it. Error responses and bodiless ones are the upstream's, untouched.
   */
  response: Response;
  /**
   * The same stream for {@link relayStream}: its first chunk and the upstream reader, so each chunk crosses one
   * JavaScript stream fewer than through `response`'s body. Absent when there is no stream to relay.
   */
  upstream?: UpstreamBody;
}

/**
 * Waits for the first body byte of a successful streaming response.
 *
 * Run inside the upstream attempt, so a stall or failure before the first byte still throws like any other
 * upstream failure (typed 502/504, under the attempt's timer, retryable by the router) instead of surfacing as a
 * 200 that breaks at once. When `signal` aborts (timeout, client gone) the wait ends with its reason and the body
 * is cancelled, even if the fetch behind it does not watch the signal.
 */
export async function awaitFirstChunk(response: Response, signal?: AbortSignal): Promise<PrimedStream> {
  if (!response.ok || !response.body) return { response };
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
  const upstream: UpstreamBody = { reader, first: first.done ? undefined : first.value };
  let pending = upstream.first;
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
  return {
    response: new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    }),
    upstream,
  };
}

/**
 * Relays `upstream` (a body, or what {@link awaitFirstChunk} read of one) to the client as a 200 event stream with
 * `headers` (plus the event-stream content-type), reading usage and exceptions into `opts.record` on the way.
 */
export function relayStream(
  upstream: UpstreamBody | ReadableStream<Uint8Array>,
  headers: Record<string, string>,
  opts: StreamRelayOptions,
): Response {
  const { record, clientSignal, upstreamAbort, idleTimeoutMs } = opts;
  const clock = opts.clock ?? systemClock;
  const graceMs = opts.usageGraceMs ?? STREAM_USAGE_GRACE_MS;
  // The head said 200: success unless an exception frame, a broken upstream, a stall or the client says otherwise.
  record.status = "success";
  const tap = new StreamTap(record, { keepText: opts.storeResponse, usageFrom: opts.usageFrom });
  // What awaitFirstChunk read: its upstream reader, read directly, starting with the chunk it already has.
  const primed = upstream instanceof ReadableStream ? { reader: chunkReader(upstream), first: undefined } : upstream;
  const reader = primed.reader;
  let firstChunk = primed.first;
  let over = false;
  let stalled = false;
  let stopping = false;
  /** The client has left: nothing more is relayed (the upstream may still be read for its usage). */
  let clientGone = false;
  let client: ReadableStreamDefaultController<Uint8Array> | undefined;
  /** The relay's upstream read in progress: a read after the client left waits for it (one read at a time). */
  let reading: Promise<unknown> | undefined;

  // From here the relay decides what the client's leaving does to the upstream (read on, or stop it).
  clientSignal.removeEventListener("abort", opts.onClientAbort);
  const onClientSignal = () => clientLeft(clientSignal.reason, false);

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

  // The client's side: time spent waiting for the client to ask for the next chunk (never while reading upstream).
  const sendTimeoutMs = opts.sendTimeoutMs ?? 0;
  const sendWatchdog = new IdleWatchdog(sendTimeoutMs, () => clientNotReading(), opts.clock);

  const onShutdown = () => {
    stopping = true;
    stopUpstream(new DOMException("the gateway is shutting down", "AbortError"));
    // A read in progress ends the stream as soon as it settles (it was just cancelled). With none, the client is not
    // asking for more and nothing else would end the stream: end it now, so the call is settled (billed) before the
    // gateway closes its ledger.
    if (!reading && client && !over && !clientGone) onStopping(client);
  };

  /**
   * The one exit: timers cleared, listeners removed, record completed and handed to accounting. A stream that ends
   * without its usage event, whatever ended it, is billed the estimate: input from the request (or Anthropic's
   * `message_start`), output from what was relayed — unless Bedrock's first frame was an exception (throttled,
   * unavailable, invalid: nothing read or generated, billed nothing, as an error status is).
   */
  const end = (status: CallStatus) => {
    if (over) return;
    over = true;
    watchdog.stop();
    sendWatchdog.stop();
    clientSignal.removeEventListener("abort", onClientSignal);
    opts.shutdown?.removeEventListener("abort", onShutdown);
    if (status !== "success") record.status = status;
    if (!tap.sawMetadata && !tap.failedBeforeAnyEvent && opts.inputEstimate !== undefined) {
      record.usage = tap.estimatedUsage(opts.inputEstimate);
      record.usageEstimated = true;
    }
    tap.close();
    opts.finish();
  };

  /**
   * The client has not asked for the next chunk for `sendTimeoutMs`: it keeps its connection without reading. Stop
   * Bedrock, error the client's stream (so its connection goes: a frame it does not read would only wait in the
   * socket) and settle the call.
   */
  function clientNotReading() {
    if (over || clientGone || !client) return;
    const message = `the client did not read the stream for ${sendTimeoutMs} ms (stream_send_timeout_ms)`;
    const reason = new DOMException(message, "TimeoutError");
    clientGone = true;
    stopUpstream(reason);
    if (firstChunk) tap.push(firstChunk); // generated, even if never relayed
    firstChunk = undefined;
    record.errorMessage = message;
    try {
      client.error(reason);
    } catch { /* already closed */ }
    end("client_disconnected");
  }

  /**
   * The client went away (its body cancelled, or its request signal aborted). Once generation has ended the usage
   * event is moments away: read on for it. Mid-generation: stop Bedrock now and bill an estimate.
   */
  function clientLeft(reason: unknown, cancelled: boolean) {
    if (over || clientGone) return;
    clientGone = true;
    sendWatchdog.stop();
    // Generated, even if never relayed.
    if (firstChunk) tap.push(firstChunk);
    firstChunk = undefined;
    if (!cancelled) {
      // Its request was aborted: nobody reads this stream any more (closed, not errored: an error would be printed).
      try {
        client?.close();
      } catch { /* already closed */ }
    }
    if (opts.usageFrom !== "none" && tap.generationEnded && !tap.sawMetadata && !tap.sawException && !stalled) {
      readForUsage();
      return;
    }
    stopUpstream(reason ?? new DOMException("client disconnected", "AbortError"));
    end("client_disconnected");
  }

  /** Reads the upstream on after the client left, relaying nothing, until its usage event; bounded by the grace. */
  function readForUsage() {
    const grace = clock.setTimeout(() => {
      stopUpstream(new DOMException(`no usage event within ${graceMs} ms of the client leaving`, "TimeoutError"));
    }, graceMs);
    const task = (async () => {
      try {
        // A read the relay started is tapped by its pull; wait for it before reading on.
        if (reading) await reading.catch(() => {});
        while (!over && !tap.sawMetadata && !tap.sawException) {
          const next = await reader.read();
          if (next.done) break;
          tap.push(next.value);
        }
      } catch {
        // Stopped (grace over, stalled) or broken: billed as estimated below.
      }
      clock.clearTimeout(grace);
      if (tap.sawMetadata) reader.cancel().catch(() => {}); // nothing after the usage event is needed
      else stopUpstream(new DOMException("client disconnected", "AbortError"));
      end("client_disconnected"); // billed the estimate there when no usage came
    })();
    opts.background?.(task);
  }

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
    // The gateway cut the stream (shutdown, stall, upstream broken off): Bedrock generated up to here, so `end`
    // bills what it used so far, estimated, as for a client leaving mid-generation.
    if (tap.atFrameBoundary) {
      controller.enqueue(encodeException(exception, { message }));
      controller.close();
    } else controller.error(cause);
    end("failure");
  };

  /** The answer (or its error) is complete; the upstream just failed to close: end cleanly. */
  const endComplete = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    controller.close();
    end("success");
  };

  const onStalled = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (tap.sawMetadata || tap.sawException) endComplete(controller);
    else {
      failStream(
        controller,
        `Bedrock stream stalled: no data for ${idleTimeoutMs} ms (stream_timeout)`,
        new DOMException("stream stalled", "TimeoutError"),
      );
    }
  };

  const onStopping = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (firstChunk) {
      // Read but not relayed yet: relayed now, so the frame that follows lands where the tap says it does.
      tap.push(firstChunk);
      controller.enqueue(firstChunk);
      firstChunk = undefined;
    }
    if (tap.sawMetadata || tap.sawException) return endComplete(controller);
    failStream(
      controller,
      "The gateway is shutting down; retry the call",
      new DOMException("the gateway is shutting down", "AbortError"),
      "serviceUnavailableException",
    );
  };

  /**
   * The upstream ended without an error. Mid-generation on a frame boundary (no `messageStop` nor usage), the client
   * gets an exception frame: its SDK would otherwise take the truncated answer for a whole one. Otherwise the
   * client's stream ends as the upstream's did: a failure if inside a frame (the client's SDK fails on the truncated
   * frame).
   */
  const onUpstreamEnd = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    const cutShort = opts.usageFrom !== "none" && tap.atFrameBoundary && !tap.generationEnded &&
      !tap.sawMetadata && !tap.sawException;
    if (cutShort) {
      return failStream(
        controller,
        "Bedrock's stream ended before the answer was complete",
        new DOMException("upstream ended mid-generation", "AbortError"),
      );
    }
    controller.close();
    end(tap.endedMidFrame ? "failure" : "success");
  };

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      client = controller;
      if (clientSignal.aborted) queueMicrotask(onClientSignal);
      else clientSignal.addEventListener("abort", onClientSignal, { once: true });
      sendWatchdog.beginWait();
    },
    async pull(controller) {
      sendWatchdog.endWait();
      if (over || clientGone) return;
      if (stopping) return onStopping(controller);
      if (stalled) return onStalled(controller);
      if (firstChunk) {
        // Already read by awaitFirstChunk: no upstream wait.
        const chunk = firstChunk;
        firstChunk = undefined;
        tap.push(chunk);
        controller.enqueue(chunk);
        sendWatchdog.beginWait();
        return;
      }
      watchdog.beginWait();
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        const read = reader.read();
        reading = read;
        next = await read;
      } catch (e) {
        watchdog.endWait();
        if (over || clientGone) return; // the client left first (recorded there)
        if (stopping) return onStopping(controller);
        if (stalled) return onStalled(controller);
        return failStream(controller, `Bedrock stream broke off mid-way (${(e as Error).name})`, e);
      } finally {
        reading = undefined;
      }
      watchdog.endWait();
      if (over) return;
      if (clientGone) {
        // Read for the usage after the client left: accounting sees it, nobody is sent it.
        if (!next.done) tap.push(next.value);
        return;
      }
      if (next.done) {
        if (stopping) return onStopping(controller);
        if (stalled) return onStalled(controller);
        return onUpstreamEnd(controller);
      }
      tap.push(next.value);
      controller.enqueue(next.value);
      sendWatchdog.beginWait();
    },
    cancel(reason) {
      clientLeft(reason, true);
    },
  }, { highWaterMark: 0 });
  // Once the client's side exists: a shutdown that already happened ends the stream at once.
  if (opts.shutdown?.aborted) onShutdown();
  else opts.shutdown?.addEventListener("abort", onShutdown, { once: true });

  headers["content-type"] = EVENT_STREAM_CONTENT_TYPE;
  // Reverse proxies such as nginx buffer responses by default, which turns a stream into one burst at the end.
  headers["x-accel-buffering"] = "no";
  return new Response(body, { status: 200, headers });
}
