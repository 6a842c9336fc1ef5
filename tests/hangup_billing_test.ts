/**
 * Every call that reached the upstream is billed, whatever the client (or the upstream) does. A client hangs up at
 * each stage of a call, on `/converse`, `/converse-stream` and `/invoke-with-response-stream`:
 * - a JSON call in flight is read to its end and billed its real usage (`client_disconnected`); during a retry's
 *   backoff, nothing more is sent;
 * - a stream whose generation has ended is read on for its usage event and billed exactly;
 * - a stream mid-generation, or before its first byte, is stopped and billed an estimate (flagged).
 * And the upstream falls short: a stream that ends before its usage event, an attempt the gateway times out after
 * sending it (each retry included) — billed an estimate too. Not billed: a stream Bedrock refused before any event
 * (throttled), an attempt that never reached Bedrock (the connection never came up).
 * Each test orders the hang-up and the upstream with latches and the gateway's debug lines, never with time (the
 * timeout tests use a 50 ms attempt timeout against an upstream that never answers).
 */
import assert from "node:assert/strict";
import { createHttpClient } from "../server/upstream_client/mod.ts";
import { estimateInputTokens } from "../server/bedrock/expected_usage.ts";
import { EventStreamDecoder, type EventStreamMessage } from "../wire/eventstream.ts";
import { Latch } from "../testing/fake_bedrock.ts";
import { converseBody, debugLog, MASTER_KEY, setupSpend, SONNET_PRICES, sonnetNanos } from "./spend_helpers.ts";
import { type KeysSetupOptions, kvSpendNanos, LONG_PROMPT, toolResultBody } from "./keys_helpers.ts";

/**
 * A gateway logging at debug level, with a way to wait for one of its lines. It calls the fake with the native client,
 * which says when a request was written whole (what "sent" means for billing an attempt given up).
 */
async function setup(opts: KeysSetupOptions = {}) {
  const debug = debugLog();
  const t = await setupSpend({ ...opts, extra: `${NATIVE_CLIENT}${opts.extra ?? ""}`, log: debug.log });
  return Object.assign(t, { logged: debug.logged });
}

const NATIVE_CLIENT = "  upstream_client: native\n";

const ANTHROPIC_BODY = JSON.stringify({
  anthropic_version: "bedrock-2023-05-31",
  max_tokens: 100,
  messages: [{ role: "user", content: "Hello" }],
});

function post(url: string, op: string, body: string, signal: AbortSignal, key = MASTER_KEY): Promise<Response> {
  return fetch(`${url}/bedrock/model/claude/${op}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
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

/**
 * Streams a call, reads it until an event `until` accepts, then hangs up (aborts the request, cancels the body).
 * Returns the gateway's request id.
 */
async function streamThenHangUp(
  url: string,
  op: string,
  body: string,
  until: (m: EventStreamMessage) => boolean,
  key = MASTER_KEY,
): Promise<string> {
  const ac = new AbortController();
  const res = await post(url, op, body, ac.signal, key);
  const reader = res.body!.getReader();
  await readUntil(reader, until);
  ac.abort();
  await reader.cancel().catch(() => {});
  return res.headers.get("x-litellm-call-id")!;
}

const eventType = (type: string) => (m: EventStreamMessage) => m.headers[":event-type"] === type;
/** An invoke-with-response-stream `chunk` whose Anthropic event has this `type`. */
const nativeType = (type: string) => (m: EventStreamMessage) => {
  if (m.headers[":event-type"] !== "chunk") return false;
  const bytes = JSON.parse(new TextDecoder().decode(m.payload)).bytes as string;
  return JSON.parse(atob(bytes)).type === type;
};

/** converseBody("Hello")'s input estimate (its text and member names, at 4 characters a token). */
const HELLO_INPUT_ESTIMATE = estimateInputTokens(JSON.parse(converseBody()));
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
  const requestId = await streamThenHangUp(t.gw.url, "converse-stream", converseBody(), eventType("messageStop"));
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
  await streamThenHangUp(t.gw.url, "converse-stream", converseBody(), eventType("contentBlockDelta"));
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
  assert.equal(BigInt(Math.round(row.spend * 1e9)), sonnetNanos({ input: HELLO_INPUT_ESTIMATE, output: 2 }));
});

const LONG_PROMPT_ESTIMATE = LONG_PROMPT.length / 4;

/** The same text as a plain-text document block. */
const txtDocumentBody = () =>
  JSON.stringify({
    messages: [{
      role: "user",
      content: [
        { text: "Summarise the document." },
        { document: { format: "txt", name: "page", source: { bytes: btoa(LONG_PROMPT) } } },
      ],
    }],
    inferenceConfig: { maxTokens: 100 },
  });

for (
  const [where, body] of [["a tool result's JSON", toolResultBody], ["a txt document", txtDocumentBody]] as const
) {
  Deno.test(`converse-stream: hung up mid-generation, billed the prompt it sent in ${where}`, async () => {
    await using t = await setup();
    const never = new Latch();
    t.fake.enqueue({ kind: "stream", pauseAfter: { frames: 2, latch: never } });
    await streamThenHangUp(t.gw.url, "converse-stream", body(), eventType("contentBlockDelta"));
    const [call] = await t.gw.waitForCalls(1);
    assert.equal(call.status, "client_disconnected");
    assert.equal(call.usageEstimated, true);
    const input = call.usage?.inputTokens ?? 0;
    assert.ok(
      input >= LONG_PROMPT_ESTIMATE && input < LONG_PROMPT_ESTIMATE + 50,
      `billed ${input} input tokens for a ${LONG_PROMPT.length}-character prompt`,
    );
  });
}

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

/** Streams a converse call whose upstream ends cleanly after `frames` of the default stream, read to its end. */
async function streamCutAfter(frames: number) {
  await using t = await setup();
  // The default stream: messageStart, 3 deltas, contentBlockStop, messageStop, metadata.
  t.fake.enqueue({ kind: "stream", truncateAfter: frames });
  const res = await post(t.gw.url, "converse-stream", converseBody(), new AbortController().signal);
  assert.equal(res.status, 200);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const [call] = await t.gw.waitForCalls(1);
  return { call, events: new EventStreamDecoder().push(bytes) };
}

Deno.test("converse-stream: an upstream that ends after messageStop without its usage event is billed an estimate", async () => {
  const { call, events } = await streamCutAfter(6);
  assert.equal(events.at(-1)?.headers[":event-type"], "messageStop", "relayed as Bedrock ended it");
  assert.equal(call.status, "success");
  assert.equal(call.incomplete, true);
  assert.equal(call.usageEstimated, true);
  assert.equal(call.usage?.inputTokens, HELLO_INPUT_ESTIMATE);
  assert.ok((call.usage?.outputTokens ?? 0) > 0, "the output relayed is counted");
});

Deno.test("converse-stream: an upstream that ends mid-generation is a failure, the client told, an estimate billed", async () => {
  const { call, events } = await streamCutAfter(3); // messageStart and two deltas
  assert.equal(events.at(-1)?.headers[":exception-type"], "internalServerException");
  assert.equal(call.status, "failure");
  assert.equal(call.usageEstimated, true);
  assert.equal(call.usage?.inputTokens, HELLO_INPUT_ESTIMATE);
});

/** A gateway whose `claude` deployment times attempts out after 50 ms (`timeout: 0.05`); counts what it sends. */
async function setupTimingOut() {
  let sent = 0;
  const native = createHttpClient();
  const t = await setup({
    models: [{ name: "claude", params: `${SONNET_PRICES}\n      timeout: 0.05` }],
    fetch: (input, init) => {
      sent++;
      return native.fetch(input, init);
    },
  });
  const dispose = t[Symbol.asyncDispose];
  return Object.assign(t, {
    sent: () => sent,
    [Symbol.asyncDispose]: async () => {
      await dispose();
      native.close();
    },
  });
}

Deno.test("converse: each attempt timed out after it was sent (retries included) is billed its input estimate", async () => {
  await using t = await setupTimingOut();
  t.fake.setDefault({ kind: "hang" }); // Bedrock still generating when the attempt's timer fires
  const res = await post(t.gw.url, "converse", converseBody(), new AbortController().signal);
  assert.equal(res.status, 504);
  await res.body?.cancel();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(t.sent(), 3, "timeouts are retried (num_retries: 2 by default)");
  assert.equal(call.status, "failure");
  assert.equal(call.usageEstimated, true);
  assert.deepEqual(call.usage, {
    inputTokens: 3 * HELLO_INPUT_ESTIMATE,
    outputTokens: 0,
    totalTokens: 3 * HELLO_INPUT_ESTIMATE,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
  const row = (await t.admin("GET", "/spend/logs")).json[0];
  assert.equal(BigInt(Math.round(row.spend * 1e9)), sonnetNanos({ input: 3 * HELLO_INPUT_ESTIMATE, output: 0 }));
});

Deno.test("converse: an attempt timed out before a retry answered adds its input estimate to the answer's usage", async () => {
  await using t = await setupTimingOut();
  t.fake.enqueue({ kind: "hang" });
  t.fake.enqueue({ kind: "converse", usage: { inputTokens: 40, outputTokens: 8 } });
  const res = await post(t.gw.url, "converse", converseBody(), new AbortController().signal);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(t.sent(), 2);
  assert.equal(call.status, "success");
  assert.equal(call.usageEstimated, true);
  assert.equal(call.usage?.inputTokens, 40 + HELLO_INPUT_ESTIMATE);
  assert.equal(call.usage?.outputTokens, 8);
});

Deno.test("converse: an answer broken off mid-body is a 502, billed its input estimate", async () => {
  await using t = await setup({
    // Bedrock's answer starts, then the connection breaks.
    fetch: () =>
      Promise.resolve(
        new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode('{"output":{"message":'));
              c.error(new TypeError("connection reset"));
            },
          }),
          { status: 200, headers: { "content-type": "application/json" } },
        ),
      ),
  });
  const res = await post(t.gw.url, "converse", converseBody(), new AbortController().signal);
  assert.equal(res.status, 502);
  await res.body?.cancel();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "failure");
  assert.equal(call.usageEstimated, true);
  assert.equal(call.usage?.inputTokens, HELLO_INPUT_ESTIMATE);
  assert.equal(call.usage?.outputTokens, 0);
});

Deno.test("invoke-with-response-stream: hung up after message_delta's stop_reason, billed the exact invocation metrics", async () => {
  await using t = await setup();
  const rest = new Latch();
  // Anthropic chunks: message_start, content_block_start, 3 deltas, content_block_stop, message_delta | message_stop.
  t.fake.enqueue({ kind: "stream", pauseAfter: { frames: 7, latch: rest } });
  const requestId = await streamThenHangUp(
    t.gw.url,
    "invoke-with-response-stream",
    ANTHROPIC_BODY,
    nativeType("message_delta"),
  );
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
  await streamThenHangUp(t.gw.url, "invoke-with-response-stream", ANTHROPIC_BODY, nativeType("content_block_delta"));
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

Deno.test("under load: 70 calls hung up at every stage on three routes; every call Bedrock served is billed", async () => {
  await using t = await setup();
  const g = await t.generate({ max_budget: 100 });
  const KINDS = 7;
  const CALLS = 10 * KINDS;
  const arrived = Array.from({ length: CALLS }, () => new Latch());
  const rest = new Latch(); // what follows a pause, for the streams whose generation had ended
  const never = new Latch();
  t.fake.handler = (rec) => {
    const i = Number(/call-(\d+)/.exec(new TextDecoder().decode(rec.body))?.[1]);
    arrived[i].release();
    switch (i % KINDS) {
      case 1:
        return { kind: "converse", usage: { inputTokens: 30, outputTokens: 9 }, waitFor: rest };
      case 2:
        return { kind: "stream", pauseAfter: { frames: 2, latch: never } };
      case 3:
        return { kind: "stream", pauseAfter: { frames: 6, latch: rest } }; // before metadata
      case 4:
        return { kind: "stream", pauseAfter: { frames: 3, latch: never } };
      case 5:
        return { kind: "stream", pauseAfter: { frames: 7, latch: rest } }; // before message_stop
      case 6:
        return { kind: "hang" };
    }
    return undefined;
  };
  const one = async (i: number) => {
    const kind = i % KINDS;
    const op = kind === 4 || kind === 5 ? "invoke-with-response-stream" : kind >= 2 ? "converse-stream" : "converse";
    const body = op === "invoke-with-response-stream"
      ? JSON.stringify({
        anthropic_version: "bedrock-2023-05-31",
        max_tokens: 50,
        messages: [{ role: "user", content: `call-${i}` }],
      })
      : JSON.stringify({
        messages: [{ role: "user", content: [{ text: `call-${i}` }] }],
        inferenceConfig: { maxTokens: 50 },
      });
    if (kind === 1 || kind === 6) {
      const ac = new AbortController();
      const pending = post(t.gw.url, op, body, ac.signal, g.key);
      await arrived[i].wait();
      ac.abort();
      await pending.catch(() => {});
      return;
    }
    if (kind === 0) {
      return void await (await post(t.gw.url, op, body, new AbortController().signal, g.key)).arrayBuffer();
    }
    const until = {
      2: eventType("contentBlockDelta"),
      3: eventType("messageStop"),
      4: nativeType("content_block_delta"),
      5: nativeType("message_delta"),
    }[kind as 2 | 3 | 4 | 5];
    await streamThenHangUp(t.gw.url, op, body, until, g.key);
  };
  await Promise.all(Array.from({ length: CALLS }, (_, i) => one(i)));
  rest.release();
  const calls = await t.gw.waitForCalls(CALLS);
  const served = t.fake.requests.length;
  assert.equal(served, CALLS);
  assert.equal(calls.length, served, "one record per served call");
  const unbilled = calls.filter((c) => !(c.usage && c.usage.totalTokens > 0));
  assert.deepEqual(unbilled.map((c) => [c.callType, c.status]), [], "every served call is billed");
  assert.equal(calls.filter((c) => c.usageEstimated).length, 3 * 10, "mid-generation and before the first byte");

  await t.gw.gateway.flush();
  const rows = (await t.admin("GET", `/spend/logs?api_key=${g.key}&page_size=1000`)).json as Array<{ spend: number }>;
  assert.equal(rows.length, CALLS);
  assert.ok(rows.every((r) => r.spend > 0));
  const rowNanos = rows.reduce((n, r) => n + BigInt(Math.round(r.spend * 1e9)), 0n);
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), rowNanos, "the key's spend is the sum of its rows");
});

/** A converse body whose input estimate is ~10,000 tokens. */
const LONG_BODY = converseBody("x".repeat(40_000));
const LONG_ESTIMATE = estimateInputTokens(JSON.parse(LONG_BODY));

for (const type of ["throttlingException", "serviceUnavailableException", "validationException"]) {
  Deno.test(`converse-stream: a ${type} before any event bills nothing (nothing was read or generated)`, async () => {
    await using t = await setup();
    t.fake.setDefault({ kind: "stream", exceptionAt: { index: 0, type, message: "no" } });
    const res = await post(t.gw.url, "converse-stream", LONG_BODY, new AbortController().signal);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const [call] = await t.gw.waitForCalls(1);
    assert.equal(call.status, "failure");
    assert.equal(call.errorType, type[0].toUpperCase() + type.slice(1));
    assert.equal(call.usage, undefined, `billed ${JSON.stringify(call.usage)} for a stream Bedrock refused`);
    assert.equal(call.usageEstimated, undefined);
  });
}

Deno.test("converse-stream: a throttlingException after generation began is billed the estimate", async () => {
  await using t = await setup();
  // The default stream: messageStart, 3 deltas, …; the exception in place of the third delta.
  t.fake.setDefault({ kind: "stream", exceptionAt: { index: 3, type: "throttlingException", message: "slow down" } });
  const res = await post(t.gw.url, "converse-stream", LONG_BODY, new AbortController().signal);
  await res.arrayBuffer();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.errorType, "ThrottlingException");
  assert.equal(call.usageEstimated, true);
  assert.equal(call.usage?.inputTokens, LONG_ESTIMATE);
  assert.ok((call.usage?.outputTokens ?? 0) > 0, "the output relayed is counted");
});

/** An upstream `fetch` that answers through the fake for the first `answers` calls, then never connects. */
function answersThenBlackhole(answers: number) {
  let requests = 0;
  const fetchFn: typeof fetch = (input, init) => {
    if (++requests <= answers) return fetch(input, init);
    return new Promise<Response>((_, reject) => {
      const signal = init?.signal;
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  };
  return { fetch: fetchFn, requests: () => requests };
}

Deno.test("converse: attempts that time out before any connection was made are not billed (fetch, endpoint never answered)", async () => {
  const upstream = answersThenBlackhole(0);
  await using t = await setup({
    models: [{ name: "claude", params: `${SONNET_PRICES}\n      timeout: 0.05` }],
    fetch: upstream.fetch, // `fetch` cannot say whether the request was written
  });
  const res = await post(t.gw.url, "converse", LONG_BODY, new AbortController().signal);
  assert.equal(res.status, 504);
  await res.body?.cancel();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(upstream.requests(), 3);
  assert.equal(call.usage?.inputTokens ?? 0, 0, `billed ${call.usage?.inputTokens} input tokens; nothing was sent`);
});

Deno.test("converse: with fetch, attempts to an endpoint that answered recently are billed when they time out", async () => {
  const upstream = answersThenBlackhole(1);
  await using t = await setup({
    models: [{ name: "claude", params: `${SONNET_PRICES}\n      timeout: 0.05` }],
    fetch: upstream.fetch,
  });
  const first = await post(t.gw.url, "converse", converseBody(), new AbortController().signal);
  assert.equal(first.status, 200);
  await first.arrayBuffer();
  const res = await post(t.gw.url, "converse", LONG_BODY, new AbortController().signal);
  assert.equal(res.status, 504);
  await res.body?.cancel();
  const [, call] = await t.gw.waitForCalls(2);
  assert.equal(upstream.requests(), 4);
  // The endpoint is reachable: each attempt most likely reached Bedrock, which bills what it read.
  assert.equal(call.usageEstimated, true);
  assert.equal(call.usage?.inputTokens, 3 * LONG_ESTIMATE);
});
