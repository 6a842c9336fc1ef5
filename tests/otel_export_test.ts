/**
 * Traces as a backend receives them: the CLI with `OTEL_DENO=true` exports, over OTLP/HTTP JSON to the fake receiver
 * (`testing/fake_otlp.ts`), one `chat claude` span per converse and converse-stream call, with the GenAI model and
 * usage attributes (ints as ints, each key once), continuing the client's `traceparent` under Deno's server span
 * (named after the route), with its upstream attempt as a child; the stream's span ends with its usage. Nothing the
 * receiver got — traces, logs, metrics — holds the master key, the virtual key or the AWS secret.
 */
import assert from "node:assert/strict";
import { FAKE_CREDENTIALS, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { type OtlpSpan, startFakeOtlp } from "../testing/fake_otlp.ts";
import { startGatewayProcess } from "../testing/gateway_process.ts";
import { AWS_TEST_ISOLATION, converseBody, fakeConfig, MASTER_KEY } from "../testing/harness.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

Deno.test("OTLP export: GenAI spans for converse and converse-stream, the client's trace continued, no secret sent", async () => {
  await using otlp = await startFakeOtlp({ defaultTimeoutMs: 30_000 });
  const fake = await startFakeBedrock();
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/config.yaml`;
    await Deno.writeTextFile(config, fakeConfig(fake.url, { models: [{ name: "claude" }] }));
    await using gw = startGatewayProcess({
      args: ["--port", "0", "--host", "127.0.0.1", "--kv", ":memory:", "--config", config],
      env: {
        ...AWS_TEST_ISOLATION,
        AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: "100",
        OTEL_DENO_CONSOLE: "ignore",
      },
    });
    const url = `http://127.0.0.1:${await gw.port()}`;
    const generated = await fetch(`${url}/key/generate`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ key_alias: "traced" }),
    });
    const { key, token } = await generated.json();
    const call = async (op: string) => {
      const res = await fetch(`${url}/bedrock/model/claude/${op}`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", traceparent: PARENT },
        body: converseBody(),
      });
      assert.equal(res.status, 200, op);
      await res.arrayBuffer();
    };
    await call("converse");
    await call("converse-stream");

    const chats = await otlp.waitForSpans(2, { where: (s) => s.name === "chat claude" });
    const server = await otlp.waitForSpans(2, { where: (s) => s.kind === "server" && s.name.includes("/bedrock/") });
    const attempts = await otlp.waitForSpans(2, { where: (s) => s.name.startsWith("attempt ") });
    const streamed = chats.find((s) => s.attributes["gen_ai.request.stream"] === true);
    const plain = chats.find((s) => s !== streamed)!;
    assert.ok(streamed, "a span for the stream");
    for (const span of [plain, streamed]) {
      const a = span.attributes;
      assert.equal(a["gen_ai.operation.name"], "chat");
      assert.equal(a["gen_ai.provider.name"], "aws.bedrock");
      assert.equal(a["gen_ai.request.model"], "claude");
      assert.equal(a["gen_ai.response.model"], "us.anthropic.claude-3-5-sonnet-20240620-v1:0");
      assert.equal(a["gen_ai.usage.input_tokens"], 10);
      assert.equal(a["gen_ai.usage.output_tokens"], 5);
      assert.equal(span.attributeTypes["gen_ai.usage.input_tokens"], "int");
      assert.deepEqual(a["gen_ai.response.finish_reasons"], ["end_turn"]);
      assert.deepEqual(span.duplicateAttributeKeys, [], span.name);
      // The client's trace, under Deno's server span for the call, named after the route.
      assert.equal(span.traceId, TRACE_ID);
      const parent = server.find((s) => s.spanId === span.parentSpanId);
      assert.ok(parent, `the call span's parent is the server span: ${server.map((s) => s.name)}`);
      assert.equal(parent.parentSpanId, "00f067aa0ba902b7");
      assert.match(parent.name, /^POST \/bedrock\/model\/\{modelId\}\/converse(-stream)?$/);
      assert.ok(attempts.some((c: OtlpSpan) => c.parentSpanId === span.spanId), "an attempt child span");
    }
    // The stream's span ended with the stream: it carries the usage of the stream's last (metadata) event, checked
    // above. (Comparing its end time with the server span's would be a timing assert: the native client can read a
    // short stream whole before the response head is sent.)

    const raw = otlp.rawText();
    for (const secret of [MASTER_KEY, key, FAKE_CREDENTIALS.secretAccessKey]) {
      assert.ok(!raw.includes(secret), `the exporter sent a secret (${secret.slice(0, 6)}…)`);
    }
    assert.ok(raw.includes(token.slice(0, 12)), "the key's hash prefix names the caller");
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});
