/**
 * Budgets end to end: a fake upstream billing a known cost per call (per-token prices on the deployment and the
 * fake's fixed usage), the exact stop, typed refusals the AWS SDK does not retry, budget windows on an injected
 * clock, soft budgets, and what is (not) billed.
 */
import assert from "node:assert/strict";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  ServiceQuotaExceededException,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { bedrockClient } from "../testing/harness.ts";
import { CALL_COST_NANOS, CALL_COST_USD, counter, kvSpendNanos, setupKeys } from "./keys_helpers.ts";

const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];

Deno.test("sequential calls stop exactly when the budget is reached, with LiteLLM's message", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ max_budget: 5 * CALL_COST_USD });
  for (let i = 0; i < 5; i++) {
    const res = await t.converse(g.key);
    const text = await res.text();
    assert.equal(res.status, 200, `call ${i + 1}: ${text}`);
  }
  const refused = await t.converse(g.key);
  assert.equal(refused.status, 400);
  assert.equal(refused.headers.get("x-amzn-errortype")?.split(":")[0], "ServiceQuotaExceededException");
  const body = await refused.json();
  assert.equal(body.message, "Budget has been exceeded! Current cost: 0.0001, Max budget: 0.0001");
  assert.deepEqual(body.error, { message: body.message, type: "budget_exceeded", code: "400" });
  assert.equal(t.fake.requests.length, 5, "a refused call reached the upstream");
  // Spend is exact, before (this instance's view) and after the write to KV.
  assert.equal((await t.admin("GET", `/key/info?key=${g.key}`)).json.info.spend, 5 * CALL_COST_USD);
  await t.gw.gateway.flush();
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), 5n * CALL_COST_NANOS);
  // Raising the budget lets it call again.
  await t.admin("POST", "/key/update", { key: g.key, max_budget: 6 * CALL_COST_USD });
  assert.equal((await t.converse(g.key)).status, 200);
  assert.equal((await t.converse(g.key)).status, 400);
});

Deno.test("the AWS SDK sees ServiceQuotaExceededException and does not retry it", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ max_budget: 0 });
  // A client with the SDK's default retry budget: a throttle-typed error would be sent 3 times.
  const client = new BedrockRuntimeClient({
    endpoint: `${t.gw.url}/bedrock`,
    region: "us-west-2",
    token: { token: g.key },
    authSchemePreference: ["httpBearerAuth"],
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler(),
  });
  await assert.rejects(client.send(new ConverseCommand({ modelId: "claude", messages })), (e) => {
    assert.ok(e instanceof ServiceQuotaExceededException, String(e));
    assert.match(e.message, /^Budget has been exceeded! Current cost: 0, Max budget: 0$/);
    assert.equal(e.$metadata.attempts, 1);
    assert.equal(e.$metadata.httpStatusCode, 400);
    return true;
  });
  client.destroy();
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("converse-stream calls bill too; an error bills nothing, a stream failing mid-way its estimate", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ max_budget: 3 * CALL_COST_USD });
  const client = bedrockClient(t.gw.url, g.key, { http1: true });
  // A streamed call: billed from its metadata event once the stream ends.
  const out = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  for await (const _ of out.stream!) { /* drain */ }
  await t.gw.waitForCalls(1);
  // An error answer bills nothing; a stream that fails mid-way (an exception event) bills its estimate: Bedrock had
  // the request and generated up to the exception.
  t.fake.enqueue({ kind: "error", status: 400, type: "ValidationException", message: "bad" });
  assert.equal((await t.converse(g.key)).status, 400);
  t.fake.enqueue({ kind: "stream", exceptionAt: { index: 3, type: "modelStreamErrorException", message: "boom" } });
  const failing = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  await assert.rejects(async () => {
    for await (const _ of failing.stream!) { /* drain */ }
  });
  await t.gw.waitForCalls(3);
  assert.deepEqual(t.gw.calls.map((c) => c.status), ["success", "failure", "failure"]);
  assert.equal(t.gw.calls[1].usage, undefined);
  assert.equal(t.gw.calls[2].usageEstimated, true);
  await t.gw.gateway.flush();
  const estimateNanos = await kvSpendNanos(t.gw.kv, g.token) - CALL_COST_NANOS;
  assert.ok(estimateNanos > 0n && estimateNanos < CALL_COST_NANOS, `estimate ${estimateNanos} nanos`);
  // Two more successes reach the budget (one of them streamed); the next is refused.
  await client.send(new ConverseCommand({ modelId: "claude", messages }));
  const last = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  for await (const _ of last.stream!) { /* drain */ }
  await t.gw.waitForCalls(5);
  await assert.rejects(
    client.send(new ConverseStreamCommand({ modelId: "claude", messages })),
    (e) => e instanceof ServiceQuotaExceededException,
  );
  client.destroy();
  await t.gw.gateway.flush();
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), 3n * CALL_COST_NANOS + estimateNanos);
});

Deno.test("budget_duration: spend resets at each window on the injected clock; budget_reset_at moves", async () => {
  await using t = await setupKeys();
  const start = t.clock.now();
  const g = await t.generate({ max_budget: 2 * CALL_COST_USD, budget_duration: "1h" });
  assert.equal(g.budget_reset_at, new Date(start + 3_600_000).toISOString());
  assert.equal((await t.converse(g.key)).status, 200);
  t.clock.advance(30 * 60_000);
  assert.equal((await t.converse(g.key)).status, 200);
  assert.equal((await t.converse(g.key)).status, 400);

  t.clock.advance(30 * 60_000); // exactly one hour after creation: a new window
  const info = await t.admin("GET", `/key/info?key=${g.key}`);
  assert.equal(info.json.info.spend, 0);
  assert.equal(info.json.info.budget_reset_at, new Date(start + 2 * 3_600_000).toISOString());
  assert.equal((await t.converse(g.key)).status, 200);
  assert.equal((await t.converse(g.key)).status, 200);
  assert.equal((await t.converse(g.key)).status, 400);

  // Two idle windows later: a fresh budget again, and old windows' counters are cleaned up.
  t.clock.advance(3 * 3_600_000);
  assert.equal((await t.converse(g.key)).status, 200);
  await t.gw.gateway.flush(); // writes the ledger and waits for the clean-up
  const id = (await t.gw.kv.get<{ id: string }>(["keys", g.token])).value!.id;
  const windows: number[] = [];
  for await (const e of t.gw.kv.list({ prefix: ["key_spend", id] })) windows.push(e.key[2] as number);
  assert.deepEqual(windows, [start + 4 * 3_600_000]);
  assert.equal(await counter(t.gw.kv, ["key_spend", id, start + 4 * 3_600_000]), CALL_COST_NANOS);
});

Deno.test("soft_budget crossing is logged once per window, never blocks", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ soft_budget: 2 * CALL_COST_USD, budget_duration: "1d", key_alias: "soft" });
  const softLines = () => t.gw.logs.filter((l) => l.includes("soft budget crossed"));
  assert.equal((await t.converse(g.key)).status, 200);
  await t.gw.gateway.flush();
  assert.equal(softLines().length, 0);
  for (let i = 0; i < 4; i++) assert.equal((await t.converse(g.key)).status, 200);
  await t.gw.gateway.flush(); // waits for the marker write that decides who logs
  assert.equal(softLines().length, 1);
  const line = JSON.parse(softLines()[0]);
  assert.equal(line.level, "warn");
  assert.equal(line.keyAlias, "soft");
  assert.equal(line.keyHash, g.token);
  assert.equal(line.spend, 2 * CALL_COST_USD);
  assert.ok(!softLines()[0].includes(g.key));
  t.clock.advance(86_400_000);
  for (let i = 0; i < 3; i++) assert.equal((await t.converse(g.key)).status, 200);
  await t.gw.gateway.flush();
  assert.equal(softLines().length, 2);
});

Deno.test("prices in model_info, cache tokens, and deployments without prices", async () => {
  const params = "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
    "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY\n" +
    "    model_info:\n      input_cost_per_token: 0.000003\n      output_cost_per_token: 0.000015\n" +
    "      cache_read_input_token_cost: 0.0000003\n      cache_creation_input_token_cost: 0.00000375";
  const free = "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
    "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY";
  // A model the built-in price table does not know, and no prices on the deployment.
  const unknown = "bedrock/example.unpriced-model-v1:0";
  await using t = await setupKeys({
    models: [{ name: "priced", params }, { name: "free", model: unknown, params: free }],
  });
  const g = await t.generate();
  t.fake.enqueue({
    kind: "converse",
    usage: { inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 1000, cacheWriteInputTokens: 200 },
  });
  assert.equal((await t.converse(g.key, "priced")).status, 200);
  assert.equal((await t.converse(g.key, "free")).status, 200);
  // 100×3 + 20×15 + 1000×0.3 + 200×3.75 micro-USD = 1650 µ$.
  await t.gw.gateway.flush();
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), 1_650_000n);
  assert.equal((await t.admin("GET", `/key/info?key=${g.key}`)).json.info.spend, 0.00165);
});
