/**
 * Team and user budgets across instances and the hooks: two gateways sharing one KV file hold a team's budget together
 * (the same leases as a key's), a team blocked on one instance is refused on the other once its cached record is due,
 * and every written team or user change and every budget reached reach their listeners (`onOwnerChange`,
 * `onBudgetReached`), where an audit trail and alerts hook in.
 */
import assert from "node:assert/strict";
import type { BudgetReached } from "../server/keys/admission.ts";
import type { OwnerChange } from "../server/owners/changes.ts";
import { startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, type GatewayUnderTest, startGateway } from "../testing/harness.ts";
import { Latch } from "../testing/latch.ts";
import { adminCall, callModel, Clock, ENV } from "./keys_helpers.ts";
import { created, HELD_BODY, setupOwners, SONNET, SONNET_CALL_USD, USAGE } from "./owners_helpers.ts";

Deno.test("two instances on one KV: 50 calls together over a team's two keys on a budget for 10 pass at most 11", async () => {
  const clock = new Clock();
  const fake = await startFakeBedrock({ now: () => new Date(clock.now()) });
  const answer = new Latch(), allDecided = new Latch();
  fake.setDefault({ kind: "converse", usage: USAGE, waitFor: answer });
  const kvPath = await Deno.makeTempFile({ suffix: ".sqlite" });
  const yaml = fakeConfig(fake.url, { models: [SONNET] });
  const gateways: GatewayUnderTest[] = [];
  try {
    for (let i = 0; i < 2; i++) gateways.push(await startGateway({ yaml, env: ENV, kvPath, now: clock.now }));
    const [a, b] = gateways;
    const team = (await adminCall(a.url, "POST", "/team/new", { max_budget: 10 * SONNET_CALL_USD })).json;
    const keys = [
      (await adminCall(a.url, "POST", "/key/generate", { team_id: team.team_id })).json.key,
      (await adminCall(b.url, "POST", "/key/generate", { team_id: team.team_id })).json.key,
    ];
    let decided = 0;
    const tick = () => {
      if (++decided === 50) allDecided.release();
    };
    fake.handler = () => {
      tick();
      return undefined;
    };
    const statuses = Array.from({ length: 50 }, async (_, i) => {
      const res = await callModel(gateways[i % 2].url, keys[(i >> 1) % 2], "sonnet", HELD_BODY);
      await res.body?.cancel();
      if (res.status !== 200) tick();
      return res.status;
    });
    await allDecided.wait();
    answer.release();
    const all = await Promise.all(statuses);
    const passed = all.filter((s) => s === 200).length;
    assert.ok(passed <= 11 && passed >= 9, `${passed} passed`);
    assert.deepEqual([...new Set(all.filter((s) => s !== 200))], [429]);
    assert.equal(fake.requests.length, passed);
    for (const g of gateways) await g.gateway.flush();
    const spend = (await adminCall(b.url, "GET", `/team/info?team_id=${team.team_id}`)).json.team_info.spend;
    assert.equal(Math.round(spend * 1e9), passed * 10_500_000);
  } finally {
    answer.release();
    await Promise.all(gateways.map((g) => g.close()));
    await fake.close();
    for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(kvPath + suffix).catch(() => {});
  }
});

Deno.test("a team blocked through one instance is refused on another once its cached record is due", async () => {
  const clock = new Clock();
  const fake = await startFakeBedrock({ now: () => new Date(clock.now()) });
  const kvPath = await Deno.makeTempFile({ suffix: ".sqlite" });
  const yaml = fakeConfig(fake.url, { models: [SONNET] });
  const gateways: GatewayUnderTest[] = [];
  try {
    for (let i = 0; i < 2; i++) gateways.push(await startGateway({ yaml, env: ENV, kvPath, now: clock.now }));
    const [a, b] = gateways;
    await adminCall(a.url, "POST", "/team/new", { team_id: "t" });
    const key = (await adminCall(a.url, "POST", "/key/generate", { team_id: "t" })).json.key;
    assert.equal((await callModel(b.url, key, "sonnet")).status, 200);
    await adminCall(a.url, "POST", "/team/block", { team_id: "t" });
    assert.equal((await callModel(a.url, key, "sonnet")).status, 401, "at once where it was blocked");
    clock.advance(2_000); // key_cache_ttl_ms: the other instance's copy is due
    assert.equal((await callModel(b.url, key, "sonnet")).status, 401);
  } finally {
    await Promise.all(gateways.map((g) => g.close()));
    await fake.close();
    for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(kvPath + suffix).catch(() => {});
  }
});

Deno.test("hooks: every written team or user change, with who made it; every budget a call reaches", async () => {
  const changes: OwnerChange[] = [];
  const reached: BudgetReached[] = [];
  await using t = await setupOwners({
    onOwnerChange: (c) => changes.push(c),
    onBudgetReached: (e) => reached.push(e),
  });
  await created(t, "/team/new", { team_id: "t", max_budget: 2 * SONNET_CALL_USD });
  await fetch(`${t.gw.url}/team/update`, {
    method: "POST",
    headers: { authorization: "Bearer sk-master-test", "litellm-changed-by": "alice@example.com" },
    body: JSON.stringify({ team_id: "t", rpm_limit: 100 }),
  }).then((r) => r.body?.cancel());
  await t.admin("POST", "/team/block", { team_id: "t" });
  await t.admin("POST", "/team/unblock", { team_id: "t" });
  const u = await created(t, "/user/new", { user_id: "u", teams: ["t"], max_budget: SONNET_CALL_USD });
  assert.equal((await t.admin("POST", "/team/update", { team_id: "nope" })).status, 404, "not written: no change");
  assert.deepEqual(changes.map((c) => [c.kind, c.action, c.id, c.by]), [
    ["team", "created", "t", "master_key"],
    ["team", "updated", "t", "alice@example.com"],
    ["team", "blocked", "t", "master_key"],
    ["team", "unblocked", "t", "master_key"],
    ["user", "created", "u", "master_key"],
  ]);
  assert.equal(changes[1].before?.rpmLimit, undefined);
  assert.equal(changes[1].after?.rpmLimit, 100);

  const k = await t.generate({ team_id: "t", user_id: "u" });
  assert.equal((await t.converse(k.key, "sonnet")).status, 200);
  assert.deepEqual(reached.map((e) => [e.scope, e.id, e.spentNanos]), [["user", "u", 10_500_000n]]);
  assert.equal((await t.converse(u.key, "sonnet")).status, 400, "the user's budget is spent");
  await t.admin("POST", "/user/update", { user_id: "u", max_budget: null });
  assert.equal((await t.converse(k.key, "sonnet")).status, 200);
  assert.deepEqual(reached.map((e) => [e.scope, e.id]), [["user", "u"], ["team", "t"]]);
  assert.ok(t.gw.logs.some((l) => l.includes('"budget reached"') && l.includes('"scope":"team"')));

  await t.admin("POST", "/user/delete", { user_ids: ["u"] });
  await t.admin("POST", "/team/delete", { team_ids: ["t"] });
  assert.deepEqual(changes.slice(-2).map((c) => [c.kind, c.action, c.id]), [["user", "deleted", "u"], [
    "team",
    "deleted",
    "t",
  ]]);
});
