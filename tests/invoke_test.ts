/**
 * InvokeModel, InvokeModelWithResponseStream and CountTokens through the gateway, with the real AWS SDK as the
 * client and the fake Bedrock (SigV4-verifying, real wire formats) upstream: routing by model name (encoded and
 * unencoded ids), the bound headers forwarded and signed, bodies forwarded byte for byte, usage from the token-count
 * headers and the invocation metrics, costs in spend logs, validation, mock deployments and key model limits.
 */
import assert from "node:assert/strict";
import {
  AccessDeniedException,
  CountTokensCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  type ResponseStream,
  ValidationException,
} from "@aws-sdk/client-bedrock-runtime";
import { type FakeBedrock, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { bedrockClient, fakeConfig, type GatewayUnderTest, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { Clock, ENV } from "./keys_helpers.ts";
import { get, nanos, SONNET_PRICES, sonnetNanos } from "./spend_helpers.ts";

/** The id Claude Code sends, unencoded, as the model name too. */
const SONNET_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0";

const anthropicBody = (text = "Hello") =>
  JSON.stringify({
    anthropic_version: "bedrock-2023-05-31",
    max_tokens: 64,
    messages: [{ role: "user", content: [{ type: "text", text }] }],
  });

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Setup extends AsyncDisposable {
  fake: FakeBedrock;
  gw: GatewayUnderTest;
}

async function setup(extraModels: Array<{ name: string; model?: string; params?: string }> = []): Promise<Setup> {
  const clock = new Clock();
  const fake = await startFakeBedrock({ now: () => new Date(clock.now()) });
  const gw = await startGateway({
    yaml: fakeConfig(fake.url, {
      models: [
        {
          name: "claude",
          // Priority-tier prices of its own (the built-in table has none for Bedrock models).
          params: `${SONNET_PRICES}\n      input_cost_per_token_priority: 0.000005\n` +
            `      output_cost_per_token_priority: 0.000025\n    model_info:\n      id: claude-usw2`,
        },
        { name: SONNET_4, model: `bedrock/${SONNET_4}`, params: `${SONNET_PRICES}\n    model_info:\n      id: s4` },
        ...extraModels,
      ],
    }),
    env: ENV,
    now: clock.now,
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

const post = (url: string, body: BodyInit, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    body,
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json", ...headers },
  });

/** The model-native events of an InvokeModelWithResponseStream answer, decoded from their base64 chunks. */
async function nativeEvents(stream: AsyncIterable<ResponseStream> | undefined): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const e of stream ?? []) {
    assert.ok(e.chunk?.bytes, `not a chunk: ${JSON.stringify(e)}`);
    out.push(JSON.parse(decoder.decode(e.chunk.bytes)));
  }
  return out;
}

const streamedText = (events: Record<string, unknown>[]) =>
  events.map((e) => (e.delta as { text?: string } | undefined)?.text ?? "").join("");

// ------------------------------------------------------------------------------------------------- InvokeModel

Deno.test("InvokeModel (AWS SDK): body and bound headers forwarded and signed, usage and cost from the token headers", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", text: "Hi from Claude", usage: { inputTokens: 1200, outputTokens: 300 } });
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  const body = encoder.encode(anthropicBody("Hi"));
  const out = await client.send(
    new InvokeModelCommand({
      modelId: "claude",
      body,
      contentType: "application/json",
      accept: "application/json",
      trace: "ENABLED",
      guardrailIdentifier: "gr0abc123",
      guardrailVersion: "3",
      performanceConfigLatency: "optimized",
      serviceTier: "priority",
      requestMetadata: JSON.stringify({ team: "search", app: "bot" }),
    }),
  );
  client.destroy();
  const answer = JSON.parse(decoder.decode(out.body));
  assert.equal(answer.content[0].text, "Hi from Claude");
  assert.equal(out.contentType, "application/json");

  const seen = t.fake.requests[0];
  assert.equal(seen.rejected, false, seen.rejectReason);
  assert.equal(seen.auth.kind, "sigv4");
  assert.equal(seen.rawPath, "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke");
  assert.deepEqual(seen.body, body);
  assert.equal(seen.headers["accept"], "application/json");
  assert.equal(seen.headers["x-amzn-bedrock-trace"], "ENABLED");
  assert.equal(seen.headers["x-amzn-bedrock-guardrailidentifier"], "gr0abc123");
  assert.equal(seen.headers["x-amzn-bedrock-guardrailversion"], "3");
  assert.equal(seen.headers["x-amzn-bedrock-performanceconfig-latency"], "optimized");
  assert.equal(seen.headers["x-amzn-bedrock-service-tier"], "priority");
  assert.deepEqual(JSON.parse(seen.headers["x-amzn-bedrock-request-metadata"]), { team: "search", app: "bot" });
  // The bound headers are part of the signature the fake verified.
  const signed = seen.auth.kind === "sigv4" ? seen.auth.signedHeaders : [];
  for (const h of ["accept", "x-amzn-bedrock-trace", "x-amzn-bedrock-guardrailidentifier"]) {
    assert.ok(signed.includes(h), `${h} not signed: ${signed}`);
  }

  const [call] = t.gw.calls;
  assert.equal(call.callType, "invoke");
  assert.equal(call.status, "success");
  assert.deepEqual(call.usage, {
    inputTokens: 1200,
    outputTokens: 300,
    totalTokens: 1500,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
  assert.equal(call.bedrockLatencyMs, 42);
  const rows = (await get(t.gw.url, "/spend/logs")).json;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].call_type, "invoke");
  // Asked for the priority tier in X-Amzn-Bedrock-Service-Tier: billed at the deployment's priority prices.
  assert.equal(nanos(rows[0].spend), 1200n * 5000n + 300n * 25000n);
  assert.equal(rows[0].service_tier, "priority");
  assert.equal(rows[0].performance_latency, "optimized");
  assert.equal(rows[0].prompt_tokens, 1200);
  assert.equal(rows[0].completion_tokens, 300);
  // The metadata header's pairs tag the row, like Converse's requestMetadata.
  assert.deepEqual(rows[0].request_tags.sort(), ["app:bot", "team:search"]);
});

Deno.test("InvokeModel with fetch: the answer and Bedrock's token headers relayed, plus x-litellm-response-cost", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", usage: { inputTokens: 10, outputTokens: 5 } });
  // Odd spacing: a re-serializing proxy would change these bytes.
  const body =
    '{ "anthropic_version":"bedrock-2023-05-31","max_tokens":5,   "messages":[{"role":"user","content":"héllo"}]}';
  const res = await post(`${t.gw.url}/bedrock/model/claude/invoke`, body, {
    "x-amz-date": "20200101T000000Z",
    "x-amzn-bedrock-made-up": "not bound",
    "anthropic-version": "2023-06-01",
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(JSON.parse(text).content[0].text, "echo: héllo");
  assert.equal(res.headers.get("x-amzn-bedrock-input-token-count"), "10");
  assert.equal(res.headers.get("x-amzn-bedrock-output-token-count"), "5");
  assert.equal(res.headers.get("x-litellm-response-cost"), String(Number(sonnetNanos({ input: 10, output: 5 })) / 1e9));
  assert.equal(res.headers.get("content-length"), String(encoder.encode(text).byteLength));
  const seen = t.fake.requests[0];
  assert.equal(decoder.decode(seen.body), body);
  // Only the headers InvokeModel binds go upstream; the client's own x-amz-date and unbound ones do not.
  assert.notEqual(seen.headers["x-amz-date"], "20200101T000000Z");
  assert.equal(seen.headers["x-amzn-bedrock-made-up"], undefined);
  assert.equal(seen.headers["anthropic-version"], undefined);
  assert.equal(JSON.stringify(seen.headers).includes(MASTER_KEY), false);
});

Deno.test("InvokeModel without token headers: usage read from the Anthropic body instead", async () => {
  await using t = await setup();
  const answer = {
    type: "message",
    content: [{ type: "text", text: "ok" }],
    usage: { input_tokens: 7, output_tokens: 2, cache_read_input_tokens: 100, cache_creation_input_tokens: 50 },
  };
  t.fake.enqueue({
    kind: "raw",
    status: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(answer),
  });
  const res = await post(`${t.gw.url}/bedrock/model/claude/invoke`, anthropicBody());
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), answer);
  assert.deepEqual(t.gw.calls[0].usage, {
    inputTokens: 7,
    outputTokens: 2,
    totalTokens: 159,
    cacheReadInputTokens: 100,
    cacheWriteInputTokens: 50,
  });
});

Deno.test("encoded and unencoded model ids (Claude Code sends them raw) resolve to the same deployment", async () => {
  await using t = await setup();
  for (const id of [SONNET_4, encodeURIComponent(SONNET_4), SONNET_4.replace(":", "%3a")]) {
    const res = await post(`${t.gw.url}/bedrock/model/${id}/invoke`, anthropicBody());
    const text = await res.text();
    assert.equal(res.status, 200, `${id}: ${text}`);
  }
  assert.deepEqual(t.gw.calls.map((c) => [c.modelName, c.deploymentId]), Array(3).fill([SONNET_4, "s4"]));
  for (const seen of t.fake.requests) {
    assert.equal(seen.rawPath, "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/invoke");
    assert.equal(seen.rejected, false, seen.rejectReason);
  }
});

Deno.test("InvokeModel input checks: empty body, bad JSON, bad request-metadata header never reach Bedrock", async () => {
  await using t = await setup();
  const cases: Array<[string, string, Record<string, string>, RegExp]> = [
    ["empty", "", {}, /body is empty/],
    ["not JSON", "{nope", {}, /not valid JSON/],
    ["JSON with charset", "{nope", { "content-type": "application/json; charset=utf-8" }, /not valid JSON/],
    ["undeclared (SDK default)", "{nope", { "content-type": "application/octet-stream" }, /not valid JSON/],
    ["metadata not JSON", anthropicBody(), { "x-amzn-bedrock-request-metadata": "team=a" }, /JSON object of string/],
    [
      "metadata not strings",
      anthropicBody(),
      { "x-amzn-bedrock-request-metadata": '{"n":1}' },
      /JSON object of string/,
    ],
  ];
  for (const op of ["invoke", "invoke-with-response-stream"]) {
    for (const [name, body, headers, message] of cases) {
      const res = await post(`${t.gw.url}/bedrock/model/claude/${op}`, body, headers);
      const json = await res.json();
      assert.equal(res.status, 400, `${op} ${name}`);
      assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "ValidationException", name);
      assert.match(json.message, message, `${op} ${name}`);
    }
  }
  // Through the SDK the error is the typed exception.
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  await assert.rejects(
    client.send(new InvokeModelCommand({ modelId: "claude", body: encoder.encode("{nope") })),
    (e) => e instanceof ValidationException && /not valid JSON/.test(e.message),
  );
  client.destroy();
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("InvokeModel bodies declared with a media type other than JSON are a 400 naming application/json, never forwarded", async () => {
  await using t = await setup();
  const gzip = async (text: string) =>
    new Uint8Array(
      await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
    );
  // Malformed bodies that once skipped the JSON guard this way, and a well-formed one: the media type decides.
  const bodies: Record<string, Uint8Array<ArrayBuffer>> = {
    "50,000 levels deep": encoder.encode("[".repeat(50_000) + "]".repeat(50_000)),
    "not UTF-8": new Uint8Array([...encoder.encode('{"prompt":"'), 0xff, 0xfe, ...encoder.encode('"}')]),
    "a byte-order mark": new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode('{"prompt":"hi"}')]),
    "gzip bytes": await gzip(anthropicBody()),
    "valid JSON": encoder.encode(anthropicBody()),
  };
  for (const type of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"]) {
    for (const op of ["invoke", "invoke-with-response-stream"]) {
      for (const [what, body] of Object.entries(bodies)) {
        const res = await fetch(`${t.gw.url}/bedrock/model/claude/${op}`, {
          method: "POST",
          headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": type },
          body,
        });
        const json = await res.json();
        assert.equal(res.status, 400, `${type} ${op} ${what}`);
        assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "ValidationException");
        assert.match(json.message, /declared Content-Type: application\/json; this one is declared "/);
      }
    }
  }
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("InvokeModel: Bedrock's errors reach the SDK typed, and are recorded as failures with no cost", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "error", status: 400, type: "ValidationException", message: "max_tokens: Field required" });
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  await assert.rejects(
    client.send(new InvokeModelCommand({ modelId: "claude", body: encoder.encode(anthropicBody()) })),
    (e) => e instanceof ValidationException && e.message === "max_tokens: Field required",
  );
  client.destroy();
  const [call] = t.gw.calls;
  assert.equal(call.status, "failure");
  assert.equal(call.errorType, "ValidationException");
  assert.equal(call.usage, undefined);
});

// ------------------------------------------------------------------------------- InvokeModelWithResponseStream

Deno.test("InvokeModelWithResponseStream (AWS SDK, HTTP/1.1): chunks relayed, usage and cost from the invocation metrics", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", text: "Streamed from Claude", usage: { inputTokens: 2000, outputTokens: 150 } });
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  const out = await client.send(
    new InvokeModelWithResponseStreamCommand({
      modelId: "claude",
      body: encoder.encode(anthropicBody("stream please")),
      contentType: "application/json",
      accept: "application/json",
      trace: "DISABLED",
    }),
  );
  const events = await nativeEvents(out.body);
  client.destroy();
  assert.equal(out.contentType, "application/json");
  assert.equal(streamedText(events), "Streamed from Claude");
  assert.deepEqual(events.map((e) => e.type), [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_delta",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  const seen = t.fake.requests[0];
  assert.equal(seen.rejected, false, seen.rejectReason);
  assert.equal(seen.operation, "invoke-with-response-stream");
  // The stream variant binds X-Amzn-Bedrock-Accept, not Accept.
  assert.equal(seen.headers["x-amzn-bedrock-accept"], "application/json");
  assert.equal(seen.headers["x-amzn-bedrock-trace"], "DISABLED");

  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.callType, "invoke-with-response-stream");
  assert.equal(call.status, "success");
  assert.equal(call.incomplete, undefined);
  assert.equal(call.usage?.inputTokens, 2000);
  assert.equal(call.usage?.outputTokens, 150);
  const rows = (await get(t.gw.url, "/spend/logs")).json;
  assert.equal(nanos(rows[0].spend), sonnetNanos({ input: 2000, output: 150 }));
  assert.equal(rows[0].call_type, "invoke-with-response-stream");
});

Deno.test("InvokeModelWithResponseStream: the relayed bytes are the upstream's, cache tokens in the metrics are billed", async () => {
  await using t = await setup();
  const metrics = {
    inputTokenCount: 12,
    outputTokenCount: 4,
    cacheReadInputTokenCount: 5000,
    cacheWriteInputTokenCount: 300,
    invocationLatency: 900,
    firstByteLatency: 200,
  };
  const chunk = (e: object) => ["chunk", { bytes: btoa(JSON.stringify(e)) }] as [string, object];
  t.fake.enqueue({
    kind: "stream",
    chunkSize: 7,
    events: [
      chunk({ type: "message_start", message: { usage: { input_tokens: 12 } } }),
      chunk({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "cached" } }),
      chunk({ type: "message_stop", "amazon-bedrock-invocationMetrics": metrics }),
    ],
  });
  const res = await post(`${t.gw.url}/bedrock/model/claude/invoke-with-response-stream`, anthropicBody());
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/vnd.amazon.eventstream");
  assert.equal(res.headers.get("x-amzn-bedrock-content-type"), "application/json");
  await t.fake.whenDone(0);
  assert.deepEqual(bytes, t.fake.streamBytes[0]);
  const [call] = await t.gw.waitForCalls(1);
  assert.deepEqual(call.usage, {
    inputTokens: 12,
    outputTokens: 4,
    totalTokens: 5316,
    cacheReadInputTokens: 5000,
    cacheWriteInputTokens: 300,
  });
  const rows = (await get(t.gw.url, "/spend/logs")).json;
  assert.equal(nanos(rows[0].spend), sonnetNanos({ input: 12, output: 4, cacheRead: 5000, cacheWrite: 300 }));
});

Deno.test("InvokeModelWithResponseStream ending mid-generation before the metrics chunk: a failure billed an estimate", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "stream", truncateAfter: 3 });
  const res = await post(`${t.gw.url}/bedrock/model/claude/invoke-with-response-stream`, anthropicBody());
  await res.arrayBuffer();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.incomplete, true);
  assert.equal(call.status, "failure");
  assert.equal(call.usageEstimated, true);
  assert.ok((call.usage?.inputTokens ?? 0) > 0);
  const rows = (await get(t.gw.url, "/spend/logs")).json;
  assert.ok(rows[0].spend > 0);
  assert.equal(rows[0].incomplete, true);
  assert.equal(rows[0].usage_estimated, true);
});

Deno.test("InvokeModelWithResponseStream: an exception frame mid-stream reaches the SDK and fails the call", async () => {
  await using t = await setup();
  t.fake.enqueue({
    kind: "stream",
    exceptionAt: { index: 2, type: "modelStreamErrorException", message: "model broke" },
  });
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  const out = await client.send(
    new InvokeModelWithResponseStreamCommand({ modelId: "claude", body: encoder.encode(anthropicBody()) }),
  );
  await assert.rejects(nativeEvents(out.body), (e) => (e as Error).name === "ModelStreamErrorException");
  client.destroy();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "failure");
  assert.equal(call.errorType, "ModelStreamErrorException");
});

// ------------------------------------------------------------------------------------------------ CountTokens

Deno.test("CountTokens (AWS SDK): converse and invokeModel inputs, sent for the foundation model, free", async () => {
  await using t = await setup();
  t.fake.enqueue(
    { kind: "converse", usage: { inputTokens: 33 } },
    { kind: "converse", usage: { inputTokens: 44 } },
    { kind: "converse", usage: { inputTokens: 55 } },
  );
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  const viaConverse = await client.send(
    new CountTokensCommand({
      modelId: SONNET_4,
      input: { converse: { messages: [{ role: "user", content: [{ text: "count me" }] }] } },
    }),
  );
  const viaInvoke = await client.send(
    new CountTokensCommand({ modelId: SONNET_4, input: { invokeModel: { body: encoder.encode(anthropicBody()) } } }),
  );
  client.destroy();
  assert.equal(viaConverse.inputTokens, 33);
  assert.equal(viaInvoke.inputTokens, 44);
  // LiteLLM's #14478: the underscore form is the same operation.
  const res = await post(
    `${t.gw.url}/bedrock/model/${SONNET_4}/count_tokens`,
    JSON.stringify({ input: { converse: { messages: [] } } }),
  );
  assert.deepEqual(await res.json(), { inputTokens: 55 });

  for (const seen of t.fake.requests) {
    assert.equal(seen.rejected, false, seen.rejectReason);
    // CountTokens refuses cross-region profile ids: the geo prefix is dropped upstream.
    assert.equal(seen.rawPath, "/model/anthropic.claude-sonnet-4-20250514-v1%3A0/count-tokens");
  }
  assert.deepEqual(
    t.gw.calls.map((c) => [c.callType, c.status, c.usage]),
    Array(3).fill(["count-tokens", "success", undefined]),
  );
  const rows = (await get(t.gw.url, "/spend/logs")).json;
  assert.deepEqual(
    rows.map((r: { spend: number; total_tokens: number }) => [r.spend, r.total_tokens]),
    Array(3).fill([0, 0]),
  );
});

Deno.test("CountTokens input is validated before it reaches Bedrock", async () => {
  await using t = await setup();
  const bad = [
    {},
    { input: {} },
    { input: { converse: { messages: [] }, invokeModel: { body: "e30=" } } },
    { input: { invokeModel: { body: 5 } } },
    { input: { converse: { messages: [{ role: "robot", content: [] }] } } },
  ];
  for (const body of bad) {
    const res = await post(`${t.gw.url}/bedrock/model/claude/count-tokens`, JSON.stringify(body));
    const json = await res.json();
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(json.message, /Malformed input request: .*input/, JSON.stringify(json));
  }
  assert.equal(t.fake.requests.length, 0);
});

// ------------------------------------------------------------------------------------- mocks and key limits

Deno.test("mock_response deployments answer invoke, its stream and count-tokens in Bedrock's formats", async () => {
  await using t = await setup([{ name: "mock", params: '      mock_response: "mocked words here"' }]);
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  const body = encoder.encode(anthropicBody("12345678"));
  const one = await client.send(new InvokeModelCommand({ modelId: "mock", body }));
  assert.equal(JSON.parse(decoder.decode(one.body)).content[0].text, "mocked words here");
  const streamed = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: "mock", body }));
  assert.equal(streamedText(await nativeEvents(streamed.body)), "mocked words here");
  const counted = await client.send(
    new CountTokensCommand({
      modelId: "mock",
      input: { converse: { messages: [{ role: "user", content: [{ text: "12345678" }] }] } },
    }),
  );
  client.destroy();
  assert.equal(counted.inputTokens, 2);
  await t.gw.waitForCalls(3);
  assert.deepEqual(t.gw.calls.map((c) => [c.callType, c.status, c.usage?.outputTokens]), [
    ["invoke", "success", 5],
    ["invoke-with-response-stream", "success", 5],
    ["count-tokens", "success", undefined],
  ]);
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("a key limited to one model cannot invoke another; its invoke costs land on the key", async () => {
  await using t = await setup();
  const generated = await fetch(`${t.gw.url}/key/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}` },
    body: JSON.stringify({ models: [SONNET_4] }),
  }).then((r) => r.json());
  const client = bedrockClient(t.gw.url, generated.key, { http1: true });
  const body = encoder.encode(anthropicBody());
  for (
    const send of [
      () => client.send(new InvokeModelCommand({ modelId: "claude", body })),
      () => client.send(new InvokeModelWithResponseStreamCommand({ modelId: "claude", body })),
      () => client.send(new CountTokensCommand({ modelId: "claude", input: { converse: { messages: [] } } })),
    ]
  ) {
    await assert.rejects(
      send(),
      (e) => e instanceof AccessDeniedException && /not allowed to call model "claude"/.test(e.message),
    );
  }
  assert.equal(t.fake.requests.length, 0);
  await client.send(new InvokeModelCommand({ modelId: SONNET_4, body }));
  const streamed = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: SONNET_4, body }));
  await nativeEvents(streamed.body);
  client.destroy();
  await t.gw.waitForCalls(2);
  const info = await fetch(`${t.gw.url}/key/info?key=${generated.token}`, {
    headers: { authorization: `Bearer ${MASTER_KEY}` },
  }).then((r) => r.json());
  // Two calls at the fake's default usage (10 in, 5 out).
  assert.equal(nanos(info.info.spend), 2n * sonnetNanos({ input: 10, output: 5 }));
});
