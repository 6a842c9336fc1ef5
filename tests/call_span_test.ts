/**
 * What a call's spans say, in-process with a recording tracer (`testing/recording_tracer.ts`): the GenAI attributes
 * of a converse call, its attempts as child spans (a retry shows as two), a stream's span ended only when the stream
 * is over with its usage, prompt text only when prompts are stored, and nothing secret anywhere. The OTLP export
 * of the same spans by Deno is `otel_export_test.ts`.
 */
import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { FAKE_CREDENTIALS, Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { type RecordedSpan, RecordingTracer } from "../testing/recording_tracer.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
};
const MODEL_ID = "us.anthropic.claude-3-5-sonnet-20240620-v1:0";

async function setup(extra = "", deployments = 1) {
  const fake = await startFakeBedrock();
  const tracer = new RecordingTracer();
  const models = Array.from({ length: deployments }, () => ({ name: "claude" }));
  const gw = await startGateway({ yaml: fakeConfig(fake.url, { models, extra }), env: ENV, tracer });
  // The key's team must exist (issue 18); its user is created with the key.
  const team = await fetch(`${gw.url}/team/new`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ team_id: "team-a" }),
  });
  assert.equal(team.status, 200, await team.text());
  const key = (await (await fetch(`${gw.url}/key/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ key_alias: "tracer-key", team_id: "team-a", user_id: "user-1" }),
  })).json()) as { key: string; token: string };
  return {
    fake,
    gw,
    tracer,
    key,
    post: (op: string, body: unknown) =>
      fetch(`${gw.url}/bedrock/model/claude/${op}`, {
        method: "POST",
        headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await fake.close();
    },
  };
}

const body = {
  messages: [{ role: "user", content: [{ text: "Hello there" }] }],
  system: [{ text: "Be brief" }],
  inferenceConfig: { maxTokens: 50, temperature: 0.2, topP: 0.9, stopSequences: ["STOP"] },
};

function assertNoSecrets(spans: RecordedSpan[], secrets: string[]) {
  const text = JSON.stringify(spans, (_k, v) => typeof v === "bigint" ? String(v) : v);
  for (const s of secrets) assert.ok(!text.includes(s), `a span holds ${s.slice(0, 8)}…`);
}

Deno.test("a converse call's span: GenAI attributes, the gateway's own, one attempt child, each key set once", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "converse", usage: { inputTokens: 12, outputTokens: 7, cacheReadInputTokens: 100 } });
  const res = await t.post("converse", body);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const [call] = t.tracer.named("chat claude");
  assert.ok(call, `spans: ${t.tracer.spans.map((s) => s.name)}`);
  assert.equal(call.kind, SpanKind.CLIENT);
  assert.equal(call.ended, true);
  assert.equal(call.endCalls, 1);
  const a = call.attributes;
  assert.equal(a["gen_ai.operation.name"], "chat");
  assert.equal(a["gen_ai.provider.name"], "aws.bedrock");
  assert.equal(a["gen_ai.request.model"], "claude");
  assert.equal(a["gen_ai.response.model"], MODEL_ID);
  // Ints travel as bigint (OTLP intValue); input counts the cached tokens too.
  assert.equal(a["gen_ai.usage.input_tokens"], 112n);
  assert.equal(a["gen_ai.usage.output_tokens"], 7n);
  assert.equal(a["gen_ai.usage.cache_read.input_tokens"], 100n);
  assert.equal(a["gen_ai.usage.cache_creation.input_tokens"], 0n);
  assert.equal(a["gen_ai.usage.cache_write.input_tokens"], 0n);
  assert.deepEqual(a["gen_ai.response.finish_reasons"], ["end_turn"]);
  assert.equal(a["gen_ai.request.max_tokens"], 50n);
  assert.equal(a["gen_ai.request.temperature"], 0.2);
  assert.equal(a["gen_ai.request.top_p"], 0.9);
  assert.deepEqual(a["gen_ai.request.stop_sequences"], ["STOP"]);
  assert.equal(a["gen_ai.request.stream"], undefined);
  assert.equal(typeof a["gateway.cost_usd"], "number");
  assert.ok((a["gateway.cost_usd"] as number) > 0);
  assert.equal(a["gateway.deployment"], t.gw.config.deployments[0].id);
  assert.equal(a["gateway.retries"], 0n);
  assert.equal(a["gateway.key_alias"], "tracer-key");
  assert.equal(a["gateway.key_hash"], t.key.token.slice(0, 12));
  assert.equal(a["gateway.team_id"], "team-a");
  assert.equal(a["user.id"], "user-1");
  assert.equal(a["gateway.status"], "success");
  assert.equal(a["error.type"], undefined);
  assert.equal(a["gen_ai.input.messages"], undefined, "no prompt text unless prompts are stored");
  assert.equal(call.status.code, SpanStatusCode.UNSET);
  assert.deepEqual(call.duplicateKeys, []);

  const attempts = t.tracer.childrenOf(call);
  assert.equal(attempts.length, 1);
  const [attempt] = attempts;
  assert.equal(attempt.kind, SpanKind.CLIENT);
  assert.equal(attempt.attributes["http.response.status_code"], 200n);
  assert.equal(attempt.attributes["server.address"], "127.0.0.1");
  assert.equal(attempt.attributes["server.port"], BigInt(new URL(t.fake.url).port));
  assert.equal(attempt.attributes["gateway.attempt"], 1n);
  assert.equal(attempt.ended, true);
  assert.deepEqual(attempt.duplicateKeys, []);
  assertNoSecrets(t.tracer.spans, [t.key.key, MASTER_KEY, FAKE_CREDENTIALS.secretAccessKey]);
});

Deno.test("a retried call shows each attempt as a child span; the failed one has its status and error type", async () => {
  await using t = await setup("", 2);
  t.fake.enqueue(
    { kind: "error", status: 500, type: "InternalServerException", message: "boom" },
    { kind: "converse" },
  );
  const res = await t.post("converse", body);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const [call] = t.tracer.named("chat claude");
  assert.equal(call.attributes["gateway.retries"], 1n);
  const [first, second] = t.tracer.childrenOf(call);
  assert.equal(first.attributes["http.response.status_code"], 500n);
  assert.equal(first.attributes["error.type"], "InternalServerException");
  assert.equal(first.status.code, SpanStatusCode.ERROR);
  assert.equal(first.attributes["gateway.attempt"], 1n);
  assert.equal(second.attributes["http.response.status_code"], 200n);
  assert.equal(second.attributes["gateway.attempt"], 2n);
  assert.equal(second.status.code, SpanStatusCode.UNSET);
  assert.notEqual(first.attributes["gateway.deployment"], second.attributes["gateway.deployment"]);
});

Deno.test("a failed call's span has error.type and an ERROR status; no span for a call refused before its hold", async () => {
  await using t = await setup();
  t.fake.enqueue({ kind: "error", status: 400, type: "ValidationException", message: "bad model input" });
  const res = await t.post("converse", body);
  assert.equal(res.status, 400);
  await res.body?.cancel();
  const [call] = t.tracer.named("chat claude");
  assert.equal(call.attributes["error.type"], "ValidationException");
  assert.equal(call.status.code, SpanStatusCode.ERROR);
  assert.deepEqual(call.attributes["gen_ai.response.finish_reasons"], ["error"]);
  // Refused by validation: no call span (the request never reached its hold).
  const bad = await t.post("converse", { messages: "nope" });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
  assert.equal(t.tracer.named("chat claude").length, 1);
});

Deno.test("a stream's span ends when the stream ends, with its usage and time to first chunk", async () => {
  await using t = await setup();
  const latch = new Latch();
  t.fake.enqueue({ kind: "stream", pauseAfterFirst: latch });
  const res = await t.post("converse-stream", body);
  assert.equal(res.status, 200);
  const [call] = t.tracer.named("chat claude");
  assert.equal(call.ended, false, "the head is out, the stream is not over");
  assert.equal(call.attributes["gen_ai.request.stream"], true);
  latch.release();
  await res.arrayBuffer();
  await t.gw.waitForCalls(1);
  assert.equal(call.ended, true);
  assert.equal(call.attributes["gen_ai.usage.input_tokens"], 10n);
  assert.equal(call.attributes["gen_ai.usage.output_tokens"], 5n);
  assert.deepEqual(call.attributes["gen_ai.response.finish_reasons"], ["end_turn"]);
  assert.equal(typeof call.attributes["gen_ai.response.time_to_first_chunk"], "number");
  assert.deepEqual(call.duplicateKeys, []);
});

Deno.test("prompt and answer text are on the span only when store_prompts_in_spend_logs is on", async () => {
  await using t = await setup("  store_prompts_in_spend_logs: true\n");
  t.fake.enqueue({ kind: "converse", text: "General Kenobi" });
  const res = await t.post("converse", body);
  await res.body?.cancel();
  const [call] = t.tracer.named("chat claude");
  assert.deepEqual(JSON.parse(call.attributes["gen_ai.input.messages"] as string), [
    { role: "user", parts: [{ type: "text", content: "Hello there" }] },
  ]);
  assert.deepEqual(JSON.parse(call.attributes["gen_ai.system_instructions"] as string), [
    { type: "text", content: "Be brief" },
  ]);
  const output = JSON.parse(call.attributes["gen_ai.output.messages"] as string);
  assert.equal(output[0].role, "assistant");
  assert.deepEqual(output[0].parts, [{ type: "text", content: "General Kenobi" }]);
  assert.equal(output[0].finish_reason, "end_turn");
});

Deno.test("the stop reason of native answers and streams reaches the record and the span", async () => {
  await using t = await setup();
  const native = {
    anthropic_version: "bedrock-2023-05-31",
    max_tokens: 20,
    messages: [{ role: "user", content: "Hi" }],
  };
  t.fake.enqueue({ kind: "converse", stopReason: "max_tokens" }, { kind: "converse", stopReason: "end_turn" });
  const a = await t.post("invoke", native);
  assert.equal(a.status, 200);
  await a.body?.cancel();
  const b = await t.post("invoke-with-response-stream", native);
  assert.equal(b.status, 200);
  await b.arrayBuffer();
  const calls = await t.gw.waitForCalls(2);
  assert.deepEqual(calls.map((c) => c.stopReason), ["max_tokens", "end_turn"]);
  assert.deepEqual(calls.map((c) => c.requestParams?.maxTokens), [20, 20]);
  const spans = t.tracer.named("chat claude");
  assert.deepEqual(spans.map((s) => s.attributes["gen_ai.response.finish_reasons"]), [["max_tokens"], ["end_turn"]]);
});
