/**
 * `collect()` and `textStream()` on synthetic event sequences: every content kind a stream can carry is rebuilt
 * in `converse`'s shape, and an incomplete stream is an error that still carries what arrived.
 */
import assert from "node:assert/strict";
import { collect, type ConverseStreamEvent, IncompleteStreamError, textStream } from "../sdk/mod.ts";

async function* from(events: ConverseStreamEvent[]): AsyncGenerator<ConverseStreamEvent> {
  yield* events;
}

const closing: ConverseStreamEvent[] = [
  { messageStop: { stopReason: "end_turn" } },
  { metadata: { usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 }, metrics: { latencyMs: 4 } } },
];

Deno.test("collect rebuilds reasoning, citations, images and tool results, in block order", async () => {
  const answer = await collect(from([
    { messageStart: { role: "assistant" } },
    { contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: "Think" } } } },
    { contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: "ing." } } } },
    { contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { signature: "sig" } } } },
    { contentBlockStop: { contentBlockIndex: 0 } },
    { contentBlockDelta: { contentBlockIndex: 1, delta: { reasoningContent: { redactedContent: "cmVk" } } } },
    { contentBlockStop: { contentBlockIndex: 1 } },
    // Blocks 3 and 2 interleave and close out of order; the answer keeps index order.
    { contentBlockStart: { contentBlockIndex: 3, start: { image: { format: "png" } } } },
    { contentBlockDelta: { contentBlockIndex: 2, delta: { text: "Paris is " } } },
    { contentBlockDelta: { contentBlockIndex: 2, delta: { citation: { title: "Atlas", location: { web: {} } } } } },
    { contentBlockDelta: { contentBlockIndex: 2, delta: { text: "in France." } } },
    { contentBlockDelta: { contentBlockIndex: 3, delta: { image: { source: { bytes: "iVBO" } } } } },
    { contentBlockStop: { contentBlockIndex: 3 } },
    { contentBlockStop: { contentBlockIndex: 2 } },
    {
      contentBlockStart: {
        contentBlockIndex: 4,
        start: { toolResult: { toolUseId: "t1", status: "success" } },
      },
    },
    { contentBlockDelta: { contentBlockIndex: 4, delta: { toolResult: [{ text: "18" }] } } },
    { contentBlockDelta: { contentBlockIndex: 4, delta: { toolResult: [{ json: { c: 18 } }] } } },
    { contentBlockStop: { contentBlockIndex: 4 } },
    ...closing,
  ]));
  assert.deepEqual(answer.output.message?.content, [
    { reasoningContent: { reasoningText: { text: "Thinking.", signature: "sig" } } },
    { reasoningContent: { redactedContent: "cmVk" } },
    {
      citationsContent: {
        content: [{ text: "Paris is in France." }],
        citations: [{ title: "Atlas", location: { web: {} } }],
      },
    },
    { image: { format: "png", source: { bytes: "iVBO" } } },
    { toolResult: { toolUseId: "t1", status: "success", content: [{ text: "18" }, { json: { c: 18 } }] } },
  ]);
  assert.deepEqual(answer.usage, { inputTokens: 1, outputTokens: 2, totalTokens: 3 });
  assert.deepEqual(answer.metrics, { latencyMs: 4 });
});

Deno.test("tool input: empty is {}, unparseable stays the raw text; an unclosed block still counts", async () => {
  const answer = await collect(from([
    { messageStart: { role: "assistant" } },
    { contentBlockStart: { contentBlockIndex: 0, start: { toolUse: { toolUseId: "a", name: "now" } } } },
    { contentBlockStop: { contentBlockIndex: 0 } },
    { contentBlockStart: { contentBlockIndex: 1, start: { toolUse: { toolUseId: "b", name: "bad" } } } },
    { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{"x": ' } } } },
    { contentBlockStop: { contentBlockIndex: 1 } },
    { contentBlockDelta: { contentBlockIndex: 2, delta: { text: "never closed" } } },
    { messageStop: { stopReason: "malformed_tool_use", additionalModelResponseFields: { stop_sequence: null } } },
    closing[1],
  ]));
  assert.deepEqual(answer.output.message?.content, [
    { toolUse: { toolUseId: "a", name: "now", input: {} } },
    { toolUse: { toolUseId: "b", name: "bad", input: '{"x": ' } },
    { text: "never closed" },
  ]);
  assert.equal(answer.stopReason, "malformed_tool_use");
  assert.deepEqual(answer.additionalModelResponseFields, { stop_sequence: null });
});

Deno.test("collect throws IncompleteStreamError with the partial answer when messageStop or metadata is missing", async () => {
  const partial = [
    { messageStart: { role: "assistant" } },
    { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "Half" } } },
  ] satisfies ConverseStreamEvent[];
  await assert.rejects(collect(from(partial)), (e) => {
    assert.ok(e instanceof IncompleteStreamError);
    assert.match(e.message, /before its messageStop event/);
    assert.deepEqual(
      (e.body as { output: { message: { content: unknown[] } } }).output.message.content,
      [{ text: "Half" }],
    );
    return true;
  });
  await assert.rejects(collect(from([...partial, closing[0]])), /before its metadata event/);
});

Deno.test("textStream yields text deltas only and stops the source when the consumer stops", async () => {
  let finished = false;
  async function* source(): AsyncGenerator<ConverseStreamEvent> {
    try {
      yield { messageStart: { role: "assistant" } };
      yield { contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: "hmm" } } } };
      yield { contentBlockDelta: { contentBlockIndex: 1, delta: { text: "A" } } };
      yield { contentBlockDelta: { contentBlockIndex: 1, delta: { text: "B" } } };
      yield { contentBlockDelta: { contentBlockIndex: 1, delta: { text: "C" } } };
    } finally {
      finished = true;
    }
  }
  const texts: string[] = [];
  for await (const t of textStream(source())) {
    texts.push(t);
    if (texts.length === 2) break;
  }
  assert.deepEqual(texts, ["A", "B"]);
  assert.equal(finished, true);
});
