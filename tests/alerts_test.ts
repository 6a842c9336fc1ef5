/**
 * Alerts to Slack-compatible webhooks (`general_settings.alerting: ["slack"]` with `SLACK_WEBHOOK_URL`): a key's
 * soft budget, 80% and 100% of its max_budget, a team's 80% and 100%; a deployment cooled down; every deployment of a
 * model down — each posted once per window (two instances on one KV included), never slowing a call, a failed post
 * logged with the webhook's origin only.
 */
import assert from "node:assert/strict";
import { Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { startFakeWebhook } from "../testing/fake_webhook.ts";
import { fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { callModel, ENV, PRICE_PARAMS, setupKeys } from "./keys_helpers.ts";

const ALERTING = '  alerting: ["slack"]\n';

Deno.test("budget alerts: soft budget, 80% and 100% of a key's and a team's max_budget, each posted once", async () => {
  await using hook = await startFakeWebhook();
  await using t = await setupKeys({ extra: ALERTING, env: { ...ENV, SLACK_WEBHOOK_URL: hook.url } });
  // Each call costs 20 µ$: the key's soft budget (40 µ$) at the 2nd call, 80% of its 100 µ$ at the 4th, 100% at the
  // 5th (then it is refused); the team's 120 µ$ reaches 80% (100 µ$) and never 100%. Later calls repeat none.
  assert.equal((await t.admin("POST", "/team/new", { team_id: "t1", max_budget: 0.00012 })).status, 200);
  const g = await t.generate({ key_alias: "alerted", max_budget: 0.0001, soft_budget: 0.00004, team_id: "t1" });
  for (let i = 0; i < 7; i++) {
    const res = await t.converse(g.key);
    await res.body?.cancel();
    await t.gw.gateway.flush();
  }
  await t.gw.gateway.flush();
  const texts = hook.texts();
  const messages = texts.map((x) => /Message: (.*)/.exec(x)?.[1]);
  assert.deepEqual(messages.sort(), [
    "Key Budget: 100% of max_budget used",
    "Key Budget: 80% of max_budget used",
    "Soft Budget Crossed: Key Budget: soft_budget reached",
    "Team Budget: 80% of max_budget used",
  ], texts.join("\n---\n"));
  const keyFull = texts.find((x) => x.includes("Key Budget: 100%"))!;
  assert.match(keyFull, /\*key_alias:\* `alerted`/);
  assert.match(keyFull, /\*max_budget:\* `0.0001`/);
  assert.ok(!texts.join("\n").includes(g.key), "an alert holds the raw key");
  assert.ok(hook.posts.every((p) => p.status === 200 && p.headers.get("content-type") === "application/json"));
});

Deno.test("a deployment cooled down and a model with every deployment down: each alerted once across two instances", async () => {
  await using hook = await startFakeWebhook();
  const fake = await startFakeBedrock();
  const kv = await Deno.openKv(":memory:");
  const yaml = fakeConfig(fake.url, { models: [{ name: "claude", params: PRICE_PARAMS }], extra: ALERTING }) +
    "router_settings:\n  allowed_fails: 1\n  cooldown_time: 60\n  num_retries: 0\n";
  const env = { ...ENV, SLACK_WEBHOOK_URL: hook.url };
  const a = await startGateway({ yaml, env, kv });
  const b = await startGateway({ yaml, env, kv });
  try {
    for (const gw of [a, b]) {
      for (let i = 0; i < 3; i++) {
        fake.enqueue({ kind: "error", status: 500, type: "InternalServerException", message: "down" });
        const res = await callModel(gw.url, MASTER_KEY);
        await res.body?.cancel();
        assert.ok(res.status >= 500, `status ${res.status}`);
      }
      await gw.gateway.flush();
    }
    const texts = hook.texts();
    const cooled = texts.filter((x) => x.includes("Deployment cooled down"));
    const down = texts.filter((x) => x.includes("All deployments of claude are down"));
    assert.equal(cooled.length, 1, texts.join("\n---\n"));
    assert.equal(down.length, 1, texts.join("\n---\n"));
    assert.match(cooled[0], /\*exception_status:\* `500`/);
    assert.equal(texts.length, 2);
  } finally {
    await a.close();
    await b.close();
    kv.close();
    await fake.close();
  }
});

Deno.test("a webhook that hangs never slows a call; one that fails is logged with its origin only", async () => {
  await using hook = await startFakeWebhook({ respond: () => 500 });
  const hang = new Latch(), arrived = new Latch();
  // Posts to a second webhook hang until the latch opens; everything else is the real fetch.
  const hanging = "http://127.0.0.1:9/services/T1/B1/hanging-secret";
  const fetchFn: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url !== hanging) return await fetch(input, init);
    arrived.release();
    await hang.wait();
    return new Response("ok");
  };
  await using t = await setupKeys({
    extra: ALERTING + `  alert_to_webhook_url:\n    budget_alerts: ["${hanging}", "${hook.url}"]\n`,
    env: ENV,
    fetch: fetchFn,
  });
  // 20 µ$ a call: the first passes 80% of 24 µ$, the second 100%.
  const g = await t.generate({ key_alias: "slowhook", max_budget: 0.000024 });
  const first = await t.converse(g.key);
  await first.body?.cancel();
  assert.equal(first.status, 200);
  await arrived.wait();
  // The 80% alert hangs on its webhook; calls are served meanwhile.
  const second = await t.converse(g.key);
  await second.body?.cancel();
  assert.equal(second.status, 200);
  hang.release();
  await t.gw.gateway.flush();
  const failed = t.gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "alert not delivered");
  assert.equal(failed.length, 2, t.gw.logs.join("\n"));
  for (const f of failed) assert.deepEqual([f.webhook, f.failure], [hook.origin, "HTTP 500"]);
  assert.equal(hook.posts.length, 4, "each alert retried once");
  assert.ok(!t.gw.logs.join("\n").includes("/services/"), "a webhook path (its token) is in the log");
});
