/**
 * A key's per-model limits (`model_max_budget`, `model_rpm_limit`, `model_tpm_limit`), its `tags` (added to every
 * call's request tags) and `aliases` (calling an alias calls the model group it names, billed and limited as it), and
 * the proxy's own budget (`litellm_settings.max_budget`), over every caller, the master key included.
 */
import assert from "node:assert/strict";
import { MASTER_KEY } from "../testing/harness.ts";
import { burst, setupOwners, SONNET_CALL_USD } from "./owners_helpers.ts";

Deno.test("model_max_budget stops one model at its budget; the key's other models keep working", async () => {
  await using t = await setupOwners();
  const g = await t.generate({
    model_max_budget: { sonnet: { budget_limit: 2 * SONNET_CALL_USD, time_period: "1d" } },
  });
  assert.equal((await t.converse(g.key, "sonnet")).status, 200);
  assert.equal((await t.converse(g.key, "sonnet")).status, 200);
  const refused = await t.converse(g.key, "sonnet");
  assert.equal(refused.status, 400);
  assert.match((await refused.json()).message, /^Budget has been exceeded! Model=sonnet Current cost: 0\.021, /);
  assert.equal((await t.converse(g.key, "claude")).status, 200, "another model is not limited");
  const info = (await t.admin("GET", `/key/info?key=${g.key}`)).json.info;
  assert.deepEqual(info.model_spend, { sonnet: 0.021 });
  assert.deepEqual(info.model_max_budget, { sonnet: { budget_limit: 0.021, time_period: "1d" } });
  t.clock.advance(86_400_000);
  assert.equal((await t.converse(g.key, "sonnet")).status, 200, "the model's window reset");
});

Deno.test("model_max_budget holds calls arriving together, like any budget", async () => {
  await using t = await setupOwners();
  const g = await t.generate({ model_max_budget: { sonnet: { max_budget: 10 * SONNET_CALL_USD } } });
  const out = await burst(t, [g.key], 50);
  assert.ok(out.passed <= 11 && out.passed >= 9, `${out.passed} passed`);
  assert.deepEqual(out.refused, [429]);
});

Deno.test("model_rpm_limit and model_tpm_limit count per model", async () => {
  await using t = await setupOwners();
  const g = await t.generate({ model_rpm_limit: { sonnet: 2 }, model_tpm_limit: { claude: 20 } });
  assert.equal((await t.converse(g.key, "sonnet")).status, 200);
  assert.equal((await t.converse(g.key, "sonnet")).status, 200);
  const throttled = await t.converse(g.key, "sonnet");
  assert.equal(throttled.status, 429);
  assert.match((await throttled.json()).message, /this key's limit for model sonnet allows 2 requests per minute/);
  // claude: the fake's 1,500 tokens pass 20 at once; the next call is refused in the same minute.
  assert.equal((await t.converse(g.key, "claude")).status, 200);
  assert.equal((await t.converse(g.key, "claude")).status, 429);
  t.clock.advance(60_000);
  assert.equal((await t.converse(g.key, "sonnet")).status, 200);
  assert.equal((await t.converse(g.key, "claude")).status, 200);
});

Deno.test("a key's tags join every call's request tags", async () => {
  await using t = await setupOwners();
  const g = await t.generate({ tags: ["app:billing", "env:prod"] });
  const res = await fetch(`${t.gw.url}/bedrock/model/sonnet/converse`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${g.key}`,
      "x-litellm-tags": "job:42, env:prod",
      "content-type": "application/json",
    },
    body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi" }] }] }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(t.gw.calls[0].requestTags, ["job:42", "env:prod", "app:billing"]);
});

Deno.test("aliases: calling an alias calls its model group, billed and limited as it; models may name aliases", async () => {
  await using t = await setupOwners();
  const g = await t.generate({ models: ["fast"], aliases: { fast: "sonnet", old: "nowhere" } });
  const res = await t.converse(g.key, "fast");
  assert.equal(res.status, 200, await res.text());
  assert.equal(t.gw.calls[0].modelName, "sonnet");
  assert.equal(t.fake.requests.at(-1)!.modelId, "us.anthropic.claude-sonnet-4-20250514-v1:0");
  assert.equal((await t.converse(g.key, "sonnet")).status, 200, "the alias allows the group it names");
  assert.equal((await t.converse(g.key, "claude")).status, 403);
  const bad = await t.converse(g.key, "old");
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).message, /alias "old" names model "nowhere", which is not served/);
  // A per-model budget on the group applies through the alias.
  const h = await t.generate({ aliases: { fast: "sonnet" }, model_max_budget: { sonnet: { budget_limit: 0 } } });
  assert.equal((await t.converse(h.key, "fast")).status, 400);
});

Deno.test("litellm_settings.max_budget: the proxy's budget over every caller, the master key included", async () => {
  await using t = await setupOwners({
    extra: `litellm_settings:\n  max_budget: ${3 * SONNET_CALL_USD}\n  budget_duration: 1d\n`,
  });
  const g = await t.generate({});
  assert.equal((await t.converse(g.key, "sonnet")).status, 200);
  assert.equal((await t.converse(MASTER_KEY, "sonnet")).status, 200);
  assert.equal((await t.converse(g.key, "sonnet")).status, 200);
  const refused = await t.converse(MASTER_KEY, "sonnet");
  assert.equal(refused.status, 400);
  assert.match((await refused.json()).message, /^Budget has been exceeded! Proxy \(litellm_settings\.max_budget\) /);
  assert.equal((await t.converse(g.key, "sonnet")).status, 400);
  const global = await t.admin("GET", "/global/spend");
  assert.equal(global.json.max_budget, 3 * SONNET_CALL_USD);
  // UTC days: a new day, a new budget.
  t.clock.advance(12 * 3_600_000);
  assert.equal((await t.converse(g.key, "sonnet")).status, 200);
});
