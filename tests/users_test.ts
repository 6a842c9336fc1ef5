/**
 * Users end to end: LiteLLM's `/user/*` shapes (a key made with the user, answered once), and a user's settings
 * limiting all its keys together — a budget for 5 calls lets exactly 5 through over two keys, with holds for calls
 * arriving together; models; resets; deletion with its keys.
 */
import assert from "node:assert/strict";
import { burst, created, setupOwners, SONNET_CALL_USD } from "./owners_helpers.ts";

Deno.test("user/new makes the user and a key for it (shown once); info, list, update; LiteLLM's shapes", async () => {
  await using t = await setupOwners();
  await created(t, "/team/new", { team_id: "eng" });
  const u = await created(t, "/user/new", {
    user_id: "alice",
    user_email: "alice@example.com",
    user_alias: "Alice",
    max_budget: 5,
    budget_duration: "30d",
    models: ["sonnet"],
    teams: ["eng"],
    tpm_limit: 1000,
    rpm_limit: 10,
    metadata: { desk: "7" },
    key_alias: "alice-laptop",
  });
  const now = t.clock.now();
  const { key, ...user } = u;
  assert.match(key, /^sk-[A-Za-z0-9_-]{32}$/);
  assert.deepEqual(user, {
    user_id: "alice",
    user_email: "alice@example.com",
    user_alias: "Alice",
    user_role: "internal_user",
    teams: ["eng"],
    models: ["sonnet"],
    max_budget: 5,
    budget_duration: "30d",
    budget_reset_at: new Date(now + 30 * 86_400_000).toISOString(),
    spend: 0,
    tpm_limit: 1000,
    rpm_limit: 10,
    metadata: { desk: "7" },
    created_at: new Date(now).toISOString(),
    updated_at: new Date(now).toISOString(),
    key_alias: "alice-laptop",
    expires: null,
  });
  assert.equal((await t.converse(key, "sonnet")).status, 200);

  const info = await t.admin("GET", "/user/info?user_id=alice");
  assert.equal(info.json.user_id, "alice");
  assert.equal(info.json.user_info.spend, SONNET_CALL_USD);
  assert.deepEqual(info.json.keys.map((k: { key_alias: string; user_id: string }) => [k.key_alias, k.user_id]), [
    ["alice-laptop", "alice"],
  ]);
  assert.deepEqual(info.json.teams.map((x: { team_id: string }) => x.team_id), ["eng"]);
  assert.ok(!JSON.stringify(info.json).includes(key), "no raw key in user info");
  // A key reads its own user; only its own.
  assert.equal((await t.admin("GET", "/user/info", undefined, key)).json.user_id, "alice");
  assert.equal((await t.admin("GET", "/user/info?user_id=bob", undefined, key)).status, 403);

  // Without a key; an id is made; one email per user.
  const bob = await created(t, "/user/new", { user_email: "bob@example.com", auto_create_key: false });
  assert.equal(bob.key, null);
  assert.match(bob.user_id, /^[0-9a-f-]{36}$/);
  const dup = await t.admin("POST", "/user/new", { user_email: "ALICE@example.com" });
  assert.equal(dup.status, 400);
  assert.equal(dup.json.error.param, "user_email");
  assert.equal((await t.admin("POST", "/user/new", { user_id: "alice" })).status, 400);
  const noTeam = await t.admin("POST", "/user/new", { teams: ["nope"] });
  assert.equal(noTeam.status, 400);
  assert.equal(noTeam.json.error.param, "teams");

  t.clock.advance(1000);
  await created(t, "/user/new", { user_id: "carol", teams: ["eng"], auto_create_key: false });
  const page1 = await t.admin("GET", "/user/list?page_size=2");
  assert.equal(page1.json.total, 3);
  assert.equal(page1.json.total_pages, 2);
  assert.equal(page1.json.page, 1);
  assert.deepEqual(page1.json.users.map((x: { user_id: string }) => x.user_id)[0], "carol", "newest first");
  const byTeam = await t.admin("GET", "/user/list?team=eng");
  assert.deepEqual(byTeam.json.users.map((x: { user_id: string }) => x.user_id).sort(), ["alice", "carol"]);
  const alice = (await t.admin("GET", "/user/list?user_email=ALICE")).json.users;
  assert.deepEqual(alice.map((x: { user_id: string; key_count: number }) => [x.user_id, x.key_count]), [["alice", 1]]);

  const up = await t.admin("POST", "/user/update", { user_id: "alice", max_budget: null, teams: [] });
  assert.equal(up.status, 200);
  assert.equal(up.json.user_id, "alice");
  assert.equal(up.json.data.max_budget, null);
  assert.deepEqual(up.json.data.teams, []);
  assert.equal((await t.admin("POST", "/user/update", { user_id: "nope", max_budget: 1 })).status, 404);
  assert.equal((await t.admin("POST", "/user/new", {}, key)).status, 403, "a virtual key cannot make users");
});

Deno.test("a user budget for 5 calls lets exactly 5 through, over all the user's keys", async () => {
  await using t = await setupOwners();
  const u = await created(t, "/user/new", { user_id: "five", max_budget: 5 * SONNET_CALL_USD });
  const second = await t.generate({ user_id: "five" });
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) {
    const res = await t.converse(i % 2 ? second.key : u.key, "sonnet");
    statuses.push(res.status);
    if (res.status === 400) {
      assert.match((await res.json()).message, /^Budget has been exceeded! User=five Current cost: 0\.0525, /);
    } else await res.body?.cancel();
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 400, 400]);
  assert.equal(t.fake.requests.length, 5);
  assert.equal((await t.admin("GET", "/user/info?user_id=five")).json.user_info.spend, 0.0525);
});

Deno.test("50 calls together on a user budget for 5: at most 6 pass", async () => {
  await using t = await setupOwners();
  const u = await created(t, "/user/new", { user_id: "burst", max_budget: 5 * SONNET_CALL_USD });
  const other = await t.generate({ user_id: "burst" });
  const out = await burst(t, [u.key, other.key], 50);
  assert.ok(out.passed <= 6 && out.passed >= 4, `${out.passed} passed`);
  assert.deepEqual(out.refused, [429]);
  assert.equal(t.fake.requests.length, out.passed);
});

Deno.test("a key of a user without a record counts toward nothing; the user's budget applies once it exists", async () => {
  await using t = await setupOwners();
  const k = await t.generate({ user_id: "later" });
  assert.equal((await t.converse(k.key, "sonnet")).status, 200);
  await created(t, "/user/new", { user_id: "later", max_budget: SONNET_CALL_USD, auto_create_key: false });
  assert.equal((await t.converse(k.key, "sonnet")).status, 200);
  assert.equal((await t.converse(k.key, "sonnet")).status, 400, "the user's budget (spend since its creation)");
  // The user's models restrict its keys too.
  await t.admin("POST", "/user/update", { user_id: "later", max_budget: null, models: ["claude"] });
  assert.equal((await t.converse(k.key, "sonnet")).status, 403);
});

Deno.test("user/delete deletes the user's keys; all or nothing", async () => {
  await using t = await setupOwners();
  const u = await created(t, "/user/new", { user_id: "gone" });
  await created(t, "/user/new", { user_id: "stays", auto_create_key: false });
  assert.equal((await t.admin("POST", "/user/delete", { user_ids: ["gone", "nope"] })).status, 404);
  assert.equal((await t.converse(u.key, "sonnet")).status, 200);
  const del = await t.admin("POST", "/user/delete", { user_ids: ["gone"] });
  assert.deepEqual(del.json, { deleted_users: ["gone"] });
  assert.equal((await t.converse(u.key, "sonnet")).status, 401);
  assert.equal((await t.admin("GET", "/user/info?user_id=gone")).status, 404);
  assert.equal((await t.admin("GET", "/user/info?user_id=stays")).status, 200);
});
