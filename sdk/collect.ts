/**
 * @module
 * Helpers over a stream of events: {@link textStream} (the text deltas) and {@link collect} (the whole message
 * assembled into a `converse`-shaped answer, tool-use input JSON parsed at `contentBlockStop`).
 */
import { IncompleteStreamError } from "./errors.ts";
import type {
  ContentBlock,
  ConversationRole,
  ConverseResponse,
  ConverseStreamMetadataEvent,
  ImageBlock,
  MessageStopEvent,
  ToolResultContentBlock,
} from "./types.gen.ts";
import type { ConverseStreamEvent } from "./types.ts";

/**
 * Yields the text of each `contentBlockDelta` that carries text (reasoning and tool input are skipped).
 *
 * @example
 * ```ts
 * import { textStream, type ConverseStreamEvent } from "./mod.ts";
 *
 * async function print(events: AsyncIterable<ConverseStreamEvent>) {
 *   for await (const text of textStream(events)) console.log(text);
 * }
 * ```
 */
export async function* textStream(events: AsyncIterable<ConverseStreamEvent>): AsyncGenerator<string, void> {
  for await (const event of events) {
    const text = event.contentBlockDelta?.delta.text;
    if (text !== undefined) yield text;
  }
}

/** What has arrived so far for one content block. */
interface Block {
  text: string;
  /** Only blocks with a `contentBlockStart` (tool use, tool result, image) have one. */
  start?: NonNullable<ConverseStreamEvent["contentBlockStart"]>["start"];
  toolInput: string;
  toolResult: ToolResultContentBlock[];
  image?: Record<string, unknown>;
  reasoning?: { text: string; signature?: string; redactedContent?: string };
  citations?: Record<string, unknown>[];
}

/** Tool input is JSON text split over deltas; it is only valid once complete. Unparseable input stays a string. */
function parseToolInput(input: string): unknown {
  if (input === "") return {};
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

/** The finished content block, in `converse`'s shape. */
function toContentBlock(b: Block): ContentBlock {
  const start = b.start;
  if (start?.toolUse) return { toolUse: { ...start.toolUse, input: parseToolInput(b.toolInput) } };
  if (start?.toolResult) return { toolResult: { ...start.toolResult, content: b.toolResult } };
  // The source arrives in a delta; a stream that never sent one yields an image without it.
  if (start?.image) return { image: { ...start.image, ...b.image } as ImageBlock };
  if (b.reasoning) {
    const { text, signature, redactedContent } = b.reasoning;
    return redactedContent !== undefined
      ? { reasoningContent: { redactedContent } }
      : { reasoningContent: { reasoningText: signature === undefined ? { text } : { text, signature } } };
  }
  if (b.citations) return { citationsContent: { content: [{ text: b.text }], citations: b.citations } };
  return { text: b.text };
}

/**
 * Reads the whole stream and assembles the answer `converse` would have given: text deltas concatenated, tool
 * input JSON parsed, reasoning, citations, tool results and images rebuilt, with `stopReason`, `usage` and
 * `metrics` from the closing events.
 * @throws {IncompleteStreamError} when the stream ends before `messageStop` and `metadata` (the partial answer is
 *   the error's `body`)
 *
 * @example
 * ```ts
 * import { createClient } from "./mod.ts";
 *
 * const client = createClient({ baseURL: "http://localhost:4000", apiKey: "sk-1234" });
 * const answer = await client
 *   .converseStream("claude", { messages: [{ role: "user", content: [{ text: "Weather in Paris?" }] }] })
 *   .collect();
 * const toolUse = answer.output.message?.content.find((b) => b.toolUse)?.toolUse;
 * ```
 */
export async function collect(events: AsyncIterable<ConverseStreamEvent>): Promise<ConverseResponse> {
  let role: ConversationRole = "assistant";
  const blocks = new Map<number, Block>();
  const done = new Map<number, ContentBlock>();
  let stop: MessageStopEvent | undefined;
  let metadata: ConverseStreamMetadataEvent | undefined;
  const block = (index: number): Block => {
    let b = blocks.get(index);
    if (!b) blocks.set(index, b = { text: "", toolInput: "", toolResult: [] });
    return b;
  };

  for await (const event of events) {
    if (event.messageStart) role = event.messageStart.role;
    else if (event.contentBlockStart) {
      block(event.contentBlockStart.contentBlockIndex).start = event.contentBlockStart.start;
    } else if (event.contentBlockDelta) {
      const b = block(event.contentBlockDelta.contentBlockIndex);
      const d = event.contentBlockDelta.delta;
      if (d.text !== undefined) b.text += d.text;
      else if (d.toolUse) b.toolInput += d.toolUse.input;
      else if (d.toolResult) b.toolResult.push(...d.toolResult);
      else if (d.image) b.image = { ...b.image, ...d.image };
      else if (d.citation) (b.citations ??= []).push(d.citation);
      else if (d.reasoningContent) {
        const r = b.reasoning ??= { text: "" };
        const rc = d.reasoningContent;
        if (rc.text !== undefined) r.text += rc.text;
        else if (rc.signature !== undefined) r.signature = (r.signature ?? "") + rc.signature;
        else if (rc.redactedContent !== undefined) r.redactedContent = (r.redactedContent ?? "") + rc.redactedContent;
      }
    } else if (event.contentBlockStop) {
      const index = event.contentBlockStop.contentBlockIndex;
      done.set(index, toContentBlock(block(index)));
      blocks.delete(index);
    } else if (event.messageStop) stop = event.messageStop;
    else if (event.metadata) metadata = event.metadata;
  }

  // A block the model never closed still counts, in index order with the closed ones.
  for (const [index, b] of blocks) done.set(index, toContentBlock(b));
  const content = [...done.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
  const { usage, metrics, ...rest } = metadata ?? {};
  const answer = {
    output: { message: { role, content } },
    stopReason: stop?.stopReason,
    ...(stop?.additionalModelResponseFields !== undefined
      ? { additionalModelResponseFields: stop.additionalModelResponseFields }
      : {}),
    usage,
    metrics,
    ...rest,
  };
  if (!stop || !metadata) {
    const missing = stop ? "metadata" : "messageStop";
    throw new IncompleteStreamError(`the stream ended before its ${missing} event`, {
      status: 200,
      type: "IncompleteStream",
      body: answer,
    });
  }
  return answer as ConverseResponse;
}
