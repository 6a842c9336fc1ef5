/**
 * Every refusal is logged and counted with its reason: a `"msg":"refused"` line naming the route pattern, the reason
 * and whose request it was (key alias and hash prefix — for a 401, of the presented token's hash — never a key), and
 * `gateway_refused_requests_total{reason}`; on `/bedrock`, LiteLLM's `litellm_proxy_failed_requests_metric` and
 * `litellm_proxy_total_requests_metric` too, except for 401s (as LiteLLM).
 */
import assert from "node:assert/strict";
import { hashKey } from "../server/keys/credentials.ts";
import { Latch } from "../testing/fake_bedrock.ts";
import { MASTER_KEY } from "../testing/harness.ts";
import { converseBody, PRICE_PARAMS, setupKeys } from "./keys_helpers.ts";
import { parseExposition, scrape, value } from "./prometheus.ts";

/** The refused lines logged so far, parsed. */
const refusedLines = (logs: string[]) =>
  logs.filter((l) => l.includes('"msg":"refused"')).map((l) => JSON.parse(l) as Record<string, unknown>);

const post = (url: string, path: string, key: string | undefined, body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, {
    method: "POST",
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), "content-type": "application/json", ...headers },
    body,
  });

Deno.test("each refusal's line and counter say why and whose, never the key", async () => {
  await using t = await setupKeys({
    models: [{ name: "claude", params: PRICE_PARAMS }, { name: "other", params: PRICE_PARAMS }],
    extra: "  max_request_body_bytes: 2000\n",
  });
  const modelPath = "/bedrock/model/claude/converse";
  const expect = async (
    res: Promise<Response>,
    status: number,
    reason: string,
    whose: { alias?: string; hash?: string } = {},
  ) => {
    const r = await res;
    await r.body?.cancel();
    assert.equal(r.status, status, reason);
    const line = refusedLines(t.gw.logs).at(-1)!;
    assert.equal(line.reason, reason);
    assert.equal(line.status, status);
    if (whose.alias !== undefined) assert.equal(line.key_alias, whose.alias, reason);
    if (whose.hash !== undefined) assert.equal(line.key_hash, whose.hash.slice(0, 12), reason);
    return line;
  };

  // 401s: no key, a wrong key (named by its hash prefix), a blocked key.
  let line = await expect(post(t.gw.url, modelPath, undefined, converseBody()), 401, "no_key");
  assert.equal(line.route, "/bedrock/model/{modelId}/{operation}");
  assert.equal(line.key_hash, undefined);
  const wrong = "sk-wrong-key-0123456789";
  await expect(post(t.gw.url, modelPath, wrong, converseBody()), 401, "invalid_key", { hash: hashKey(wrong) });
  const blocked = await t.generate({ key_alias: "blocked-one" });
  await t.admin("POST", "/key/block", { key: blocked.key });
  await expect(post(t.gw.url, modelPath, blocked.key, converseBody()), 401, "key_blocked", { alias: "blocked-one" });

  // 403: a model the key may not call; an admin route for a virtual key.
  const narrow = await t.generate({ key_alias: "narrow", models: ["other"] });
  line = await expect(post(t.gw.url, modelPath, narrow.key, converseBody()), 403, "model_not_allowed", {
    alias: "narrow",
    hash: narrow.token,
  });
  assert.equal(line.model, "claude");
  line = await expect(post(t.gw.url, "/key/generate", narrow.key, "{}"), 403, "forbidden", { alias: "narrow" });
  assert.equal(line.route, "/key/generate");
  line = await expect(post(t.gw.url, "/team/new", narrow.key, "{}"), 403, "forbidden", { alias: "narrow" });
  assert.equal(line.route, "/team/new");

  // 400 validation, 413 too large.
  const g = await t.generate({ key_alias: "plain" });
  await expect(post(t.gw.url, modelPath, g.key, '{"messages":"x"}'), 400, "validation", { alias: "plain" });
  await expect(post(t.gw.url, modelPath, g.key, converseBody("x".repeat(3000))), 413, "too_large", { alias: "plain" });

  // 429: requests per minute, calls at once.
  const rpm = await t.generate({ key_alias: "rpm", rpm_limit: 1 });
  assert.equal((await t.converse(rpm.key)).status, 200);
  await expect(t.converse(rpm.key), 429, "rpm", { alias: "rpm" });
  const parallel = await t.generate({ key_alias: "parallel", max_parallel_requests: 1 });
  const hold = new Latch();
  t.fake.enqueue({ kind: "converse", waitFor: hold });
  const first = t.converse(parallel.key);
  await t.fake.whenRequest(t.fake.requests.length);
  await expect(t.converse(parallel.key), 429, "parallel", { alias: "parallel" });
  hold.release();
  await (await first).body?.cancel();

  // 400 budget: spent.
  const budget = await t.generate({ key_alias: "budget", max_budget: 0.00001 });
  assert.equal((await t.converse(budget.key)).status, 200);
  await t.gw.gateway.flush();
  await expect(t.converse(budget.key), 400, "budget", { alias: "budget" });

  // No line or label holds a raw key.
  for (const secret of [wrong, blocked.key, narrow.key, g.key, rpm.key, parallel.key, budget.key, MASTER_KEY]) {
    assert.ok(!t.gw.logs.join("\n").includes(secret), `a log line holds ${secret.slice(0, 6)}…`);
  }

  const { body } = await scrape(t.gw.url);
  assert.ok(!body.includes(wrong) && !body.includes(g.key));
  const m = parseExposition(body);
  for (
    const [reason, status, n = 1] of [
      ["no_key", "401"],
      ["invalid_key", "401"],
      ["key_blocked", "401"],
      ["model_not_allowed", "403"],
      ["forbidden", "403", 2],
      ["validation", "400"],
      ["too_large", "413"],
      ["rpm", "429"],
      ["parallel", "429"],
      ["budget", "400"],
    ] as Array<[string, string, number?]>
  ) {
    assert.equal(value(m, "gateway_refused_requests_total", { reason, status_code: status }), n, reason);
  }
  // LiteLLM's request counters: /bedrock refusals but 401s (6 of them: 403, 400, 413, 429 ×2, 400 budget).
  assert.equal(value(m, "litellm_proxy_failed_requests_metric_total", { exception_status: "401" }), 0);
  const rpmFailed = { api_key_alias: "rpm", exception_status: "429", exception_class: "ThrottlingException" };
  assert.equal(value(m, "litellm_proxy_failed_requests_metric_total", rpmFailed), 1);
  assert.equal(
    value(m, "litellm_proxy_failed_requests_metric_total", { api_key_alias: "narrow", requested_model: "claude" }),
    1,
  );
  assert.equal(value(m, "litellm_proxy_total_requests_metric_total", { api_key_alias: "rpm", status_code: "200" }), 1);
  assert.equal(value(m, "litellm_proxy_total_requests_metric_total", { api_key_alias: "rpm", status_code: "429" }), 1);
  assert.equal(
    value(m, "litellm_proxy_total_requests_metric_total", { hashed_api_key: hashKey(wrong).slice(0, 12) }),
    0,
  );
});

Deno.test("a call refused for want of a price is counted as a refusal (reason unpriced) and a failed call", async () => {
  const free = "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
    "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY";
  await using t = await setupKeys({
    models: [{ name: "free", model: "bedrock/example.unpriced-model-v1:0", params: free }],
  });
  const g = await t.generate({ key_alias: "budgeted", max_budget: 1 });
  const res = await t.converse(g.key, "free");
  await res.body?.cancel();
  assert.equal(res.status, 400);
  const [line] = refusedLines(t.gw.logs);
  assert.equal(line.reason, "unpriced");
  assert.equal(line.key_alias, "budgeted");
  const m = parseExposition((await scrape(t.gw.url)).body);
  assert.equal(value(m, "gateway_refused_requests_total", { reason: "unpriced" }), 1);
  // Counted once as a failed request (by its settled call), not twice.
  assert.equal(value(m, "litellm_proxy_failed_requests_metric_total", { api_key_alias: "budgeted" }), 1);
});

Deno.test("a hold that calls in flight leave no room for is refused as budget_held", async () => {
  await using t = await setupKeys();
  // A call is admitted while what is settled plus what calls in flight hold is below max_budget: the first call's
  // hold (its estimate plus 4,096 output tokens at $2/M ≈ $0.0082) leaves no room for a second under $0.008.
  const g = await t.generate({ key_alias: "held", max_budget: 0.008 });
  const hold = new Latch();
  t.fake.enqueue({ kind: "converse", waitFor: hold });
  const first = t.converse(g.key);
  await t.fake.whenRequest(0);
  let second: Response;
  try {
    second = await t.converse(g.key);
    await second.body?.cancel();
  } finally {
    hold.release();
    await (await first).body?.cancel();
  }
  assert.equal(second.status, 429);
  const line = refusedLines(t.gw.logs).at(-1)!;
  assert.equal(line.reason, "budget_held");
  assert.equal(line.key_alias, "held");
});
