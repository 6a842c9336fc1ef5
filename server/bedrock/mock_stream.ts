/**
 * @module
 * `mock_response` deployments on `/converse-stream`: the mock text as a real Bedrock event stream, never calling
 * AWS. The frames are what boto3 and the AWS SDKs accept from Bedrock: `messageStart`, one `contentBlockDelta` per
 * word, `contentBlockStop`, `messageStop`, `metadata` with the estimated usage — string headers, both CRCs, one key
 * per union, and no `contentBlockStart` (Bedrock sends none for text blocks).
 */
import { encodeEvent } from "../../wire/eventstream.ts";
import type { Usage } from "../core/usage.ts";

/** Word-sized pieces, each leading space kept with its word the way models stream: "Hi there" → "Hi", " there". */
export function mockDeltas(text: string): string[] {
  const pieces = text.match(/\s*\S+|\s+$/g);
  return pieces && pieces.length ? pieces : [text];
}

/** The frames of a mock answer, in order. */
export function mockStreamFrames(text: string, usage: Usage): Uint8Array[] {
  return [
    encodeEvent("messageStart", { role: "assistant" }),
    ...mockDeltas(text).map((piece) =>
      encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text: piece } })
    ),
    encodeEvent("contentBlockStop", { contentBlockIndex: 0 }),
    encodeEvent("messageStop", { stopReason: "end_turn" }),
    encodeEvent("metadata", {
      usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, totalTokens: usage.totalTokens },
      metrics: { latencyMs: 0 },
    }),
  ];
}

/** A mock answer as an event-stream body: one frame per read, like a model streaming. */
export function mockStreamBody(text: string, usage: Usage): ReadableStream<Uint8Array> {
  const frames = mockStreamFrames(text, usage);
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < frames.length) controller.enqueue(frames[next++]);
      else controller.close();
    },
  }, { highWaterMark: 0 });
}
