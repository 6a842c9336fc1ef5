/**
 * Discovery: `/model/info` (LiteLLM's shape: model groups and deployments, prices with their origin, limits, the kind
 * of credentials — and never a secret, key, token or credential parameter, whatever the config holds), `/v1/models`
 * and `/models` (OpenAI's list of what the calling key may use, aliases included).
 */
import assert from "node:assert/strict";
import { MASTER_KEY, startGateway } from "../testing/harness.ts";
import { adminCall } from "./keys_helpers.ts";
import { created, setupOwners } from "./owners_helpers.ts";

/** Secrets and credential parameters written into the config below, none of which may be shown. */
const SECRETS = {
  accessKeyId: "AKIAEXAMPLESTATIC123",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSTATICSECRET",
  sessionToken: "FwoGZXIvYXdzEXAMPLESESSIONTOKEN",
  apiKey: "ABSKQmVkcm9ja0FQSUtleS1FeGFtcGxlQmVhcmVy",
  roleArn: "arn:aws:iam::123456789012:role/BedrockCaller",
  sessionName: "gateway-session-name-x",
  externalId: "external-id-0123456789",
  envSecret: "ENV-SECRET-FROM-ENVIRONMENT-VARIABLES",
  baseUser: "basic-user",
  basePassword: "basic-password-in-url",
};

const CONFIG = `model_list:
  - model_name: static
    litellm_params:
      model: bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0
      aws_region_name: us-east-1
      aws_access_key_id: ${SECRETS.accessKeyId}
      aws_secret_access_key: ${SECRETS.secretAccessKey}
      aws_session_token: ${SECRETS.sessionToken}
      rpm: 100
      tpm: 200000
      timeout: 30
    model_info:
      id: static-1
  - model_name: bearer
    litellm_params:
      model: bedrock/anthropic.claude-3-5-haiku-20241022-v1:0
      aws_region_name: us-west-2
      api_key: ${SECRETS.apiKey}
      api_base: https://${SECRETS.baseUser}:${SECRETS.basePassword}@bedrock.example.com/runtime?token=${SECRETS.envSecret}
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000005
  - model_name: role
    litellm_params:
      model: bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0
      aws_region_name: eu-west-1
      aws_access_key_id: os.environ/BASE_KEY_ID
      aws_secret_access_key: os.environ/BASE_SECRET
      aws_role_name: ${SECRETS.roleArn}
      aws_session_name: ${SECRETS.sessionName}
      aws_external_id: ${SECRETS.externalId}
  - model_name: demo
    litellm_params:
      model: bedrock/demo
      mock_response: hello
general_settings:
  master_key: ${MASTER_KEY}
environment_variables:
  BASE_KEY_ID: AKIAEXAMPLEFROMENVVARS
  BASE_SECRET: ${SECRETS.envSecret}
`;

Deno.test("/model/info: every deployment in LiteLLM's shape, prices with origin, and never a secret", async () => {
  await using gw = await startGateway({ yaml: CONFIG, env: {} });
  const { status, json } = await adminCall(gw.url, "GET", "/model/info");
  assert.equal(status, 200);
  const text = JSON.stringify(json);
  for (const [name, secret] of Object.entries({ ...SECRETS, envKeyId: "AKIAEXAMPLEFROMENVVARS" })) {
    assert.ok(!text.includes(secret), `${name} appears in /model/info`);
  }
  for (const field of ["aws_secret_access_key", "aws_access_key_id", "aws_session_token", "api_key", "aws_role_name"]) {
    assert.ok(!text.includes(`"${field}":`), `${field} appears in /model/info`);
  }
  assert.deepEqual(json.data.map((d: { model_name: string }) => d.model_name), ["static", "bearer", "role", "demo"]);
  const [stat, bearer, role, demo] = json.data;
  assert.deepEqual(stat.litellm_params, {
    model: "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0",
    custom_llm_provider: "bedrock",
    aws_region_name: "us-east-1",
    api_base: "https://bedrock-runtime.us-east-1.amazonaws.com",
    rpm: 100,
    tpm: 200000,
    weight: null,
    timeout: 30,
    stream_timeout: null,
  });
  assert.equal(stat.model_info.id, "static-1");
  assert.equal(stat.model_info.credential_source, "static");
  assert.equal(stat.model_info.input_cost_per_token, 3e-6);
  assert.equal(stat.model_info.output_cost_per_token, 1.5e-5);
  assert.equal(stat.model_info.price_origins.input_cost_per_token, "built_in");
  assert.equal(stat.model_info.priced, true);
  assert.equal(stat.model_info.litellm_provider, "bedrock");
  assert.equal(bearer.litellm_params.api_base, "https://bedrock.example.com/runtime");
  assert.equal(bearer.model_info.credential_source, "api_key");
  assert.equal(bearer.model_info.input_cost_per_token, 1e-6);
  assert.equal(bearer.model_info.price_origins.input_cost_per_token, "deployment");
  assert.equal(role.model_info.credential_source, "assume-role");
  assert.equal(demo.model_info.credential_source, "mock");
  assert.equal(demo.litellm_params.api_base, null);
  // One deployment by id; /v1/model/info answers the same.
  const one = await adminCall(gw.url, "GET", "/model/info?litellm_model_id=static-1");
  assert.deepEqual(one.json.data, [stat]);
  assert.deepEqual((await adminCall(gw.url, "GET", "/v1/model/info")).json, json);
  assert.equal((await adminCall(gw.url, "GET", "/model/info?secret=1")).status, 400);
});

Deno.test("/model/info and /v1/models for a virtual key: what it (with its team) may call, aliases included", async () => {
  await using t = await setupOwners();
  await created(t, "/team/new", { team_id: "s", models: ["sonnet"] });
  const k = await t.generate({ team_id: "s", aliases: { fast: "sonnet", cheap: "claude" } });
  const info = await t.admin("GET", "/model/info", undefined, k.key);
  assert.deepEqual(info.json.data.map((d: { model_name: string }) => d.model_name), ["sonnet"]);
  for (const path of ["/v1/models", "/models"]) {
    const list = await t.admin("GET", path, undefined, k.key);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, {
      object: "list",
      data: [
        { id: "sonnet", object: "model", created: 1677610602, owned_by: "bedrock" },
        { id: "fast", object: "model", created: 1677610602, owned_by: "bedrock" },
      ],
    });
  }
  const all = await t.admin("GET", "/v1/models");
  assert.deepEqual(all.json.data.map((m: { id: string }) => m.id), ["sonnet", "claude"]);
  assert.equal((await fetch(`${t.gw.url}/v1/models`)).status, 401);
});
