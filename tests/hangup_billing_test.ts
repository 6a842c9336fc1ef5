/**
 * Every call that reached the upstream is billed, whatever the client does. A client hangs up at each stage of a
 * call, on `/converse`, `/converse-stream` and `/invoke-with-response-stream`:
 * - a JSON call in flight is read to its end and billed its real usage (`client_disconnected`); during a retry's
 *   backoff, nothing more is sent;
 * - a stream whose generation has ended is read on for its usage event and billed exactly;
 * - a stream mid-generation, or before its first byte, is stopped and billed an estimate (flagged).
 * Each test orders the hang-up and the upstream with latches and the gateway's debug lines, never with time.
 */
import assert from "node:assert/strict";
import { EventStreamDecoder, type EventStreamMessage } from "../sdk/eventstream.ts";
import { Latch } from "./fake_bedrock.ts";
import { converseBody, debugLog, MASTER_KEY, setupSpend, sonnetNanos } from "./spend_helpers.ts";
import type { KeysSetupOptions } from "./keys_helpers.ts";

/** A gateway logging at debug level, with a way to wait for one of its lines. */
async function setup(opts: KeysSetupOptions = {}) {
  const debug = debugLog();
  const t = await setupSpend({ ...opts, log: debug.log });
  return Object.assign(t, { logged: debug.logged });
}

const ANTHROPIC_BODY = JSON.stringify({
  anthropic_version: "bedrock-2023-05-31",
  max_tokens: 100,
  messages: [{ role: "user", content: "Hello" }],
});

function post(url: string, op: string, body: string, signal: AbortSignal): Promise<Response> {
  return fetch(`${url}/bedrock/model/claude/${op}`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body,
    signal,
  });
}

/** Reads the gateway's event stream until an event `until` accepts has arrived. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  until: (m: EventStreamMessage) => boolean,
): Promise<void> {
  const decoder = new EventStreamDecoder();
  for (;;) {
    const r = await reader.read();
    if (r.done) throw new Error("stream ended before the awaited event");
    if (decoder.push(r.value).some(until)) return;
  }
}

const eventType = (type: string) => (m: EventStreamMessage) => m.headers[":event-type"] === type;
/** An invoke-with-response-stream `chunk` whose Anthropic event has this `type`. */
const nativeType = (type: string) => (m: EventStreamMessage) => {
  if (m.headers[":event-type"] !== "chunk") return false;
  const bytes = JSON.parse(new TextDecoder().decode(m.payload)).bytes as string;
  return JSON.parse(atob(bytes)).type === type;
};

/** converseBody("Hello") holds "user" and "Hello": 9 ASCII characters, 3 tokens at 4 a token. */
const HELLO_INPUT_ESTIMATE = 3;
/** "Hello" relayed: 5 characters, 2 tokens. */
const HELLO_OUTPUT_ESTIMATE = 2;

Deno.test("converse: a client that leaves while Bedrock answers does not stop the call; its real usage is billed", async () => {
  await using t = await setup();
  const answer = new Latch();
  t.fake.enqueue({ kind: "converse", usage: { inputTokens: 40, outputTokens: 8 }, waitFor: answer });
  const ac = new AbortController();
  const pending = post(t.gw.url, "converse", converseBody(), ac.signal);
  await t.fake.whenRequest(0);
  ac.abort();
  await assert.rejects(pending);
  await t.logged("call: the client disconnected");
  answer.release();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
  assert.equal(call.usageEstimated, undefined);
  assert.equal(call.usage?.totalTokens, 48);
  assert.equal((await t.fake.whenDone(0)).aborted, false, "the upstream exchange was not aborted");
  const row = (await t.admin("GET", "/spend/logs")).json[0];
  assert.equal(row.status, "client_disconnected");
  assert.equal(BigInt(Math.round(row.spend * 1e9)), sonnetNanos({ input: 40, output: 8 }));
});

Deno.test("converse: a client that leaves during a retry's backoff ends the call; nothing more is sent", async () => {
  const inBackoff = new Latch();
  await using t = await setup({
    extra: "router_settings:\n  num_retries: 2\n",
    // The router's wait before retrying the one deployment: it ends only when the client leaves.
    sleep: (_ms, signal) =>
      new Promise((_, reject) => {
        inBackoff.release();
        signal!.addEventListener("abort", () => reject(signal!.reason), { once: true });
      }),
  });
  t.fake.enqueue({ kind: "error", status: 503, type: "ServiceUnavailableException", message: "busy" });
  const ac = new AbortController();
  const pending = post(t.gw.url, "converse", converseBody(), ac.signal);
  await inBackoff.wait();
  ac.abort();
  await assert.rejects(pending);
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
  assert.equal(call.usage, undefined);
  assert.equal(t.fake.requests.length, 1, "no attempt after the client left");
});

Deno.test("converse-stream: hung up after messageStop, the stream is read on and billed Bedrock's exact usage", async () => {
  await using t = await setup();
  const rest = new Latch();
  const usage = { inputTokens: 120, outputTokens: 30, totalTokens: 150 };
  t.fake.enqueue({
    kind: "stream",
    events: [
      ["messageStart", { role: "assistant" }],
      ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Hello" } }],
      ["contentBlockStop", { contentBlockIndex: 0 }],
      ["messageStop", { stopReason: "end_turn" }],
      ["metadata", { usage, metrics: { latencyMs: 1 } }],
    ],
    pauseAfter: { frames: 4, latch: rest },
  });
  const ac = new AbortController();
  const res = await post(t.gw.url, "converse-stream", converseBody(), ac.signal);
  const requestId = res.headers.get("x-litellm-call-id")!;
  const reader = res.body!.getReader();
  await readUntil(reader, eventType("messageStop"));
  ac.abort();
  await reader.cancel().catch(() => {});
  await t.logged("reading the stream on for its usage", requestId);
  rest.release();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
  assert.equal(call.usageEstimated, undefined);
  assert.equal(call.incomplete, undefined);
  assert.deepEqual(call.usage, { ...usage, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 });
  assert.equal((await t.fake.whenDone(0)).aborted, false);
  const row = (await t.admin("GET", "/spend/logs")).json[0];
  assert.equal(BigInt(Math.round(row.spend * 1e9)), sonnetNanos({ input: 120, output: 30 }));
});

Deno.test("converse-stream: hung up mid-generation, the upstream is stopped and an estimate is billed", async () => {
  await using t = await setup();
  const never = new Latch();
  t.fake.enqueue({ kind: "stream", pauseAfter: { frames: 2, latch: never } }); // messageStart, "Hello"
  const ac = new AbortController();
  const res = await post(t.gw.url, "converse-stream", converseBody(), ac.signal);
  const reader = res.body!.getReader();
  await readUntil(reader, eventType("contentBlockDelta"));
  ac.abort();
  await reader.cancel().catch(() => {});
  assert.equal((await t.fake.whenAborted(0)).aborted, true, "Bedrock is told to stop generating");
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
  assert.equal(call.usageEstimated, true);
  assert.equal(call.incomplete, true);
  assert.deepEqual(call.usage, {
    inputTokens: HELLO_INPUT_ESTIMATE,
    outputTokens: HELLO_OUTPUT_ESTIMATE,
    totalTokens: HELLO_INPUT_ESTIMATE + HELLO_OUTPUT_ESTIMATE,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
  const row = (await t.admin("GET", "/spend/logs")).json[0];
  assert.equal(BigInt(Math.round(row.spend * 1e9)), sonnetNanos({ input: 3, output: 2 }));
});

Deno.test("converse-stream: hung up before the first byte (request sent), the input estimate is billed", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "hang" });
  const ac = new AbortController();
  const pending = post(t.gw.url, "converse-stream", converseBody(), ac.signal);
  await t.fake.whenRequest(0);
  ac.abort();
  await assert.rejects(pending);
  assert.equal((await t.fake.whenAborted(0)).aborted, true);
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
  assert.equal(call.usageEstimated, true);
  assert.deepEqual(call.usage, {
    inputTokens: HELLO_INPUT_ESTIMATE,
    outputTokens: 0,
    totalTokens: HELLO_INPUT_ESTIMATE,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
});

Deno.test("invoke-with-response-stream: hung up after message_delta's stop_reason, billed the exact invocation metrics", async () => {
  await using t = await setup();
  const rest = new Latch();
  // Anthropic chunks: message_start, content_block_start, 3 deltas, content_block_stop, message_delta | message_stop.
  t.fake.enqueue({ kind: "stream", pauseAfter: { frames: 7, latch: rest } });
  const ac = new AbortController();
  const res = await post(t.gw.url, "invoke-with-response-stream", ANTHROPIC_BODY, ac.signal);
  const requestId = res.headers.get("x-litellm-call-id")!;
  const reader = res.body!.getReader();
  await readUntil(reader, nativeType("message_delta"));
  ac.abort();
  await reader.cancel().catch(() => {});
  await t.logged("reading the stream on for its usage", requestId);
  rest.release();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
  assert.equal(call.usageEstimated, undefined);
  assert.deepEqual(call.usage, {
    inputTokens: 10,
    outputTokens: 5,
    totalTokens: 15,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
  assert.equal((await t.fake.whenDone(0)).aborted, false);
});

Deno.test("invoke-with-response-stream: hung up mid-generation, input from message_start, output estimated", async () => {
  await using t = await setup();
  const never = new Latch();
  t.fake.enqueue({ kind: "stream", pauseAfter: { frames: 3, latch: never } }); // message_start, block start, "Hello"
  const ac = new AbortController();
  const res = await post(t.gw.url, "invoke-with-response-stream", ANTHROPIC_BODY, ac.signal);
  const reader = res.body!.getReader();
  await readUntil(reader, nativeType("content_block_delta"));
  ac.abort();
  await reader.cancel().catch(() => {});
  assert.equal((await t.fake.whenAborted(0)).aborted, true);
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.usageEstimated, true);
  // The fake's message_start reports 10 input tokens: exact, where the request alone would say 3.
  assert.deepEqual(call.usage, {
    inputTokens: 10,
    outputTokens: HELLO_OUTPUT_ESTIMATE,
    totalTokens: 10 + HELLO_OUTPUT_ESTIMATE,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
});
