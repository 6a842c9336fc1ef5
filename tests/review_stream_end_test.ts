/**
 * Review (billing exactly once): a stream whose upstream ends cleanly (a frame boundary, then end of body) before its
 * usage event is billed nothing. The relay's clean end (`server/calls/stream_relay.ts`, `next.done` in `pull`) never
 * calls `billEstimate()`, while every other early end — the client leaving mid-generation, a stall, a broken-off
 * upstream, shutdown — bills the estimate (README, "Billing rules"). And when the end comes mid-generation (no
 * `messageStop`), the call is recorded `success` although the client got a truncated answer.
 * Fails on main; passes once a clean end without usage is billed the estimate like the other cuts.
 */
import assert from "node:assert/strict";
import { MASTER_KEY, setupSpend } from "./spend_helpers.ts";

/** 1,600 ASCII characters of prompt ("user" included): 401 tokens at 4 a token. */
const BODY = JSON.stringify({
  messages: [{ role: "user", content: [{ text: "word ".repeat(319) + "end." }] }],
  inferenceConfig: { maxTokens: 100 },
});
const INPUT_ESTIMATE = 400;

async function streamTruncated(frames: number) {
  await using t = await setupSpend();
  // The default stream: messageStart, 3 deltas, contentBlockStop, messageStop, metadata; cut cleanly after `frames`.
  t.fake.enqueue({ kind: "stream", truncateAfter: frames });
  const res = await fetch(`${t.gw.url}/bedrock/model/claude/converse-stream`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: BODY,
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const [call] = await t.gw.waitForCalls(1);
  return call;
}

Deno.test("review: a stream that ends after messageStop without its metadata event is billed an estimate", async () => {
  const call = await streamTruncated(6);
  assert.equal(call.incomplete, true);
  assert.equal(call.usageEstimated, true, `billed ${JSON.stringify(call.usage)} (nothing) for a served prompt`);
  assert.ok((call.usage?.inputTokens ?? 0) >= INPUT_ESTIMATE);
});

Deno.test("review: a stream that ends mid-generation is not a success, and is billed an estimate", async () => {
  const call = await streamTruncated(3);
  assert.notEqual(call.status, "success", "the client got messageStart and two deltas, no messageStop");
  assert.equal(call.usageEstimated, true, `billed ${JSON.stringify(call.usage)} (nothing)`);
  assert.ok((call.usage?.inputTokens ?? 0) >= INPUT_ESTIMATE);
});
