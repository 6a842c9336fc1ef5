/**
 * @module
 * Relaying a Bedrock event stream to the client chunk by chunk, exactly as it arrives, while parsing its frames
 * on the side to learn the call's usage (`metadata` event) and any in-stream exception.
 *
 * Nothing accumulates per frame: the decoder holds at most the one frame in progress. The relay pulls from
 * upstream only when the client asks for more (highWaterMark 0), so a slow client slows the upstream read instead
 * of filling memory.
 */
import { EventStreamDecoder, type EventStreamMessage } from "../../sdk/eventstream.ts";
import { chunkReader } from "../http/chunk_reader.ts";
import type { CallRecord } from "../spend/call_record.ts";
import { readUsage } from "./usage.ts";

export interface StreamRelayOptions {
  record: CallRecord;
  clientSignal: AbortSignal;
  upstreamAbort: AbortController;
  onClientAbort: () => void;
  /** Hands the record to accounting; called exactly once. */
  finish: () => void;
  /** Keep the assembled text for spend logs (only when prompts are stored). */
  storeResponse: boolean;
}

const textDecoder = new TextDecoder();

/** `throttlingException` → `ThrottlingException`: stream union member names are lowerCamel. */
export function exceptionName(memberName: string): string {
  return memberName.charAt(0).toUpperCase() + memberName.slice(1);
}

function header(m: EventStreamMessage, name: string): string | undefined {
  const v = m.headers[name];
  return typeof v === "string" ? v : undefined;
}

export function relayStream(
  upstreamBody: ReadableStream<Uint8Array>,
  headers: Headers,
  opts: StreamRelayOptions,
): Response {
  const { record } = opts;
  // Headers are 200: success unless an exception frame, a broken upstream or the client says otherwise.
  record.status = "success";
  const decoder = new EventStreamDecoder();
  let parsing = true;
  let sawMetadata = false;
  let text = "";
  let finished = false;

  const complete = (status: CallRecord["status"]) => {
    if (finished) return;
    finished = true;
    opts.clientSignal.removeEventListener("abort", opts.onClientAbort);
    if (status !== "success") record.status = status;
    if (!sawMetadata) record.incomplete = true;
    if (opts.storeResponse) record.responseBody = text;
    opts.finish();
  };

  const inspect = (m: EventStreamMessage) => {
    const type = header(m, ":message-type");
    if (type === "event") {
      const event = header(m, ":event-type");
      if (event === "metadata") {
        sawMetadata = true;
        record.usage = readUsage((JSON.parse(textDecoder.decode(m.payload)) as { usage?: unknown }).usage);
      } else if (event === "contentBlockDelta" && opts.storeResponse) {
        const delta = (JSON.parse(textDecoder.decode(m.payload)) as { delta?: { text?: unknown } }).delta;
        if (typeof delta?.text === "string") text += delta.text;
      }
    } else if (type === "exception") {
      record.status = "failure";
      record.errorType = exceptionName(header(m, ":exception-type") ?? "unknownException");
      try {
        record.errorMessage = String((JSON.parse(textDecoder.decode(m.payload)) as { message?: unknown }).message);
      } catch {
        record.errorMessage = undefined;
      }
    } else if (type === "error") {
      record.status = "failure";
      record.errorType = header(m, ":error-code") ?? "UnknownError";
      record.errorMessage = header(m, ":error-message");
    }
  };

  const reader = chunkReader(upstreamBody);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        // The upstream connection broke mid-stream (or we aborted it because the client left).
        if (opts.clientSignal.aborted) complete("client_disconnected");
        else {
          record.errorType = record.errorType ?? "ServiceUnavailableException";
          record.errorMessage = record.errorMessage ?? `upstream stream broke (${(e as Error).name})`;
          complete("failure");
        }
        controller.error(e);
        return;
      }
      if (chunk.done) {
        complete("success");
        controller.close();
        return;
      }
      if (parsing) {
        try {
          for (const m of decoder.push(chunk.value)) inspect(m);
        } catch (e) {
          // A frame we cannot parse is still relayed untouched: the client's SDK is the judge of the bytes.
          parsing = false;
          record.errorMessage = `event stream not parseable: ${(e as Error).message}`;
        }
      }
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      // The client went away: stop the upstream request at once so no connection or timer leaks.
      opts.upstreamAbort.abort(reason ?? new DOMException("client disconnected", "AbortError"));
      reader.cancel(reason).catch(() => {});
      complete("client_disconnected");
    },
  }, { highWaterMark: 0 });

  return new Response(body, { status: 200, headers });
}
