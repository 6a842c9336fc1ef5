/**
 * The `/key/*` admin API end to end: LiteLLM's shapes, good and bad input, aliases, paging, regenerate,
 * block/unblock, expiry, and that no raw key is ever stored.
 */
import assert from "node:assert/strict";
import { hashKey } from "../server/keys/credentials.ts";
import { startFakeBedrock } from "../testing/fake_bedrock.ts";
import { Latch } from "../testing/latch.ts";
import { MASTER_KEY, startGateway } from "../testing/harness.ts";
import { adminCall, CALL_COST_USD, callModel, dumpKv, ENV, setupKeys } from "./keys_helpers.ts";

Deno.test("generate: LiteLLM's response shape; the raw key works once and only its hash is shown later", async () => {
  await using t = await setupKeys();
  const g = await t.generate({});
  assert.match(g.key, /^sk-[A-Za-z0-9_-]{32}$/);
  assert.equal(g.token, hashKey(g.key));
  assert.equal(g.key_name, `sk-...${g.key.slice(-4)}`);
  assert.equal(g.key_alias, null);
  assert.equal(g.expires, null);
  assert.equal(g.max_budget, null);
  assert.equal(g.budget_reset_at, null);
  assert.deepEqual(g.models, []);
  assert.deepEqual(g.metadata, {});
  assert.equal(g.spend, 0);
  assert.equal(g.blocked, false);
  assert.equal(g.created_at, new Date(t.clock.now()).toISOString());

  const res = await t.converse(g.key);
  assert.equal(res.status, 200, await res.text());
  assert.equal(t.gw.calls[0].caller.keyHash, g.token);

  const info = await t.admin("GET", `/key/info?key=${g.key}`);
  assert.equal(info.status, 200);
  assert.equal(info.json.key, g.token);
  assert.equal(info.json.info.token, g.token);
  assert.equal(info.json.info.spend, CALL_COST_USD);
  assert.ok(!JSON.stringify(info.json).includes(g.key), "info shows the raw key");
  // The hash works as a reference too (LiteLLM's hashed token).
  assert.equal((await t.admin("GET", `/key/info?key=${g.token}`)).json.info.key_name, g.key_name);
});

Deno.test("generate with every setting; info reflects them", async () => {
  await using t = await setupKeys();
  assert.equal((await t.admin("POST", "/team/new", { team_id: "team-a" })).status, 200);
  const settings = {
    models: ["claude"],
    allowed_routes: ["/bedrock/model/*", "/bedrock/guardrail/*"],
    max_budget: 10,
    soft_budget: 5,
    budget_duration: "30d",
    duration: "1h",
    rpm_limit: 100,
    tpm_limit: 100000,
    max_parallel_requests: 4,
    key_alias: "team-a-app",
    metadata: { owner: "alice", tags: ["a"] },
    user_id: "alice",
    team_id: "team-a",
    key: "sk-custom-key-for-team-a",
    model_max_budget: { claude: { budget_limit: "0.5", time_period: "1mo" } },
    model_rpm_limit: { claude: 5 },
    model_tpm_limit: { claude: 5000 },
    tags: ["app:a", "env:prod", "app:a"],
    aliases: { fast: "claude" },
  };
  const g = await t.generate(settings);
  assert.equal(g.key, "sk-custom-key-for-team-a");
  const { json } = await t.admin("GET", `/key/info?key=${g.token}`);
  const now = t.clock.now();
  assert.deepEqual(json.info, {
    token: hashKey("sk-custom-key-for-team-a"),
    key_name: "sk-...am-a",
    key_alias: "team-a-app",
    spend: 0,
    max_budget: 10,
    soft_budget: 5,
    budget_duration: "30d",
    budget_reset_at: new Date(now + 30 * 86_400_000).toISOString(),
    expires: new Date(now + 3_600_000).toISOString(),
    models: ["claude"],
    allowed_routes: ["/bedrock/model/*", "/bedrock/guardrail/*"],
    rpm_limit: 100,
    tpm_limit: 100000,
    max_parallel_requests: 4,
    user_id: "alice",
    team_id: "team-a",
    metadata: { owner: "alice", tags: ["a"] },
    blocked: false,
    model_max_budget: { claude: { budget_limit: 0.5, time_period: "1mo" } },
    model_spend: { claude: 0 },
    model_rpm_limit: { claude: 5 },
    model_tpm_limit: { claude: 5000 },
    tags: ["app:a", "env:prod"],
    aliases: { fast: "claude" },
    created_at: new Date(now).toISOString(),
    updated_at: new Date(now).toISOString(),
  });
});

Deno.test("a key's team_id must name a team; null clears it; 1mo and LiteLLM's words are durations", async () => {
  await using t = await setupKeys();
  const r = await t.admin("POST", "/key/generate", { team_id: "no-such-team" });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, "team_id");
  assert.match(r.json.error.message, /Team not found: team_id "no-such-team".*\/team\/new/);
  await t.admin("POST", "/team/new", { team_id: "t1" });
  const g = await t.generate({ team_id: "t1", budget_duration: "1mo", duration: "monthly" });
  const now = t.clock.now(); // 2025-06-01T12:00:00Z
  assert.equal(g.budget_reset_at, "2025-07-01T12:00:00.000Z");
  assert.equal(g.expires, new Date(now + 30 * 86_400_000).toISOString());
  const u = await t.admin("POST", "/key/update", { key: g.key, team_id: null, budget_duration: "daily" });
  assert.equal(u.status, 200);
  assert.equal(u.json.team_id, null);
  assert.equal(u.json.budget_reset_at, new Date(now + 86_400_000).toISOString());
  const bad = await t.admin("POST", "/key/update", { key: g.key, team_id: "nope" });
  assert.equal(bad.status, 400);
  assert.equal((await t.admin("POST", "/key/update", { key: g.key, model_max_budget: { claude: {} } })).status, 400);
});

Deno.test("invalid admin input is a 400 in LiteLLM's shape naming the field; nothing is stored", async () => {
  await using t = await setupKeys();
  const cases: Array<[string, unknown, string | null, RegExp]> = [
    ["wrong type", { max_budget: "ten" }, "max_budget", /expected number/],
    ["negative budget", { max_budget: -1 }, "max_budget", />=0/],
    ["negative soft budget", { soft_budget: -0.5 }, "soft_budget", />=0/],
    ["unknown duration syntax", { budget_duration: "1y" }, "budget_duration", /duration like 30s/],
    ["months past ten years", { budget_duration: "121mo" }, "budget_duration", /too long/],
    ["duration with spaces", { duration: "30 d" }, "duration", /duration like/],
    ["zero duration", { duration: "0s" }, "duration", /duration like/],
    ["fractional rpm", { rpm_limit: 1.5 }, "rpm_limit", /expected int/],
    ["negative tpm", { tpm_limit: -5 }, "tpm_limit", />=0/],
    ["models not an array", { models: "claude" }, "models", /expected array/],
    ["route without a leading /", { allowed_routes: ["bedrock/agents/*"] }, "allowed_routes", /starting with \//],
    ["route with an inner *", { allowed_routes: ["/bedrock/*/retrieve"] }, "allowed_routes", /at the end/],
    ["unknown field", { max_budget: 1, budgets: 2 }, "budgets", /Unknown field "budgets"/],
    ["custom key without sk-", { key: "my-key" }, "key", /must start with sk-/],
    ["metadata not an object", { metadata: [1] }, "metadata", /expected record/],
    ["alias too long", { key_alias: "a".repeat(300) }, "key_alias", /Too big/],
    ["master key as a virtual key", { key: MASTER_KEY }, "key", /master key/],
    ["not JSON", "{nope", null, /not valid JSON/],
    ["JSON array", [1], null, /expected object/],
  ];
  for (const [name, body, param, message] of cases) {
    const r = await t.admin("POST", "/key/generate", body);
    assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.error.param, param, name);
    assert.equal(r.json.error.code, "400", name);
    assert.equal(r.json.error.type, "bad_request_error", name);
    assert.match(r.json.error.message, message, name);
  }
  const list = await t.admin("GET", "/key/list");
  assert.equal(list.json.total_count, 0);

  // The other routes validate the same way.
  const g = await t.generate();
  const more: Array<[string, string, unknown, string | null]> = [
    ["/key/update", "POST", { key: g.key, rpm_limit: "x" }, "rpm_limit"],
    ["/key/update", "POST", { rpm_limit: 5 }, "key"],
    ["/key/update", "POST", { key: g.key, spend: 0 }, "spend"],
    ["/key/delete", "POST", {}, "keys"],
    ["/key/delete", "POST", { keys: [g.key], key_aliases: ["x"] }, "keys"],
    ["/key/delete", "POST", { keys: [] }, "keys"],
    ["/key/block", "POST", { key: 5 }, "key"],
    ["/key/regenerate", "POST", { new_key: "nope" }, "new_key"],
    ["/key/regenerate", "POST", {}, "key"],
    ["/key/list?size=1000", "GET", undefined, "size"],
    ["/key/list?page=0", "GET", undefined, "page"],
    ["/key/list?colour=red", "GET", undefined, "colour"],
    ["/key/info", "GET", undefined, "key"],
  ];
  for (const [path, method, body, param] of more) {
    const r = await t.admin(method as "GET" | "POST", path, body);
    assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.error.param, param, `${path} ${JSON.stringify(body)}`);
  }
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("admin routes need the master key; a virtual key may only read its own info", async () => {
  await using t = await setupKeys();
  const a = await t.generate({ key_alias: "a" });
  const b = await t.generate({ key_alias: "b" });
  const noKey = await fetch(`${t.gw.url}/key/generate`, { method: "POST", body: "{}" });
  assert.equal(noKey.status, 401);
  assert.equal((await noKey.json()).error.type, "auth_error");
  assert.equal((await t.admin("POST", "/key/generate", {}, "sk-wrong")).status, 401);
  for (
    const [method, path, body] of [
      ["POST", "/key/generate", {}],
      ["POST", "/key/update", { key: a.key, rpm_limit: 1 }],
      ["POST", "/key/delete", { keys: [b.key] }],
      ["GET", "/key/list", undefined],
      ["POST", "/key/block", { key: b.key }],
      ["POST", "/key/regenerate", { key: a.key }],
      ["GET", `/key/info?key=${b.key}`, undefined],
    ] as const
  ) {
    const r = await t.admin(method, path, body, a.key);
    assert.equal(r.status, 403, `${method} ${path}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.error.type, "auth_error");
  }
  const self = await t.admin("GET", "/key/info", undefined, a.key);
  assert.equal(self.status, 200);
  assert.equal(self.json.key, a.token);
  assert.equal(self.json.info.key_alias, "a");
  const named = await t.admin("GET", `/key/info?key=${a.key}`, undefined, a.key);
  assert.equal(named.json.info.key_alias, "a");
});

Deno.test("aliases are unique, also under concurrent generates and updates", async () => {
  await using t = await setupKeys();
  const results = await Promise.all(
    Array.from({ length: 10 }, () => t.admin("POST", "/key/generate", { key_alias: "shared" })),
  );
  assert.equal(results.filter((r) => r.status === 200).length, 1);
  for (const r of results.filter((r) => r.status !== 200)) {
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, "key_alias");
    assert.match(r.json.error.message, /"shared" is already in use/);
  }
  const other = await t.generate({ key_alias: "other" });
  const taken = await t.admin("POST", "/key/update", { key: other.key, key_alias: "shared" });
  assert.equal(taken.status, 400);
  assert.equal(taken.json.error.param, "key_alias");
  // Renaming frees the old alias.
  assert.equal((await t.admin("POST", "/key/update", { key: other.key, key_alias: "renamed" })).status, 200);
  assert.equal((await t.admin("POST", "/key/generate", { key_alias: "other" })).status, 200);
  assert.equal((await t.admin("GET", "/key/list?key_alias=renamed")).json.keys[0], other.token);
  // A duplicate custom key is refused too.
  await t.generate({ key: "sk-fixed-value" });
  const dup = await t.admin("POST", "/key/generate", { key: "sk-fixed-value" });
  assert.equal(dup.status, 400);
  assert.equal(dup.json.error.param, "key");
});

Deno.test("update changes settings, null clears them; unknown keys are a 404", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ max_budget: 1, rpm_limit: 10, models: ["claude"], key_alias: "u" });
  t.clock.advance(5_000);
  const r = await t.admin("POST", "/key/update", {
    key: g.key,
    max_budget: null,
    rpm_limit: 20,
    models: [],
    metadata: { team: "x" },
    duration: "30m",
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.key, g.token);
  assert.equal(r.json.max_budget, null);
  assert.equal(r.json.rpm_limit, 20);
  assert.deepEqual(r.json.models, []);
  assert.deepEqual(r.json.metadata, { team: "x" });
  assert.equal(r.json.key_alias, "u");
  assert.equal(r.json.expires, new Date(t.clock.now() + 1_800_000).toISOString());
  assert.equal(r.json.updated_at, new Date(t.clock.now()).toISOString());
  assert.notEqual(r.json.created_at, r.json.updated_at);
  const missing = await t.admin("POST", "/key/update", { key: "sk-does-not-exist", rpm_limit: 1 });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.type, "not_found_error");
  assert.equal(missing.json.error.param, "key");
  assert.ok(!missing.json.error.message.includes("sk-does-not-exist"), "the raw key is echoed in an error");
  assert.equal((await t.admin("GET", "/key/info?key=sk-nope")).status, 404);
});

Deno.test("a key deleted while its call runs: the call completes and is billed, and no counter of the key is left", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ max_budget: 1, tpm_limit: 100_000 });
  const answer = new Latch();
  t.fake.enqueue({ kind: "converse", waitFor: answer });
  const call = t.converse(g.key);
  await t.fake.whenRequest(0);
  const id = (await t.gw.kv.get<{ id: string }>(["keys", g.token])).value!.id;
  assert.equal((await t.admin("POST", "/key/delete", { keys: [g.key] })).status, 200);
  answer.release();
  const res = await call;
  assert.equal(res.status, 200, await res.text());
  await t.gw.gateway.flush(); // the call's sums written, and the clean-up after them done
  const left: Deno.KvKey[] = [];
  // Limit leases expire by themselves (`expireIn`); counters do not.
  for await (const e of t.gw.kv.list({ prefix: [] })) {
    if (e.key.includes(id) && e.key[0] !== "limit_lease") left.push(e.key);
  }
  assert.deepEqual(left, [], "counters written by the call after the delete are deleted too");
});

Deno.test("delete by keys and by key_aliases; deleted keys stop working at once", async () => {
  await using t = await setupKeys();
  const a = await t.generate({ key_alias: "a" });
  const b = await t.generate({ key_alias: "b" });
  const c = await t.generate({ key_alias: "c" });
  assert.equal((await t.converse(a.key)).status, 200); // cached on this instance
  assert.deepEqual((await t.admin("POST", "/key/delete", { keys: [a.key] })).json, { deleted_keys: [a.key] });
  assert.deepEqual((await t.admin("POST", "/key/delete", { key_aliases: ["b"] })).json, { deleted_keys: ["b"] });
  const refused = await t.converse(a.key);
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get("x-amzn-errortype")?.split(":")[0], "UnrecognizedClientException");
  assert.equal((await t.converse(b.key)).status, 401);
  assert.equal((await t.admin("GET", `/key/info?key=${a.key}`)).status, 404);
  // Unknown keys or aliases: a 404 naming them, and nothing is deleted.
  const partial = await t.admin("POST", "/key/delete", { key_aliases: ["c", "zzz"] });
  assert.equal(partial.status, 404);
  assert.equal(partial.json.error.param, "key_aliases");
  assert.match(partial.json.error.message, /zzz/);
  assert.equal((await t.converse(c.key)).status, 200);
  // The alias is free again.
  assert.equal((await t.admin("POST", "/key/generate", { key_alias: "a" })).status, 200);
  // Nothing of the deleted keys' records or counters is left behind (their calls stay in the spend history, their
  // changes in the audit trail).
  const dump = await dumpKv(t.gw.kv, (key) => !String(key[0]).startsWith("spend_") && key[0] !== "audit");
  assert.ok(!dump.includes(a.token) && !dump.includes(b.token));
});

Deno.test("list pages through keys with total_count; full objects on request; filters", async () => {
  await using t = await setupKeys();
  const made = [];
  for (let i = 0; i < 7; i++) made.push(await t.generate({ user_id: i % 2 ? "odd" : "even" }));
  const seen: string[] = [];
  for (let page = 1; page <= 3; page++) {
    const r = await t.admin("GET", `/key/list?page=${page}&size=3`);
    assert.equal(r.status, 200);
    assert.equal(r.json.total_count, 7);
    assert.equal(r.json.total_pages, 3);
    assert.equal(r.json.current_page, page);
    assert.equal(r.json.keys.length, page === 3 ? 1 : 3);
    seen.push(...r.json.keys);
  }
  assert.deepEqual(seen.toSorted(), made.map((m) => m.token).toSorted());
  const odd = await t.admin("GET", "/key/list?user_id=odd&return_full_object=true&size=100");
  assert.equal(odd.json.total_count, 3);
  assert.ok(odd.json.keys.every((k: { user_id: string; token: string }) => k.user_id === "odd" && k.token));
  const text = JSON.stringify([odd.json, seen]);
  for (const m of made) assert.ok(!text.includes(m.key), "list shows a raw key");
});

Deno.test("regenerate: a new key replaces the old one; spend, alias and settings carry over", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ key_alias: "rot", max_budget: 5 });
  assert.equal((await t.converse(g.key)).status, 200);
  const r = await t.admin("POST", "/key/regenerate", { key: g.key, rpm_limit: 50 });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.notEqual(r.json.key, g.key);
  assert.equal(r.json.token, hashKey(r.json.key));
  assert.equal(r.json.key_alias, "rot");
  assert.equal(r.json.max_budget, 5);
  assert.equal(r.json.rpm_limit, 50);
  assert.equal(r.json.spend, CALL_COST_USD);
  assert.equal((await t.converse(g.key)).status, 401);
  assert.equal((await t.converse(r.json.key)).status, 200);
  // The path form, with a chosen new key; the alias follows the key.
  const p = await t.admin("POST", `/key/${r.json.key}/regenerate`, { new_key: "sk-rotated-by-path" });
  assert.equal(p.status, 200, JSON.stringify(p.json));
  assert.equal(p.json.key, "sk-rotated-by-path");
  assert.equal(p.json.spend, 2 * CALL_COST_USD);
  assert.equal((await t.admin("POST", "/key/delete", { key_aliases: ["rot"] })).status, 200);
  assert.equal((await t.converse("sk-rotated-by-path")).status, 401);
  const gone = await t.admin("POST", "/key/regenerate", { key: g.key });
  assert.equal(gone.status, 404);
});

Deno.test("block and unblock take effect at once on this instance", async () => {
  await using t = await setupKeys();
  const g = await t.generate();
  assert.equal((await t.converse(g.key)).status, 200);
  const blocked = await t.admin("POST", "/key/block", { key: g.key });
  assert.equal(blocked.status, 200);
  assert.equal(blocked.json.blocked, true);
  const res = await t.converse(g.key);
  assert.equal(res.status, 401);
  assert.match((await res.json()).message, /blocked/);
  assert.equal((await t.admin("POST", "/key/unblock", { key: g.token })).json.blocked, false);
  assert.equal((await t.converse(g.key)).status, 200);
  assert.equal(t.fake.requests.length, 2);
});

Deno.test("expiry with the injected clock: valid until `duration` has passed, then a 401", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ duration: "1h" });
  t.clock.advance(3_600_000 - 1);
  assert.equal((await t.converse(g.key)).status, 200);
  t.clock.advance(1);
  const res = await t.converse(g.key);
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "UnrecognizedClientException");
  assert.match((await res.json()).message, /Expired Key/);
  // Extending the expiry revives it.
  assert.equal((await t.admin("POST", "/key/update", { key: g.key, duration: "1d" })).status, 200);
  assert.equal((await t.converse(g.key)).status, 200);
});

Deno.test("raw keys are never stored: a scan of the whole KV finds only hashes", async () => {
  await using t = await setupKeys();
  const raws: string[] = [];
  const a = await t.generate({ key_alias: "scan", max_budget: 1, rpm_limit: 5, tpm_limit: 1000, soft_budget: 0 });
  raws.push(a.key);
  raws.push((await t.generate({ key: "sk-custom-secret-value" })).key);
  for (const raw of raws) assert.equal((await t.converse(raw)).status, 200);
  const r = await t.admin("POST", "/key/regenerate", { key: a.key });
  raws.push(r.json.key);
  assert.equal((await t.converse(r.json.key)).status, 200);
  await t.gw.gateway.flush();
  const dump = await dumpKv(t.gw.kv);
  assert.ok(dump.includes(hashKey(r.json.key)), "the scan sees the records");
  assert.ok(dump.includes("key_spend") && dump.includes("key_rpm"), "the scan sees the counters");
  for (const raw of [...raws, MASTER_KEY]) {
    assert.ok(!dump.includes(raw), `raw key ${raw.slice(0, 6)}… found in KV`);
    assert.ok(!dump.includes(raw.slice(3)), "raw key body found in KV");
  }
  // Nor in any log line.
  const logs = t.gw.logs.join("\n");
  for (const raw of raws) assert.ok(!logs.includes(raw));
});

Deno.test("a record filed under a hash it does not carry is not accepted (hashes compared in constant time)", async () => {
  await using t = await setupKeys();
  const g = await t.generate();
  const forged = hashKey("sk-forged-key");
  const record = (await t.gw.kv.get<Record<string, unknown>>(["keys", g.token])).value!;
  await t.gw.kv.set(["keys", forged], record); // a corrupted index entry: wrong hash inside
  assert.equal((await t.converse("sk-forged-key")).status, 401);
  assert.equal((await t.converse(g.key)).status, 200);
});

Deno.test("without a master key the gateway is open, but a presented virtual key's limits still apply", async () => {
  const fake = await startFakeBedrock();
  const yaml = `model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/x
      aws_region_name: us-west-2
      aws_bedrock_runtime_endpoint: ${fake.url}
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
`;
  await using gw = await startGateway({ yaml, env: ENV });
  const g = (await adminCall(gw.url, "POST", "/key/generate", { rpm_limit: 1 }, "anything")).json;
  assert.match(g.key, /^sk-/);
  assert.equal((await callModel(gw.url, "sk-not-a-key")).status, 200);
  assert.equal((await callModel(gw.url, g.key)).status, 200);
  assert.equal((await callModel(gw.url, g.key)).status, 429);
  await adminCall(gw.url, "POST", "/key/block", { key: g.key }, "anything");
  assert.equal((await callModel(gw.url, g.key)).status, 401);
  await fake.close();
});
