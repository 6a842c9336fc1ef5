import assert from "node:assert/strict";
import { bedrockModelId, ConfigError, loadConfig } from "../server/config/load.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

const base = `model_list:
  - model_name: m
    litellm_params:
      model: bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_region_name: us-west-2
      aws_access_key_id: os.environ/AK
      aws_secret_access_key: os.environ/SK
      aws_session_token: os.environ/ST
general_settings:
  master_key: os.environ/MASTER
`;

function problems(yaml: string, vars: Record<string, string> = {}): string[] {
  try {
    loadConfig(yaml, env(vars));
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("resolves os.environ references and leaves an unset optional session token out", () => {
  const c = loadConfig(base, env({ AK: "AKIDEXAMPLE", SK: "secret", MASTER: "sk-m" }));
  assert.equal(c.masterKey, "sk-m");
  const d = c.deployments[0];
  assert.deepEqual(d.auth, {
    kind: "sigv4",
    credentials: { kind: "static", accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  });
  assert.equal(d.bedrockModelId, "us.anthropic.claude-3-5-sonnet-20240620-v1:0");
  assert.equal(d.endpoint, "https://bedrock-runtime.us-west-2.amazonaws.com");
  assert.deepEqual(c.warnings, []);
});

Deno.test("a deployment whose required variable is unset is unavailable, naming the variable", () => {
  const c = loadConfig(base, env({ SK: "secret", MASTER: "sk-m" }));
  assert.deepEqual(c.deployments[0].auth, { kind: "unavailable", reason: "environment variable AK is not set" });
  assert.match(c.warnings.join("\n"), /model_list\[0\] \(m\): unavailable: environment variable AK is not set/);
});

Deno.test("a master_key whose variable is unset stops start-up", () => {
  assert.deepEqual(problems(base, { AK: "a", SK: "s" }), [
    "general_settings.master_key: environment variable MASTER is not set",
  ]);
});

Deno.test("every problem is listed with its YAML path", () => {
  const yaml = `model_list:
  - model_name: ok
    litellm_params: { model: bedrock/x, aws_region_name: us-east-1 }
  - model_name: bad
    litellm_params:
      model: bedrock/y
      rpm: "lots"
  - litellm_params: { model: bedrock/z, aws_region_name: 7 }
`;
  assert.deepEqual(problems(yaml), [
    "model_list[1].litellm_params.rpm: expected number, received string",
    "model_list[2].model_name: required",
    "model_list[2].litellm_params.aws_region_name: expected string, received number",
  ]);
});

Deno.test("a missing region is reported by path", () => {
  assert.deepEqual(
    problems(`model_list:\n  - model_name: a\n    litellm_params: { model: bedrock/x }\n`),
    ["model_list[0].litellm_params.aws_region_name: required"],
  );
});

Deno.test("unknown keys are warned about, not fatal", () => {
  const c = loadConfig(
    `model_list:
  - model_name: a
    litellm_params: { model: bedrock/x, aws_region_name: us-east-1, api_key: k, frobnicate: 1 }
    extra_thing: true
router_settings: { routing_strategy: least-busy, redis_host: h }
litellm_settings: { drop_params: true }
`,
    env({}),
  );
  assert.deepEqual(c.warnings, [
    "router_settings.redis_host: unknown key, ignored",
    "model_list[0].extra_thing: unknown key, ignored",
    "model_list[0].litellm_params.frobnicate: unknown key, ignored",
    "litellm_settings.drop_params: not implemented by this gateway, ignored",
  ]);
  assert.equal(c.router.strategy, "least-busy");
  assert.deepEqual(c.deployments[0].auth, { kind: "bearer", token: "k" });
});

Deno.test("credentials fall back to the AWS_* environment; region from an ARN", () => {
  const c = loadConfig(
    `model_list:
  - model_name: a
    litellm_params:
      model: bedrock/arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc
`,
    env({ AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "SK", AWS_SESSION_TOKEN: "TOK" }),
  );
  const d = c.deployments[0];
  assert.equal(d.region, "eu-west-1");
  assert.deepEqual(d.auth, {
    kind: "sigv4",
    credentials: { kind: "env", accessKeyId: "AK", secretAccessKey: "SK", sessionToken: "TOK" },
  });
  assert.equal(c.masterKey, undefined);
});

Deno.test("invalid YAML and an empty model_list are config errors", () => {
  assert.match(problems("model_list: [")[0], /^line 1, column \d+: YAML syntax error: /);
  assert.deepEqual(problems("model_list: []"), ["model_list: Too small: expected array to have >=1 items"]);
});

Deno.test("a YAML syntax error keeps line, column and key names but never prints a value (secrets on the line)", () => {
  const secrets = {
    master_key: "sk-live-master-7f3a9c",
    aws_secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET",
    api_key: "ABSKQmVkcm9ja0FQSUtleS1SECRET",
  };
  const cases: Array<{ yaml: string; where: RegExp; key: string }> = [
    // A value that is not a compact mapping: the error points at the master key's line.
    {
      yaml: `general_settings:\n  master_key: ${secrets.master_key}: x\n`,
      where: /^line 2, column 15: /,
      key: "master_key",
    },
    // An unclosed quote on the secret key's line.
    {
      yaml:
        `model_list:\n  - model_name: a\n    litellm_params:\n      model: bedrock/x\n      aws_region_name: us-west-2\n` +
        `      aws_access_key_id: AKIAEXAMPLE000000001\n      aws_secret_access_key: "${secrets.aws_secret_access_key}\n`,
      where: /^line \d+, column \d+: /,
      key: "aws_secret_access_key",
    },
    // A tab indentation error right after a Bedrock API key.
    {
      yaml:
        `model_list:\n  - model_name: a\n    litellm_params:\n      model: bedrock/x\n      api_key: ${secrets.api_key}\n\t  x: 1\n`,
      where: /^line 6, column 1: /,
      key: "api_key",
    },
  ];
  for (const { yaml, where, key } of cases) {
    let error: ConfigError | undefined;
    try {
      loadConfig(yaml, env({}));
    } catch (e) {
      if (e instanceof ConfigError) error = e;
      else throw e;
    }
    assert.ok(error, "the config loaded");
    const text = [...error.problems, error.excerpt ?? ""].join("\n");
    assert.match(error.problems[0], where);
    assert.match(error.excerpt ?? "", new RegExp(`\\b${key}: …`), text);
    for (const [name, secret] of Object.entries(secrets)) {
      assert.ok(!text.includes(secret), `start-up prints the ${name}:\n${text}`);
    }
  }
});

Deno.test("front-door settings: header, keep-alive and body timeouts with their defaults, and set", () => {
  const vars = { AK: "a", SK: "s", MASTER: "m" };
  assert.deepEqual(loadConfig(base, env(vars)).server, {
    maxConnections: undefined,
    headerTimeoutMs: 30_000,
    keepAliveTimeoutMs: 75_000,
    bodyTimeoutMs: 30_000,
    bodyMinBytesPerSecond: 500,
    shutdownGraceMs: 25_000,
  });
  const set = loadConfig(base + "  body_timeout_ms: 5000\n  body_min_bytes_per_second: 1024\n", env(vars)).server;
  assert.equal(set.bodyTimeoutMs, 5000);
  assert.equal(set.bodyMinBytesPerSecond, 1024);
  assert.match(problems(base + "  body_timeout_ms: 0\n", vars)[0], /^general_settings\.body_timeout_ms: /);
});

Deno.test("LiteLLM's route prefixes are stripped from the model id", () => {
  assert.equal(
    bedrockModelId("bedrock/converse/us.meta.llama3-1-8b-instruct-v1:0"),
    "us.meta.llama3-1-8b-instruct-v1:0",
  );
  assert.equal(
    bedrockModelId("bedrock/invoke/anthropic.claude-3-haiku-20240307-v1:0"),
    "anthropic.claude-3-haiku-20240307-v1:0",
  );
  assert.equal(bedrockModelId("amazon.nova-lite-v1:0"), "amazon.nova-lite-v1:0");
});

Deno.test("the example config loads with no AWS credentials and serves the demo model", async () => {
  const c = loadConfig(await Deno.readTextFile("config.example.yaml"), env({}));
  assert.equal(c.masterKey, "sk-1234");
  assert.equal(c.byModelName.get("demo")?.[0].auth.kind, "mock");
  assert.equal(c.byModelName.get("my-bedrock-model")?.[0].auth.kind, "unavailable");
});

// ------------------------------------------------------------------------------ general_settings.bedrock_passthrough

const withPassthrough = (block: string) => `${base}  bedrock_passthrough:\n${block}`;
const VARS = { AK: "AKIDEXAMPLE", SK: "secret", MASTER: "sk-m" };

Deno.test("bedrock_passthrough: credentials, region and endpoints resolved; the agent runtime endpoint overridable", () => {
  const c = loadConfig(
    withPassthrough(`    aws_region_name: eu-west-1
    aws_access_key_id: os.environ/PT_AK
    aws_secret_access_key: os.environ/PT_SK
    aws_session_token: os.environ/PT_ST
    aws_bedrock_agent_runtime_endpoint: https://vpce-123.bedrock-agent-runtime.eu-west-1.vpce.amazonaws.com/
`),
    env({ ...VARS, PT_AK: "AKIDPT", PT_SK: "pt-secret", PT_ST: "pt-token" }),
  );
  const sigv4 = {
    kind: "sigv4",
    credentials: { kind: "static", accessKeyId: "AKIDPT", secretAccessKey: "pt-secret", sessionToken: "pt-token" },
  };
  assert.deepEqual(c.passthrough, {
    region: "eu-west-1",
    runtimeEndpoint: "https://bedrock-runtime.eu-west-1.amazonaws.com",
    agentRuntimeEndpoint: "https://vpce-123.bedrock-agent-runtime.eu-west-1.vpce.amazonaws.com",
    runtimeAuth: sigv4,
    agentRuntimeAuth: sigv4,
    configured: true,
  });
  assert.deepEqual(c.warnings, []);
});

Deno.test("bedrock_passthrough: absent, the environment is used (AWS_* and AWS_REGION); without keys, the default chain", () => {
  const c = loadConfig(
    base,
    env({ ...VARS, AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "env", AWS_REGION: "us-east-2" }),
  );
  assert.equal(c.passthrough.region, "us-east-2");
  assert.equal(c.passthrough.agentRuntimeEndpoint, "https://bedrock-agent-runtime.us-east-2.amazonaws.com");
  assert.deepEqual(c.passthrough.agentRuntimeAuth, {
    kind: "sigv4",
    credentials: { kind: "env", accessKeyId: "AKIDENV", secretAccessKey: "env" },
  });
  assert.equal(c.passthrough.configured, false);
  const none = loadConfig(base, env({ ...VARS, HOME: "/home/gw" }));
  for (const auth of [none.passthrough.runtimeAuth, none.passthrough.agentRuntimeAuth]) {
    assert.deepEqual(auth, { kind: "sigv4", credentials: { kind: "chain", env: { HOME: "/home/gw" } } });
  }
  assert.deepEqual(none.warnings, []);
});

Deno.test("bedrock_passthrough: an api_key serves bedrock-runtime only; the agent runtime needs SigV4 credentials", () => {
  const c = loadConfig(
    withPassthrough("    aws_region_name: us-west-2\n    api_key: os.environ/BEDROCK_KEY\n"),
    env({ ...VARS, BEDROCK_KEY: "bk" }),
  );
  assert.deepEqual(c.passthrough.runtimeAuth, { kind: "bearer", token: "bk" });
  assert.equal(c.passthrough.agentRuntimeAuth.kind, "unavailable");
  assert.match(
    (c.passthrough.agentRuntimeAuth as { reason: string }).reason,
    /does not accept Bedrock API keys/,
  );
  assert.deepEqual(c.warnings, [
    "general_settings.bedrock_passthrough (agent runtime): unavailable: bedrock-agent-runtime does not accept Bedrock " +
    "API keys: give general_settings.bedrock_passthrough aws_access_key_id/aws_secret_access_key, aws_profile_name " +
    "or aws_role_name",
  ]);
});

Deno.test("bedrock_passthrough: a block that cannot work stops start-up; an unset variable only makes it unavailable", () => {
  assert.deepEqual(problems(withPassthrough("    aws_access_key_id: AKID\n    aws_secret_access_key: s\n"), VARS), [
    "general_settings.bedrock_passthrough.aws_region_name: required (or set AWS_REGION)",
  ]);
  assert.deepEqual(problems(withPassthrough("    aws_region_name: us-west-2\n    aws_access_key_id: AKID\n"), VARS), [
    "general_settings.bedrock_passthrough.aws_access_key_id: give aws_access_key_id and aws_secret_access_key together",
  ]);
  assert.deepEqual(
    problems(withPassthrough("    aws_region_name: us-west-2\n    aws_bedrock_agent_runtime_endpoint: nope\n"), VARS),
    [
      "general_settings.bedrock_passthrough.aws_bedrock_agent_runtime_endpoint: Invalid URL",
    ],
  );
  const c = loadConfig(
    withPassthrough(`    aws_region_name: us-west-2
    aws_access_key_id: os.environ/PT_AK
    aws_secret_access_key: os.environ/PT_SK
    role_arn: arn:aws:iam::123456789012:role/x
`),
    env(VARS),
  );
  assert.deepEqual(c.passthrough.agentRuntimeAuth, {
    kind: "unavailable",
    reason: "general_settings.bedrock_passthrough: environment variables PT_AK, PT_SK are not set",
  });
  assert.deepEqual(c.warnings, [
    "general_settings.bedrock_passthrough.role_arn: unknown key, ignored",
    "general_settings.bedrock_passthrough (ApplyGuardrail): unavailable: general_settings.bedrock_passthrough: " +
    "environment variables PT_AK, PT_SK are not set",
    "general_settings.bedrock_passthrough (agent runtime): unavailable: general_settings.bedrock_passthrough: " +
    "environment variables PT_AK, PT_SK are not set",
  ]);
});

Deno.test("key cache defaults: records 2 s, limited keys' counter reads 1 s; 0 reads every call", () => {
  const vars = { AK: "AKIDEXAMPLE", SK: "secret", MASTER: "sk-m" };
  const c = loadConfig(base, env(vars));
  assert.equal(c.keyCacheTtlMs, 2_000);
  assert.equal(c.keyCounterMaxAgeMs, 1_000);
  assert.equal(loadConfig(base + "  key_counter_max_age_ms: 0\n", env(vars)).keyCounterMaxAgeMs, 0);
});

Deno.test("stream_send_timeout_ms: 60 s by default, set in general_settings, a positive integer", () => {
  const vars = { AK: "AKIDEXAMPLE", SK: "secret", MASTER: "sk-m" };
  assert.equal(loadConfig(base, env(vars)).limits.streamSendTimeoutMs, 60_000);
  assert.equal(loadConfig(base + "  stream_send_timeout_ms: 5000\n", env(vars)).limits.streamSendTimeoutMs, 5_000);
  assert.throws(() => loadConfig(base + "  stream_send_timeout_ms: 0\n", env(vars)), ConfigError);
});

// ------------------------------------------------------------------------------------ AWS credential parameters

const entry = (params: string) =>
  `model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/x\n      aws_region_name: us-west-2\n${params}`;

Deno.test("aws_role_name (+ aws_session_name, aws_external_id, aws_sts_endpoint) assumes a role from the entry's keys", () => {
  const c = loadConfig(
    entry(`      aws_access_key_id: AKIDBASE
      aws_secret_access_key: os.environ/BASE_SECRET
      aws_role_name: arn:aws:iam::222222222222:role/bedrock
      aws_session_name: gateway
      aws_external_id: os.environ/EXTERNAL_ID
      aws_sts_endpoint: https://vpce-0abc.sts.eu-west-1.vpce.amazonaws.com
`),
    env({ BASE_SECRET: "base-secret", EXTERNAL_ID: "ext-1" }),
  );
  assert.deepEqual(c.deployments[0].auth, {
    kind: "sigv4",
    credentials: {
      kind: "assume-role",
      roleArn: "arn:aws:iam::222222222222:role/bedrock",
      sessionName: "gateway",
      externalId: "ext-1",
      base: { kind: "static", accessKeyId: "AKIDBASE", secretAccessKey: "base-secret" },
      sts: { region: "eu-west-1", endpoint: "https://vpce-0abc.sts.eu-west-1.vpce.amazonaws.com" },
    },
  });
  assert.deepEqual(c.warnings, []);
});

Deno.test("aws_role_name without keys assumes it from the default chain; LiteLLM's AWS_ROLE_NAME works as well", () => {
  const vars = { AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://169.254.170.23/v1/credentials", AWS_REGION: "us-east-2" };
  const a = loadConfig(entry("      aws_role_name: arn:aws:iam::222222222222:role/bedrock\n"), env(vars));
  const b = loadConfig(entry(""), env({ ...vars, AWS_ROLE_NAME: "arn:aws:iam::222222222222:role/bedrock" }));
  const expected = {
    kind: "sigv4",
    credentials: {
      kind: "assume-role",
      roleArn: "arn:aws:iam::222222222222:role/bedrock",
      base: { kind: "chain", env: vars },
      sts: { region: "us-east-2" },
    },
  };
  assert.deepEqual(a.deployments[0].auth, expected);
  assert.deepEqual(b.deployments[0].auth, expected);
});

Deno.test("aws_profile_name: a profile of the shared files; no keys at all: the default chain with its environment", () => {
  const vars = { HOME: "/home/gw", AWS_CONFIG_FILE: "/etc/aws/config", AWS_ROLE_ARN: "x", UNRELATED: "y" };
  const c = loadConfig(entry("      aws_profile_name: bedrock-prod\n"), env(vars));
  assert.deepEqual(c.deployments[0].auth, {
    kind: "sigv4",
    credentials: {
      kind: "profile",
      profile: "bedrock-prod",
      credentialsFile: "/home/gw/.aws/credentials",
      configFile: "/etc/aws/config",
    },
  });
  const chain = loadConfig(entry(""), env(vars));
  assert.deepEqual(chain.deployments[0].auth, {
    kind: "sigv4",
    credentials: { kind: "chain", env: { HOME: "/home/gw", AWS_CONFIG_FILE: "/etc/aws/config", AWS_ROLE_ARN: "x" } },
  });
});

Deno.test("aws_web_identity_token: a file path, or os.environ/ for the token itself; an unset variable names it", () => {
  const role = "      aws_role_name: arn:aws:iam::123456789012:role/gw\n";
  const file = loadConfig(entry(`${role}      aws_web_identity_token: /var/run/secrets/token\n`), env({}));
  assert.deepEqual(file.deployments[0].auth, {
    kind: "sigv4",
    credentials: {
      kind: "web-identity",
      roleArn: "arn:aws:iam::123456789012:role/gw",
      token: { file: "/var/run/secrets/token" },
      sts: { region: "us-west-2" },
    },
  });
  const value = loadConfig(entry(`${role}      aws_web_identity_token: os.environ/OIDC\n`), env({ OIDC: "jwt" }));
  const spec = value.deployments[0].auth.kind === "sigv4" ? value.deployments[0].auth.credentials : undefined;
  assert.deepEqual(spec?.kind === "web-identity" && spec.token, { value: "jwt" });
  const unset = loadConfig(entry(`${role}      aws_web_identity_token: os.environ/OIDC\n`), env({}));
  assert.deepEqual(unset.deployments[0].auth, { kind: "unavailable", reason: "environment variable OIDC is not set" });
});

Deno.test("AWS credential parameters that cannot work stop start-up, by path", () => {
  assert.deepEqual(problems(entry("      aws_role_name: bedrock-role\n")), [
    "model_list[0].litellm_params.aws_role_name: must be a role ARN (arn:aws:iam::<account>:role/<name>)",
  ]);
  assert.deepEqual(problems(entry("      aws_web_identity_token: /var/run/token\n")), [
    "model_list[0].litellm_params.aws_web_identity_token: needs aws_role_name (the role to assume with it)",
  ]);
  assert.deepEqual(
    problems(entry("      aws_role_name: arn:aws:iam::1:role/r\n      aws_sts_endpoint: sts.internal\n")),
    ["model_list[0].litellm_params.aws_sts_endpoint: Invalid URL"],
  );
});

Deno.test("deployments that configure the same credentials get equal specs (one shared source); refresh lead time", () => {
  const yaml = `model_list:
  - model_name: a
    litellm_params: { model: bedrock/x, aws_region_name: us-west-2, aws_role_name: "arn:aws:iam::1:role/r" }
  - model_name: b
    litellm_params: { model: bedrock/y, aws_region_name: us-west-2, aws_role_name: "arn:aws:iam::1:role/r" }
general_settings: { aws_credentials_refresh_ahead_seconds: 600 }
`;
  const c = loadConfig(yaml, env({}));
  assert.deepEqual(c.deployments[0].auth, c.deployments[1].auth);
  assert.equal(c.awsRefreshAheadMs, 600_000);
  assert.equal(loadConfig(entry(""), env({})).awsRefreshAheadMs, 300_000);
});

Deno.test("environment_variables: seen by os.environ/ references (master_key too) before the process environment", () => {
  const yaml = `${base}environment_variables:\n  MASTER: sk-from-config\n  AK: AKIDFROMCONFIG\n  SK: 42\n`;
  const c = loadConfig(yaml, env({ MASTER: "sk-from-process", AK: "AKIDPROCESS", SK: "process-secret" }));
  assert.equal(c.masterKey, "sk-from-config");
  assert.deepEqual(c.deployments[0].auth, {
    kind: "sigv4",
    credentials: { kind: "static", accessKeyId: "AKIDFROMCONFIG", secretAccessKey: "42" },
  });
  // Only the process environment is left to what the config does not set; nothing is written to Deno.env.
  assert.equal(Deno.env.get("MASTER"), undefined);
  assert.equal(loadConfig(`${base}environment_variables:\n  AK: x\n  SK: y\n`, env({ MASTER: "m" })).masterKey, "m");
  assert.deepEqual(problems(`${base}environment_variables:\n  MASTER: [1]\n`), [
    "environment_variables.MASTER: expected a string, number or boolean",
  ]);
  assert.deepEqual(problems(`${base}environment_variables: 3\n`), [
    "environment_variables: expected a mapping of names to values",
  ]);
});

Deno.test("litellm_settings: max_budget, budget_duration, request_timeout, num_retries honoured; the rest named", () => {
  const vars = { AK: "a", SK: "s", MASTER: "m" };
  const yaml = `${base}litellm_settings:
  max_budget: 100
  budget_duration: 1mo
  request_timeout: 45
  num_retries: 5
  drop_params: true
  success_callback: ["langfuse"]
`;
  const c = loadConfig(yaml, env(vars));
  assert.deepEqual(c.proxyBudget, { maxBudget: 100, budgetDuration: "1mo", period: { months: 1 } });
  assert.equal(c.router.timeoutMs, 45_000);
  assert.equal(c.router.streamTimeoutMs, 45_000);
  assert.equal(c.router.numRetries, 5);
  assert.deepEqual(c.warnings, [
    "litellm_settings.drop_params: not implemented by this gateway, ignored",
    "litellm_settings.success_callback: not implemented by this gateway, ignored",
  ]);
  // router_settings win over litellm_settings; a max_budget of 0 is no budget (LiteLLM's rule).
  const both = loadConfig(
    `${base}router_settings:\n  timeout: 10\n  num_retries: 1\nlitellm_settings:\n  request_timeout: 45\n  max_budget: 0\n`,
    env(vars),
  );
  assert.equal(both.router.timeoutMs, 10_000);
  assert.equal(both.router.numRetries, 1);
  assert.equal(both.proxyBudget, undefined);
  assert.deepEqual(
    problems(`${base}litellm_settings:\n  max_budget: lots\n  budget_duration: 1y\n  request_timeout: -1\n`, vars),
    [
      "litellm_settings.max_budget: expected a budget in USD (a number from 0)",
      "litellm_settings.budget_duration: expected a duration like 30s, 30m, 1h, 1d, 2w or 1mo",
      "litellm_settings.request_timeout: expected a positive number of seconds",
    ],
  );
});
