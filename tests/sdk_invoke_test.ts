/**
 * The SDK's model-native methods end to end (`sdk/mod.ts` → the running gateway → fake Bedrock): `invoke` (parsed
 * answer plus the token and cost headers), `invokeStream` (the `chunk` events' base64 bytes decoded to JSON, typed
 * errors from exception frames) and `countTokens`; and `baseURL`, the spelling other SDKs use.
 */
import assert from "node:assert/strict";
import { createClient, type InvokeModelResult, ThrottlingException, ValidationException } from "../sdk/mod.ts";
import { MASTER_KEY } from "../testing/harness.ts";
import { setupKeys as setup } from "./keys_helpers.ts";

/** The Anthropic Messages shapes the test reads, as an app would declare them (interfaces, no index signature). */
interface ClaudeRequest {
  anthropic_version: string;
  max_tokens: number;
  messages: Array<{ role: "user" | "assistant"; content: string }>;
}
interface ClaudeMessage {
  content: Array<{ type: string; text: string }>;
  stop_reason: string;
}
interface ClaudeStreamEvent {
  type: string;
  delta?: { text?: string };
  "amazon-bedrock-invocationMetrics"?: { inputTokenCount: number; outputTokenCount: number };
}

const claudeRequest: ClaudeRequest = {
  anthropic_version: "bedrock-2023-05-31",
  max_tokens: 64,
  messages: [{ role: "user", content: "héllo" }],
};

Deno.test("invoke: the model's answer parsed, token counts and cost from the headers, bound headers forwarded", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", text: "Hi from Claude", usage: { inputTokens: 12, outputTokens: 4 } });
  const client = createClient({ baseURL: t.gw.url, apiKey: MASTER_KEY });
  const out: InvokeModelResult<ClaudeMessage> = await client.invoke<ClaudeMessage>("claude", claudeRequest, {
    headers: { "x-amzn-bedrock-trace": "ENABLED" },
  });
  assert.equal(out.body.content[0].text, "Hi from Claude");
  assert.equal(out.inputTokens, 12);
  assert.equal(out.outputTokens, 4);
  assert.ok(out.cost !== undefined && out.cost > 0, `cost ${out.cost}`);
  assert.equal(out.cost, Number(out.headers.get("x-litellm-response-cost")));
  assert.equal(out.requestId, t.fake.requests[0].requestId);
  assert.equal(out.headers.get("x-amzn-bedrock-invocation-latency"), "42");

  const seen = t.fake.requests[0];
  assert.equal(seen.operation, "invoke");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(seen.body)), claudeRequest);
  assert.equal(seen.headers["x-amzn-bedrock-trace"], "ENABLED");
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.callType, "invoke");
  assert.equal(call.usage?.inputTokens, 12);

  await assert.rejects(client.invoke("gpt-9", claudeRequest), ValidationException);
});

Deno.test("invokeStream: each chunk's bytes decoded to the model's JSON; exception frames thrown typed", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", text: "Streaming from Claude", usage: { inputTokens: 9, outputTokens: 6 } });
  const client = createClient({ baseURL: t.gw.url, apiKey: MASTER_KEY });
  const events: ClaudeStreamEvent[] = [];
  for await (const e of client.invokeStream<ClaudeStreamEvent>("claude", claudeRequest)) events.push(e);
  assert.equal(events[0].type, "message_start");
  assert.equal(events.at(-1)?.type, "message_stop");
  assert.equal(events.map((e) => e.delta?.text ?? "").join(""), "Streaming from Claude");
  assert.deepEqual(events.at(-1)?.["amazon-bedrock-invocationMetrics"], {
    inputTokenCount: 9,
    outputTokenCount: 6,
    invocationLatency: 42,
    firstByteLatency: 10,
  });
  assert.equal(t.fake.requests[0].operation, "invoke-with-response-stream");
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.usage?.outputTokens, 6);

  t.fake.enqueue({ kind: "stream", exceptionAt: { index: 2, type: "throttlingException", message: "Slow down" } });
  const seen: ClaudeStreamEvent[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of client.invokeStream<ClaudeStreamEvent>("claude", claudeRequest)) seen.push(e);
    })(),
    (e) => e instanceof ThrottlingException && e.message === "Slow down" && e.status === 429,
  );
  assert.deepEqual(seen.map((e) => e.type), ["message_start", "content_block_start"]);
  // Started streams are not retried: one request reached Bedrock.
  assert.equal(t.fake.requests.length, 2);
});

Deno.test("countTokens: a Converse request counted; free, logged, typed", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", usage: { inputTokens: 27 } });
  const client = createClient({ baseURL: t.gw.url, apiKey: MASTER_KEY });
  const messages = [{ role: "user" as const, content: [{ text: "How many?" }] }];
  const counted = await client.countTokens("claude", { input: { converse: { messages } } });
  assert.deepEqual(counted, { inputTokens: 27 });
  const seen = t.fake.requests[0];
  assert.equal(seen.operation, "count-tokens");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(seen.body)), { input: { converse: { messages } } });
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.callType, "count-tokens");
  // The body is validated by the gateway: neither converse nor invokeModel is a 400.
  await assert.rejects(client.countTokens("claude", { input: {} as never }), ValidationException);
});

Deno.test("baseURL (OpenAI/Anthropic/Vercel spelling) and baseUrl both work; baseURL wins; trailing slashes go", async () => {
  await using t = await setup();
  const urls: string[] = [];
  const recording = (url: string, init: RequestInit) => {
    urls.push(url);
    return fetch(url, init);
  };
  const upper = createClient({ baseURL: `${t.gw.url}//`, apiKey: MASTER_KEY, fetch: recording });
  assert.equal((await upper.health.readiness()).status, "healthy");
  const lower = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY, fetch: recording });
  assert.equal((await lower.health.readiness()).status, "healthy");
  const both = createClient({ baseURL: t.gw.url, baseUrl: "http://wrong.invalid", fetch: recording });
  assert.equal((await both.health.readiness()).status, "healthy");
  assert.deepEqual(urls, Array(3).fill(`${t.gw.url}/health/readiness`));
  // Plain JavaScript callers that pass neither learn it at once, not at the first call.
  assert.throws(() => createClient({} as never), (e) => e instanceof TypeError && /baseURL/.test(e.message));
});
