/**
 * `/converse-stream` end to end: the real AWS SDK (and plain fetch for raw bytes) → gateway → fake Bedrock.
 * Pauses are latches the fake holds; stalls are upstreams that never send again (for a mid-stream stall, an injected
 * upstream whose first bytes are there before any timer can fire, so only the stall can time out). Nothing sleeps,
 * nothing asserts a duration.
 *
 * Tests whose upstream pauses mid-stream use the SDK's HTTP/1.1 handler: against Deno 2.9.6's HTTP/2 server the
 * SDK's default HTTP/2 handler loses any stream that pauses (it sends GOAWAY(0) right after the response head, and
 * Deno's bundled h2 0.4.7 then resets the in-flight stream: hyperium/h2#885, fixed upstream in #886). Streams that
 * flow without a pause, and errors, keep the default HTTP/2 handler.
 */
import assert from "node:assert/strict";
import { estimateInputTokens } from "../server/bedrock/expected_usage.ts";
import {
  ConverseStreamCommand,
  type ConverseStreamOutput,
  InternalServerException,
  ServiceUnavailableException,
  ThrottlingException,
} from "@aws-sdk/client-bedrock-runtime";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { FAKE_CREDENTIALS, type FakeBedrock, Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import {
  bedrockClient,
  converseBody,
  fakeConfig,
  type GatewayUnderTest,
  MASTER_KEY,
  startGateway,
} from "../testing/harness.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
};
const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];
const EVENT_ORDER = [
  "messageStart",
  "contentBlockDelta",
  "contentBlockDelta",
  "contentBlockDelta",
  "contentBlockStop",
  "messageStop",
  "metadata",
];

interface Setup extends AsyncDisposable {
  fake: FakeBedrock;
  gw: GatewayUnderTest;
}

/** A fake and a gateway in front of it; `params` are extra litellm_params lines, `extra` top-level YAML. */
async function setup(
  opts: { params?: string; extra?: string; fetch?: typeof fetch; deployments?: number } = {},
): Promise<Setup> {
  const fake = await startFakeBedrock();
  const creds =
    "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY";
  const yaml = fakeConfig(fake.url, {
    models: Array.from(
      { length: opts.deployments ?? 1 },
      () => ({ name: "claude", params: opts.params ? `${creds}\n${opts.params}` : creds }),
    ),
    extra: opts.extra,
  });
  const gw = await startGateway({ yaml, env: ENV, fetch: opts.fetch });
  return {
    fake,
    gw,
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await fake.close();
    },
  };
}

const streamUrl = (gw: GatewayUnderTest, model = "claude") => `${gw.url}/bedrock/model/${model}/converse-stream`;

const postStream = (gw: GatewayUnderTest, init: RequestInit = {}) =>
  fetch(streamUrl(gw), {
    method: "POST",
    body: converseBody(),
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    ...init,
  });

const smithy = new EventStreamCodec(toUtf8, fromUtf8);

/** Splits raw event-stream bytes into frames with an independent decoder (smithy's), payloads as JSON. */
function decodeFrames(
  bytes: Uint8Array,
): Array<{ headers: Record<string, unknown>; payload: Record<string, unknown> }> {
  const out = [];
  for (let off = 0; off < bytes.length;) {
    const total = new DataView(bytes.buffer, bytes.byteOffset + off, 4).getUint32(0);
    const m = smithy.decode(bytes.subarray(off, off + total));
    out.push({
      headers: Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, v.value])),
      payload: JSON.parse(toUtf8(m.body)),
    });
    off += total;
  }
  return out;
}

async function collect(stream: AsyncIterable<ConverseStreamOutput> | undefined): Promise<ConverseStreamOutput[]> {
  const out: ConverseStreamOutput[] = [];
  for await (const e of stream ?? []) out.push(e);
  return out;
}

const textOf = (events: ConverseStreamOutput[]) => events.map((e) => e.contentBlockDelta?.delta?.text ?? "").join("");
const kinds = (events: ConverseStreamOutput[]) => events.map((e) => Object.keys(e)[0]);

async function readAll(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

// ------------------------------------------------------------------ the happy path

Deno.test("AWS SDK (default HTTP/2 handler): text reassembled, metadata usage and the call record match the fake", async () => {
  await using t = await setup();
  const usage = { inputTokens: 21, outputTokens: 7, cacheReadInputTokens: 1200, cacheWriteInputTokens: 30 };
  t.fake.enqueue({ kind: "converse", text: "Streams are relayed live", usage });
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  const out = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  const events = await collect(out.stream);
  client.destroy();

  assert.equal(textOf(events), "Streams are relayed live");
  assert.deepEqual(kinds(events), [
    "messageStart",
    ...Array(4).fill("contentBlockDelta"),
    "contentBlockStop",
    "messageStop",
    "metadata",
  ]);
  const expected = { ...usage, totalTokens: 21 + 7 + 1200 + 30 };
  assert.deepEqual(events.at(-1)?.metadata?.usage, expected);

  const seen = t.fake.requests[0];
  assert.equal(seen.rejected, false, seen.rejectReason);
  assert.equal(seen.rawPath, "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");
  assert.equal(seen.auth.kind, "sigv4");
  assert.equal(out.$metadata.requestId, seen.requestId);

  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.callType, "converse-stream");
  assert.equal(call.status, "success");
  assert.equal(call.httpStatus, 200);
  assert.equal(call.incomplete, undefined);
  assert.deepEqual(call.usage, expected);
  assert.ok(call.firstByteTime !== undefined && call.firstByteTime >= call.startTime);
  assert.ok(call.endTime >= call.firstByteTime);
});

Deno.test("byte-exact relay with the event-stream content-type and the upstream request id", async () => {
  await using t = await setup();
  const res = await postStream(t.gw);
  const body = await readAll(res);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/vnd.amazon.eventstream");
  assert.equal(res.headers.get("x-amzn-requestid"), t.fake.requests[0].requestId);
  assert.equal(res.headers.get("x-accel-buffering"), "no");
  assert.equal(res.headers.get("content-encoding"), null);
  const rec = await t.fake.whenDone(0);
  assert.ok(body.length > 0);
  assert.deepEqual(body, t.fake.streamBytes[rec.streamIndex!]);
  // The padding field real Bedrock adds is relayed, not stripped.
  assert.ok(decodeFrames(body).every((f) => typeof f.payload.p === "string"));
  const [call] = await t.gw.waitForCalls(1);
  assert.deepEqual(call.usage, {
    inputTokens: 10,
    outputTokens: 5,
    totalTokens: 15,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
});

Deno.test("unbuffered: the client has the first event while the fake still holds the rest", async () => {
  await using t = await setup();
  const latch = new Latch();
  t.fake.enqueue({ kind: "stream", pauseAfterFirst: latch });
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  const out = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  const it = out.stream![Symbol.asyncIterator]();
  const first = await it.next();
  assert.deepEqual(first.value, { messageStart: { role: "assistant" } });
  // Nothing beyond the first frame exists upstream yet, so nothing can have been collected first.
  assert.equal(latch.released, false);
  assert.equal(decodeFrames(t.fake.streamBytes[0]).length, 1);
  assert.equal(t.gw.calls.length, 0, "the call is still running");
  latch.release();
  const rest: ConverseStreamOutput[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
  client.destroy();
  assert.equal(textOf(rest), "Hello from fake");
  assert.equal((await t.gw.waitForCalls(1))[0].status, "success");
});

Deno.test("unbuffered at the byte level: the first raw chunk is the first frame, exactly", async () => {
  await using t = await setup();
  const latch = new Latch();
  t.fake.enqueue({ kind: "stream", pauseAfterFirst: latch });
  const res = await postStream(t.gw);
  const reader = res.body!.getReader();
  const got: Uint8Array[] = [];
  let received = 0;
  const firstFrame = t.fake.streamBytes[0];
  while (received < firstFrame.length) {
    const r = await reader.read();
    assert.equal(r.done, false);
    got.push(r.value!);
    received += r.value!.length;
  }
  assert.equal(latch.released, false);
  assert.deepEqual(concat(got), t.fake.streamBytes[0]);
  latch.release();
  for (let r = await reader.read(); !r.done; r = await reader.read()) got.push(r.value);
  assert.deepEqual(concat(got), t.fake.streamBytes[0]);
  assert.equal(decodeFrames(concat(got)).length, 7);
});

// ------------------------------------------------------------------ chunking

Deno.test("frames split 1 byte at a time and 3 frames packed into one chunk both parse and meter", async () => {
  await using t = await setup();
  const usage = { inputTokens: 3, outputTokens: 4, cacheReadInputTokens: 5 };
  t.fake.enqueue(
    { kind: "stream", chunkSize: 1, events: eventsWith(usage) },
    // packAll sends all frames in one write: here the last three (contentBlockStop, messageStop, metadata)
    // after the pause point share one chunk with the deltas.
    { kind: "stream", packAll: true, events: eventsWith(usage) },
    { kind: "stream", packAll: true, events: eventsWith(usage).slice(-3) },
  );
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  for (let i = 0; i < 2; i++) {
    const events = await collect(
      (await client.send(new ConverseStreamCommand({ modelId: "claude", messages }))).stream,
    );
    assert.equal(textOf(events), "one two three", `stream ${i}`);
    assert.deepEqual(kinds(events), EVENT_ORDER, `stream ${i}`);
  }
  const three = await collect((await client.send(new ConverseStreamCommand({ modelId: "claude", messages }))).stream);
  assert.deepEqual(kinds(three), ["contentBlockStop", "messageStop", "metadata"]);
  client.destroy();
  const calls = await t.gw.waitForCalls(3);
  const expected = {
    inputTokens: 3,
    outputTokens: 4,
    totalTokens: 12,
    cacheReadInputTokens: 5,
    cacheWriteInputTokens: 0,
  };
  for (const call of calls) {
    assert.equal(call.status, "success");
    assert.deepEqual(call.usage, expected);
    assert.equal(call.incomplete, undefined);
  }
});

Deno.test("1-byte chunks are relayed byte-exact", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "stream", chunkSize: 1 });
  const body = await readAll(await postStream(t.gw));
  assert.deepEqual(body, t.fake.streamBytes[0]);
  assert.equal((await t.gw.waitForCalls(1))[0].usage?.totalTokens, 15);
});

// ------------------------------------------------------------------ failures inside the stream

Deno.test("a mid-stream throttlingException reaches the SDK as ThrottlingException, untouched, and is a failure", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "stream", exceptionAt: { index: 2, type: "throttlingException", message: "slow down" } });
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  const out = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  const seen: ConverseStreamOutput[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of out.stream!) seen.push(e);
    })(),
    (e: Error) => {
      assert.ok(e instanceof ThrottlingException, String(e));
      assert.equal(e.message, "slow down");
      return true;
    },
  );
  client.destroy();
  assert.equal(textOf(seen), "Hello");
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "failure");
  assert.equal(call.httpStatus, 200);
  assert.equal(call.errorType, "ThrottlingException");
  assert.equal(call.errorMessage, "slow down");
  assert.equal(call.incomplete, true);
});

Deno.test("exception frames are relayed byte-exact (modelStreamErrorException)", async () => {
  await using t = await setup();
  t.fake.enqueue({
    kind: "stream",
    exceptionAt: { index: 1, type: "modelStreamErrorException", message: "model broke" },
  });
  const body = await readAll(await postStream(t.gw));
  assert.deepEqual(body, t.fake.streamBytes[0]);
  const frames = decodeFrames(body);
  assert.equal(frames.at(-1)?.headers[":exception-type"], "modelStreamErrorException");
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "failure");
  assert.equal(call.errorType, "ModelStreamErrorException");
  assert.equal(call.errorMessage, "model broke");
});

Deno.test("a stream whose upstream ends mid-generation: the SDK raises InternalServerException; an estimate billed", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "stream", truncateAfter: 3 });
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  const out = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  const events: ConverseStreamOutput[] = [];
  await assert.rejects(
    async () => {
      for await (const e of out.stream!) events.push(e);
    },
    (e) => e instanceof InternalServerException && /ended before the answer was complete/.test(e.message),
  );
  client.destroy();
  assert.deepEqual(kinds(events), ["messageStart", "contentBlockDelta", "contentBlockDelta"]);
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "failure");
  assert.equal(call.incomplete, true);
  assert.equal(call.usageEstimated, true);
  assert.equal(call.usage?.inputTokens, estimateInputTokens(JSON.parse(converseBody())));
});

Deno.test("a stream cut inside a frame is relayed as is and recorded as an incomplete failure", async () => {
  await using t = await setup();
  const full = await readAll(await postStream(t.gw)); // a real stream from the fake, to cut
  const firstLength = new DataView(full.buffer).getUint32(0);
  const cut = full.slice(0, firstLength + 20);
  t.fake.enqueue({
    kind: "raw",
    status: 200,
    headers: { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "cut-1" },
    body: cut,
  });
  const body = await readAll(await postStream(t.gw));
  assert.deepEqual(body, cut);
  const calls = await t.gw.waitForCalls(2);
  assert.equal(calls[1].status, "failure");
  assert.equal(calls[1].incomplete, true);
  assert.match(calls[1].errorMessage ?? "", /mid-frame/);
});

// ------------------------------------------------------------------ the client goes away

Deno.test("client abort mid-stream aborts the upstream at once; recorded as client_disconnected, billed an estimate", async () => {
  await using t = await setup();
  const latch = new Latch(); // never released: only the abort can end this stream
  t.fake.enqueue({ kind: "stream", pauseAfterFirst: latch });
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  const ac = new AbortController();
  const out = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }), {
    abortSignal: ac.signal,
  });
  const it = out.stream![Symbol.asyncIterator]();
  await it.next();
  ac.abort();
  await assert.rejects(it.next());
  const rec = await t.fake.whenAborted(0);
  assert.equal(rec.aborted, true);
  const [call] = await t.gw.waitForCalls(1);
  client.destroy();
  assert.equal(call.status, "client_disconnected");
  assert.equal(call.incomplete, true);
  // Only messageStart was relayed: the request's input, estimated, and no output.
  assert.equal(call.usageEstimated, true);
  assert.equal(call.usage?.outputTokens, 0);
  assert.ok(call.usage!.inputTokens > 0);
});

Deno.test("client abort after the metadata event keeps the usage it carried", async () => {
  await using t = await setup();
  const latch = new Latch();
  const usage = { inputTokens: 40, outputTokens: 2, totalTokens: 42 };
  // An upstream that sends metadata first and then holds: the usage is known before the client leaves.
  t.fake.enqueue({
    kind: "stream",
    pauseAfterFirst: latch,
    events: [["metadata", { usage, metrics: { latencyMs: 1 } }], ["messageStart", { role: "assistant" }]],
  });
  const ac = new AbortController();
  const res = await postStream(t.gw, { signal: ac.signal });
  const reader = res.body!.getReader();
  await reader.read();
  ac.abort();
  await assert.rejects(reader.read());
  await t.fake.whenAborted(0);
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
  assert.deepEqual(call.usage, { ...usage, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 });
});

// ------------------------------------------------------------------ failures before the first byte

// The router retries these (num_retries defaults to 2); with retries off the client sees the upstream's own error.
const NO_RETRIES = "router_settings:\n  num_retries: 0\n";

Deno.test("an upstream error before the first byte is a typed Bedrock error for the SDK", async () => {
  await using t = await setup({ extra: NO_RETRIES });
  t.fake.enqueue({ kind: "error", status: 429, type: "ThrottlingException", message: "Too many tokens" });
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  await assert.rejects(client.send(new ConverseStreamCommand({ modelId: "claude", messages })), (e) => {
    assert.ok(e instanceof ThrottlingException, String(e));
    assert.equal(e.message, "Too many tokens");
    assert.equal(e.$metadata.httpStatusCode, 429);
    return true;
  });
  client.destroy();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "failure");
  assert.equal(call.httpStatus, 429);
  assert.equal(call.errorType, "ThrottlingException");
  assert.equal(call.errorMessage, "Too many tokens");
});

/**
 * The gateway's upstream fetch, recorded: the signal of every upstream request, so a test can see the gateway abort
 * it whether or not the request got as far as the fake (with a 50 ms timeout on a loaded machine it may not).
 */
function recordingFetch() {
  const signals: AbortSignal[] = [];
  const wrapped: typeof fetch = (input, init) => {
    if (init?.signal) signals.push(init.signal);
    return fetch(input, init);
  };
  return { fetch: wrapped, signals };
}

Deno.test("no first byte within router_settings.stream_timeout: 504 ServiceUnavailableException, upstream aborted", async () => {
  const upstream = recordingFetch();
  await using t = await setup({ extra: `${NO_RETRIES}  stream_timeout: 0.05\n`, fetch: upstream.fetch });
  t.fake.enqueue({ kind: "stream", stallAfter: 0 }); // head sent, then silence: the first byte never comes
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  await assert.rejects(client.send(new ConverseStreamCommand({ modelId: "claude", messages })), (e) => {
    assert.ok(e instanceof ServiceUnavailableException, String(e));
    assert.equal(e.$metadata.httpStatusCode, 504);
    assert.match(e.message, /timed out/);
    return true;
  });
  client.destroy();
  assert.equal(upstream.signals.length, 1);
  assert.equal(upstream.signals[0].aborted, true);
  assert.equal((upstream.signals[0].reason as DOMException).name, "TimeoutError");
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "failure");
  assert.equal(call.httpStatus, 504);
  assert.equal(call.errorType, "ServiceUnavailableException");
});

Deno.test("no response head within a deployment's stream_timeout: 504 as well", async () => {
  const upstream = recordingFetch();
  await using t = await setup({ params: "      stream_timeout: 0.05", extra: NO_RETRIES, fetch: upstream.fetch });
  t.fake.enqueue({ kind: "hang" });
  const res = await postStream(t.gw);
  assert.equal(res.status, 504);
  assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "ServiceUnavailableException");
  assert.match((await res.json()).message, /timed out/);
  assert.equal(upstream.signals[0].aborted, true);
  assert.equal((await t.gw.waitForCalls(1))[0].httpStatus, 504);
});

Deno.test("a stream with no first byte is retried on another deployment before anything reaches the client", async () => {
  const events = [
    frame("messageStart", { role: "assistant" }),
    frame("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "second try" } }),
    frame("contentBlockStop", { contentBlockIndex: 0 }),
    frame("messageStop", { stopReason: "end_turn" }),
    frame("metadata", { usage: { inputTokens: 5, outputTokens: 2, totalTokens: 7 }, metrics: { latencyMs: 1 } }),
  ];
  // Attempt 1 gets a head and then silence; attempt 2 answers at once.
  const upstream = scriptedUpstream({ frames: [], then: "stall" }, { frames: events, then: "end" });
  await using t = await setup({
    deployments: 2,
    extra: "router_settings:\n  stream_timeout: 0.05\n",
    fetch: upstream.fetch,
  });
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  const out = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  const got = await collect(out.stream);
  client.destroy();
  assert.equal(textOf(got), "second try");
  assert.equal(upstream.calls.length, 2);
  assert.equal((upstream.calls[0].signal?.reason as DOMException).name, "TimeoutError");
  assert.equal(upstream.calls[1].signal?.aborted, false);
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "success");
  assert.equal(call.retries, 1);
  // The second attempt's usage, plus the input estimate of the first, which Bedrock had (it answered a head).
  assert.equal(call.usage?.inputTokens, 5 + estimateInputTokens(JSON.parse(converseBody())));
  assert.equal(call.usage?.outputTokens, 2);
  assert.equal(call.usageEstimated, true);
});

// ------------------------------------------------------------------ mid-stream stall

/**
 * Upstreams in place of the network fetch: call i answers at once with `plans[i].frames`, then ends or falls silent
 * for good. The first bytes are there before any timer can fire, so only a silence can time out.
 */
function scriptedUpstream(...plans: Array<{ frames: Uint8Array[]; then: "stall" | "end" }>) {
  const calls: Array<{ url: string; signal?: AbortSignal; cancelled: boolean }> = [];
  const fetchFn: typeof fetch = (input, init) => {
    const plan = plans[Math.min(calls.length, plans.length - 1)];
    const call = { url: String(input), signal: init?.signal ?? undefined, cancelled: false };
    calls.push(call);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent < plan.frames.length) c.enqueue(plan.frames[sent++]);
        else if (plan.then === "end") c.close();
        else return new Promise<void>(() => {}); // silence
      },
      cancel() {
        call.cancelled = true;
      },
    }, { highWaterMark: 0 });
    return Promise.resolve(
      new Response(body, {
        headers: { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": `up-${calls.length}` },
      }),
    );
  };
  return { fetch: fetchFn, calls };
}

const frame = (eventType: string, payload: object) =>
  smithy.encode({
    headers: {
      ":event-type": { type: "string", value: eventType },
      ":content-type": { type: "string", value: "application/json" },
      ":message-type": { type: "string", value: "event" },
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
const STALL_FRAMES = [
  frame("messageStart", { role: "assistant" }),
  frame("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Hel" } }),
];

Deno.test("a mid-stream stall ends the stream with an internalServerException the SDK raises; upstream aborted", async () => {
  const upstream = scriptedUpstream({ frames: STALL_FRAMES, then: "stall" });
  await using t = await setup({ params: "      stream_timeout: 0.05", fetch: upstream.fetch });
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  const out = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  const seen: ConverseStreamOutput[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of out.stream!) seen.push(e);
    })(),
    (e: Error) => {
      assert.ok(e instanceof InternalServerException, String(e));
      assert.match(e.message, /stalled/);
      return true;
    },
  );
  client.destroy();
  assert.deepEqual(kinds(seen), ["messageStart", "contentBlockDelta"]);
  assert.equal(textOf(seen), "Hel");
  assert.equal(upstream.calls.length, 1);
  assert.match(upstream.calls[0].url, /\/converse-stream$/);
  assert.equal(upstream.calls[0].signal?.aborted, true);
  assert.equal(upstream.calls[0].cancelled, true);
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "failure");
  assert.equal(call.errorType, "InternalServerException");
  assert.match(call.errorMessage ?? "", /stream_timeout/);
  assert.equal(call.incomplete, true);
});

Deno.test("the stall frame is appended after the relayed bytes, which stay exact", async () => {
  const upstream = scriptedUpstream({ frames: STALL_FRAMES, then: "stall" });
  await using t = await setup({ params: "      stream_timeout: 0.05", fetch: upstream.fetch });
  const body = await readAll(await postStream(t.gw));
  const sent = concat(STALL_FRAMES);
  assert.deepEqual(body.subarray(0, sent.length), sent);
  const frames = decodeFrames(body);
  assert.equal(frames.length, 3);
  assert.deepEqual(frames[2].headers, {
    ":exception-type": "internalServerException",
    ":content-type": "application/json",
    ":message-type": "exception",
  });
  assert.match(String(frames[2].payload.message), /stalled/);
});

// ------------------------------------------------------------------ mock_response deployments

Deno.test("mock_response deployments stream through the AWS SDK, metered like real ones", async () => {
  const yaml = await Deno.readTextFile("config.example.yaml");
  await using gw = await startGateway({ yaml, env: {} });
  const client = bedrockClient(gw.url, "sk-1234");
  const out = await client.send(new ConverseStreamCommand({ modelId: "demo", messages }));
  const events = await collect(out.stream);
  client.destroy();
  const demo = gw.config.byModelName.get("demo")![0].auth;
  assert.ok(demo.kind === "mock");
  assert.equal(textOf(events), demo.text);
  const names = kinds(events);
  assert.equal(names[0], "messageStart");
  assert.ok(names.filter((n) => n === "contentBlockDelta").length > 1, "several deltas");
  assert.deepEqual(names.slice(-3), ["contentBlockStop", "messageStop", "metadata"]);
  assert.ok(!names.includes("contentBlockStart"));
  const usage = events.at(-1)?.metadata?.usage;
  assert.ok((usage?.outputTokens ?? 0) > 0 && (usage?.inputTokens ?? 0) > 0);
  assert.equal(out.$metadata.requestId, (await gw.waitForCalls(1))[0].requestId);
  const [call] = gw.calls;
  assert.equal(call.status, "success");
  assert.equal(call.callType, "converse-stream");
  assert.equal(call.usage?.outputTokens, usage?.outputTokens);
  assert.equal(call.usage?.inputTokens, usage?.inputTokens);
  assert.equal(call.usage?.totalTokens, usage?.totalTokens);
});

// ------------------------------------------------------------------ helpers

function eventsWith(usage: Record<string, number>): Array<[string, object]> {
  return [
    ["messageStart", { role: "assistant" }],
    ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: "one" } }],
    ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: " two" } }],
    ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: " three" } }],
    ["contentBlockStop", { contentBlockIndex: 0 }],
    ["messageStop", { stopReason: "end_turn" }],
    ["metadata", { usage: { ...usage, totalTokens: 12 }, metrics: { latencyMs: 9 } }],
  ];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}
