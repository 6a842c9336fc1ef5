/**
 * No secret — master key, virtual key, AWS secret access key, AWS session token — appears in the stdout lines
 * (detailed debug on), the spend logs (API answers and everything in KV) or `/metrics`, whatever the calls did.
 */
import assert from "node:assert/strict";
import { Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { adminCall, Clock, dumpKv } from "./keys_helpers.ts";
import { call, callModel, get } from "./spend_helpers.ts";
import { createLogger } from "../server/core/log.ts";

const CREDS = {
  accessKeyId: "AKIAGATEWAYTEST00042",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY42",
  sessionToken: "FwoGZXIvYXdzEJr//////////SESSIONTOKENSECRET+42==",
};

Deno.test("no secret appears in stdout, spend logs, KV or /metrics", async () => {
  const clock = new Clock();
  await using fake = await startFakeBedrock({ credentials: [{ ...CREDS }], now: () => new Date(clock.now()) });
  const lines: string[] = [];
  const params = "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
    "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY\n" +
    "      aws_session_token: os.environ/AWS_SESSION_TOKEN\n" +
    "      input_cost_per_token: 0.000003\n      output_cost_per_token: 0.000015";
  await using gw = await startGateway({
    yaml: fakeConfig(fake.url, {
      models: [{ name: "claude", params }],
      extra: "  store_prompts_in_spend_logs: true\n",
    }),
    env: {
      AWS_ACCESS_KEY_ID: CREDS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
      AWS_SESSION_TOKEN: CREDS.sessionToken,
    },
    now: clock.now,
    log: createLogger({ write: (l) => lines.push(l), debug: true }),
  });
  const g = (await adminCall(gw.url, "POST", "/key/generate", { max_budget: 5, key_alias: "svc", user_id: "u" })).json;
  const virtualKey: string = g.key;

  // Every kind of call: success, stream, upstream failure, client disconnect, refused keys, keys in odd headers.
  assert.equal((await call(gw.url, virtualKey)).status, 200);
  assert.equal((await call(gw.url, MASTER_KEY, { stream: true })).status, 200);
  fake.enqueue({ kind: "error", status: 403, type: "AccessDeniedException", message: "denied" });
  assert.equal((await call(gw.url, virtualKey)).status, 403);
  const hold = new Latch();
  fake.enqueue({ kind: "stream", pauseAfterFirst: hold });
  const abandoned = await callModel(gw.url, virtualKey, { stream: true });
  await abandoned.body!.getReader().cancel();
  hold.release();
  assert.equal((await call(gw.url, virtualKey + "x")).status, 401);
  assert.equal((await call(gw.url, "", { headers: { "x-api-key": virtualKey, authorization: "" } })).status, 200);
  await gw.waitForCalls(4);
  assert.equal((await get(gw.url, `/spend/logs?api_key=${virtualKey}`)).status, 200);
  assert.equal((await get(gw.url, `/key/info?key=${virtualKey}`)).status, 200);

  const spendLogs = JSON.stringify((await get(gw.url, "/spend/logs")).json);
  assert.ok(spendLogs.includes(g.token), "rows name the key by its hash");
  const metricsRes = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
  const metrics = await metricsRes.text();
  assert.ok(metrics.includes("litellm_remaining_api_key_budget_metric{"));
  await gw.gateway.flush();
  const kv = await dumpKv(gw.kv);
  const stdout = lines.join("\n");
  assert.ok(stdout.includes('"msg":"call"') && stdout.includes('"upstream"'));

  const secrets = { MASTER_KEY, virtualKey, secret: CREDS.secretAccessKey, session: CREDS.sessionToken };
  for (const [where, text] of Object.entries({ stdout, spendLogs, kv, metrics })) {
    for (const [name, secret] of Object.entries(secrets)) {
      assert.ok(!text.includes(secret), `${name} appears in ${where}`);
      // Nor a recognisable piece of it (e.g. a logged prefix).
      assert.ok(!text.includes(secret.slice(0, 16)), `a prefix of ${name} appears in ${where}`);
    }
  }
});
