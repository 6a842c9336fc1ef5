/**
 * `GET /metrics`: a valid Prometheus text exposition (checked line by line by a small parser of the format), the
 * values the calls produced, gauges read at scrape time (in flight, cooldown, remaining budget), escaping of label
 * values, and who may read it.
 */
import assert from "node:assert/strict";
import { createMetrics } from "../server/spend/metrics.ts";
import { Latch } from "../testing/fake_bedrock.ts";
import { parseExposition, scrape, value } from "./prometheus.ts";
import { call, MASTER_KEY, nanos, setupSpend, sonnetNanos } from "./spend_helpers.ts";

Deno.test("the exposition parser rejects what the format forbids (negative controls)", () => {
  const ok = '# HELP a_total x\n# TYPE a_total counter\na_total{l="v\\""} 1\n';
  parseExposition(ok);
  for (
    const bad of [
      '# HELP a_total x\n# TYPE a_total counter\na_total{l="v"w"} 1\n',
      '# HELP a_total x\n# TYPE a_total counter\na_total{l="v\\q"} 1\n',
      "# HELP a_total x\n# TYPE a_total counter\na_total one\n",
      '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n',
      '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      "# HELP a x\n# TYPE a counter\na 1\n",
    ]
  ) assert.throws(() => parseExposition(bad), bad);
});

Deno.test("/metrics: valid exposition with requests, spend, tokens, latency and TTFB histograms, key labels", async () => {
  await using t = await setupSpend();
  await t.admin("POST", "/team/new", { team_id: "t" });
  const g = await t.generate({ key_alias: 'al"ias', user_id: 'we\\ird\n"user"', team_id: "t", max_budget: 1 });
  t.fake.enqueue({
    kind: "converse",
    usage: { inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 1000, cacheWriteInputTokens: 200 },
  });
  await call(t.gw.url, g.key);
  await call(t.gw.url, g.key, { stream: true });
  t.fake.enqueue({ kind: "error", status: 400, type: "ValidationException", message: "no" });
  await call(t.gw.url, g.key);
  await call(t.gw.url, MASTER_KEY);
  await t.gw.waitForCalls(4);

  const { status, type, body } = await scrape(t.gw.url);
  assert.equal(status, 200);
  assert.equal(type, "text/plain; version=0.0.4; charset=utf-8");
  const m = parseExposition(body);
  const key = { hashed_api_key: g.token.slice(0, 12), api_key_alias: 'al"ias', user: 'we\\ird\n"user"', team: "t" };
  assert.ok(body.includes('user="we\\\\ird\\n\\"user\\""'), "label values are escaped");
  assert.equal(value(m, "litellm_requests_metric_total", { ...key, status: "success" }), 2);
  assert.equal(value(m, "litellm_requests_metric_total", { ...key, status: "failure" }), 1);
  assert.equal(value(m, "litellm_requests_metric_total", { api_key_alias: "master_key" }), 1);
  assert.equal(value(m, "litellm_requests_metric_total", { model: "claude", model_id: "claude-usw2" }), 4);
  const keySpend = sonnetNanos({ input: 110, output: 25, cacheRead: 1000, cacheWrite: 200 });
  assert.equal(nanos(value(m, "litellm_spend_metric_total", key)), keySpend);
  assert.equal(value(m, "litellm_input_tokens_metric_total", key), 1310);
  assert.equal(value(m, "litellm_output_tokens_metric_total", key), 25);
  assert.equal(value(m, "litellm_total_tokens_metric_total", key), 1335);
  assert.equal(value(m, "litellm_cache_read_input_tokens_metric_total", key), 1000);
  assert.equal(value(m, "litellm_cache_creation_input_tokens_metric_total", key), 200);
  assert.equal(m.get("litellm_request_total_latency_metric")?.type, "histogram");
  assert.equal(value(m, "litellm_request_total_latency_metric_count", { call_type: "converse" }), 3);
  assert.equal(value(m, "litellm_request_total_latency_metric_count", { call_type: "converse-stream" }), 1);
  assert.equal(value(m, "litellm_llm_api_time_to_first_token_metric_count", { model: "claude" }), 1);
  // Remaining budget: max_budget minus what the key spent.
  const budgetLabels = { hashed_api_key: g.token.slice(0, 12), api_key_alias: 'al"ias' };
  assert.equal(value(m, "litellm_api_key_max_budget_metric", budgetLabels), 1);
  assert.equal(nanos(value(m, "litellm_remaining_api_key_budget_metric", budgetLabels)), 1_000_000_000n - keySpend);
  assert.equal(value(m, "litellm_in_flight_requests", { model_id: "claude-usw2" }), 0);
  // A ValidationException is the caller's fault, not the deployment's: still healthy.
  assert.equal(value(m, "litellm_deployment_state", { model_id: "claude-usw2" }), 0);
  assert.equal(value(m, "gateway_spend_log_dropped_rows"), 0);
  assert.ok(!body.includes(g.key));
});

Deno.test("/metrics gauges are read at scrape time: calls in flight, cooldown state", async () => {
  await using t = await setupSpend({ extra: "router_settings:\n  num_retries: 0\n  allowed_fails: 1\n" });
  const hold = new Latch();
  t.fake.enqueue({ kind: "converse", waitFor: hold });
  const pending = call(t.gw.url, MASTER_KEY);
  await t.fake.whenRequest(0);
  let m = parseExposition((await scrape(t.gw.url)).body);
  assert.equal(value(m, "litellm_in_flight_requests", { model: "claude", model_id: "claude-usw2" }), 1);
  assert.equal(value(m, "litellm_deployment_state", { model_id: "claude-usw2" }), 0);
  hold.release();
  await pending;
  m = parseExposition((await scrape(t.gw.url)).body);
  assert.equal(value(m, "litellm_in_flight_requests", { model_id: "claude-usw2" }), 0);
  // One failure with allowed_fails: 1 cools the deployment down for the default 5 s.
  t.fake.enqueue({ kind: "error", status: 500, type: "InternalServerException", message: "boom" });
  await call(t.gw.url, MASTER_KEY);
  m = parseExposition((await scrape(t.gw.url)).body);
  const labels = {
    litellm_model_name: "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
    model_id: "claude-usw2",
    api_provider: "bedrock",
  };
  assert.equal(value(m, "litellm_deployment_state", { ...labels, api_base: t.fake.url }), 2);
  assert.equal(value(m, "litellm_deployment_cooldown_remaining_seconds", { model_id: "claude-usw2" }), 5);
  t.clock.advance(5_000);
  m = parseExposition((await scrape(t.gw.url)).body);
  assert.equal(value(m, "litellm_deployment_cooldown_remaining_seconds", { model_id: "claude-usw2" }), 0);
});

Deno.test("/metrics: master key only, unless general_settings.metrics_public", async () => {
  await using t = await setupSpend();
  const g = await t.generate();
  assert.equal((await scrape(t.gw.url, null)).status, 401);
  assert.equal((await scrape(t.gw.url, g.key)).status, 403);
  assert.equal((await scrape(t.gw.url)).status, 200);
  await using open = await setupSpend({ extra: "  metrics_public: true\n" });
  const anon = await scrape(open.gw.url, null);
  assert.equal(anon.status, 200);
  parseExposition(anon.body);
});

Deno.test("metrics: counter increments summed between scrapes give the same totals over several scrapes", async () => {
  const metrics = createMetrics({
    deployments: () => [],
    budgets: () => Promise.resolve([]),
    ledger: () => ({ pendingCounters: 0, pendingRows: 0, droppedRows: 0 }),
    now: () => 0,
  });
  const call = (status: "success" | "failure", nanos: bigint) =>
    metrics.observe({
      requestId: "r",
      callType: "converse",
      modelName: "m",
      deploymentId: "d",
      caller: { keyHash: "f".repeat(64), keyAlias: "a" },
      startTime: 0,
      endTime: 20,
      status,
      httpStatus: status === "success" ? 200 : 500,
      usage: status === "success"
        ? { inputTokens: 3, outputTokens: 4, totalTokens: 9, cacheReadInputTokens: 1, cacheWriteInputTokens: 1 }
        : undefined,
      retries: 0,
    }, { nanos, unpriced: [] });
  const line = (body: string, name: string, extra = "") =>
    body.split("\n").find((l) => l.startsWith(name + "{") && l.includes(extra))?.split(" ").at(-1);
  call("success", 1_000n);
  call("failure", 0n);
  let body = (await metrics.render()).body;
  assert.equal(line(body, "litellm_requests_metric_total", 'status="success"'), "1");
  assert.equal(line(body, "litellm_requests_metric_total", 'status="failure"'), "1");
  assert.equal(line(body, "litellm_input_tokens_metric_total"), "5");
  call("success", 2_000n);
  call("success", 3_000n);
  body = (await metrics.render()).body;
  assert.equal(line(body, "litellm_requests_metric_total", 'status="success"'), "3");
  assert.equal(line(body, "litellm_requests_metric_total", 'status="failure"'), "1");
  assert.equal(line(body, "litellm_input_tokens_metric_total"), "15");
  assert.equal(line(body, "litellm_output_tokens_metric_total"), "12");
  assert.equal(line(body, "litellm_total_tokens_metric_total"), "27");
  assert.equal(line(body, "litellm_cache_read_input_tokens_metric_total"), "3");
  assert.equal(Number(line(body, "litellm_spend_metric_total")), 0.000006);
  assert.equal(line(body, "litellm_request_total_latency_metric_count"), "4");
  body = (await metrics.render()).body; // nothing new: unchanged
  assert.equal(line(body, "litellm_requests_metric_total", 'status="success"'), "3");
});
