/**
 * @module
 * Reading a relayed event stream on the side: every chunk the client gets is also fed to the event-stream
 * decoder, and what the frames say lands in the call's `CallRecord`: usage (ConverseStream's `metadata` event, or
 * the `amazon-bedrock-invocationMetrics` that InvokeModelWithResponseStream puts in its last `chunk`), the service
 * tier the `metadata` event says served the call, the type and
 * message of an in-stream exception, and (only when prompts are stored) the response text.
 *
 * The tap never changes or holds the bytes it is shown. Its memory is the decoder's one frame in progress
 * (plus the response text when `keepText` is on); nothing is kept per frame.
 */
import { EventStreamDecoder, type EventStreamMessage } from "../../sdk/eventstream.ts";
import type { CallRecord } from "../spend/call_record.ts";
import { traceGuardrailUnits } from "./guardrail_usage.ts";
import { tierOfConverse } from "./service_tier.ts";
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

/**
 * Where a stream reports its usage: ConverseStream's `metadata` event, the invocation metrics in the last `chunk`
 * of InvokeModelWithResponseStream, or nowhere (InvokeAgent: nothing is billed, and no frame marks the end).
 */
export type StreamUsageSource = "metadata" | "invocationMetrics" | "none";

export interface StreamTapOptions {
  /** Assemble the streamed text into `record.responseBody` (only when prompts are stored in spend logs). */
  keepText: boolean;
  /** Default `metadata`. */
  usageFrom?: StreamUsageSource;
}

const INVOCATION_METRICS = "amazon-bedrock-invocationMetrics";
const ONE_HOUR_WRITES = "ephemeral_1h_input_tokens";

/** `message.usage.cache_creation.ephemeral_1h_input_tokens` of an Anthropic `message_start` event, else 0. */
function oneHourWrites(event: Record<string, unknown>): number {
  const message = event.message as { usage?: { cache_creation?: Record<string, unknown> } } | undefined;
  const n = message?.usage?.cache_creation?.[ONE_HOUR_WRITES];
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** A `chunk` payload's `bytes` (base64) as a binary string (one char per byte); undefined when absent. */
function chunkBytes(m: EventStreamMessage): string | undefined {
  const bytes = jsonPayload(m)?.bytes;
  if (typeof bytes !== "string") return undefined;
  try {
    return atob(bytes);
  } catch {
    return undefined;
  }
}

function utf8(binary: string): string {
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return textDecoder.decode(out);
}

/** The invocation metrics of a model-native chunk as a Bedrock usage object (undefined when it has none). */
export function invocationMetricsUsage(chunk: unknown): Record<string, number> | undefined {
  const metrics = (chunk as Record<string, unknown> | undefined)?.[INVOCATION_METRICS] as
    | Record<string, unknown>
    | undefined;
  if (!metrics || typeof metrics !== "object") return undefined;
  const n = (v: unknown) => typeof v === "number" ? v : 0;
  return {
    inputTokens: n(metrics.inputTokenCount),
    outputTokens: n(metrics.outputTokenCount),
    cacheReadInputTokens: n(metrics.cacheReadInputTokenCount),
    cacheWriteInputTokens: n(metrics.cacheWriteInputTokenCount),
  };
}

/** The text a model-native stream event adds (Anthropic, Titan, Llama, Cohere, Mistral shapes), else "". */
function nativeText(event: Record<string, unknown>): string {
  const delta = event.delta as { text?: unknown } | undefined;
  if (typeof delta?.text === "string") return delta.text;
  for (const key of ["outputText", "generation", "completion", "text"]) {
    if (typeof event[key] === "string") return event[key] as string;
  }
  return "";
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
  readonly #usageFrom: StreamUsageSource;
  #parsing = true;
  #sawMetadata = false;
  #sawException = false;
  #text = "";
  /** 1-hour cache writes an Anthropic `message_start` reported, for the invocation metrics that do not say. */
  #oneHourWrites = 0;

  constructor(record: CallRecord, opts: StreamTapOptions) {
    this.#record = record;
    this.#keepText = opts.keepText;
    this.#usageFrom = opts.usageFrom ?? "metadata";
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

  /**
   * The usage (`metadata` event, or a chunk's invocation metrics) has been seen: the answer is complete as far as
   * accounting goes. Always false for streams that report no usage.
   */
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
    if (!this.#sawMetadata && this.#usageFrom !== "none") record.incomplete = true;
    if (this.endedMidFrame) {
      record.errorMessage ??= `event stream ended mid-frame (${this.#decoder.pending} bytes of a frame pending)`;
    }
    if (this.#keepText) record.responseBody = this.#text;
  }

  /**
   * A `chunk` event: base64 bytes. InvokeModelWithResponseStream: model-native JSON whose last one carries the
   * invocation metrics; only chunks that mention them are parsed (unless the text is kept). InvokeAgent: answer text.
   */
  #inspectChunk(m: EventStreamMessage): void {
    if (this.#usageFrom === "metadata" || (this.#usageFrom === "none" && !this.#keepText)) return;
    const binary = chunkBytes(m);
    if (binary === undefined) return;
    if (this.#usageFrom === "none") {
      this.#text += utf8(binary);
      return;
    }
    const hasMetrics = binary.includes(INVOCATION_METRICS);
    // Anthropic's `message_start` splits cache writes by TTL; the invocation metrics do not.
    const hasOneHour = binary.includes(ONE_HOUR_WRITES);
    if (!hasMetrics && !hasOneHour && !this.#keepText) return;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(utf8(binary));
    } catch {
      return;
    }
    if (this.#keepText) this.#text += nativeText(event);
    if (hasOneHour) this.#oneHourWrites = oneHourWrites(event);
    const usage = hasMetrics ? readUsage(invocationMetricsUsage(event)) : undefined;
    if (usage && this.#oneHourWrites) {
      usage.cacheWrite1hInputTokens = Math.min(this.#oneHourWrites, usage.cacheWriteInputTokens);
    }
    if (usage) {
      this.#sawMetadata = true;
      this.#record.usage = usage;
    }
  }

  #inspect(m: EventStreamMessage): void {
    const record = this.#record;
    const type = header(m, ":message-type");
    if (type === "event") {
      const event = header(m, ":event-type");
      if (event === "metadata") {
        const payload = jsonPayload(m);
        const usage = readUsage(payload?.usage);
        if (usage) {
          this.#sawMetadata = true;
          record.usage = usage;
        }
        const units = traceGuardrailUnits((payload?.trace as { guardrail?: unknown } | undefined)?.guardrail);
        if (units) record.guardrailUnits = units;
        const served = tierOfConverse(payload);
        if (served.serviceTier !== undefined) record.serviceTier = served.serviceTier;
        if (served.latency !== undefined) record.performanceLatency = served.latency;
      } else if (event === "contentBlockDelta" && this.#keepText) {
        const delta = jsonPayload(m)?.delta as { text?: unknown } | undefined;
        if (typeof delta?.text === "string") this.#text += delta.text;
      } else if (event === "chunk") {
        this.#inspectChunk(m);
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
