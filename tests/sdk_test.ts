/**
 * The SDK end to end: `sdk/mod.ts` → the running gateway → fake Bedrock. Converse, streams assembled by
 * `collect()`, typed errors before and inside streams, cancellation reaching the upstream, the generated health
 * methods and the environment-configured top-level functions.
 */
import assert from "node:assert/strict";
import {
  AuthenticationError,
  ConnectionError,
  converse,
  ConverseError,
  type ConverseStreamEvent,
  createClient,
  ModelStreamErrorException,
  ThrottlingException,
  TimeoutError,
  UnrecognizedClientException,
  ValidationException,
} from "../sdk/mod.ts";
import { FAKE_CREDENTIALS, type FakeBedrock, Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, type GatewayUnderTest, MASTER_KEY, startGateway } from "../testing/harness.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
};
const MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0";
const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];

interface Setup extends AsyncDisposable {
  fake: FakeBedrock;
  gw: GatewayUnderTest;
}

async function setup(): Promise<Setup> {
  const fake = await startFakeBedrock();
  const gw = await startGateway({
    yaml: fakeConfig(fake.url, { models: [{ name: MODEL }, { name: "claude" }] }),
    env: ENV,
  });
  return {
    fake,
    gw,
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await fake.close();
    },
  };
}

/** Every event of a stream, in order. */
async function drain(stream: AsyncIterable<ConverseStreamEvent>): Promise<ConverseStreamEvent[]> {
  const events: ConverseStreamEvent[] = [];
  for await (const e of stream) events.push(e);
  return events;
}

Deno.test("converse: typed answer, model id encoded like the AWS SDKs, client headers and fetch used", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", text: "Hi there", usage: { inputTokens: 12, outputTokens: 3 } });
  const urls: string[] = [];
  const client = createClient({
    baseUrl: `${t.gw.url}/`,
    apiKey: MASTER_KEY,
    headers: { "x-litellm-tags": "sdk-test" },
    fetch: (url, init) => {
      urls.push(url);
      return fetch(url, init);
    },
  });
  const answer = await client.converse(MODEL, { messages, inferenceConfig: { maxTokens: 50 } });
  assert.equal(answer.output.message?.content[0].text, "Hi there");
  assert.equal(answer.stopReason, "end_turn");
  assert.deepEqual(answer.usage, { inputTokens: 12, outputTokens: 3, totalTokens: 15 });
  assert.deepEqual(urls, [`${t.gw.url}/bedrock/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse`]);
  const sent = JSON.parse(new TextDecoder().decode(t.fake.requests[0].body));
  assert.deepEqual(sent, { messages, inferenceConfig: { maxTokens: 50 } });
  assert.deepEqual(t.gw.calls[0].requestTags, ["sdk-test"]);
});

Deno.test("converseStream: events in the AWS SDK shape, padding dropped; textStream and collect", async () => {
  await using t = await setup();
  const client = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  t.fake.enqueue({ kind: "stream" });
  const events = await drain(client.converseStream("claude", { messages }));
  assert.deepEqual(events.map((e) => Object.keys(e)), [
    ["messageStart"],
    ["contentBlockDelta"],
    ["contentBlockDelta"],
    ["contentBlockDelta"],
    ["contentBlockStop"],
    ["messageStop"],
    ["metadata"],
  ]);
  assert.deepEqual(events[0], { messageStart: { role: "assistant" } });
  assert.deepEqual(events[1], { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "Hello" } } });
  assert.equal(events[6].metadata?.usage.totalTokens, 15);

  t.fake.enqueue({ kind: "stream", chunkSize: 7 });
  const texts: string[] = [];
  for await (const text of client.converseStream("claude", { messages }).textStream()) texts.push(text);
  assert.deepEqual(texts, ["Hello", " from", " fake"]);

  t.fake.enqueue({ kind: "converse", text: "Streamed answer", usage: { inputTokens: 4, outputTokens: 2 } });
  const answer = await client.converseStream("claude", { messages }).collect();
  assert.deepEqual(answer, {
    output: { message: { role: "assistant", content: [{ text: "Streamed answer" }] } },
    stopReason: "end_turn",
    usage: { inputTokens: 4, outputTokens: 2, totalTokens: 6 },
    metrics: { latencyMs: 42 },
  });
});

Deno.test("collect assembles a streamed tool call: input JSON split across deltas is parsed at contentBlockStop", async () => {
  await using t = await setup();
  t.fake.enqueue({
    kind: "stream",
    chunkSize: 9,
    events: [
      ["messageStart", { role: "assistant" }],
      ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Let me check." } }],
      ["contentBlockStop", { contentBlockIndex: 0 }],
      ["contentBlockStart", {
        contentBlockIndex: 1,
        start: { toolUse: { toolUseId: "tooluse_1", name: "get_weather" } },
      }],
      ["contentBlockDelta", { contentBlockIndex: 1, delta: { toolUse: { input: '{"city": "Pa' } } }],
      ["contentBlockDelta", { contentBlockIndex: 1, delta: { toolUse: { input: 'ris", "days": [1, 2]}' } } }],
      ["contentBlockStop", { contentBlockIndex: 1 }],
      ["messageStop", { stopReason: "tool_use" }],
      ["metadata", {
        usage: { inputTokens: 30, outputTokens: 20, totalTokens: 50 },
        metrics: { latencyMs: 7 },
      }],
    ],
  });
  const client = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  const answer = await client.converseStream("claude", {
    messages,
    toolConfig: {
      tools: [{ toolSpec: { name: "get_weather", inputSchema: { json: { type: "object" } } } }],
    },
  }).collect();
  assert.equal(answer.stopReason, "tool_use");
  assert.deepEqual(answer.output.message?.content, [
    { text: "Let me check." },
    { toolUse: { toolUseId: "tooluse_1", name: "get_weather", input: { city: "Paris", days: [1, 2] } } },
  ]);
  assert.deepEqual(answer.usage, { inputTokens: 30, outputTokens: 20, totalTokens: 50 });
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.usage?.inputTokens, 30);
});

Deno.test("typed errors from converse: bad key, unknown model, throttling with Retry-After", async () => {
  await using t = await setup();
  const bad = createClient({ baseUrl: t.gw.url, apiKey: "sk-wrong" });
  await assert.rejects(bad.converse("claude", { messages }), (e) => {
    assert.ok(e instanceof UnrecognizedClientException, String(e));
    assert.ok(e instanceof AuthenticationError && e instanceof ConverseError);
    assert.equal(e.name, "UnrecognizedClientException");
    assert.equal(e.status, 401);
    assert.equal(e.message, "Invalid API key");
    assert.ok(e.requestId);
    return true;
  });

  const client = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  await assert.rejects(client.converse("gpt-9", { messages }), (e) => {
    assert.ok(e instanceof ValidationException, String(e));
    assert.equal(e.status, 400);
    assert.match(e.message, /unknown model "gpt-9"/);
    assert.equal(e.retryAfter, undefined);
    return true;
  });

  // A Retry-After over the router's 10 s wait limit: the gateway gives up at once and relays it.
  t.fake.setDefault({ kind: "error", status: 429, type: "ThrottlingException", message: "Too many", retryAfter: "30" });
  await assert.rejects(client.converse("claude", { messages }), (e) => {
    assert.ok(e instanceof ThrottlingException, String(e));
    assert.equal(e.status, 429);
    assert.equal(e.retryAfter, 30);
    assert.equal(e.message, "Too many");
    assert.equal(e.requestId, t.fake.requests[0].requestId);
    return true;
  });
  assert.equal(t.fake.requests.length, 1);
});

Deno.test("typed errors from converseStream: before the stream and from exception frames inside it", async () => {
  await using t = await setup();
  const bad = createClient({ baseUrl: t.gw.url, apiKey: "sk-wrong" });
  await assert.rejects(drain(bad.converseStream("claude", { messages })), UnrecognizedClientException);
  const client = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  await assert.rejects(drain(client.converseStream("nope", { messages })), ValidationException);

  t.fake.enqueue({ kind: "stream", exceptionAt: { index: 2, type: "throttlingException", message: "Slow down" } });
  const seen: ConverseStreamEvent[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of client.converseStream("claude", { messages })) seen.push(e);
    })(),
    (e) => {
      assert.ok(e instanceof ThrottlingException, String(e));
      assert.equal(e.status, 429);
      assert.equal(e.message, "Slow down");
      assert.equal(e.requestId, t.fake.requests[0].requestId);
      return true;
    },
  );
  assert.equal(seen.length, 2, "the events before the exception frame were delivered");

  t.fake.enqueue({
    kind: "stream",
    exceptionAt: { index: 1, type: "modelStreamErrorException", message: "model broke" },
  });
  await assert.rejects(client.converseStream("claude", { messages }).collect(), (e) => {
    assert.ok(e instanceof ModelStreamErrorException, String(e));
    assert.equal(e.status, 424);
    return true;
  });
  await t.gw.waitForCalls(2);
  assert.equal(t.gw.calls[0].errorType, "ThrottlingException");
});

Deno.test("breaking out of for await cancels the upstream request", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "stream", stallAfter: 2 });
  const client = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  for await (const event of client.converseStream("claude", { messages })) {
    assert.ok(event.messageStart);
    break;
  }
  const upstream = await t.fake.whenAborted(0);
  assert.equal(upstream.aborted, true);
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
});

Deno.test("aborting the signal mid-stream cancels the upstream and throws the abort reason", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "stream", stallAfter: 1 });
  const client = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  const controller = new AbortController();
  const reason = new Error("user gave up");
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of client.converseStream("claude", { messages }, { signal: controller.signal })) {
        seen++;
        controller.abort(reason);
      }
    })(),
    (e) => e === reason,
  );
  assert.equal(seen, 1);
  assert.equal((await t.fake.whenAborted(0)).aborted, true);
});

Deno.test("aborting a pending converse throws the reason; a timeout is a TimeoutError", async () => {
  await using t = await setup();
  // Bedrock answers only when the test says: the gateway reads (and bills) an answer its client gave up on.
  const answers = [new Latch(), new Latch()];
  t.fake.enqueue(...answers.map((waitFor) => ({ kind: "converse" as const, waitFor })));
  const client = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  const controller = new AbortController();
  const pending = client.converse("claude", { messages }, { signal: controller.signal });
  await t.fake.whenRequest(0);
  controller.abort(new Error("cancelled"));
  await assert.rejects(pending, /cancelled/);

  const timed = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY, timeoutMs: 50, maxRetries: 0 });
  await assert.rejects(timed.converse("claude", { messages }), (e) => {
    assert.ok(e instanceof TimeoutError && e instanceof ConnectionError, String(e));
    assert.equal(e.name, "TimeoutError");
    assert.equal(e.status, 0);
    return true;
  });
  // An already aborted signal sends nothing.
  await assert.rejects(
    client.converse("claude", { messages }, { signal: AbortSignal.abort(new Error("early")) }),
    /early/,
  );
  assert.equal(t.fake.requests.length, 2);
  for (const a of answers) a.release();
  const calls = await t.gw.waitForCalls(2);
  assert.ok(calls.every((c) => c.usage?.totalTokens === 15), "both served calls are billed");
});

Deno.test("generated health methods answer the documented shapes", async () => {
  await using t = await setup();
  const client = createClient({ baseUrl: t.gw.url });
  assert.equal(await client.health.liveliness(), "I'm alive!");
  assert.deepEqual(await client.health.readiness(), { status: "healthy", db: "connected" });
});

Deno.test("top-level converse reads CONVERSE_GATEWAY_URL and CONVERSE_GATEWAY_KEY; explains when unset", async () => {
  await using t = await setup();
  const saved = { url: Deno.env.get("CONVERSE_GATEWAY_URL"), key: Deno.env.get("CONVERSE_GATEWAY_KEY") };
  try {
    Deno.env.delete("CONVERSE_GATEWAY_URL");
    await assert.rejects(converse("claude", { messages }), /CONVERSE_GATEWAY_URL is not set/);
    Deno.env.set("CONVERSE_GATEWAY_URL", t.gw.url);
    Deno.env.set("CONVERSE_GATEWAY_KEY", MASTER_KEY);
    const answer = await converse("claude", { messages });
    assert.equal(answer.output.message?.content[0].text, "echo: Hello");
  } finally {
    for (const [name, value] of [["CONVERSE_GATEWAY_URL", saved.url], ["CONVERSE_GATEWAY_KEY", saved.key]]) {
      if (value === undefined) Deno.env.delete(name!);
      else Deno.env.set(name!, value);
    }
  }
});
