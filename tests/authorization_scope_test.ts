/**
 * Authorization covers what a call actually reaches: a fallback group the key's `allowed_routes` do not cover is
 * skipped (as one outside its `models` already was), and a guardrail named inside Converse (`guardrailConfig`) or
 * InvokeModel (`X-Amzn-Bedrock-GuardrailIdentifier`) needs the grant of that guardrail's route, else a 403 that is
 * never forwarded. A body or header the gateway could read differently from Bedrock (a member name given twice, a
 * repeated guardrail header) is a 400, never forwarded: what is checked is what is sent.
 */
import assert from "node:assert/strict";
import { AccessDeniedException, ConverseCommand, InvokeModelCommand } from "@aws-sdk/client-bedrock-runtime";
import { bedrockClient, MASTER_KEY } from "../testing/harness.ts";
import { PRICE_PARAMS, setupKeys } from "./keys_helpers.ts";

const messages = [{ role: "user" as const, content: [{ text: "hi" }] }];

Deno.test("fallbacks respect allowed_routes: a group the key may not call directly is skipped", async () => {
  await using t = await setupKeys({
    models: [
      { name: "claude-held", params: PRICE_PARAMS },
      { name: "other", model: "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", params: PRICE_PARAMS },
    ],
    extra: "router_settings:\n  num_retries: 0\n  fallbacks: [{ claude-held: [other] }]\n",
  });
  // claude-held fails; its fallback "other" would answer.
  t.fake.handler = (rec) =>
    rec.modelId === "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
      ? { kind: "error", status: 500, type: "InternalServerException", message: "held down" }
      : { kind: "converse", text: "from other" };
  const held = await t.generate({ allowed_routes: ["/bedrock/model/claude-held/*"] });
  const res = await t.converse(held.key, "claude-held");
  assert.equal(res.status, 500, "the fallback it may not call was skipped");
  assert.equal((await res.json()).message, "held down");
  assert.equal(t.fake.requests.length, 1);

  // A key that may call both gets the fallback's answer.
  const both = await t.generate({ allowed_routes: ["/bedrock/model/*"] });
  const ok = await t.converse(both.key, "claude-held");
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  assert.deepEqual(t.fake.requests.slice(1).map((r) => r.modelId), [
    "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
    "us.anthropic.claude-3-5-haiku-20241022-v1:0",
  ]);
});

Deno.test("a guardrail inside Converse needs the key's guardrail grant; refused calls never reach Bedrock", async () => {
  await using t = await setupKeys();
  const guardrailConfig = { guardrailIdentifier: "gr1abc", guardrailVersion: "1" };
  const plain = await t.generate({});
  const client = bedrockClient(t.gw.url, plain.key);
  await assert.rejects(
    client.send(new ConverseCommand({ modelId: "claude", messages, guardrailConfig })),
    (e) =>
      e instanceof AccessDeniedException && /not allowed to use guardrail gr1abc/.test(e.message) &&
      e.message.includes("/bedrock/guardrail/gr1abc/version/1/apply"),
  );
  // Without a guardrail the same key still converses.
  await client.send(new ConverseCommand({ modelId: "claude", messages }));
  client.destroy();
  assert.equal(t.fake.requests.length, 1);
  assert.ok(!new TextDecoder().decode(t.fake.requests[0].body).includes("guardrail"));

  const granted = await t.generate({ allowed_routes: ["/bedrock/model/*", "/bedrock/guardrail/gr1abc/*"] });
  const grantedClient = bedrockClient(t.gw.url, granted.key);
  await grantedClient.send(new ConverseCommand({ modelId: "claude", messages, guardrailConfig }));
  // The grant is per guardrail.
  await assert.rejects(
    grantedClient.send(
      new ConverseCommand({
        modelId: "claude",
        messages,
        guardrailConfig: { ...guardrailConfig, guardrailIdentifier: "other1" },
      }),
    ),
    AccessDeniedException,
  );
  grantedClient.destroy();
  const master = bedrockClient(t.gw.url, MASTER_KEY);
  await master.send(new ConverseCommand({ modelId: "claude", messages, guardrailConfig }));
  master.destroy();
  assert.equal(t.fake.requests.length, 3);
  // Refused calls were not billed and freed their slot: no record reached accounting for them.
  assert.equal(t.gw.calls.length, 3);
});

Deno.test("a guardrail named by InvokeModel's header needs the same grant", async () => {
  await using t = await setupKeys();
  const plain = await t.generate({});
  const client = bedrockClient(t.gw.url, plain.key);
  const body = new TextEncoder().encode(
    JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 10, messages }),
  );
  await assert.rejects(
    client.send(
      new InvokeModelCommand({ modelId: "claude", body, guardrailIdentifier: "gr1abc", guardrailVersion: "DRAFT" }),
    ),
    (e) => e instanceof AccessDeniedException && /guardrail gr1abc \(version DRAFT\)/.test(e.message),
  );
  assert.equal(t.fake.requests.length, 0);
  const granted = await t.generate({ allowed_routes: ["/bedrock/model/*", "/bedrock/guardrail/*"] });
  const grantedClient = bedrockClient(t.gw.url, granted.key);
  await grantedClient.send(
    new InvokeModelCommand({ modelId: "claude", body, guardrailIdentifier: "gr1abc", guardrailVersion: "DRAFT" }),
  );
  grantedClient.destroy();
  client.destroy();
  assert.equal(t.fake.requests.length, 1);
  assert.equal(t.fake.requests[0].headers["x-amzn-bedrock-guardrailidentifier"], "gr1abc");
});

Deno.test("a member name given twice in a body is a 400, never forwarded: no guardrail, tier or maxTokens hides", async () => {
  await using t = await setupKeys();
  const plain = await t.generate({ max_budget: 1 }); // no guardrail grant
  const m = '"messages":[{"role":"user","content":[{"text":"hi"}]}]';
  const bodies: Record<string, [string, string]> = {
    "guardrailConfig twice": [
      `{${m},"guardrailConfig":{"guardrailIdentifier":"gr1abc","guardrailVersion":"1"},"guardrailConfig":{}}`,
      "guardrailConfig",
    ],
    "guardrailIdentifier twice": [
      `{${m},"guardrailConfig":{"guardrailIdentifier":"gr1abc","guardrailIdentifier":"","guardrailVersion":"1"}}`,
      "guardrailIdentifier",
    ],
    "serviceTier twice": [`{${m},"serviceTier":{"type":"priority"},"serviceTier":{"type":"default"}}`, "serviceTier"],
    "maxTokens twice": [`{${m},"inferenceConfig":{"maxTokens":64000,"maxTokens":1}}`, "maxTokens"],
    "the same name spelled with an escape": [
      `{${m},"serviceTier":{"type":"priority"},"service\\u0054ier":{}}`,
      "serviceTier",
    ],
  };
  for (const [what, [body, name]] of Object.entries(bodies)) {
    const res = await t.converse(plain.key, "claude", body);
    const json = await res.json();
    assert.equal(res.status, 400, what);
    assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "ValidationException", what);
    assert.equal(
      json.message,
      `Malformed input request: the request body names the member "${name}" twice in one object; send each member once`,
      what,
    );
  }
  assert.equal(t.fake.requests.length, 0);
});

Deno.test("InvokeModel guardrail headers the gateway cannot read (repeated, not an id) are a 400, never forwarded", async () => {
  await using t = await setupKeys();
  const granted = await t.generate({ allowed_routes: ["/bedrock/model/*", "/bedrock/guardrail/*"] });
  const body = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 10, messages });
  const cases: Array<[string, string[][]]> = [
    ["identifier repeated", [["x-amzn-bedrock-guardrailidentifier", "gr1abc"], [
      "x-amzn-bedrock-guardrailidentifier",
      "gr2def",
    ]]],
    ["identifier not an id", [["x-amzn-bedrock-guardrailidentifier", "GR1/../x"]]],
    ["version repeated", [["x-amzn-bedrock-guardrailidentifier", "gr1abc"], ["x-amzn-bedrock-guardrailversion", "1"], [
      "x-amzn-bedrock-guardrailversion",
      "2",
    ]]],
  ];
  for (const [what, pairs] of cases) {
    const headers = new Headers([
      ["authorization", `Bearer ${granted.key}`],
      ["content-type", "application/json"],
      ...pairs.map(([k, v]) => [k, v] as [string, string]),
    ]);
    const res = await fetch(`${t.gw.url}/bedrock/model/claude/invoke`, { method: "POST", headers, body });
    const json = await res.json();
    assert.equal(res.status, 400, what);
    assert.match(json.message, /x-amzn-bedrock-guardrail(identifier|version) must be/, what);
  }
  assert.equal(t.fake.requests.length, 0);
  // An ARN is an identifier.
  const arn = "arn:aws:bedrock:us-west-2:123456789012:guardrail/gr1abc";
  const res = await fetch(`${t.gw.url}/bedrock/model/claude/invoke`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${granted.key}`,
      "content-type": "application/json",
      "x-amzn-bedrock-guardrailidentifier": arn,
      "x-amzn-bedrock-guardrailversion": "DRAFT",
    },
    body,
  });
  assert.equal(res.status, 200, await res.text());
});
