/**
 * Review (attack): what a call holds and what a hung-up stream is billed come from the gateway's estimate of the
 * request (`server/bedrock/expected_usage.ts`). That estimate skips every value under a key named `data` or `bytes`
 * anywhere in the body, and counts a document block as a fixed 4,000 tokens whatever its size. Prompt text a model
 * reads can sit exactly there: a tool result's JSON (`{"json": {"data": "…"}}`) or a `txt` document's bytes. So a key
 * holder can
 * - hang up a `/converse-stream` after its first delta and be billed a few tokens for a 25,000-token prompt (Bedrock
 *   bills all of it), and
 * - send 20 such calls at once on a budget for 3 and have all 20 admitted (each holds a few tokens).
 * Each test fails on main and passes once the estimate counts the text the model reads.
 */
import assert from "node:assert/strict";
import { EventStreamDecoder } from "../wire/eventstream.ts";
import { Latch } from "../testing/fake_bedrock.ts";
import { MASTER_KEY, setupSpend } from "./spend_helpers.ts";
import { adminCall, PRICE_PARAMS, setupKeys } from "./keys_helpers.ts";

/** 100,000 ASCII characters: 25,000 tokens at the gateway's own 4 characters per token. */
const PROMPT = "word ".repeat(20_000);
const PROMPT_ESTIMATE = PROMPT.length / 4;

/** A conversation whose last turn returns the tool's output as JSON, the text under `data`. */
const toolResultBody = () =>
  JSON.stringify({
    messages: [
      { role: "user", content: [{ text: "Summarise the page." }] },
      { role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "fetch_page", input: { url: "x" } } }] },
      { role: "user", content: [{ toolResult: { toolUseId: "t1", content: [{ json: { data: PROMPT } }] } }] },
    ],
    inferenceConfig: { maxTokens: 100 },
  });

/** The same text as a plain-text document block. */
const documentBody = () =>
  JSON.stringify({
    messages: [{
      role: "user",
      content: [
        { text: "Summarise the document." },
        { document: { format: "txt", name: "page", source: { bytes: btoa(PROMPT) } } },
      ],
    }],
    inferenceConfig: { maxTokens: 100 },
  });

/** Streams a call, reads up to its first `contentBlockDelta`, hangs up; the gateway's record of it. */
async function hangUpAfterFirstDelta(body: string) {
  await using t = await setupSpend();
  const rest = new Latch();
  // messageStart + the first delta, then Bedrock keeps generating (it would report 25,000+ input tokens at the end).
  t.fake.enqueue({ kind: "stream", pauseAfter: { frames: 2, latch: rest } });
  const ac = new AbortController();
  const res = await fetch(`${t.gw.url}/bedrock/model/claude/converse-stream`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body,
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new EventStreamDecoder();
  for (;;) {
    const r = await reader.read();
    assert.ok(!r.done, "stream ended before the first delta");
    if (decoder.push(r.value).some((m) => m.headers[":event-type"] === "contentBlockDelta")) break;
  }
  ac.abort();
  await reader.cancel().catch(() => {});
  const [call] = await t.gw.waitForCalls(1);
  rest.release();
  return call;
}

Deno.test("review: a stream hung up mid-generation is billed the prompt it sent as a tool result's JSON", async () => {
  const call = await hangUpAfterFirstDelta(toolResultBody());
  assert.equal(call.status, "client_disconnected");
  assert.equal(call.usageEstimated, true);
  assert.ok(
    (call.usage?.inputTokens ?? 0) >= PROMPT_ESTIMATE * 0.9,
    `billed ${call.usage?.inputTokens} input tokens for a ${PROMPT.length}-character prompt (estimate ${PROMPT_ESTIMATE})`,
  );
});

Deno.test("review: a stream hung up mid-generation is billed the text of a txt document it sent", async () => {
  const call = await hangUpAfterFirstDelta(documentBody());
  assert.equal(call.usageEstimated, true);
  assert.ok(
    (call.usage?.inputTokens ?? 0) >= PROMPT_ESTIMATE * 0.5,
    `billed ${call.usage?.inputTokens} input tokens for a ${PROMPT.length}-character txt document`,
  );
});

Deno.test("review: 20 calls at once with their prompt in a tool result's JSON, on a budget for 3: at most 4 pass", async () => {
  await using t = await setupKeys({ models: [{ name: "claude", params: PRICE_PARAMS }] });
  const answer = new Latch();
  // What Bedrock reports for such a call: the 25,000-token prompt and 100 tokens out.
  const usage = { inputTokens: PROMPT_ESTIMATE, outputTokens: 100 };
  t.fake.setDefault({ kind: "converse", usage, waitFor: answer });
  // $1 / $2 per million tokens: $0.025 + $0.0002 a call.
  const callUsd = PROMPT_ESTIMATE * 1e-6 + 100 * 2e-6;
  const g = await t.generate({ max_budget: 3 * callUsd });
  const calls = 20;
  let decided = 0;
  const allDecided = new Latch();
  const tick = () => ++decided === calls && allDecided.release();
  t.fake.handler = () => {
    tick();
    return undefined;
  };
  const statuses = Array.from({ length: calls }, async () => {
    const res = await t.converse(g.key, "claude", toolResultBody());
    await res.body?.cancel();
    if (res.status !== 200) tick();
    return res.status;
  });
  await allDecided.wait();
  answer.release();
  const passed = (await Promise.all(statuses)).filter((s) => s === 200).length;
  await t.gw.gateway.flush();
  const info = (await adminCall(t.gw.url, "GET", `/key/info?key=${g.key}`)).json.info;
  assert.ok(
    passed <= 4,
    `${passed} of ${calls} calls passed: spend ${info.spend} on a max_budget of ${info.max_budget}`,
  );
});
