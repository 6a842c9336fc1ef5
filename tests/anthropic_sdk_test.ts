/**
 * Claude Code's path: `@anthropic-ai/bedrock-sdk` pointed at the gateway (`ANTHROPIC_BEDROCK_BASE_URL`) with a
 * gateway virtual key as its Bedrock API key (`AWS_BEARER_TOKEN_BEDROCK`, here the `apiKey` option). It sends
 * InvokeModel / InvokeModelWithResponseStream with Anthropic-native bodies and the model id unencoded in the path.
 */
import assert from "node:assert/strict";
import { AnthropicBedrock } from "@anthropic-ai/bedrock-sdk";
import { startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { adminCall, Clock, ENV } from "./keys_helpers.ts";
import { get, nanos, SONNET_PRICES, sonnetNanos } from "./spend_helpers.ts";

const SONNET_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0";

async function setup() {
  const clock = new Clock();
  const fake = await startFakeBedrock({ now: () => new Date(clock.now()) });
  const gw = await startGateway({
    yaml: fakeConfig(fake.url, {
      models: [{ name: SONNET_4, model: `bedrock/${SONNET_4}`, params: SONNET_PRICES }],
    }),
    env: ENV,
    now: clock.now,
  });
  const generated = await adminCall(gw.url, "POST", "/key/generate", { key_alias: "claude-code" });
  assert.equal(generated.status, 200);
  /** Every URL the SDK fetched. */
  const urls: string[] = [];
  const client = new AnthropicBedrock({
    baseURL: `${gw.url}/bedrock`,
    awsRegion: "us-west-2",
    apiKey: generated.json.key,
    maxRetries: 0,
    fetch: (input: string | URL | Request, init?: RequestInit) => {
      urls.push(input instanceof Request ? input.url : String(input));
      return fetch(input, init);
    },
  });
  return {
    fake,
    gw,
    client,
    urls,
    key: generated.json as { key: string; token: string },
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await fake.close();
    },
  };
}

Deno.test("AnthropicBedrock messages.create through the gateway with a virtual key: unencoded id, billed to the key", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", text: "Hello, Claude Code", usage: { inputTokens: 4000, outputTokens: 120 } });
  const message = await t.client.messages.create({
    model: SONNET_4,
    max_tokens: 256,
    messages: [{ role: "user", content: "Say hello" }],
  });
  assert.equal(message.content[0].type, "text");
  assert.equal(message.content[0].type === "text" && message.content[0].text, "Hello, Claude Code");
  assert.deepEqual(message.usage, { input_tokens: 4000, output_tokens: 120 });
  // The SDK sends the id raw (`:` unencoded); the gateway resolves it and encodes it upstream like the AWS SDKs.
  assert.ok(t.urls[0].endsWith(`/bedrock/model/${SONNET_4}/invoke`), t.urls[0]);
  const seen = t.fake.requests[0];
  assert.equal(seen.rejected, false, seen.rejectReason);
  assert.equal(seen.rawPath, "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/invoke");
  assert.equal(seen.auth.kind, "sigv4");
  // The SDK moves `anthropic-version` into the body; the body reaches Bedrock as the SDK sent it.
  const body = JSON.parse(new TextDecoder().decode(seen.body));
  assert.equal(typeof body.anthropic_version, "string");
  assert.equal(body.model, undefined);
  assert.equal(JSON.stringify(seen.headers).includes(t.key.key), false);

  const rows = (await get(t.gw.url, `/spend/logs?api_key=${t.key.token}`)).json;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].key_alias, "claude-code");
  assert.equal(rows[0].model, SONNET_4);
  assert.equal(nanos(rows[0].spend), sonnetNanos({ input: 4000, output: 120 }));
});

Deno.test("AnthropicBedrock messages.stream through the gateway: events decoded, cost from the invocation metrics", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", text: "Streaming to Claude Code", usage: { inputTokens: 900, outputTokens: 60 } });
  const deltas: string[] = [];
  const stream = t.client.messages.stream({
    model: SONNET_4,
    max_tokens: 256,
    messages: [{ role: "user", content: "Stream please" }],
  });
  stream.on("text", (text) => deltas.push(text));
  const final = await stream.finalMessage();
  assert.equal(deltas.join(""), "Streaming to Claude Code");
  assert.ok(deltas.length > 1, "the answer arrived in pieces");
  assert.equal(final.content[0].type === "text" && final.content[0].text, "Streaming to Claude Code");
  assert.equal(final.stop_reason, "end_turn");
  assert.ok(t.urls[0].endsWith(`/bedrock/model/${SONNET_4}/invoke-with-response-stream`), t.urls[0]);

  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.callType, "invoke-with-response-stream");
  assert.equal(call.status, "success");
  assert.equal(call.caller.keyHash, t.key.token);
  const info = await adminCall(t.gw.url, "GET", `/key/info?key=${t.key.token}`);
  assert.equal(nanos(info.json.info.spend), sonnetNanos({ input: 900, output: 60 }));
});

Deno.test("AnthropicBedrock: gateway errors arrive as the SDK's typed errors", async () => {
  await using t = await setup();
  // A key that may not call the model: 403, the SDK's PermissionDeniedError.
  const limited = await adminCall(t.gw.url, "POST", "/key/generate", { models: ["other"] });
  const denied = t.client.withOptions({ apiKey: limited.json.key });
  await assert.rejects(
    denied.messages.create({ model: SONNET_4, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    (e) => (e as { status?: number }).status === 403 && /not allowed to call model/.test((e as Error).message),
  );
  // A wrong key: 401.
  const wrong = t.client.withOptions({ apiKey: "sk-not-a-key" });
  await assert.rejects(
    wrong.messages.create({ model: SONNET_4, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    (e) => (e as { status?: number }).status === 401,
  );
  assert.equal(t.fake.requests.length, 0);
  // The master key works like any gateway key.
  const master = t.client.withOptions({ apiKey: MASTER_KEY });
  const ok = await master.messages.create({
    model: SONNET_4,
    max_tokens: 8,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(ok.content[0].type === "text" && ok.content[0].text, "echo: hi");
});
