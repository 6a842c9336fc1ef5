/**
 * AWS credentials through the whole gateway: deployments with no keys on an ECS/EKS-like host (the container
 * endpoint fake), roles assumed through a fake STS, refresh and expiry on a hand-moved clock, failures; the fake
 * Bedrock verifies every signature made with the temporary credentials and their `x-amz-security-token`.
 */
import assert from "node:assert/strict";
import { ConverseCommand, ServiceUnavailableException } from "@aws-sdk/client-bedrock-runtime";
import { type FakeBedrock, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { issuer, startFakeContainerEndpoint, startFakeSts, type TempCredentials } from "./fake_aws_credentials.ts";
import { bedrockClient, converseBody, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { Latch } from "../testing/latch.ts";
import { type ManualClock, manualClock } from "./manual_clock.ts";

const MINUTE = 60_000;
const NO_RETRIES = { providers: { containerRetries: 0, stsMaxAttempts: 1 } };

const post = (url: string, path: string, body = converseBody()) =>
  fetch(url + path, {
    method: "POST",
    body,
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
  });
const converse = (url: string, model = "claude") => post(url, `/bedrock/model/${model}/converse`);

async function health(url: string) {
  const res = await fetch(`${url}/health`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
  const text = await res.text();
  const body = JSON.parse(text) as {
    healthy_endpoints: Array<Record<string, unknown>>;
    unhealthy_endpoints: Array<Record<string, unknown>>;
  };
  const byId = Object.fromEntries(
    [...body.healthy_endpoints, ...body.unhealthy_endpoints].map((e) => [e.model_id as string, e]),
  );
  return { text, byId };
}

const deployment = (name: string, id: string, fakeUrl: string, params = "") =>
  `  - model_name: ${name}
    litellm_params:
      model: bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_region_name: us-west-2
      aws_bedrock_runtime_endpoint: ${fakeUrl}
${params}    model_info: { id: ${id} }
`;
const yamlOf = (...entries: string[]) =>
  `model_list:\n${entries.join("")}general_settings:\n  master_key: ${MASTER_KEY}\n`;

/** Temporary credentials the fake Bedrock accepts until they expire. */
const accepted = (fake: FakeBedrock) => (c: TempCredentials) => fake.addCredentials({ ...c, expiresAt: c.expiration });

/** A gateway on an ECS/EKS-like host: one deployment without keys, credentials from the container endpoint. */
async function onContainerHost(opts: { clock?: ManualClock; authorization?: string; token?: string } = {}) {
  const clock = opts.clock;
  const now = clock ? () => clock.now() : Date.now;
  const fake = await startFakeBedrock({ now: () => new Date(now()) });
  const endpoint = startFakeContainerEndpoint({
    issue: issuer("task", () => now() + 60 * MINUTE, accepted(fake)),
    authorization: opts.authorization ?? "pod-identity-token",
  });
  const gw = await startGateway({
    yaml: yamlOf(deployment("claude", "ecs-claude", fake.url)),
    env: {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: opts.token ?? "pod-identity-token",
    },
    ...(clock ? { now, timers: clock } : {}),
    credentialOptions: NO_RETRIES,
  });
  return {
    fake,
    endpoint,
    gw,
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await endpoint.close();
      await fake.close();
    },
  };
}

Deno.test("no keys on an ECS/EKS host: calls are signed with the container endpoint's temporary credentials and session token", async () => {
  await using t = await onContainerHost();
  assert.equal(t.endpoint.requests.length, 1, "resolved at start-up");
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  await client.send(
    new ConverseCommand({ modelId: "claude", messages: [{ role: "user", content: [{ text: "hi" }] }] }),
  );
  client.destroy();
  assert.equal((await converse(t.gw.url)).status, 200);
  const issued = t.endpoint.issued[0];
  for (const r of t.fake.requests) {
    assert.equal(r.rejected, false, "the fake verified the signature");
    assert.equal(r.auth.kind === "sigv4" && r.auth.accessKeyId, issued.accessKeyId);
    assert.equal(r.headers["x-amz-security-token"], issued.sessionToken);
    assert.ok(r.auth.kind === "sigv4" && r.auth.signedHeaders.includes("x-amz-security-token"));
  }
  assert.equal(t.endpoint.requests.length, 1, "cached: no resolution per call");
  const h = await health(t.gw.url);
  assert.equal(h.byId["ecs-claude"].status, "healthy");
  assert.equal(h.byId["ecs-claude"].credential_source, "container");
  for (const secret of [issued.secretAccessKey, issued.sessionToken, "pod-identity-token"]) {
    assert.ok(!h.text.includes(secret) && !t.gw.logs.join("\n").includes(secret), "no credential value shown");
  }
  assert.ok(t.gw.logs.some((l) => l.includes('"msg":"AWS credentials ready"') && l.includes('"container"')));
});

Deno.test("aws_role_name per deployment: each assumes its own role through aws_sts_endpoint from the entry's keys", async () => {
  const fake = await startFakeBedrock();
  const base = { accessKeyId: "AKIABASEKEYS00000001", secretAccessKey: "base/secret" };
  await using sts = startFakeSts({
    issue: issuer("sts", () => Date.now() + 60 * MINUTE, accepted(fake)),
    base: [base],
  });
  const role = (account: string) =>
    `      aws_access_key_id: ${base.accessKeyId}
      aws_secret_access_key: ${base.secretAccessKey}
      aws_role_name: arn:aws:iam::${account}:role/bedrock
      aws_session_name: gw-${account}
      aws_sts_endpoint: ${sts.url}
`;
  await using gw = await startGateway({
    yaml: yamlOf(
      deployment("a", "acct-a", fake.url, role("111111111111")),
      deployment("b", "acct-b", fake.url, role("222222222222")),
    ),
    credentialOptions: NO_RETRIES,
  });
  assert.equal((await converse(gw.url, "a")).status, 200);
  assert.equal((await converse(gw.url, "b")).status, 200);
  const byRole = Object.fromEntries(sts.calls.map((c, i) => [c.params.RoleArn, sts.issued[i].accessKeyId]));
  assert.deepEqual(Object.keys(byRole).sort(), [
    "arn:aws:iam::111111111111:role/bedrock",
    "arn:aws:iam::222222222222:role/bedrock",
  ]);
  assert.ok(sts.calls.every((c) => c.signedBy === base.accessKeyId && c.region === "us-west-2"));
  const used = fake.requests.map((r) => r.auth.kind === "sigv4" ? r.auth.accessKeyId : "");
  assert.deepEqual(used, [
    byRole["arn:aws:iam::111111111111:role/bedrock"],
    byRole["arn:aws:iam::222222222222:role/bedrock"],
  ]);
  assert.equal((await health(gw.url)).byId["acct-a"].credential_source, "assume-role");
  await fake.close();
});

Deno.test("refresh ahead of expiry: no call waits on it (held on a latch); after the old expiry calls use the new credentials", async () => {
  const clock = manualClock(Date.now());
  await using t = await onContainerHost({ clock });
  const first = t.endpoint.issued[0];
  assert.equal((await converse(t.gw.url)).status, 200);

  const latch = new Latch();
  t.endpoint.hold(latch);
  clock.advanceTo(Math.floor(first.expiration / 1000) * 1000 - 5 * MINUTE);
  await t.endpoint.whenRequests(2);
  // The refresh is on the wire and held: calls are answered with the current credentials meanwhile.
  assert.equal((await converse(t.gw.url)).status, 200);
  assert.equal((await converse(t.gw.url)).status, 200);
  latch.release();
  await t.gw.gateway.credentialsIdle();
  const second = t.endpoint.issued[1];

  clock.advanceTo(first.expiration + MINUTE); // the first credentials are now refused by the fake Bedrock
  assert.equal((await converse(t.gw.url)).status, 200);
  const used = t.fake.requests.map((r) => [r.auth.kind === "sigv4" ? r.auth.accessKeyId : "", r.status]);
  assert.deepEqual(used, [
    [first.accessKeyId, 200],
    [first.accessKeyId, 200],
    [first.accessKeyId, 200],
    [second.accessKeyId, 200],
  ]);
});

Deno.test("a failed refresh keeps the current credentials (logged once); once they expire: 503 naming the source and why; then recovery", async () => {
  const clock = manualClock(Date.now());
  await using t = await onContainerHost({ clock });
  const first = t.endpoint.issued[0];
  t.endpoint.failWith({ status: 503, body: '{"Code":"ServiceUnavailable"}' });
  const expiry = Math.floor(first.expiration / 1000) * 1000;
  // Every retry before the expiry fails; calls keep working with the first credentials.
  while ((clock.nextDue() ?? Infinity) < expiry - 10_000) {
    clock.advanceTo(clock.nextDue()!);
    await t.gw.gateway.credentialsIdle();
    assert.equal((await converse(t.gw.url)).status, 200);
  }
  const failures = t.gw.logs.filter((l) => l.includes("AWS credential refresh failed"));
  assert.equal(failures.length, 1, "logged once");
  assert.match(failures[0], /"credential_source":"container".*"reason":"Server responded with status: 503"/);

  clock.advanceTo(expiry - 10_000);
  await t.gw.gateway.credentialsIdle();
  const client = bedrockClient(t.gw.url, MASTER_KEY, { http1: true });
  await assert.rejects(
    client.send(new ConverseCommand({ modelId: "claude", messages: [{ role: "user", content: [{ text: "hi" }] }] })),
    (e: Error) => {
      assert.ok(e instanceof ServiceUnavailableException);
      assert.match(
        e.message,
        /^model claude has no usable deployment: no AWS credentials from container \(via the default credential chain\): the credentials expired at .* and could not be refreshed: Server responded with status: 503$/,
      );
      return true;
    },
  );
  client.destroy();
  const h = await health(t.gw.url);
  assert.equal(h.byId["ecs-claude"].status, "unavailable");
  assert.match(String(h.byId["ecs-claude"].unavailable_reason), /expired at .* could not be refreshed/);
  const sent = t.fake.requests.length;

  t.endpoint.failWith(undefined);
  await t.gw.gateway.credentialsIdle();
  clock.advanceTo(clock.nextDue()!);
  await t.gw.gateway.credentialsIdle();
  assert.equal((await converse(t.gw.url)).status, 200);
  assert.equal(t.fake.requests.length, sent + 1, "nothing was sent upstream while unavailable");
  const last = t.fake.requests.at(-1)?.auth;
  assert.equal(last?.kind === "sigv4" && last.accessKeyId, t.endpoint.issued.at(-1)?.accessKeyId);
  const all = t.gw.logs.join("\n");
  for (const c of t.endpoint.issued) assert.ok(!all.includes(c.secretAccessKey) && !all.includes(c.sessionToken));
});

Deno.test("a source down at start: the deployment is reported unavailable, its calls go to the group's other deployment", async () => {
  const fake = await startFakeBedrock();
  await using endpoint = startFakeContainerEndpoint({
    issue: issuer("never", () => Date.now() + 60 * MINUTE),
    authorization: "the-right-token",
  });
  const keys =
    "      aws_access_key_id: AKIAFAKEBEDROCK00001\n      aws_secret_access_key: fake/Secret+Access/Key/For/Tests/000001\n";
  await using gw = await startGateway({
    yaml: yamlOf(deployment("claude", "from-container", fake.url), deployment("claude", "with-keys", fake.url, keys)),
    env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri, AWS_CONTAINER_AUTHORIZATION_TOKEN: "a-wrong-token" },
    credentialOptions: NO_RETRIES,
  });
  const startup = gw.logs.find((l) => l.includes("deployment from-container (claude): unavailable"));
  assert.ok(startup, gw.logs.join("\n"));
  assert.match(
    startup,
    /no AWS credentials from the default credential chain: .*container: Server responded with status: 401\)"/,
  );
  assert.ok(!gw.logs.join("\n").includes("a-wrong-token"));
  for (let i = 0; i < 3; i++) assert.equal((await converse(gw.url)).status, 200);
  assert.ok(fake.requests.every((r) => r.auth.kind === "sigv4" && r.auth.accessKeyId === "AKIAFAKEBEDROCK00001"));
  const h = await health(gw.url);
  assert.equal(h.byId["from-container"].status, "unavailable");
  assert.equal(h.byId["from-container"].credential_source, null);
  assert.equal(h.byId["with-keys"].credential_source, "static");
  await fake.close();
});

Deno.test("bedrock_passthrough without keys: the default chain, resolved by the first pass-through call", async () => {
  const agent = await startFakeBedrock({ api: "agent-runtime" });
  await using endpoint = startFakeContainerEndpoint({
    issue: issuer("pt", () => Date.now() + 60 * MINUTE, accepted(agent)),
  });
  await using gw = await startGateway({
    yaml: `model_list:\n  - model_name: demo\n    litellm_params: { model: bedrock/x, mock_response: hi }\n` +
      `general_settings:\n  master_key: ${MASTER_KEY}\n`,
    env: {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri,
      AWS_REGION: "us-west-2",
      AWS_BEDROCK_AGENT_RUNTIME_ENDPOINT: agent.url,
    },
    credentialOptions: NO_RETRIES,
  });
  assert.equal(endpoint.requests.length, 0, "nothing resolved at start-up for an unconfigured pass-through account");
  const res = await post(gw.url, "/bedrock/knowledgebases/KB12345678/retrieve", '{"retrievalQuery":{"text":"q"}}');
  assert.equal(res.status, 200, await res.text());
  assert.equal(endpoint.requests.length, 1);
  const r = agent.requests[0];
  assert.equal(r.auth.kind === "sigv4" && r.auth.accessKeyId, endpoint.issued[0].accessKeyId);
  assert.equal(r.headers["x-amz-security-token"], endpoint.issued[0].sessionToken);
  await agent.close();
});
