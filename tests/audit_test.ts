/**
 * The audit trail: every admin change of keys, teams and users — create, update, block, unblock, regenerate
 * (`rotated`), delete — is an `audit` log line and a KV record read at `GET /audit/logs` (master key only), in
 * LiteLLM's shape: who (`changed_by`, the `litellm-changed-by` header when sent; `changed_by_api_key` a hash prefix),
 * what, which object, the changed fields before and after. No raw key anywhere.
 */
import assert from "node:assert/strict";
import { hashKey } from "../server/keys/credentials.ts";
import { MASTER_KEY } from "../testing/harness.ts";
import { setupKeys } from "./keys_helpers.ts";

interface Row {
  id: string;
  changed_by: string;
  changed_by_api_key: string | null;
  action: string;
  table_name: string;
  object_id: string;
  before_value: Record<string, unknown> | null;
  updated_values: Record<string, unknown>;
}

Deno.test("each admin change of a key, team and user is logged and listed at /audit/logs, newest first", async () => {
  await using t = await setupKeys();
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${t.gw.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, json: await r.json() }));

  assert.equal((await post("/team/new", { team_id: "t1", max_budget: 10 })).status, 200);
  assert.equal((await post("/team/update", { team_id: "t1", max_budget: 20 })).status, 200);
  const g = await t.generate({ key_alias: "audited", max_budget: 1, team_id: "t1" });
  const upd = await post("/key/update", { key: g.key, max_budget: 2, rpm_limit: 5 }, { "litellm-changed-by": "alice" });
  assert.equal(upd.status, 200);
  assert.equal((await post("/key/block", { key: g.key })).status, 200);
  assert.equal((await post("/key/unblock", { key: g.key })).status, 200);
  const regen = await post("/key/regenerate", { key: g.key });
  assert.equal(regen.status, 200);
  const user = await post("/user/new", { user_id: "u1", max_budget: 3 });
  assert.equal(user.status, 200);
  assert.equal((await post("/user/delete", { user_ids: ["u1"] })).status, 200);
  assert.equal((await post("/key/delete", { keys: [regen.json.key] })).status, 200);

  // Log lines: one per change, naming who and what, never a key.
  const lines = t.gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "audit");
  const logged = lines.map((l) => `${l.table_name}:${l.action}`);
  for (
    const expected of [
      "LiteLLM_TeamTable:created",
      "LiteLLM_TeamTable:updated",
      "LiteLLM_VerificationToken:created",
      "LiteLLM_VerificationToken:updated",
      "LiteLLM_VerificationToken:blocked",
      "LiteLLM_VerificationToken:unblocked",
      "LiteLLM_VerificationToken:rotated",
      "LiteLLM_UserTable:created",
      "LiteLLM_UserTable:deleted",
      "LiteLLM_VerificationToken:deleted",
    ]
  ) assert.ok(logged.includes(expected), `${expected} not in ${logged}`);

  // The route: LiteLLM's page shape, newest first.
  const page = await t.admin("GET", "/audit/logs?page_size=100");
  assert.equal(page.status, 200);
  const rows = page.json.data as Row[];
  assert.equal(page.json.total, rows.length);
  assert.equal(page.json.total, lines.length);
  assert.deepEqual([page.json.page, page.json.page_size, page.json.total_pages], [1, 100, 1]);
  assert.equal(rows[0].action, "deleted");
  assert.equal(rows[0].table_name, "LiteLLM_VerificationToken");

  // Before and after of what changed, who changed it.
  const keyUpdate = rows.find((r) => r.table_name === "LiteLLM_VerificationToken" && r.action === "updated")!;
  assert.equal(keyUpdate.object_id, g.token);
  assert.equal(keyUpdate.changed_by, "alice");
  assert.equal(keyUpdate.changed_by_api_key, hashKey(MASTER_KEY).slice(0, 12));
  assert.deepEqual(keyUpdate.before_value, { max_budget: 1, rpm_limit: null });
  assert.deepEqual(keyUpdate.updated_values, { max_budget: 2, rpm_limit: 5 });
  const teamUpdate = rows.find((r) => r.table_name === "LiteLLM_TeamTable" && r.action === "updated")!;
  assert.equal(teamUpdate.changed_by, "master_key");
  assert.deepEqual([teamUpdate.before_value, teamUpdate.updated_values], [{ max_budget: 10 }, { max_budget: 20 }]);
  const blocked = rows.find((r) => r.action === "blocked")!;
  assert.deepEqual([blocked.before_value, blocked.updated_values], [{ blocked: false }, { blocked: true }]);
  const created = rows.find((r) => r.object_id === g.token && r.action === "created")!;
  assert.equal(created.before_value, null);
  assert.equal(created.updated_values.key_alias, "audited");
  const rotated = rows.find((r) => r.action === "rotated")!;
  assert.equal(rotated.updated_values.token, hashKey(regen.json.key).slice(0, 12));
  const deletedUser = rows.find((r) => r.table_name === "LiteLLM_UserTable" && r.action === "deleted")!;
  assert.deepEqual(deletedUser.updated_values, {});
  assert.equal(deletedUser.before_value?.max_budget, 3);

  // Filters and pages.
  const teams = await t.admin("GET", "/audit/logs?table_name=LiteLLM_TeamTable");
  assert.deepEqual((teams.json.data as Row[]).map((r) => r.action), ["updated", "created"]);
  const second = await t.admin("GET", "/audit/logs?page=2&page_size=3");
  assert.deepEqual((second.json.data as Row[]).map((r) => r.id), rows.slice(3, 6).map((r) => r.id));
  assert.equal(second.json.total_pages, Math.ceil(rows.length / 3));
  const byKey = await t.admin("GET", `/audit/logs?object_id=${g.token}&action=updated`);
  assert.equal(byKey.json.total, 1);
  assert.equal((await t.admin("GET", "/audit/logs?start_date=2000-01-01&end_date=2000-01-02")).json.total, 0);

  // Never a raw key, in the log or the records.
  const everything = t.gw.logs.join("\n") + JSON.stringify(page.json);
  for (const raw of [g.key, regen.json.key, user.json.key, MASTER_KEY]) {
    assert.ok(!everything.includes(raw), `a raw key (${raw.slice(0, 6)}…) is in the audit trail`);
  }

  // Master key only.
  const other = await t.generate({ key_alias: "reader" });
  assert.equal((await t.admin("GET", "/audit/logs", undefined, other.key)).status, 403);
  assert.equal((await t.admin("GET", "/audit/logs?end_date=yesterday")).status, 400);
});
