/**
 * @module
 * ConverseStream's response body → typed events: frames decoded by the shared event-stream codec (CRCs
 * verified), each event turned into the AWS SDK's `{ [eventType]: payload }` shape, exception frames thrown as
 * typed errors. Unknown event types are skipped, as the AWS SDKs do.
 */
import { errorFromException } from "./errors.ts";
import { decodeStream, type EventStreamMessage } from "./eventstream.ts";
import type { ConverseStreamEvent } from "./types.ts";

const EVENT_TYPES = new Set<string>([
  "messageStart",
  "contentBlockStart",
  "contentBlockDelta",
  "contentBlockStop",
  "messageStop",
  "metadata",
]);

const utf8 = new TextDecoder();

const header = (m: EventStreamMessage, name: string): string | undefined => {
  const v = m.headers[name];
  return typeof v === "string" ? v : undefined;
};

function payloadOf(m: EventStreamMessage): Record<string, unknown> {
  const value = m.payload.length === 0 ? {} : JSON.parse(utf8.decode(m.payload));
  // Bedrock pads payloads with an undocumented `p` string of random length; it carries nothing.
  if (typeof value === "object" && value !== null) delete value.p;
  return value;
}

/**
 * The events of a ConverseStream body. Stopping early (`break`, `return()`) cancels the body.
 * @param body the response body (`application/vnd.amazon.eventstream`)
 * @param requestId the response's request id, put on errors raised from exception frames
 */
export async function* streamEvents(
  body: ReadableStream<Uint8Array>,
  requestId?: string,
): AsyncGenerator<ConverseStreamEvent, void, undefined> {
  for await (const message of decodeStream(body)) {
    const kind = header(message, ":message-type");
    if (kind === "event") {
      const type = header(message, ":event-type");
      // The wire is trusted to match the schema (the gateway relays Bedrock); no runtime validation, by design.
      if (type && EVENT_TYPES.has(type)) yield { [type]: payloadOf(message) } as unknown as ConverseStreamEvent;
    } else if (kind === "exception") {
      throw errorFromException(header(message, ":exception-type") ?? "unknownException", payloadOf(message), requestId);
    } else if (kind === "error") {
      // An unmodeled error: code and message travel in headers, the payload is empty.
      throw errorFromException(header(message, ":error-code") ?? "unknownError", {
        message: header(message, ":error-message"),
      }, requestId);
    }
  }
}
