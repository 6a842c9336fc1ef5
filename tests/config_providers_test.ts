/**
 * Only Bedrock entries are served: another provider's `model_list` entry is skipped at start-up with one warning that
 * names the entry and its provider, its secrets are never read (so never sent), its odd fields never fail the load,
 * and calls to its model name get a 400 that says why. Bedrock's own spellings keep working.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../server/config/load.ts";
import { entryProvider } from "../server/config/provider.ts";
import { FAKE_CREDENTIALS, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { MASTER_KEY, startGateway } from "../testing/harness.ts";

const mixed = `model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
      api_base: not a url
      timeout: -5
  - model_name: claude
    litellm_params:
      model: bedrock/converse/us.anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_region_name: us-west-2
  - model_name: azure-thing
    litellm_params:
      model: my-deployment
      custom_llm_provider: azure
      api_key: os.environ/AZURE_KEY
general_settings:
  master_key: sk-m
`;

Deno.test("other providers' entries are skipped with one warning each; their secrets are never looked up", () => {
  const asked: string[] = [];
  // No AWS_REGION anywhere: the OpenAI entry used to fail with a misleading "aws_region_name: required".
  const c = loadConfig(mixed, (name) => {
    asked.push(name);
    return { OPENAI_API_KEY: "sk-openai-secret", AZURE_KEY: "azure-secret" }[name];
  });
  assert.deepEqual(c.deployments.map((d) => d.modelName), ["claude"]);
  assert.equal(c.deployments[0].bedrockModelId, "us.anthropic.claude-3-5-sonnet-20240620-v1:0");
  assert.ok(!asked.includes("OPENAI_API_KEY") && !asked.includes("AZURE_KEY"), `looked up: ${asked.join(", ")}`);
  const skips = c.warnings.filter((w) => w.includes("is not Bedrock"));
  assert.equal(skips.length, 2, c.warnings.join("\n"));
  assert.match(skips[0], /^model_list\[0\] \(gpt\): provider "openai" is not Bedrock .*entry skipped/);
  assert.match(skips[1], /^model_list\[2\] \(azure-thing\): provider "azure" is not Bedrock \(custom_llm_provider/);
  assert.ok(!c.warnings.some((w) => w.includes("unknown key")), "the skipped entries' fields are not reported");
  assert.deepEqual([...c.otherProviders.keys()], ["gpt", "azure-thing"]);
  assert.ok(!JSON.stringify([...c.warnings]).includes("secret"));
});

Deno.test("Bedrock's spellings: bedrock/…, bedrock/converse/…, bedrock/invoke/…, custom_llm_provider, ARNs, bare ids", () => {
  for (
    const model of [
      "bedrock/x",
      "bedrock/invoke/anthropic.claude-v2",
      "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
      "anthropic.claude-3-haiku-20240307-v1:0",
      "us.amazon.nova-pro-v1:0",
      "us-gov.anthropic.claude-3-haiku-20240307-v1:0",
      "ai21.jamba-1-5-large-v1:0",
    ]
  ) {
    assert.deepEqual(entryProvider({ model }), { bedrock: true }, model);
  }
  assert.deepEqual(entryProvider({ model: "my-profile", custom_llm_provider: "bedrock" }), { bedrock: true });
  for (const model of ["gpt-4o", "gpt-3.5-turbo", "gemini-1.5-pro", "claude-3-opus"]) {
    const v = entryProvider({ model });
    assert.equal(v.bedrock, false, model);
    if (!v.bedrock) assert.match(v.reason, /write bedrock\//);
  }
  assert.deepEqual(entryProvider({ model: "vertex_ai/gemini-pro" }).bedrock, false);
});

Deno.test("a model given as os.environ/NAME is judged by its value", () => {
  const yaml = `model_list:
  - model_name: a
    litellm_params: { model: os.environ/MODEL_A, mock_response: hi }
  - model_name: b
    litellm_params: { model: os.environ/MODEL_B, mock_response: hi }
`;
  const c = loadConfig(yaml, (n) => ({ MODEL_A: "bedrock/x", MODEL_B: "anthropic/claude-3-opus" }[n]));
  assert.deepEqual(c.deployments.map((d) => d.modelName), ["a"]);
  assert.match(c.warnings.join("\n"), /model_list\[1\] \(b\): provider "anthropic"/);
});

Deno.test("a call to a skipped provider's model is a 400 saying why, and nothing (no key) goes upstream", async () => {
  const fake = await startFakeBedrock();
  const yaml = `model_list:
  - model_name: gpt
    litellm_params: { model: openai/gpt-4o, api_key: sk-openai-literal-secret }
  - model_name: claude
    litellm_params:
      model: bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_region_name: us-west-2
      aws_bedrock_runtime_endpoint: ${fake.url}
router_settings:
  fallbacks: [{ claude: [gpt] }]
general_settings: { master_key: ${MASTER_KEY} }
`;
  await using gw = await startGateway({
    yaml,
    env: { AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey },
  });
  const res = await fetch(`${gw.url}/bedrock/model/gpt/converse`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}',
  });
  assert.equal(res.status, 400);
  const { message } = await res.json();
  assert.match(message, /Model "gpt" is not served by this Bedrock gateway: its config entry is for provider "openai"/);
  // A failing Bedrock model does not fall back to it either.
  fake.setDefault({ kind: "error", status: 500, type: "InternalServerException", message: "down" });
  const fallback = await fetch(`${gw.url}/bedrock/model/claude/converse`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}',
  });
  assert.equal(fallback.status, 500);
  await fallback.body?.cancel();
  assert.ok(fake.requests.length > 0);
  for (const r of fake.requests) {
    assert.equal(r.auth.kind, "sigv4");
    assert.ok(!JSON.stringify(r.headers).includes("sk-openai"), "the OpenAI key went upstream");
  }
  assert.match(gw.config.warnings.join("\n"), /fallbacks: "claude" falls back to unknown model "gpt"/);
  await fake.close();
});
