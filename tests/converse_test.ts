/**
 * The foundation end to end: clients (the real AWS SDK and plain fetch) → gateway → fake Bedrock.
 */
import assert from "node:assert/strict";
import { ConverseCommand, ThrottlingException, ValidationException } from "@aws-sdk/client-bedrock-runtime";
import { FAKE_BEARER_TOKEN, FAKE_CREDENTIALS, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { bedrockClient, converseBody, fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
};
const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];

async function setup(models?: NonNullable<Parameters<typeof fakeConfig>[1]>["models"], extra?: string) {
  const fake = await startFakeBedrock();
  const gw = await startGateway({ yaml: fakeConfig(fake.url, { models, extra }), env: ENV });
  return {
    fake,
    gw,
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await fake.close();
    },
  };
}

const post = (url: string, body: BodyInit | null, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    body,
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json", ...headers },
  });

Deno.test("AWS SDK (default HTTP/2 handler) converse round trip, SigV4-signed upstream", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", text: "Hi there", usage: { inputTokens: 12, outputTokens: 3 } });
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  const out = await client.send(new ConverseCommand({ modelId: "claude", messages }));
  client.destroy();
  assert.equal(out.output?.message?.content?.[0].text, "Hi there");
  assert.deepEqual(out.usage, { inputTokens: 12, outputTokens: 3, totalTokens: 15 });
  assert.equal(t.fake.requests.length, 1);
  const seen = t.fake.requests[0];
  assert.equal(seen.rejected, false, seen.rejectReason);
  assert.equal(seen.auth.kind, "sigv4");
  assert.equal(seen.modelId, "us.anthropic.claude-3-5-sonnet-20240620-v1:0");
  assert.equal(seen.rawPath, "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
  assert.equal(out.$metadata.requestId, seen.requestId);
  const [call] = t.gw.calls;
  assert.equal(call.status, "success");
  assert.equal(call.usage?.inputTokens, 12);
});

Deno.test("plain fetch: body bytes forwarded unchanged, response relayed with a fresh content-length", async () => {
  await using t = await setup();
  // Odd spacing and key order: a re-serializing proxy would change these bytes.
  const body = '{ "messages":[{"content":[{"text":"héllo"}], "role":"user"}],  "inferenceConfig":{"maxTokens":5} }';
  const res = await post(`${t.gw.url}/bedrock/model/claude/converse`, body, {
    "x-api-key": "sk-should-not-leak",
    cookie: "session=secret",
    "x-amz-date": "20200101T000000Z",
    "x-amz-security-token": "client-token",
  });
  const text = await res.text();
  assert.equal(res.status, 200);
  assert.equal(new TextDecoder().decode(t.fake.requests[0].body), body);
  assert.equal(res.headers.get("content-length"), String(new TextEncoder().encode(text).byteLength));
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.ok(res.headers.get("x-amzn-requestid"));
  assert.ok(res.headers.get("x-litellm-call-id"));
  assert.equal(JSON.parse(text).output.message.content[0].text, "echo: héllo");
  // None of the client's credentials or x-amz-* headers reach the upstream.
  const headers = t.fake.requests[0].headers;
  const all = JSON.stringify(headers);
  for (const secret of [MASTER_KEY, "sk-should-not-leak", "session=secret", "client-token", "20200101T000000Z"]) {
    assert.ok(!all.includes(secret), `${secret} leaked upstream`);
  }
  assert.equal(headers["cookie"], undefined);
  assert.equal(headers["x-api-key"], undefined);
});

Deno.test("an inference-profile ARN arrives encoded at the upstream and passes its signature check", async () => {
  const arn = "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0";
  await using t = await setup([{ name: arn, model: `bedrock/${arn}` }]);
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  const out = await client.send(new ConverseCommand({ modelId: arn, messages }));
  client.destroy();
  assert.equal(out.stopReason, "end_turn");
  const seen = t.fake.requests[0];
  assert.equal(seen.rejected, false, seen.rejectReason);
  assert.equal(seen.modelId, arn);
  assert.equal(
    seen.rawPath,
    "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
  );
});

Deno.test("the model name also resolves when the client sends it unencoded", async () => {
  await using t = await setup([{ name: "us.anthropic.claude-sonnet-4-20250514-v1:0" }]);
  const res = await post(
    `${t.gw.url}/bedrock/model/us.anthropic.claude-sonnet-4-20250514-v1:0/converse`,
    converseBody(),
  );
  assert.equal(res.status, 200, await res.text());
});

Deno.test("an api_key deployment sends the Bedrock API key as a bearer token", async () => {
  await using t = await setup([{ name: "keyed", params: `      api_key: ${FAKE_BEARER_TOKEN}` }]);
  const res = await post(`${t.gw.url}/bedrock/model/keyed/converse`, converseBody());
  assert.equal(res.status, 200, await res.text());
  assert.deepEqual(t.fake.requests[0].auth, { kind: "bearer", token: FAKE_BEARER_TOKEN });
  assert.equal(t.fake.requests[0].headers["x-amz-date"], undefined);
});

Deno.test("an upstream ThrottlingException surfaces as the SDK's ThrottlingException", async () => {
  await using t = await setup();
  // Every attempt is throttled (the router retries twice by default), so the client sees the last one.
  t.fake.setDefault({ kind: "error", status: 429, type: "ThrottlingException", message: "Too many requests" });
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  await assert.rejects(client.send(new ConverseCommand({ modelId: "claude", messages })), (e) => {
    assert.ok(e instanceof ThrottlingException, String(e));
    assert.equal(e.message, "Too many requests");
    return true;
  });
  client.destroy();
  assert.equal(t.gw.calls[0].status, "failure");
  assert.equal(t.gw.calls[0].errorType, "ThrottlingException");
  assert.equal(t.gw.calls[0].retries, 2);
  assert.equal(t.fake.requests.length, 3);
});

Deno.test("bad input gets a typed 4xx and never reaches the upstream", async () => {
  await using t = await setup(undefined, "  max_request_body_bytes: 1000\n");
  const url = `${t.gw.url}/bedrock/model/claude/converse`;
  const cases: Array<[string, Promise<Response>, number, string, RegExp]> = [
    ["no key", fetch(url, { method: "POST", body: converseBody() }), 401, "UnrecognizedClientException", /No API key/],
    [
      "wrong key",
      post(url, converseBody(), { authorization: "Bearer sk-wrong" }),
      401,
      "UnrecognizedClientException",
      /Invalid API key/,
    ],
    ["malformed JSON", post(url, "{not json"), 400, "ValidationException", /not valid JSON/],
    ["empty body", post(url, ""), 400, "ValidationException", /empty/],
    ["not a Converse request", post(url, '{"messages":"hi"}'), 400, "ValidationException", /messages/],
    [
      "bad role",
      post(url, '{"messages":[{"role":"bot","content":[{"text":"x"}]}]}'),
      400,
      "ValidationException",
      /role/,
    ],
    ["JSON array", post(url, "[1,2]"), 400, "ValidationException", /expected object/],
    [
      "unknown model",
      post(`${t.gw.url}/bedrock/model/nope/converse`, converseBody()),
      400,
      "ValidationException",
      /unknown model "nope".*claude/,
    ],
    ["too large", post(url, converseBody("x".repeat(2000))), 413, "ValidationException", /exceeds the gateway limit/],
    [
      "unknown operation",
      post(`${t.gw.url}/bedrock/model/claude/frobnicate`, converseBody()),
      404,
      "UnknownOperationException",
      /No route/,
    ],
    [
      "unknown route",
      post(`${t.gw.url}/bedrock/elsewhere`, converseBody()),
      404,
      "UnknownOperationException",
      /No route/,
    ],
    [
      "wrong method",
      fetch(url, { headers: { authorization: `Bearer ${MASTER_KEY}` } }),
      405,
      "UnknownOperationException",
      /not allowed/,
    ],
  ];
  for (const [name, pending, status, type, message] of cases) {
    const res = await pending;
    const body = await res.json();
    assert.equal(res.status, status, `${name}: ${JSON.stringify(body)}`);
    assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], type, name);
    assert.match(body.message, message, name);
    assert.equal(body.error.code, String(status), name);
  }
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("the AWS SDK raises ValidationException for an unknown model", async () => {
  await using t = await setup();
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  await assert.rejects(
    client.send(new ConverseCommand({ modelId: "gpt-9", messages })),
    (e) => e instanceof ValidationException && /Models available to this key: claude/.test(e.message),
  );
  client.destroy();
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("an unreachable upstream is a 502 ServiceUnavailableException; a hung one times out with a 504", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadUrl = `http://127.0.0.1:${closed.addr.port}`;
  closed.close();
  const fake = await startFakeBedrock();
  fake.setDefault({ kind: "hang" });
  const yaml = `model_list:
  - model_name: dead
    litellm_params: { model: bedrock/x, aws_region_name: us-west-2, aws_bedrock_runtime_endpoint: "${deadUrl}" }
  - model_name: slow
    litellm_params: { model: bedrock/x, aws_region_name: us-west-2, aws_bedrock_runtime_endpoint: "${fake.url}", timeout: 0.05 }
general_settings: { master_key: ${MASTER_KEY} }
`;
  // The gateway's own upstream signals, recorded: whether the timed-out attempt was aborted is read from them,
  // not from the fake (which may not even have seen the request when a 50 ms timer fires on a loaded machine).
  const signals: AbortSignal[] = [];
  const recordingFetch: typeof fetch = (input, init) => {
    if (init?.signal && String(input).startsWith(fake.url)) signals.push(init.signal);
    return fetch(input, init);
  };
  await using gw = await startGateway({ yaml, env: ENV, fetch: recordingFetch });
  const dead = await post(`${gw.url}/bedrock/model/dead/converse`, converseBody());
  assert.equal(dead.status, 502);
  assert.equal(dead.headers.get("x-amzn-errortype")?.split(":")[0], "ServiceUnavailableException");
  assert.match((await dead.json()).message, /unreachable/);
  const slow = await post(`${gw.url}/bedrock/model/slow/converse`, converseBody());
  assert.equal(slow.status, 504);
  assert.equal(slow.headers.get("x-amzn-errortype")?.split(":")[0], "ServiceUnavailableException");
  assert.match((await slow.json()).message, /timed out/);
  assert.ok(signals.length >= 1 && signals.every((sig) => sig.aborted), "every timed-out attempt was aborted");
  await fake.close();
});

Deno.test("a deployment with an unset variable answers a clear error naming it; the rest keeps serving", async () => {
  const fake = await startFakeBedrock();
  const yaml = `model_list:
  - model_name: broken
    litellm_params: { model: bedrock/x, aws_region_name: us-west-2, aws_access_key_id: os.environ/MISSING_KEY_ID, aws_secret_access_key: s }
  - model_name: fine
    litellm_params: { model: bedrock/x, aws_region_name: us-west-2, aws_bedrock_runtime_endpoint: "${fake.url}" }
general_settings: { master_key: ${MASTER_KEY} }
`;
  await using gw = await startGateway({ yaml, env: ENV });
  const res = await post(`${gw.url}/bedrock/model/broken/converse`, converseBody());
  assert.equal(res.status, 503);
  assert.match((await res.json()).message, /MISSING_KEY_ID is not set/);
  assert.equal((await post(`${gw.url}/bedrock/model/fine/converse`, converseBody())).status, 200);
  assert.equal(fake.requests.length, 1);
  await fake.close();
});

Deno.test("mock_response deployments answer locally through the AWS SDK", async () => {
  const yaml = await Deno.readTextFile("config.example.yaml");
  await using gw = await startGateway({ yaml, env: {} });
  const client = bedrockClient(gw.url, "sk-1234", { http1: true });
  const out = await client.send(new ConverseCommand({ modelId: "demo", messages }));
  client.destroy();
  assert.match(out.output?.message?.content?.[0].text ?? "", /demo model/);
  assert.ok((out.usage?.outputTokens ?? 0) > 0);
  assert.equal(gw.calls[0].status, "success");
});

Deno.test("health endpoints need no key", async () => {
  await using t = await setup();
  const live = await fetch(`${t.gw.url}/health/liveliness`);
  assert.equal(await live.json(), "I'm alive!");
  const ready = await fetch(`${t.gw.url}/health/readiness`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: "healthy", db: "connected" });
});
