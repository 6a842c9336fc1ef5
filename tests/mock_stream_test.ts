/**
 * The mock ConverseStream, judged by an independent codec (smithy's) and by the shape rules boto3 enforces
 * (string headers, lowerCamel event names, exactly one member per union, no contentBlockStart for text).
 */
import assert from "node:assert/strict";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { mockDeltas, mockStreamBody, mockStreamFrames } from "../server/bedrock/mock_stream.ts";

const smithy = new EventStreamCodec(toUtf8, fromUtf8);
const usage = { inputTokens: 9, outputTokens: 4, totalTokens: 13, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 };

Deno.test("mock stream frames: valid CRCs, Bedrock's headers and event order, one key per union", () => {
  const text = "Hello from the demo model!";
  const frames = mockStreamFrames(text, usage).map((f) => smithy.decode(f)); // smithy checks both CRCs
  const events = frames.map((m) => {
    for (const h of Object.values(m.headers)) assert.equal(h.type, "string");
    assert.equal(m.headers[":message-type"].value, "event");
    assert.equal(m.headers[":content-type"].value, "application/json");
    assert.deepEqual(Object.keys(m.headers), [":event-type", ":content-type", ":message-type"]);
    return { type: String(m.headers[":event-type"].value), payload: JSON.parse(toUtf8(m.body)) };
  });
  assert.deepEqual(events.map((e) => e.type), [
    "messageStart",
    ...mockDeltas(text).map(() => "contentBlockDelta"),
    "contentBlockStop",
    "messageStop",
    "metadata",
  ]);
  assert.ok(mockDeltas(text).length > 1);
  assert.deepEqual(events[0].payload, { role: "assistant" });
  const deltas = events.filter((e) => e.type === "contentBlockDelta");
  for (const d of deltas) {
    assert.deepEqual(Object.keys(d.payload).sort(), ["contentBlockIndex", "delta"]);
    assert.deepEqual(Object.keys(d.payload.delta), ["text"], "the delta union has exactly one member");
  }
  assert.equal(deltas.map((d) => d.payload.delta.text).join(""), text);
  assert.deepEqual(events.at(-3)?.payload, { contentBlockIndex: 0 });
  assert.deepEqual(events.at(-2)?.payload, { stopReason: "end_turn" });
  assert.deepEqual(events.at(-1)?.payload, {
    usage: { inputTokens: 9, outputTokens: 4, totalTokens: 13 },
    metrics: { latencyMs: 0 },
  });
});

Deno.test("mock deltas reassemble to exactly the configured text", () => {
  for (const text of ["", "one", "a b", "  leading", "trailing  ", "tabs\tand\nnewlines", "ünïcødé wörds 😀 ok"]) {
    const pieces = mockDeltas(text);
    assert.ok(pieces.length >= 1);
    assert.equal(pieces.join(""), text, JSON.stringify(text));
  }
  assert.deepEqual(mockDeltas("Hi there you"), ["Hi", " there", " you"]);
});

Deno.test("mock stream body: one frame per read", async () => {
  const frames = mockStreamFrames("a b", usage);
  const reader = mockStreamBody("a b", usage).getReader();
  for (const f of frames) assert.deepEqual((await reader.read()).value, f);
  assert.equal((await reader.read()).done, true);
});
