/**
 * @module
 * The SDK's hand-written types over the generated ones (`types.gen.ts`): the stream events the iterator yields
 * (the wire union without its exception members, which are thrown instead) and the stream object itself.
 */
import type {
  ContentBlockDeltaEvent,
  ContentBlockStartEvent,
  ContentBlockStopEvent,
  ConverseResponse,
  ConverseStreamEvent as WireStreamEvent,
  ConverseStreamMetadataEvent,
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
