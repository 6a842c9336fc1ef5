/**
 * The SDK's generated admin methods for teams, users, discovery and the new spend views (`client.teams.*`,
 * `client.users.*`, `client.models.*`, `client.spend.tags/keys/models`) against the running gateway: answers match
 * the schemas they are generated from, errors are typed.
 */
import assert from "node:assert/strict";
import { AuthenticationError, createClient, ResourceNotFoundException } from "../sdk/mod.ts";
import { ModelInfoResponse, ModelList } from "../server/models/schemas.ts";
import {
  TeamInfo,
  TeamInfoResponse,
  TeamListResponse,
  UserInfoResponse,
  UserListResponse,
  UserNewResponse,
} from "../server/owners/schemas.ts";
import { GlobalSpendKeys, GlobalSpendModels, SpendTagsResponse } from "../server/spend/schemas.ts";
import { MASTER_KEY } from "../testing/harness.ts";
import { setupOwners, SONNET_CALL_USD } from "./owners_helpers.ts";

const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];

Deno.test("client.teams, client.users: the whole life cycle, typed and schema-true", async () => {
  await using t = await setupOwners();
  const admin = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  const team = TeamInfo.parse(await admin.teams.new({ team_alias: "sdk", max_budget: 1, budget_duration: "1mo" }));
  const user = UserNewResponse.parse(await admin.users.new({ user_id: "sdk-user", teams: [team.team_id] }));
  assert.ok(user.key);
  const member = createClient({ baseUrl: t.gw.url, apiKey: user.key! });
  await member.converse("sonnet", { messages });
  const key = await admin.keys.generate({ team_id: team.team_id });
  const teamKey = createClient({ baseUrl: t.gw.url, apiKey: key.key });
  await teamKey.converse("sonnet", { messages });

  const info = TeamInfoResponse.parse(await admin.teams.info({ team_id: team.team_id }));
  assert.equal(info.team_info.spend, SONNET_CALL_USD);
  assert.deepEqual(info.team_info.members_with_roles, [{ user_id: "sdk-user", role: "user" }]);
  assert.equal(TeamListResponse.parse(await admin.teams.list({})).length, 1);
  assert.equal((await admin.teams.update({ team_id: team.team_id, rpm_limit: 5 })).data.rpm_limit, 5);
  assert.equal((await admin.teams.block({ team_id: team.team_id })).blocked, true);
  await assert.rejects(teamKey.converse("sonnet", { messages }), (e) => e instanceof AuthenticationError);
  assert.equal((await admin.teams.unblock({ team_id: team.team_id })).blocked, false);

  const u = UserInfoResponse.parse(await admin.users.info({ user_id: "sdk-user" }));
  assert.equal(u.user_info.spend, SONNET_CALL_USD);
  assert.equal(UserListResponse.parse(await admin.users.list({})).total, 1);
  assert.equal((await admin.users.update({ user_id: "sdk-user", max_budget: 2 })).data.max_budget, 2);
  // A member reads its own user and team.
  assert.equal((await member.users.info({})).user_id, "sdk-user");
  await assert.rejects(member.teams.list({}), (e) => e instanceof AuthenticationError && e.status === 403);

  assert.deepEqual(await admin.users.delete({ user_ids: ["sdk-user"] }), { deleted_users: ["sdk-user"] });
  assert.deepEqual(await admin.teams.delete({ team_ids: [team.team_id] }), { deleted_teams: [team.team_id] });
  await assert.rejects(admin.teams.info({ team_id: team.team_id }), (e) => e instanceof ResourceNotFoundException);
});

Deno.test("client.models and client.spend.tags/keys/models", async () => {
  await using t = await setupOwners();
  const admin = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  const k = await admin.keys.generate({ models: ["sonnet"], tags: ["sdk"], aliases: { fast: "sonnet" } });
  const client = createClient({ baseUrl: t.gw.url, apiKey: k.key });
  await client.converse("fast", { messages });
  const list = ModelList.parse(await client.models.list({}));
  assert.deepEqual(list.data.map((m) => m.id), ["sonnet", "fast"]);
  const info = ModelInfoResponse.parse(await client.models.info({}));
  assert.deepEqual(info.data.map((d) => d.model_name), ["sonnet"]);
  assert.deepEqual(SpendTagsResponse.parse(await admin.spend.tags({})), [
    { individual_request_tag: "sdk", log_count: 1, total_spend: SONNET_CALL_USD },
  ]);
  assert.equal(GlobalSpendKeys.parse(await admin.spend.keys({ limit: 5 }))[0].api_key, k.token);
  assert.deepEqual(GlobalSpendModels.parse(await admin.spend.models({})), [
    { model: "sonnet", total_spend: SONNET_CALL_USD },
  ]);
  // A virtual key reads its own spend logs through the SDK too.
  const rows = await client.spend.logs({ summarize: false });
  assert.equal(rows.length, 1);
});
