/**
 * The SDK's generated admin methods against the running gateway: the `/key/*` API (`client.keys.*`), deployment
 * health, and the typed errors a virtual key meets on model calls — over budget, model not allowed, blocked.
 */
import assert from "node:assert/strict";
import {
  AccessDeniedException,
  AuthenticationError,
  BudgetExceededError,
  createClient,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  UnrecognizedClientException,
  ValidationException,
} from "../sdk/mod.ts";
import { DeploymentHealthReport } from "../server/health/schemas.ts";
import { KeyGenerateResponse, KeyInfoResponse, KeyListResponse } from "../server/keys/schemas.ts";
import { MASTER_KEY } from "../testing/harness.ts";
import { CALL_COST_USD, setupKeys } from "./keys_helpers.ts";

const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];

Deno.test("client.keys: generate, info, update, list, block, unblock, delete — answers match the schemas", async () => {
  await using t = await setupKeys();
  const admin = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  const made = await admin.keys.generate({ key_alias: "sdk-key", models: ["claude"], max_budget: 1 });
  KeyGenerateResponse.parse(made);
  assert.match(made.key, /^sk-/);
  assert.deepEqual(made.models, ["claude"]);

  const info = await admin.keys.info({ key: made.key });
  KeyInfoResponse.parse(info);
  assert.equal(info.info.key_alias, "sdk-key");
  assert.equal(info.key, made.token);

  const user = createClient({ baseUrl: t.gw.url, apiKey: made.key });
  assert.equal((await user.converse("claude", { messages })).stopReason, "end_turn");
  // A virtual key may read its own record; it cannot manage keys.
  assert.equal((await user.keys.info()).info.token, made.token);
  await assert.rejects(user.keys.generate({}), (e) => e instanceof AuthenticationError && e.status === 403);

  const updated = await admin.keys.update({ key: made.key, rpm_limit: 100 });
  assert.equal(updated.rpm_limit, 100);
  await admin.keys.generate({ key_alias: "second" });
  const page = await admin.keys.list({ size: 1, page: 2 });
  KeyListResponse.parse(page);
  assert.equal(page.total_count, 2);
  assert.equal(page.keys.length, 1);

  await admin.keys.block({ key: made.key });
  await assert.rejects(user.converse("claude", { messages }), UnrecognizedClientException);
  await admin.keys.unblock({ key: made.key });
  assert.equal((await user.converse("claude", { messages })).stopReason, "end_turn");

  const renewed = await admin.keys.regenerate({ key: made.key });
  assert.notEqual(renewed.key, made.key);
  await assert.rejects(user.converse("claude", { messages }), UnrecognizedClientException);

  assert.deepEqual(await admin.keys.delete({ keys: [renewed.key] }), { deleted_keys: [renewed.key] });
  await assert.rejects(admin.keys.info({ key: renewed.key }), (e) => e instanceof ResourceNotFoundException);
  await assert.rejects(
    admin.keys.generate({ max_budget: -1 }),
    (e) => e instanceof ValidationException && e.status === 400 && /max_budget/.test(e.message),
  );
});

Deno.test("a key over budget gets BudgetExceededError from converse and from converseStream", async () => {
  await using t = await setupKeys();
  const admin = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  const made = await admin.keys.generate({ max_budget: CALL_COST_USD });
  const user = createClient({ baseUrl: t.gw.url, apiKey: made.key });
  await user.converse("claude", { messages }); // spends exactly the budget
  const check = (e: unknown) => {
    assert.ok(e instanceof BudgetExceededError, String(e));
    assert.ok(e instanceof ServiceQuotaExceededException);
    assert.equal(e.status, 400);
    assert.equal(e.type, "ServiceQuotaExceededException");
    assert.match(e.message, /^Budget has been exceeded! Current cost: 0\.00002, Max budget: 0\.00002$/);
    assert.ok(e.requestId);
    return true;
  };
  await assert.rejects(user.converse("claude", { messages }), check);
  await assert.rejects(user.converseStream("claude", { messages }).collect(), check);
  assert.equal(t.fake.requests.length, 1, "refused calls never reached the upstream");
});

Deno.test("a model outside the key's models is AccessDeniedException", async () => {
  await using t = await setupKeys();
  const admin = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  const made = await admin.keys.generate({ models: ["other"] });
  const user = createClient({ baseUrl: t.gw.url, apiKey: made.key });
  await assert.rejects(
    user.converse("claude", { messages }),
    (e) => e instanceof AccessDeniedException && e.status === 403 && /not allowed/.test(e.message),
  );
});

Deno.test("client.health.deployments reports the router's view in the documented shape", async () => {
  await using t = await setupKeys();
  const report = await createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY }).health.deployments();
  DeploymentHealthReport.parse(report);
  assert.equal(report.healthy_count, 1);
  assert.equal(report.healthy_endpoints[0].model_name, "claude");
  await assert.rejects(
    createClient({ baseUrl: t.gw.url, apiKey: "sk-nope" }).health.deployments(),
    (e) => e instanceof AuthenticationError && e.status === 401,
  );
});

Deno.test("query booleans: the SDK sends true/false; LiteLLM's spellings are read too; other text is a 400", async () => {
  await using t = await setupKeys();
  const admin = createClient({ baseURL: t.gw.url, apiKey: MASTER_KEY });
  const made = await admin.keys.generate({ key_alias: "flags" });
  // keys.list: hashes by default and with false, whole objects with true (typed so: see sdk_types_check.ts).
  assert.deepEqual((await admin.keys.list()).keys, [made.token]);
  assert.deepEqual((await admin.keys.list({ return_full_object: false })).keys, [made.token]);
  const full = await admin.keys.list({ return_full_object: true });
  KeyListResponse.parse(full);
  assert.equal(full.keys[0].key_alias, "flags");
  assert.equal(full.keys[0].token, made.token);
  // What LiteLLM's FastAPI accepts (Python's str(True) is "True").
  for (const text of ["True", "1", "yes", "on"]) {
    const r = await t.admin("GET", `/key/list?return_full_object=${text}`);
    assert.equal(r.json.keys[0].token, made.token, text);
  }
  for (const text of ["False", "0", "no", "off"]) {
    assert.deepEqual((await t.admin("GET", `/key/list?return_full_object=${text}`)).json.keys, [made.token], text);
  }
  const bad = await t.admin("GET", "/key/list?return_full_object=maybe");
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.param, "return_full_object");
  assert.match(bad.json.error.message, /true or false/);

  // health.deployments: probe false calls no model; probe true calls each deployment once; bad text is a 400.
  await admin.health.deployments({ probe: false });
  assert.equal(t.fake.requests.length, 0);
  const probed = await admin.health.deployments({ probe: true });
  assert.equal(t.fake.requests.length, 1);
  assert.equal(probed.healthy_endpoints[0].probe?.ok, true);
  await assert.rejects(
    admin.health.deployments({ probe: "maybe" as unknown as boolean }),
    (e) => e instanceof ValidationException && e.status === 400 && /probe/.test(e.message),
  );
  assert.equal(t.fake.requests.length, 1);
});
