/**
 * What a person reads in the log: `--log-format pretty` lines (time, level, message, `key=value` fields), JSON lines
 * otherwise; a failed call's default line says why (`error_message`, secrets redacted); and the start-up line says
 * where KV lives, whether a master key is set, which models lack AWS credentials, and whether traces are exported.
 */
import assert from "node:assert/strict";
import { createLogger } from "../server/core/log.ts";
import { listeningLine, tracesShown } from "../server/cli/banner.ts";
import { FAKE_CREDENTIALS, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { converseBody, fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { startGatewayProcess } from "../testing/gateway_process.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
};

Deno.test("pretty lines: time, level, message, then key=value (quoted when needed, undefined left out)", () => {
  const lines: string[] = [];
  const at = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const log = createLogger({ write: (l) => lines.push(l), now: () => at, format: "pretty", fields: { worker: 1 } });
  log.warn("call", { model: "claude", status: "failure", error_message: "it broke: x=1", n: 2, gone: undefined });
  log.debug("hidden");
  log.info("nested", { upstream: { a: 1 } });
  assert.deepEqual(lines, [
    '03:04:05.678 WARN  call worker=1 model=claude status=failure error_message="it broke: x=1" n=2',
    '03:04:05.678 INFO  nested worker=1 upstream={"a":1}',
  ]);
  const json: string[] = [];
  createLogger({ write: (l) => json.push(l), now: () => at }).info("call", { model: "claude" });
  assert.deepEqual(JSON.parse(json[0]), {
    time: "2026-01-02T03:04:05.678Z",
    level: "info",
    msg: "call",
    model: "claude",
  });
});

Deno.test("a failed call's default line carries error_message, with secrets in it redacted", async () => {
  const fake = await startFakeBedrock();
  const gw = await startGateway({ yaml: fakeConfig(fake.url, { models: [{ name: "claude" }] }), env: ENV });
  try {
    const leaked = "sk-leaked-key-0123456789 and AKIAABCDEFGHIJKLMNOP";
    fake.enqueue({ kind: "error", status: 400, type: "ValidationException", message: `bad request: ${leaked}` });
    const res = await fetch(`${gw.url}/bedrock/model/claude/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: converseBody(),
    });
    await res.body?.cancel();
    assert.equal(res.status, 400);
    const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "call");
    assert.ok(line, gw.logs.join("\n"));
    assert.equal(line.error_type, "ValidationException");
    assert.match(line.error_message, /^bad request: sk-\[redacted\] and \[aws-key-id\]/);
    assert.ok(!gw.logs.join("\n").includes("sk-leaked-key"), "the raw key is in a log line");
    assert.ok(!gw.logs.join("\n").includes("AKIAABCDEFGHIJKLMNOP"));
  } finally {
    await gw.close();
    await fake.close();
  }
});

Deno.test("the start-up line: KV, master key, models without AWS credentials, traces", async () => {
  const line = listeningLine("http://localhost:4000", 1, {
    configSource: "config.yaml",
    models: ["demo", "claude"],
    kv: ".data/gateway.sqlite",
    masterKey: false,
    withoutCredentials: ["claude"],
    traces: "off",
  });
  assert.equal(
    line,
    "Converse Gateway listening on http://localhost:4000 (config config.yaml) models: demo, claude · " +
      "KV .data/gateway.sqlite · NO master key (open gateway) · no AWS credentials for: claude · traces off",
  );
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(tracesShown(env({})), "off");
  assert.equal(tracesShown(env({ OTEL_DENO: "true" })), "OTLP http://localhost:4318");
  assert.equal(
    tracesShown(env({ OTEL_DENO: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "https://u:p@otel.example/api/otel?t=x" })),
    "OTLP https://otel.example",
  );
  assert.equal(tracesShown(env({ OTEL_DENO: "true", OTEL_SDK_DISABLED: "true" })), "off");

  // The CLI itself: a deployment whose credential variable is unset is named.
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/config.yaml`;
    await Deno.writeTextFile(
      config,
      "model_list:\n  - model_name: demo\n    litellm_params:\n      model: bedrock/demo\n      mock_response: hi\n" +
        "  - model_name: claude\n    litellm_params:\n      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0\n" +
        "      aws_region_name: us-east-1\n      aws_access_key_id: os.environ/OBS_TEST_UNSET_KEY_ID\n" +
        "      aws_secret_access_key: os.environ/OBS_TEST_UNSET_SECRET\n" +
        "general_settings:\n  master_key: sk-obs-banner-master\n",
    );
    await using p = startGatewayProcess({
      args: ["--port", "0", "--host", "127.0.0.1", "--kv", ":memory:", "--config", config],
    });
    const shown = await p.waitFor(/listening on/);
    assert.match(shown, /models: demo, claude · KV :memory: · master key set · no AWS credentials for: claude · /);
    assert.ok(!shown.includes("sk-obs-banner-master"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
