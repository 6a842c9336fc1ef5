/**
 * @module
 * Reading a relayed event stream on the side: every chunk the client gets is also fed to the event-stream
 * decoder, and what the frames say lands in the call's `CallRecord`: usage (ConverseStream's `metadata` event, or
 * the `amazon-bedrock-invocationMetrics` that InvokeModelWithResponseStream puts in its last `chunk`), the service
 * tier the `metadata` event says served the call, the type and
 * message of an in-stream exception, and (only when prompts are stored) the response text.
 *
 * It also notes what a client that hangs up is billed for: whether generation has ended (`messageStop`; Anthropic's
 * `message_delta` with a `stop_reason`, or `message_stop`), so the relay knows the usage event is moments away; and,
 * for an estimate when it never comes, how much output text was relayed and the input usage Anthropic's
 * `message_start` reports.
 *
 * The tap never changes or holds the bytes it is shown. Its memory is the decoder's one frame in progress
 * (plus the response text when `keepText` is on); nothing is kept per frame.
 */
import { EventStreamDecoder, type EventStreamMessage } from "../../wire/eventstream.ts";
import type { CallRecord } from "../core/call_record.ts";
import { jsonObject } from "../core/json.ts";
import { TextTally } from "../bedrock/expected_usage.ts";
import { type CharCounts, indexOfAscii, stringValueChars } from "../bedrock/json_scan.ts";
import type { StreamUsageSource } from "../bedrock/operation.ts";
import { traceGuardrailUnits } from "../core/guardrail_usage.ts";
import { tierOfConverse } from "../bedrock/service_tier.ts";
import { readUsage, type Usage } from "../core/usage.ts";

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
const jsonPayload = (m: EventStreamMessage) => jsonObject(m.payload);

/** A ConverseStream `contentBlockDelta`'s delta: text, a tool's input JSON, or reasoning. */
interface ConverseDelta {
  text?: unknown;
  toolUse?: { input?: unknown };
  reasoningContent?: { text?: unknown };
}

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

const BYTES_FIELD = '"bytes":"';

/**
 * A `chunk` payload's `bytes` (base64) decoded; undefined when absent or not base64. Found without parsing the
 * payload (`{"bytes":"…","p":"…"}`: base64 holds no quote), as the tap reads every chunk of a stream.
 */
function chunkBytes(m: EventStreamMessage): Uint8Array | undefined {
  const p = m.payload;
  const start = indexOfAscii(p, BYTES_FIELD);
  const end = start < 0 ? -1 : p.indexOf(0x22, start + BYTES_FIELD.length);
  if (end < 0) return undefined;
  try {
    return Uint8Array.fromBase64(textDecoder.decode(p.subarray(start + BYTES_FIELD.length, end)));
  } catch {
    return undefined;
  }
}

/** The first of `names` found as a string inside a payload's `delta` object, counted without parsing. */
function deltaChars(bytes: Uint8Array, names: readonly string[]): CharCounts | undefined {
  const at = indexOfAscii(bytes, '"delta":');
  if (at < 0) return undefined;
  for (const name of names) {
    const c = stringValueChars(bytes, name, at);
    if (c) return c;
  }
  return undefined;
}

/** Where a ConverseStream delta carries output: answer or reasoning `text`, a tool's `input`. */
const CONVERSE_DELTA_TEXT = ["text", "input"] as const;
/** Where an Anthropic `content_block_delta` carries output: `text`, a tool's `partial_json`, `thinking`. */
const ANTHROPIC_DELTA_TEXT = ["text", "partial_json", "thinking"] as const;
const ANTHROPIC_TEXT_DELTA = '"type":"content_block_delta"';

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
  const outputs = event.outputs as Array<{ text?: unknown }> | undefined; // Mistral
  return Array.isArray(outputs) && typeof outputs[0]?.text === "string" ? outputs[0].text : "";
}

/** Output a model-native event generates besides answer text: tool input JSON and thinking (Anthropic). */
function nativeOtherOutput(event: Record<string, unknown>): string {
  const delta = event.delta as { partial_json?: unknown; thinking?: unknown } | undefined;
  if (typeof delta?.partial_json === "string") return delta.partial_json;
  return typeof delta?.thinking === "string" ? delta.thinking : "";
}

/**
 * The stop reason a model-native event gives (Anthropic's `message_delta`, Llama's `stop_reason`, Titan's
 * `completionReason`, Mistral's `outputs[0].stop_reason`, Cohere's `finish_reason`), else undefined.
 */
function nativeStopReason(event: Record<string, unknown>): string | undefined {
  const delta = event.delta as { stop_reason?: unknown } | undefined;
  if (event.type === "message_delta") return typeof delta?.stop_reason === "string" ? delta.stop_reason : undefined;
  const outputs = event.outputs as Array<{ stop_reason?: unknown }> | undefined;
  const reason = event.stop_reason ?? event.completionReason ?? event.finish_reason ??
    (Array.isArray(outputs) ? outputs[0]?.stop_reason : undefined);
  return typeof reason === "string" ? reason : undefined;
}

/** A model-native event that ends generation: Anthropic's `message_stop` or a stop reason (Anthropic, Llama, …). */
function endsGeneration(event: Record<string, unknown>, stopReason: string | undefined): boolean {
  return event.type === "message_stop" || stopReason !== undefined || event.is_finished === true;
}

const count = (v: unknown): number => typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;

/**
 * Watches one event stream for accounting.
 *
 * @example
 * ```ts
 * import type { CallRecord } from "../core/call_record.ts";
 * import { StreamTap } from "./stream_tap.ts";
 *
 * declare const record: CallRecord;
 * declare const body: ReadableStream<Uint8Array>;
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
  #sawEvent = false;
  #generationEnded = false;
  #text = "";
  /** Output relayed so far (answer text, tool input, reasoning), for an estimate. */
  readonly #output = new TextTally();
  /** Anthropic's `message_start` usage (exact input), and the latest `message_delta` output count. */
  #nativeInput?: { input: number; cacheRead: number; cacheWrite: number };
  #nativeOutput = 0;
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
   * The stream failed before any event: its only frames are exceptions (`throttlingException`,
   * `serviceUnavailableException`, `validationException`, … in place of `messageStart`). Bedrock read and generated
   * nothing, as when it refuses a call with an error status: there is nothing to estimate.
   */
  get failedBeforeAnyEvent(): boolean {
    return this.#sawException && !this.#sawEvent;
  }

  /**
   * The model has finished generating (`messageStop`; Anthropic's `message_delta` with a stop reason, or
   * `message_stop`): what follows is the usage event. Always false for streams that report no usage.
   */
  get generationEnded(): boolean {
    return this.#generationEnded;
  }

  /**
   * Usage estimated for a stream stopped before its usage event: input from Anthropic's `message_start` when it came,
   * else `requestInputTokens` (estimated from the request); output from the text relayed so far, or Anthropic's
   * running `output_tokens` when that is more.
   */
  estimatedUsage(requestInputTokens: number): Usage {
    const input = this.#nativeInput ?? { input: requestInputTokens, cacheRead: 0, cacheWrite: 0 };
    const outputTokens = Math.max(this.#output.tokens, this.#nativeOutput);
    return {
      inputTokens: input.input,
      outputTokens,
      totalTokens: input.input + outputTokens + input.cacheRead + input.cacheWrite,
      cacheReadInputTokens: input.cacheRead,
      cacheWriteInputTokens: input.cacheWrite,
    };
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
    const bytes = chunkBytes(m);
    if (bytes === undefined) return;
    if (this.#usageFrom === "none") {
      this.#text += textDecoder.decode(bytes);
      return;
    }
    // Every chunk is read: the output it carries counts toward an estimate should the client leave mid-way. Text
    // deltas (most chunks) are counted without parsing; the others (message start, stop, metrics) are parsed.
    const hasMetrics = indexOfAscii(bytes, INVOCATION_METRICS) >= 0;
    if (!this.#keepText && !hasMetrics && indexOfAscii(bytes, ANTHROPIC_TEXT_DELTA) >= 0) {
      const chars = deltaChars(bytes, ANTHROPIC_DELTA_TEXT);
      if (chars) return this.#output.addCounts(chars);
    }
    // Anthropic's `message_start` splits cache writes by TTL; the invocation metrics do not.
    const hasOneHour = indexOfAscii(bytes, ONE_HOUR_WRITES) >= 0;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(textDecoder.decode(bytes));
    } catch {
      return;
    }
    if (!event || typeof event !== "object") return;
    const text = nativeText(event);
    this.#output.add(text);
    this.#output.add(nativeOtherOutput(event));
    if (this.#keepText) this.#text += text;
    const stopReason = nativeStopReason(event);
    if (stopReason !== undefined) this.#record.stopReason = stopReason;
    if (endsGeneration(event, stopReason)) this.#generationEnded = true;
    if (hasOneHour) this.#oneHourWrites = oneHourWrites(event);
    if (event.type === "message_start") {
      const u = (event.message as { usage?: Record<string, unknown> } | undefined)?.usage;
      if (u && typeof u === "object") {
        this.#nativeInput = {
          input: count(u.input_tokens),
          cacheRead: count(u.cache_read_input_tokens),
          cacheWrite: count(u.cache_creation_input_tokens),
        };
      }
    } else if (event.type === "message_delta") {
      this.#nativeOutput = Math.max(
        this.#nativeOutput,
        count((event.usage as { output_tokens?: unknown })?.output_tokens),
      );
    }
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
      this.#sawEvent = true;
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
      } else if (event === "contentBlockDelta") {
        // Counted for an estimate should the client leave mid-way (answer text, tool input, reasoning): without
        // parsing, unless the text is kept or the delta has an unexpected shape.
        const chars = this.#keepText ? undefined : deltaChars(m.payload, CONVERSE_DELTA_TEXT);
        if (chars) return this.#output.addCounts(chars);
        const delta = jsonPayload(m)?.delta as ConverseDelta | undefined;
        if (typeof delta?.text === "string") {
          this.#output.add(delta.text);
          if (this.#keepText) this.#text += delta.text;
        } else if (typeof delta?.toolUse?.input === "string") this.#output.add(delta.toolUse.input);
        else if (typeof delta?.reasoningContent?.text === "string") this.#output.add(delta.reasoningContent.text);
      } else if (event === "messageStop") {
        this.#generationEnded = true;
        const reason = jsonPayload(m)?.stopReason;
        if (typeof reason === "string") record.stopReason = reason;
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
