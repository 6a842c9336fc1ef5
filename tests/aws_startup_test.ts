/**
 * The real CLI (`server/main.ts`) started as a subprocess with its own process environment, as on an AWS host: EC2
 * instance metadata (IMDSv2; the SDK's IMDS provider reads its endpoint override only from the process environment,
 * hence the subprocess), and a credential source that is down at start-up, which start-up must report.
 */
import assert from "node:assert/strict";
import { startFakeBedrock } from "../testing/fake_bedrock.ts";
import { issuer, startFakeContainerEndpoint, startFakeImds } from "./fake_aws_credentials.ts";
import { converseBody, MASTER_KEY } from "../testing/harness.ts";

const MINUTE = 60_000;

/** Runs the CLI with exactly `env` (plus what Deno itself needs); resolves once it listens. */
async function startCli(yaml: string, env: Record<string, string>) {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/config.yaml`, yaml);
  const home = Deno.env.get("HOME") ?? dir;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "server/main.ts",
      "--config",
      `${dir}/config.yaml`,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--kv",
      ":memory:",
    ],
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`,
      NO_COLOR: "1",
      HOME: dir, // no ~/.aws here
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let url: string | undefined;
  while (!url) {
    const { done, value } = await reader.read();
    if (done) break;
    out += value;
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  }
  const errText = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  assert.ok(url, `the CLI did not start:\n${out}`);
  return {
    url,
    /** Stops the CLI (SIGTERM) and returns everything it wrote. */
    async stop(): Promise<string> {
      child.kill("SIGTERM");
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        out += value;
      }
      for (;;) {
        const { done } = await errText.read();
        if (done) break;
      }
      await child.status;
      await Deno.remove(dir, { recursive: true });
      return out;
    },
  };
}

const yaml = (fakeUrl: string) =>
  `model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_region_name: us-west-2
      aws_bedrock_runtime_endpoint: ${fakeUrl}
    model_info: { id: ec2-claude }
general_settings:
  master_key: ${MASTER_KEY}
`;
const converse = (url: string) =>
  fetch(`${url}/bedrock/model/claude/converse`, {
    method: "POST",
    body: converseBody(),
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
  });
const ISOLATED = { AWS_CONFIG_FILE: "/nonexistent/config", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials" };

Deno.test("on EC2 with no keys: the CLI gets IMDSv2 credentials at start-up (token first) and signs with them", async () => {
  const fake = await startFakeBedrock();
  await using imds = startFakeImds({
    issue: issuer(
      "ec2",
      () => Date.now() + 6 * 60 * MINUTE,
      (c) => fake.addCredentials({ ...c, expiresAt: c.expiration }),
    ),
  });
  const cli = await startCli(yaml(fake.url), { ...ISOLATED, AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url });
  let output = "";
  try {
    const res = await converse(cli.url);
    assert.equal(res.status, 200, await res.text());
    const health = await (await fetch(`${cli.url}/health`, { headers: { authorization: `Bearer ${MASTER_KEY}` } }))
      .json();
    assert.equal(health.healthy_endpoints[0].credential_source, "instance-metadata");
  } finally {
    output = await cli.stop();
  }
  const issued = imds.issued[0];
  const r = fake.requests[0];
  assert.equal(r.auth.kind === "sigv4" && r.auth.accessKeyId, issued.accessKeyId);
  assert.equal(r.headers["x-amz-security-token"], issued.sessionToken);
  assert.deepEqual(imds.requests.map((q) => [q.method, q.path, q.headers["x-aws-ec2-metadata-token"] !== undefined]), [
    ["PUT", "/latest/api/token", false],
    ["GET", "/latest/meta-data/iam/security-credentials/", true],
    ["GET", "/latest/meta-data/iam/security-credentials/gateway-instance-role", true],
  ]);
  assert.match(output, /"msg":"AWS credentials ready".*"credential_source":"instance-metadata"/);
  assert.ok(!output.includes(issued.secretAccessKey) && !output.includes(issued.sessionToken));
  await fake.close();
});

Deno.test("a credential source down at start-up: the CLI says which deployment, which source and why, then serves", async () => {
  const fake = await startFakeBedrock();
  await using endpoint = startFakeContainerEndpoint({ issue: issuer("x", () => Date.now() + 60 * MINUTE) });
  endpoint.failWith({ status: 500, body: '{"Code":"InternalError"}' });
  const cli = await startCli(yaml(fake.url), {
    ...ISOLATED,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: "secret-agent-token",
  });
  let output = "";
  try {
    const res = await converse(cli.url);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "ServiceUnavailableException");
    assert.match((await res.json()).message, /container: Server responded with status: 500/);
  } finally {
    output = await cli.stop();
  }
  // Logged by start-up (boot awaits the credentials before serving; log lines are batched, so not in stdout order).
  assert.match(
    output,
    /"deployment ec2-claude \(claude\): unavailable: no AWS credentials from the default credential chain: /,
  );
  assert.match(output, /"msg":"AWS credentials unavailable".*"reason":"none of its sources answered \(env: /);
  assert.ok(!output.includes("secret-agent-token"));
  assert.equal(fake.requests.length, 0);
  await fake.close();
});
