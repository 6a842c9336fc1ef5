/**
 * @module
 * The SDK's hand-written types over the generated ones (`types.gen.ts`): the stream events the iterator yields
 * (the wire union without its exception members, which are thrown instead), the stream object itself, and what
 * `invoke` / `invokeStream` answer (a model-native body plus what Bedrock's headers say about the call).
 */
import type {
  ContentBlockDeltaEvent,
  ContentBlockStartEvent,
  ContentBlockStopEvent,
  ConverseResponse,
  ConverseStreamEvent as WireStreamEvent,
  ConverseStreamMetadataEvent,
  InvokeModelBody,
  MessageStartEvent,
  MessageStopEvent,
  OneOf,
} from "./types.gen.ts";

/**
 * One ConverseStream event in the AWS SDK's shape: exactly one of the members is set.
 *
 * @example
 * ```ts
 * import type { ConverseStreamEvent } from "./mod.ts";
 *
 * function text(event: ConverseStreamEvent): string {
 *   return event.contentBlockDelta?.delta.text ?? "";
 * }
 * ```
 */
export type ConverseStreamEvent = OneOf<{
  messageStart: MessageStartEvent;
  contentBlockStart: ContentBlockStartEvent;
  contentBlockDelta: ContentBlockDeltaEvent;
  contentBlockStop: ContentBlockStopEvent;
  messageStop: MessageStopEvent;
  metadata: ConverseStreamMetadataEvent;
}>;

/** Everything a stream can carry on the wire, exception members included (AWS calls it ConverseStreamOutput). */
export type ConverseStreamOutput = WireStreamEvent;

/** A stream's event type names: `"messageStart"`, `"contentBlockDelta"`, … */
export type ConverseStreamEventType = keyof ConverseStreamEvent;

/**
 * The answer of `converseStream`: iterate it once with `for await`, or hand it to one of the helpers. The request
 * is sent when iteration starts; breaking out of the loop (or aborting the call's signal) cancels it.
 */
export interface ConverseStream extends AsyncIterable<ConverseStreamEvent> {
  /** Yields the text deltas only. */
  textStream(): AsyncIterable<string>;
  /** Reads the whole stream and assembles the message, like a `converse` answer. */
  collect(): Promise<ConverseResponse>;
}

/**
 * The answer of `invoke`: the model's native JSON answer and what the response headers say about the call.
 * @typeParam T the answer's type (for Claude, an Anthropic Messages API message); unchecked at run time
 */
export interface InvokeModelResult<T = InvokeModelBody> {
  /** The model's answer, parsed. */
  body: T;
  /** Input tokens, from Bedrock's `x-amzn-bedrock-input-token-count`; undefined when absent. */
  inputTokens?: number;
  /** Output tokens, from `x-amzn-bedrock-output-token-count`; undefined when absent. */
  outputTokens?: number;
  /** What the gateway billed for the call, in USD (`x-litellm-response-cost`); undefined when absent. */
  cost?: number;
  /** The call's request id: quote it when reporting a problem. */
  requestId?: string;
  /** Every response header (`x-amzn-bedrock-invocation-latency`, `-performanceconfig-latency`, …). */
  headers: Headers;
}

/**
 * The answer of `invokeStream`: iterate it once with `for await` to get each chunk's model-native JSON (for Claude,
 * the Anthropic Messages stream events; the last carries `amazon-bedrock-invocationMetrics`). The request is sent
 * when iteration starts; breaking out of the loop (or aborting the call's signal) cancels it.
 * @typeParam T one chunk's type; unchecked at run time
 */
export type InvokeModelStream<T = InvokeModelBody> = AsyncIterable<T>;
