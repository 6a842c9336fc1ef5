/**
 * LiteLLM's request and deployment metrics, with its names and labels, read from `/metrics`: proxy requests and
 * failures, the final attempt's API latency and the gateway's overhead, attempts per deployment (successes and
 * failures, retries included), cooldowns, successful and failed fallbacks, and the requests and tokens a key has left
 * this minute per model.
 */
import assert from "node:assert/strict";
import { parseExposition, scrape, value } from "./prometheus.ts";
import { setupKeys } from "./keys_helpers.ts";
import { sonnet } from "./spend_helpers.ts";

const ROUTER = "router_settings:\n  num_retries: 0\n  allowed_fails: 1\n  cooldown_time: 60\n" +
  "  fallbacks: [{ claude: [backup] }]\n";

Deno.test("LiteLLM's deployment, fallback, latency and remaining-limit metrics", async () => {
  await using t = await setupKeys({
    models: [sonnet("claude", "claude-a"), sonnet("backup", "backup-b")],
    extra: ROUTER,
  });
  const g = await t.generate({ key_alias: "metered", rpm_limit: 10, tpm_limit: 1000 });
  const who = { api_key_alias: "metered" };
  const call = async () => {
    const res = await t.converse(g.key);
    await res.body?.cancel();
    return res.status;
  };
  // 1: served by claude. 2: claude fails (500, it cools down), backup answers: a successful fallback.
  assert.equal(await call(), 200);
  t.fake.enqueue({ kind: "error", status: 500, type: "InternalServerException", message: "boom" });
  assert.equal(await call(), 200);
  await t.gw.waitForCalls(2);

  let m = parseExposition((await scrape(t.gw.url)).body);
  // This minute: 2 requests of 10, 2 × 15 tokens of 1000, for the model group called.
  const remaining = { ...who, hashed_api_key: g.token.slice(0, 12), model: "claude" };
  assert.equal(value(m, "litellm_remaining_api_key_requests_for_model", remaining), 8);
  assert.equal(value(m, "litellm_remaining_api_key_tokens_for_model", remaining), 970);

  // 3, a minute later (the cooldown over): claude and backup both fail: a failed fallback.
  t.clock.advance(61_000);
  t.fake.enqueue(
    { kind: "error", status: 500, type: "InternalServerException", message: "boom" },
    { kind: "error", status: 500, type: "InternalServerException", message: "boom" },
  );
  assert.ok(await call() >= 500);
  await t.gw.waitForCalls(3);
  m = parseExposition((await scrape(t.gw.url)).body);

  // Requests as the client saw them.
  assert.equal(value(m, "litellm_proxy_total_requests_metric_total", { ...who, requested_model: "claude" }), 3);
  assert.equal(value(m, "litellm_proxy_failed_requests_metric_total", { ...who, requested_model: "claude" }), 1);
  // Attempts per deployment, retries and fallbacks included.
  assert.equal(value(m, "litellm_deployment_total_requests_total", { ...who, model_id: "claude-a" }), 3);
  assert.equal(value(m, "litellm_deployment_success_responses_total", { ...who, model_id: "claude-a" }), 1);
  assert.equal(value(m, "litellm_deployment_total_requests_total", { ...who, model_id: "backup-b" }), 2);
  assert.equal(value(m, "litellm_deployment_success_responses_total", { ...who, model_id: "backup-b" }), 1);
  const failure = { ...who, exception_status: "500", exception_class: "Bedrock.InternalServerException" };
  assert.equal(value(m, "litellm_deployment_failure_responses_total", { ...failure, model_id: "claude-a" }), 2);
  assert.equal(value(m, "litellm_deployment_failure_responses_total", { ...failure, model_id: "backup-b" }), 1);
  // Cooldowns: claude twice, backup once.
  assert.equal(value(m, "litellm_deployment_cooled_down_total", { model_id: "claude-a", exception_status: "500" }), 2);
  assert.equal(value(m, "litellm_deployment_cooled_down_total", { model_id: "backup-b" }), 1);
  const cooled = m.get("litellm_deployment_cooled_down_total")!.samples[0];
  assert.deepEqual(Object.keys(cooled.labels).sort(), [
    "api_base",
    "api_provider",
    "exception_status",
    "litellm_model_name",
    "model_id",
  ]);
  // Fallbacks.
  const fallback = { ...who, requested_model: "claude", fallback_model: "backup", exception_status: "500" };
  assert.equal(value(m, "litellm_deployment_successful_fallbacks_total", fallback), 1);
  assert.equal(value(m, "litellm_deployment_failed_fallbacks_total", fallback), 1);
  // Latencies of the two successes: the final attempt's, and the gateway's own before it.
  assert.equal(value(m, "litellm_llm_api_latency_metric_count", { ...who, requested_model: "claude" }), 2);
  assert.equal(value(m, "litellm_overhead_latency_metric_count", { model_group: "claude" }), 2);
  // A new minute: the requests and tokens left start over (1 request made, the failed call used no tokens).
  assert.equal(value(m, "litellm_remaining_api_key_requests_for_model", remaining), 9);
  assert.equal(value(m, "litellm_remaining_api_key_tokens_for_model", remaining), 1000);
});
