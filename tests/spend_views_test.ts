/**
 * The spend views LiteLLM's scripts read: `/spend/tags`, `/global/spend/keys`, `/global/spend/models` (its shapes,
 * from the daily roll-ups), `/spend/logs?team_id=`, and a virtual key reading its own spend logs — only its own.
 */
import assert from "node:assert/strict";
import { created, setupOwners, SONNET_CALL_USD } from "./owners_helpers.ts";

const CLAUDE_CALL_USD = 0.002; // 1,000 in / 500 out at PRICE_PARAMS ($1 / $2 per million)

async function tagged(url: string, key: string, model: string, tags?: string) {
  const res = await fetch(`${url}/bedrock/model/${model}/converse`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      ...(tags ? { "x-litellm-tags": tags } : {}),
    },
    body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi" }] }] }),
  });
  assert.equal(res.status, 200, await res.text());
}

Deno.test("a virtual key reads only its own spend logs", async () => {
  await using t = await setupOwners();
  const mine = await t.generate({ key_alias: "mine" });
  const theirs = await t.generate({ key_alias: "theirs" });
  await tagged(t.gw.url, mine.key, "sonnet");
  await tagged(t.gw.url, mine.key, "claude");
  await tagged(t.gw.url, theirs.key, "sonnet");
  const own = await t.admin("GET", "/spend/logs", undefined, mine.key);
  assert.equal(own.status, 200);
  assert.equal(own.json.length, 2);
  assert.ok(own.json.every((r: { api_key: string }) => r.api_key === mine.token));
  // Naming itself (by key or hash) is the same; naming another key is refused.
  assert.equal((await t.admin("GET", `/spend/logs?api_key=${mine.token}`, undefined, mine.key)).json.length, 2);
  const other = await t.admin("GET", `/spend/logs?api_key=${theirs.token}`, undefined, mine.key);
  assert.equal(other.status, 403);
  assert.equal(other.json.error.type, "auth_error");
  // Its daily summary counts only its own calls.
  const days = await t.admin("GET", "/spend/logs?start_date=2025-06-01&end_date=2025-06-01", undefined, mine.key);
  assert.equal(days.json[0].spend, SONNET_CALL_USD + CLAUDE_CALL_USD);
  assert.deepEqual(Object.keys(days.json[0]).filter((k) => /^[0-9a-f]{64}$/.test(k)), [mine.token]);
  // The master key sees all three.
  assert.equal((await t.admin("GET", "/spend/logs")).json.length, 3);
});

Deno.test("/spend/tags: spend and calls per tag (header and key tags), LiteLLM's shape, by date", async () => {
  await using t = await setupOwners();
  const g = await t.generate({ tags: ["team:ml"] });
  await tagged(t.gw.url, g.key, "sonnet", "job:nightly");
  await tagged(t.gw.url, g.key, "claude", "job:nightly, adhoc");
  t.clock.advance(86_400_000);
  await tagged(t.gw.url, g.key, "claude");
  const all = await t.admin("GET", "/spend/tags");
  assert.equal(all.status, 200);
  assert.deepEqual(all.json, [
    { individual_request_tag: "team:ml", log_count: 3, total_spend: SONNET_CALL_USD + 2 * CLAUDE_CALL_USD },
    { individual_request_tag: "job:nightly", log_count: 2, total_spend: SONNET_CALL_USD + CLAUDE_CALL_USD },
    { individual_request_tag: "adhoc", log_count: 1, total_spend: CLAUDE_CALL_USD },
  ]);
  const day2 = await t.admin("GET", "/spend/tags?start_date=2025-06-02&end_date=2025-06-02");
  assert.deepEqual(day2.json, [{ individual_request_tag: "team:ml", log_count: 1, total_spend: CLAUDE_CALL_USD }]);
  assert.equal((await t.admin("GET", "/spend/tags?start_date=nope")).status, 400);
});

Deno.test("/global/spend/keys and /global/spend/models: the last 30 days' top spenders, LiteLLM's shapes", async () => {
  await using t = await setupOwners();
  const big = await t.generate({ key_alias: "big" });
  const small = await t.generate({});
  await tagged(t.gw.url, big.key, "sonnet");
  await tagged(t.gw.url, big.key, "sonnet");
  await tagged(t.gw.url, small.key, "claude");
  const keys = await t.admin("GET", "/global/spend/keys");
  assert.deepEqual(keys.json, [
    { api_key: big.token, key_alias: "big", key_name: big.key_name, total_spend: 2 * SONNET_CALL_USD },
    { api_key: small.token, key_alias: null, key_name: small.key_name, total_spend: CLAUDE_CALL_USD },
  ]);
  assert.equal((await t.admin("GET", "/global/spend/keys?limit=1")).json.length, 1);
  const models = await t.admin("GET", "/global/spend/models");
  assert.deepEqual(models.json, [
    { model: "sonnet", total_spend: 2 * SONNET_CALL_USD },
    { model: "claude", total_spend: CLAUDE_CALL_USD },
  ]);
  // Thirty-one days later, those calls have left the window.
  t.clock.advance(31 * 86_400_000);
  assert.deepEqual((await t.admin("GET", "/global/spend/models")).json, []);
  assert.equal((await t.admin("GET", "/global/spend/keys?limit=0")).status, 400);
});

Deno.test("/spend/logs?team_id= and the team column of the rows and reports", async () => {
  await using t = await setupOwners();
  await created(t, "/team/new", { team_id: "red" });
  const red = await t.generate({ team_id: "red", user_id: "ann" });
  const none = await t.generate({});
  await tagged(t.gw.url, red.key, "sonnet");
  await tagged(t.gw.url, none.key, "sonnet");
  const rows = (await t.admin("GET", "/spend/logs?team_id=red")).json;
  assert.deepEqual(rows.map((r: { team_id: string; user: string }) => [r.team_id, r.user]), [["red", "ann"]]);
  const report = await t.admin("GET", "/global/spend/report?start_date=2025-06-01&end_date=2025-06-01&group_by=team");
  assert.deepEqual(
    report.json.map((r: { team_id: string | null; total_spend: number }) => [r.team_id, r.total_spend]),
    [[null, SONNET_CALL_USD], ["red", SONNET_CALL_USD]],
    "equal spend: by team id, no team first",
  );
});
