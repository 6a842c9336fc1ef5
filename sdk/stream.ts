/**
 * @module
 * Event-stream response bodies → typed items: frames decoded by the shared event-stream codec (CRCs verified),
 * exception frames thrown as typed errors, unknown event types skipped (as the AWS SDKs do). ConverseStream's
 * events become the AWS SDK's `{ [eventType]: payload }` shape; InvokeModelWithResponseStream's `chunk` events
 * become the model-native JSON their base64 `bytes` carry.
 */
import { errorFromException } from "./errors.ts";
import { decodeStream, type EventStreamMessage } from "../wire/eventstream.ts";
import type { ConverseStreamEvent } from "./types.ts";

const CONVERSE_EVENT_TYPES = new Set<string>([
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
 * The event frames of a body as `[eventType, payload]`; exception and error frames are thrown as typed errors.
 * Stopping early (`break`, `return()`) cancels the body.
 * @param requestId the response's request id, put on errors raised from exception frames
 */
async function* eventFrames(
  body: ReadableStream<Uint8Array>,
  requestId?: string,
): AsyncGenerator<[string, Record<string, unknown>], void, undefined> {
  for await (const message of decodeStream(body)) {
    const kind = header(message, ":message-type");
    if (kind === "event") {
      const type = header(message, ":event-type");
      if (type) yield [type, payloadOf(message)];
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

/**
 * The events of a ConverseStream body.
 * @param body the response body (`application/vnd.amazon.eventstream`)
 * @param requestId the response's request id, put on errors raised from exception frames
 */
export async function* converseEvents(
  body: ReadableStream<Uint8Array>,
  requestId?: string,
): AsyncGenerator<ConverseStreamEvent, void, undefined> {
  for await (const [type, payload] of eventFrames(body, requestId)) {
    // The wire is trusted to match the schema (the gateway relays Bedrock); no runtime validation, by design.
    if (CONVERSE_EVENT_TYPES.has(type)) yield { [type]: payload } as unknown as ConverseStreamEvent;
  }
}

/** Base64 → bytes, with the `atob` every target runtime has. */
function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/**
 * The model-native stream events of an InvokeModelWithResponseStream body: each `chunk` event's `bytes`, decoded
 * from base64 and parsed as JSON (the last one carries Bedrock's `amazon-bedrock-invocationMetrics`).
 * @param body the response body (`application/vnd.amazon.eventstream`)
 * @param requestId the response's request id, put on errors raised from exception frames
 */
export async function* invokeChunks<T>(
  body: ReadableStream<Uint8Array>,
  requestId?: string,
): AsyncGenerator<T, void, undefined> {
  for await (const [type, payload] of eventFrames(body, requestId)) {
    if (type === "chunk" && typeof payload.bytes === "string") yield JSON.parse(utf8.decode(fromBase64(payload.bytes)));
  }
}
