/**
 * @module
 * Reading a relayed ConverseStream on the side: every chunk the client gets is also fed to the event-stream
 * decoder, and what the frames say lands in the call's `CallRecord`: usage from the `metadata` event, the type
 * and message of an in-stream exception, and (only when prompts are stored) the response text.
 *
 * The tap never changes or holds the bytes it is shown. Its memory is the decoder's one frame in progress
 * (plus the response text when `keepText` is on); nothing is kept per frame.
 */
import { EventStreamDecoder, type EventStreamMessage } from "../../sdk/eventstream.ts";
import type { CallRecord } from "../spend/call_record.ts";
import { readUsage } from "./usage.ts";

const textDecoder = new TextDecoder();

/** `throttlingException` → `ThrottlingException`: stream union member names are lowerCamel, records use classes. */
export function exceptionName(memberName: string): string {
  return memberName.charAt(0).toUpperCase() + memberName.slice(1);
}

function header(m: EventStreamMessage, name: string): string | undefined {
  const v = m.headers[name];
  return typeof v === "string" ? v : undefined;
}

/** The payload as a JSON object, or undefined when it is not one (a frame we can't read is still relayed). */
function jsonPayload(m: EventStreamMessage): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(textDecoder.decode(m.payload));
    return v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

export interface StreamTapOptions {
  /** Assemble the streamed text into `record.responseBody` (only when prompts are stored in spend logs). */
  keepText: boolean;
}

/**
 * Watches one event stream for accounting.
 *
 * @example
 * ```ts
 * const tap = new StreamTap(record, { keepText: false });
 * for await (const chunk of body) tap.push(chunk);
 * tap.close(); // marks the record incomplete if no `metadata` event came
 * ```
 */
export class StreamTap {
  readonly #record: CallRecord;
  readonly #decoder = new EventStreamDecoder();
  readonly #keepText: boolean;
  #parsing = true;
  #sawMetadata = false;
  #sawException = false;
  #text = "";

  constructor(record: CallRecord, opts: StreamTapOptions) {
    this.#record = record;
    this.#keepText = opts.keepText;
  }

  /** Reads the frames completed by `chunk`. Never throws: an unparseable stream only stops the reading. */
  push(chunk: Uint8Array): void {
    if (!this.#parsing) return;
    let messages: EventStreamMessage[];
    try {
      messages = this.#decoder.push(chunk);
    } catch (e) {
      // Framing is lost for good; the bytes are still relayed untouched (the client's SDK judges them).
      this.#parsing = false;
      this.#record.errorMessage ??= `event stream not parseable: ${(e as Error).message}`;
      return;
    }
    for (const m of messages) this.#inspect(m);
  }

  /** The `metadata` event (usage) has been seen: the answer is complete as far as accounting goes. */
  get sawMetadata(): boolean {
    return this.#sawMetadata;
  }

  /** An `exception` or `error` frame has been seen: the stream has already failed. */
  get sawException(): boolean {
    return this.#sawException;
  }

  /**
   * Every byte seen so far belongs to a complete frame, so one more frame appended now would be parsed by the
   * client. False mid-frame, and once the stream could not be parsed.
   */
  get atFrameBoundary(): boolean {
    return this.#parsing && this.#decoder.pending === 0;
  }

  /** The stream ended inside a frame: the client's SDK will report a truncated message. */
  get endedMidFrame(): boolean {
    return this.#parsing && this.#decoder.pending > 0;
  }

  /** Called once, when the stream is over for whatever reason: notes what was missing. */
  close(): void {
    const record = this.#record;
    if (!this.#sawMetadata) record.incomplete = true;
    if (this.endedMidFrame) {
      record.errorMessage ??= `event stream ended mid-frame (${this.#decoder.pending} bytes of a frame pending)`;
    }
    if (this.#keepText) record.responseBody = this.#text;
  }

  #inspect(m: EventStreamMessage): void {
    const record = this.#record;
    const type = header(m, ":message-type");
    if (type === "event") {
      const event = header(m, ":event-type");
      if (event === "metadata") {
        const usage = readUsage(jsonPayload(m)?.usage);
        if (usage) {
          this.#sawMetadata = true;
          record.usage = usage;
        }
      } else if (event === "contentBlockDelta" && this.#keepText) {
        const delta = jsonPayload(m)?.delta as { text?: unknown } | undefined;
        if (typeof delta?.text === "string") this.#text += delta.text;
      }
    } else if (type === "exception") {
      this.#sawException = true;
      record.status = "failure";
      record.errorType = exceptionName(header(m, ":exception-type") ?? "unknownException");
      const message = jsonPayload(m)?.message;
      record.errorMessage = typeof message === "string" ? message : undefined;
    } else if (type === "error") {
      this.#sawException = true;
      record.status = "failure";
      record.errorType = header(m, ":error-code") ?? "UnknownError";
      record.errorMessage = header(m, ":error-message");
    }
  }
}
