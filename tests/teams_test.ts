/**
 * Teams end to end: LiteLLM's `/team/*` shapes, and a team's settings limiting its keys together — its budget over
 * two keys (sequentially, exactly; and with 50 calls arriving at once, through the holds), its models, rates,
 * budget resets, blocking, and deletion with its keys.
 */
import assert from "node:assert/strict";
import { hashKey } from "../server/keys/credentials.ts";
import { burst, created, setupOwners, SONNET_CALL_NANOS, SONNET_CALL_USD } from "./owners_helpers.ts";

Deno.test("team/new → team_id; info with spend and keys; list; update; LiteLLM's shapes", async () => {
  await using t = await setupOwners();
  const team = await created(t, "/team/new", {
    team_alias: "research",
    models: ["sonnet"],
    max_budget: 10,
    budget_duration: "1mo",
    tpm_limit: 100_000,
    rpm_limit: 100,
    metadata: { cost_center: "42" },
  });
  const now = t.clock.now(); // 2025-06-01T12:00:00Z
  assert.match(team.team_id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(team, {
    team_id: team.team_id,
    team_alias: "research",
    models: ["sonnet"],
    max_budget: 10,
    budget_duration: "1mo",
    budget_reset_at: "2025-07-01T12:00:00.000Z",
    spend: 0,
    tpm_limit: 100_000,
    rpm_limit: 100,
    metadata: { cost_center: "42" },
    blocked: false,
    members_with_roles: [],
    created_at: new Date(now).toISOString(),
    updated_at: new Date(now).toISOString(),
  });
  // A chosen id, taken once.
  assert.equal((await created(t, "/team/new", { team_id: "ops" })).team_id, "ops");
  const again = await t.admin("POST", "/team/new", { team_id: "ops" });
  assert.equal(again.status, 400);
  assert.match(again.json.error.message, /Team id = ops already exists/);

  const a = await t.generate({ team_id: team.team_id, key_alias: "a" });
  const b = await t.generate({ team_id: team.team_id, key_alias: "b" });
  assert.equal((await t.converse(a.key, "sonnet")).status, 200);
  assert.equal((await t.converse(b.key, "sonnet")).status, 200);

  const info = await t.admin("GET", `/team/info?team_id=${team.team_id}`);
  assert.equal(info.status, 200);
  assert.equal(info.json.team_id, team.team_id);
  assert.equal(info.json.team_info.spend, 2 * SONNET_CALL_USD);
  assert.deepEqual(info.json.keys.map((k: { key_alias: string }) => k.key_alias).sort(), ["a", "b"]);
  assert.deepEqual(info.json.team_memberships, []);
  assert.ok(!JSON.stringify(info.json).includes(a.key), "no raw key in team info");

  const list = await t.admin("GET", "/team/list");
  assert.deepEqual(list.json.map((x: { team_id: string }) => x.team_id), ["ops", team.team_id], "by alias");
  assert.equal(list.json[1].keys.length, 2);

  const updated = await t.admin("POST", "/team/update", { team_id: "ops", team_alias: "operations", max_budget: 1 });
  assert.equal(updated.status, 200);
  assert.equal(updated.json.team_id, "ops");
  assert.equal(updated.json.data.team_alias, "operations");
  assert.equal(updated.json.data.max_budget, 1);
  const cleared = await t.admin("POST", "/team/update", { team_id: "ops", max_budget: null, team_alias: null });
  assert.equal(cleared.json.data.max_budget, null);
  assert.equal(cleared.json.data.team_alias, null);

  // Not found, and bad input, in LiteLLM's error shape.
  const missing = await t.admin("GET", "/team/info?team_id=nope");
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.type, "not_found_error");
  assert.equal((await t.admin("POST", "/team/update", { team_id: "nope", max_budget: 1 })).status, 404);
  const bad = await t.admin("POST", "/team/new", { max_budget: -1 });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.param, "max_budget");
  assert.equal((await t.admin("POST", "/team/new", { members: [] })).json.error.param, "members");
  assert.equal((await t.admin("GET", "/team/info")).status, 400);
});

Deno.test("only the master key manages teams; a key reads only its own team", async () => {
  await using t = await setupOwners();
  const team = await created(t, "/team/new", { team_id: "t1" });
  await created(t, "/team/new", { team_id: "t2" });
  const k = await t.generate({ team_id: team.team_id });
  const loner = await t.generate({});
  for (
    const [method, path, body] of [
      ["POST", "/team/new", {}],
      ["GET", "/team/list", undefined],
      ["POST", "/team/update", { team_id: "t1", max_budget: 1 }],
      ["POST", "/team/block", { team_id: "t1" }],
      ["POST", "/team/delete", { team_ids: ["t1"] }],
    ] as const
  ) {
    assert.equal((await t.admin(method, path, body, k.key)).status, 403, path);
  }
  const own = await t.admin("GET", "/team/info", undefined, k.key);
  assert.equal(own.status, 200);
  assert.equal(own.json.team_id, "t1");
  assert.equal((await t.admin("GET", "/team/info?team_id=t2", undefined, k.key)).status, 403);
  assert.equal((await t.admin("GET", "/team/info", undefined, loner.key)).status, 403);
});

Deno.test("a team budget for 10 calls over two keys lets exactly 10 through, and reports spend 0.105", async () => {
  await using t = await setupOwners();
  const team = await created(t, "/team/new", { team_alias: "ten", max_budget: 0.105 });
  const keys = [await t.generate({ team_id: team.team_id }), await t.generate({ team_id: team.team_id })];
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) {
    const res = await t.converse(keys[i % 2].key, "sonnet");
    statuses.push(res.status);
    if (res.status === 400) {
      const body = await res.json();
      assert.equal(
        body.message,
        `Budget has been exceeded! Team=${team.team_id} Current cost: 0.105, Max budget: 0.105`,
      );
      assert.equal(body.error.type, "budget_exceeded");
    } else await res.body?.cancel();
  }
  assert.deepEqual(statuses, [...Array(10).fill(200), 400, 400]);
  assert.equal(t.fake.requests.length, 10);
  const info = await t.admin("GET", `/team/info?team_id=${team.team_id}`);
  assert.equal(info.json.team_info.spend, 0.105);
  // Each key spent its share; neither has a budget of its own.
  assert.deepEqual(info.json.keys.map((k: { spend: number }) => k.spend), [0.0525, 0.0525]);
  await t.gw.gateway.flush();
  let kvTotal = 0n;
  for await (const e of t.gw.kv.list<Deno.KvU64>({ prefix: ["team_spend", team.team_id] })) kvTotal += e.value.value;
  assert.equal(kvTotal, 10n * SONNET_CALL_NANOS);
  // Raising the team's budget lets its keys call again.
  await t.admin("POST", "/team/update", { team_id: team.team_id, max_budget: 11 * SONNET_CALL_USD });
  assert.equal((await t.converse(keys[0].key, "sonnet")).status, 200);
});

Deno.test("50 calls together over a team's two keys on a budget for 10: at most 11 pass (holds)", async () => {
  await using t = await setupOwners();
  const team = await created(t, "/team/new", { max_budget: 10 * SONNET_CALL_USD });
  const keys = [await t.generate({ team_id: team.team_id }), await t.generate({ team_id: team.team_id })];
  const out = await burst(t, keys.map((k) => k.key), 50);
  assert.ok(out.passed <= 11, `${out.passed} calls passed`);
  assert.ok(out.passed >= 9, `the budget is used: ${out.passed} passed`);
  assert.deepEqual(out.refused, [429], "refused while calls in flight held the team's budget");
  assert.equal(t.fake.requests.length, out.passed);
  const info = await t.admin("GET", `/team/info?team_id=${team.team_id}`);
  assert.equal(Math.round(info.json.team_info.spend * 1e9), out.passed * Number(SONNET_CALL_NANOS));
});

Deno.test("a team's models, rpm and tpm limit all its keys together, on top of each key's own", async () => {
  await using t = await setupOwners();
  const team = await created(t, "/team/new", { models: ["sonnet"], rpm_limit: 3 });
  const a = await t.generate({ team_id: team.team_id });
  const b = await t.generate({ team_id: team.team_id, models: ["claude"] });
  const refused = await t.converse(a.key, "claude");
  assert.equal(refused.status, 403);
  assert.match((await refused.json()).message, /not allowed to call model "claude"/);
  // The key allows only claude, the team only sonnet: nothing is left.
  assert.equal((await t.converse(b.key, "sonnet")).status, 403);
  assert.equal((await t.converse(b.key, "claude")).status, 403);
  for (let i = 0; i < 3; i++) assert.equal((await t.converse(a.key, "sonnet")).status, 200);
  const throttled = await t.converse(a.key, "sonnet");
  assert.equal(throttled.status, 429);
  assert.match((await throttled.json()).message, new RegExp(`team ${team.team_id} allows 3 requests per minute`));
  t.clock.advance(60_000);
  assert.equal((await t.converse(a.key, "sonnet")).status, 200);

  const tpmTeam = await created(t, "/team/new", { tpm_limit: 3000 });
  const c = await t.generate({ team_id: tpmTeam.team_id });
  const d = await t.generate({ team_id: tpmTeam.team_id });
  assert.equal((await t.converse(c.key, "sonnet")).status, 200);
  assert.equal((await t.converse(d.key, "sonnet")).status, 200);
  assert.equal((await t.converse(c.key, "sonnet")).status, 429, "3,000 tokens used by the team's two keys");
});

Deno.test("a team's budget resets every budget_duration (1mo: the same day next month)", async () => {
  await using t = await setupOwners();
  const team = await created(t, "/team/new", { max_budget: 2 * SONNET_CALL_USD, budget_duration: "1mo" });
  const k = await t.generate({ team_id: team.team_id });
  assert.equal((await t.converse(k.key, "sonnet")).status, 200);
  assert.equal((await t.converse(k.key, "sonnet")).status, 200);
  assert.equal((await t.converse(k.key, "sonnet")).status, 400);
  t.clock.advance(29 * 86_400_000); // 2025-06-30: still June's window
  assert.equal((await t.converse(k.key, "sonnet")).status, 400);
  t.clock.advance(86_400_000); // 2025-07-01T12:00Z: a new window
  assert.equal((await t.converse(k.key, "sonnet")).status, 200);
  const info = await t.admin("GET", `/team/info?team_id=${team.team_id}`);
  assert.equal(info.json.team_info.spend, SONNET_CALL_USD);
  assert.equal(info.json.team_info.budget_reset_at, "2025-08-01T12:00:00.000Z");
});

Deno.test("a blocked team's keys are refused until it is unblocked", async () => {
  await using t = await setupOwners();
  const team = await created(t, "/team/new", { team_id: "blockme" });
  const k = await t.generate({ team_id: "blockme" });
  assert.equal((await t.converse(k.key, "sonnet")).status, 200);
  const blocked = await t.admin("POST", "/team/block", { team_id: team.team_id });
  assert.equal(blocked.status, 200);
  assert.equal(blocked.json.blocked, true);
  const refused = await t.converse(k.key, "sonnet");
  assert.equal(refused.status, 401);
  assert.match((await refused.json()).message, /team \(team_id blockme\) is blocked/);
  assert.equal((await t.admin("POST", "/team/unblock", { team_id: "blockme" })).json.blocked, false);
  assert.equal((await t.converse(k.key, "sonnet")).status, 200);
  assert.equal((await t.admin("POST", "/team/block", { team_id: "nope" })).status, 404);
});

Deno.test("team/delete deletes the team's keys and counters, and takes it out of its users' teams", async () => {
  await using t = await setupOwners();
  await created(t, "/team/new", { team_id: "gone", max_budget: 1 });
  await created(t, "/team/new", { team_id: "stays" });
  await created(t, "/user/new", { user_id: "u1", teams: ["gone", "stays"], auto_create_key: false });
  const k = await t.generate({ team_id: "gone" });
  const other = await t.generate({ team_id: "stays" });
  assert.equal((await t.converse(k.key, "sonnet")).status, 200);
  assert.deepEqual((await t.admin("GET", "/team/info?team_id=gone")).json.team_info.members_with_roles, [
    { user_id: "u1", role: "user" },
  ]);
  const missing = await t.admin("POST", "/team/delete", { team_ids: ["gone", "nope"] });
  assert.equal(missing.status, 404, "all or nothing");
  assert.equal((await t.admin("GET", "/team/info?team_id=gone")).status, 200);
  const del = await t.admin("POST", "/team/delete", { team_ids: ["gone"] });
  assert.deepEqual(del.json, { deleted_teams: ["gone"] });
  assert.equal((await t.admin("GET", "/team/info?team_id=gone")).status, 404);
  assert.equal((await t.converse(k.key, "sonnet")).status, 401, "its key was deleted with it");
  assert.equal((await t.converse(other.key, "sonnet")).status, 200);
  assert.equal((await t.admin("GET", `/key/info?key=${hashKey(k.key)}`)).status, 404);
  assert.deepEqual((await t.admin("GET", "/user/info?user_id=u1")).json.user_info.teams, ["stays"]);
  await t.gw.gateway.flush();
  for await (const e of t.gw.kv.list({ prefix: ["team_spend", "gone"] })) assert.fail(`left: ${String(e.key)}`);
});
