/**
 * The credential sources of `server/aws/` against fakes on 127.0.0.1: the container endpoint, STS AssumeRole and
 * AssumeRoleWithWebIdentity, shared profile files, the default chain; first resolution, background refresh on a
 * hand-moved clock, failures, and that no credential value reaches a log line or an error.
 * (IMDSv2 needs the process environment: see aws_imds_test.ts.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createCredentialSources,
  type CredentialSourcesOptions,
  credentialSpec,
  CredentialsUnavailableError,
  stsTarget,
} from "../server/aws/mod.ts";
import { issuer, startFakeContainerEndpoint, startFakeSts, stsError } from "./fake_aws_credentials.ts";
import { Latch } from "../testing/latch.ts";
import { manualClock } from "./manual_clock.ts";

const MINUTE = 60_000;
const lookup = (vars: Record<string, string>) => (name: string) => vars[name];
/** No test may reach a developer's ~/.aws or a real instance-metadata endpoint. */
const ISOLATED = {
  AWS_CONFIG_FILE: "/nonexistent/aws/config",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws/credentials",
  AWS_EC2_METADATA_DISABLED: "true",
};
const BASE = { accessKeyId: "AKIABASE000000000001", secretAccessKey: "base/secret/0001" };

function sources(opts: CredentialSourcesOptions & { lines?: string[] } = {}) {
  const lines = opts.lines ?? [];
  const log = {
    info: (msg: string, f?: Record<string, unknown>) => lines.push(JSON.stringify({ level: "info", msg, ...f })),
    warn: (msg: string, f?: Record<string, unknown>) => lines.push(JSON.stringify({ level: "warn", msg, ...f })),
  };
  const s = createCredentialSources({
    log,
    providers: { containerRetries: 0, stsMaxAttempts: 1 },
    ...opts,
  });
  return Object.assign(s, { lines, [Symbol.dispose]: () => s.close() });
}

Deno.test("default chain → container endpoint: its authorization token is sent; temporary credentials come back", async () => {
  const start = Date.now();
  await using endpoint = startFakeContainerEndpoint({
    issue: issuer("ctr", () => start + 60 * MINUTE),
    authorization: "eks-pod-identity-token",
  });
  const spec = credentialSpec(
    { region: "us-west-2" },
    lookup({
      ...ISOLATED,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: "eks-pod-identity-token",
    }),
  );
  assert.equal(spec.kind, "chain");
  using s = sources();
  const source = s.source(spec, { atStart: true });
  assert.equal(source.status().state, "pending");
  await s.start();
  const issued = endpoint.issued[0];
  assert.deepEqual(source.current(), {
    accessKeyId: issued.accessKeyId,
    secretAccessKey: issued.secretAccessKey,
    sessionToken: issued.sessionToken,
    expiration: Math.floor(issued.expiration / 1000) * 1000,
  });
  assert.equal(endpoint.requests[0].headers.authorization, "eks-pod-identity-token");
  assert.deepEqual(source.status(), { state: "ready", kind: "container", expiration: source.current()?.expiration });
  assert.equal(source.describe(), "container (via the default credential chain)");
});

Deno.test("container endpoint: the token is read from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (EKS Pod Identity)", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "token"), "token-from-file");
  await using endpoint = startFakeContainerEndpoint({
    issue: issuer("pod", () => Date.now() + 60 * MINUTE),
    authorization: "token-from-file",
  });
  using s = sources();
  const source = s.source(credentialSpec(
    { region: "us-west-2" },
    lookup({
      ...ISOLATED,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(dir, "token"),
    }),
  ));
  const got = await source.get();
  assert.equal(got.accessKeyId, endpoint.issued[0].accessKeyId);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("aws_role_name: AssumeRole through aws_sts_endpoint, signed with the deployment's keys, session name and external id sent", async () => {
  await using sts = startFakeSts({ issue: issuer("role", () => Date.now() + 60 * MINUTE), base: [BASE] });
  const spec = credentialSpec({
    keys: BASE,
    roleName: "arn:aws:iam::222222222222:role/bedrock-invoker",
    sessionName: "gateway-prod",
    externalId: "ext-123",
    stsEndpoint: sts.url,
    region: "eu-west-1",
  }, lookup({}));
  assert.equal(spec.kind, "assume-role");
  using s = sources();
  const source = s.source(spec);
  const got = await source.get();
  assert.equal(got.accessKeyId, sts.issued[0].accessKeyId);
  assert.equal(got.sessionToken, sts.issued[0].sessionToken);
  assert.deepEqual(sts.calls, [{
    params: {
      Action: "AssumeRole",
      Version: "2011-06-15",
      RoleArn: "arn:aws:iam::222222222222:role/bedrock-invoker",
      RoleSessionName: "gateway-prod",
      ExternalId: "ext-123",
    },
    signedBy: BASE.accessKeyId,
    region: "eu-west-1",
  }]);
  assert.equal(source.status().kind, "assume-role");
});

Deno.test("aws_role_name: refused by STS → unavailable with STS's error code and message, no secret in it", async () => {
  await using sts = startFakeSts({ issue: issuer("denied", () => Date.now() + 60 * MINUTE), base: [BASE] });
  sts.failWith({
    status: 403,
    contentType: "text/xml",
    body: stsError(
      "AccessDenied",
      "User: arn:aws:iam::111111111111:user/gw is not authorized to perform: sts:AssumeRole on resource: " +
        "arn:aws:iam::222222222222:role/bedrock-invoker",
    ),
  });
  using s = sources();
  const source = s.source(credentialSpec({
    keys: BASE,
    roleName: "arn:aws:iam::222222222222:role/bedrock-invoker",
    stsEndpoint: sts.url,
    region: "us-west-2",
  }, lookup({})));
  await assert.rejects(Promise.resolve().then(() => source.get()), (e: Error) => {
    assert.ok(e instanceof CredentialsUnavailableError);
    assert.match(e.message, /^no AWS credentials from assume-role arn:aws:iam::222222222222:role\/bedrock-invoker: /);
    assert.match(e.message, /AccessDenied: User: arn:aws:iam::111111111111:user\/gw is not authorized/);
    return true;
  });
  assert.equal(source.status().state, "unavailable");
  assert.ok(!s.lines.join("\n").includes(BASE.secretAccessKey));
  assert.equal(s.lines.filter((l) => l.includes('"warn"')).length, 1);
});

Deno.test("aws_role_name from the default chain's base credentials: the base source is shared and resolved first", async () => {
  const start = Date.now();
  await using endpoint = startFakeContainerEndpoint({ issue: issuer("ecs", () => start + 60 * MINUTE) });
  const baseCreds: { accessKeyId: string; secretAccessKey: string; sessionToken: string }[] = [];
  const containerIssue = endpoint.issued;
  await using sts = startFakeSts({ issue: issuer("xacct", () => start + 60 * MINUTE), base: baseCreds });
  const env = lookup({ ...ISOLATED, AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri, AWS_ENDPOINT_URL_STS: sts.url });
  using s = sources();
  // The container credentials are learned by STS as they are issued.
  const chainSource = s.source(credentialSpec({ region: "us-west-2" }, env), { atStart: true });
  await s.start();
  baseCreds.push(...containerIssue);
  const roleSpec = credentialSpec(
    { roleName: "arn:aws:iam::333333333333:role/other-account", region: "us-west-2" },
    env,
  );
  const role = s.source(roleSpec, { atStart: true });
  await s.start();
  assert.equal(endpoint.requests.length, 1, "the chain's source was reused as the base");
  assert.equal(sts.calls[0].signedBy, chainSource.current()?.accessKeyId);
  assert.equal(role.current()?.accessKeyId, sts.issued[0].accessKeyId);
});

Deno.test("STS region: from a VPC endpoint's host, else AWS_REGION, else the deployment's", () => {
  const env = lookup({ AWS_REGION: "us-east-2" });
  assert.deepEqual(stsTarget("https://vpce-0a1b.sts.eu-central-1.vpce.amazonaws.com", env, "us-west-2"), {
    region: "eu-central-1",
    endpoint: "https://vpce-0a1b.sts.eu-central-1.vpce.amazonaws.com",
  });
  assert.deepEqual(stsTarget("https://sts.ap-south-1.amazonaws.com", env, "us-west-2").region, "ap-south-1");
  assert.deepEqual(stsTarget(undefined, env, "us-west-2"), { region: "us-east-2" });
  assert.deepEqual(stsTarget(undefined, lookup({}), "us-west-2"), { region: "us-west-2" });
});

Deno.test("aws_web_identity_token (a file) with aws_role_name: AssumeRoleWithWebIdentity, the file re-read at each refresh", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "token");
  await Deno.writeTextFile(file, "jwt-one");
  const clock = manualClock(Date.now());
  await using sts = startFakeSts({
    issue: issuer("wid", () => clock.now() + 60 * MINUTE),
    webIdentityTokens: ["jwt-one", "jwt-two"],
  });
  using s = sources({ clock });
  const source = s.source(
    credentialSpec({
      roleName: "arn:aws:iam::123456789012:role/gateway",
      sessionName: "gw",
      webIdentityToken: { file },
      stsEndpoint: sts.url,
      region: "us-west-2",
    }, lookup({})),
    { atStart: true },
  );
  await s.start();
  assert.equal(source.status().kind, "web-identity");
  assert.equal(source.current()?.accessKeyId, sts.issued[0].accessKeyId);
  await Deno.writeTextFile(file, "jwt-two"); // Kubernetes rotates projected tokens
  clock.advance(55 * MINUTE);
  await s.idle();
  assert.deepEqual(sts.calls.map((c) => [c.params.Action, c.params.WebIdentityToken, c.params.RoleSessionName]), [
    ["AssumeRoleWithWebIdentity", "jwt-one", "gw"],
    ["AssumeRoleWithWebIdentity", "jwt-two", "gw"],
  ]);
  assert.equal(source.current()?.accessKeyId, sts.issued[1].accessKeyId);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("aws_web_identity_token as a value; EKS IRSA through the default chain (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN)", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "irsa"), "irsa-jwt");
  await using sts = startFakeSts({
    issue: issuer("irsa", () => Date.now() + 60 * MINUTE),
    webIdentityTokens: ["value-jwt", "irsa-jwt"],
  });
  using s = sources();
  const byValue = s.source(credentialSpec({
    roleName: "arn:aws:iam::123456789012:role/a",
    webIdentityToken: { value: "value-jwt" },
    stsEndpoint: sts.url,
    region: "us-west-2",
  }, lookup({})));
  assert.equal((await byValue.get()).accessKeyId, sts.issued[0].accessKeyId);
  const irsaEnv = lookup({
    ...ISOLATED,
    AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "irsa"),
    AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/pod",
    AWS_ROLE_SESSION_NAME: "pod-session",
    AWS_ENDPOINT_URL_STS: sts.url,
  });
  const chain = s.source(credentialSpec({ region: "us-west-2" }, irsaEnv));
  assert.equal((await chain.get()).accessKeyId, sts.issued[1].accessKeyId);
  assert.equal(chain.status().kind, "web-identity");
  assert.deepEqual(sts.calls[1].params.RoleArn, "arn:aws:iam::123456789012:role/pod");
  assert.deepEqual(sts.calls[1].params.RoleSessionName, "pod-session");
  // aws_role_name naming the pod's own role: one AssumeRoleWithWebIdentity, no second hop (as LiteLLM).
  const same = credentialSpec({ roleName: "arn:aws:iam::123456789012:role/pod", region: "us-west-2" }, irsaEnv);
  assert.equal(same.kind, "web-identity");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("aws_profile_name and AWS_PROFILE: keys from the shared files given by AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    join(dir, "credentials"),
    "[default]\naws_access_key_id = AKIADEFAULT000000001\naws_secret_access_key = d\n\n" +
      "[dev]\naws_access_key_id = AKIADEV0000000000001\naws_secret_access_key = dev-secret\naws_session_token = dev-token\n",
  );
  await Deno.writeTextFile(join(dir, "config"), "[profile dev]\nregion = eu-west-1\n");
  const files = {
    AWS_CONFIG_FILE: join(dir, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
  };
  using s = sources();
  const named = s.source(credentialSpec({ profileName: "dev", region: "us-west-2" }, lookup(files)));
  assert.deepEqual(await named.get(), {
    accessKeyId: "AKIADEV0000000000001",
    secretAccessKey: "dev-secret",
    sessionToken: "dev-token",
  });
  assert.equal(named.status().kind, "profile");
  const chain = s.source(credentialSpec({ region: "us-west-2" }, lookup(files)));
  assert.equal((await chain.get()).accessKeyId, "AKIADEFAULT000000001");
  assert.equal(chain.describe(), "profile (via the default credential chain)");
  // AWS_PROFILE wins over the key pair in the environment, as in the AWS SDKs.
  const withProfile = credentialSpec(
    { region: "us-west-2" },
    lookup({ ...files, AWS_PROFILE: "dev", AWS_ACCESS_KEY_ID: "AKIAENV", AWS_SECRET_ACCESS_KEY: "x" }),
  );
  assert.equal((await s.source(withProfile).get()).accessKeyId, "AKIADEV0000000000001");
  const missing = s.source(credentialSpec({ profileName: "nope", region: "us-west-2" }, lookup(files)));
  await assert.rejects(Promise.resolve().then(() => missing.get()), /profile "nope": .*nope/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the default chain with nothing set up says what it tried; the environment's key pair needs no I/O", async () => {
  using s = sources();
  const none = s.source(credentialSpec({ region: "us-west-2" }, lookup(ISOLATED)));
  await assert.rejects(Promise.resolve().then(() => none.get()), (e: Error) => {
    assert.match(
      e.message,
      /^no AWS credentials from the default credential chain: none of its sources answered \(env: /,
    );
    for (const link of ["env:", "profile:", "web-identity:", "container:", "instance-metadata: disabled"]) {
      assert.ok(e.message.includes(link), `${link} in ${e.message}`);
    }
    return true;
  });
  const env = s.source(credentialSpec(
    { region: "us-west-2" },
    lookup({ AWS_ACCESS_KEY_ID: "AKIAENV", AWS_SECRET_ACCESS_KEY: "env-secret", AWS_SESSION_TOKEN: "env-token" }),
  ));
  assert.deepEqual(env.current(), { accessKeyId: "AKIAENV", secretAccessKey: "env-secret", sessionToken: "env-token" });
  assert.deepEqual(env.status(), { state: "ready", kind: "env" });
});

Deno.test("one source per distinct configuration: equal specs share it, the first resolution is made once", async () => {
  await using endpoint = startFakeContainerEndpoint({ issue: issuer("one", () => Date.now() + 60 * MINUTE) });
  const env = lookup({ ...ISOLATED, AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri });
  using s = sources();
  const a = s.source(credentialSpec({ region: "us-west-2" }, env));
  const b = s.source(credentialSpec({ region: "eu-west-1" }, env));
  assert.equal(a, b);
  // Calls that arrive while the first resolution runs wait for that one resolution.
  const [x, y] = await Promise.all([a.get(), b.get()]);
  assert.equal(x, y);
  assert.equal(endpoint.requests.length, 1);
});

Deno.test("refresh ahead of expiry on the clock: calls keep the current credentials while the refresh is held (latch)", async () => {
  const clock = manualClock(Date.now());
  const t0 = clock.now();
  await using endpoint = startFakeContainerEndpoint({ issue: issuer("rf", () => clock.now() + 60 * MINUTE) });
  using s = sources({ clock, refreshAheadMs: 5 * MINUTE });
  const source = s.source(
    credentialSpec({ region: "us-west-2" }, lookup({ ...ISOLATED, AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri })),
    { atStart: true },
  );
  await s.start();
  const first = source.current();
  assert.ok(first);
  const expiration = first.expiration!;
  assert.equal(clock.nextDue(), expiration - 5 * MINUTE, "refresh scheduled 5 minutes ahead");

  const latch = new Latch();
  endpoint.hold(latch);
  clock.advanceTo(expiration - 5 * MINUTE);
  await endpoint.whenRequests(2);
  // The refresh is under way and held: a call gets the current credentials at once, not a promise.
  assert.equal(source.get(), first);
  assert.equal(source.current(), first);
  assert.equal(source.unavailable(), undefined);
  latch.release();
  await s.idle();
  const second = source.current();
  assert.equal(second?.accessKeyId, endpoint.issued[1].accessKeyId);
  clock.advanceTo(expiration + 1);
  assert.equal(source.get(), second, "after the old expiry, the new credentials");
  assert.ok(clock.now() > t0);
});

Deno.test("a failed refresh keeps the current credentials until they expire and logs once; then unavailable, naming the source; then recovery", async () => {
  const clock = manualClock(Date.now());
  await using endpoint = startFakeContainerEndpoint({ issue: issuer("ff", () => clock.now() + 60 * MINUTE) });
  using s = sources({ clock });
  const source = s.source(
    credentialSpec({ region: "us-west-2" }, lookup({ ...ISOLATED, AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri })),
    { atStart: true },
  );
  await s.start();
  const first = source.current()!;
  endpoint.failWith({ status: 500, body: '{"Code":"InternalError"}' });
  // The refresh at T-5 min, then retries before and after the expiry: all fail.
  for (let i = 0; i < 6; i++) {
    clock.advanceTo(clock.nextDue()!);
    await s.idle();
    if (clock.now() < first.expiration! - 10_000) assert.equal(source.get(), first, "kept while it lasts");
  }
  assert.ok(endpoint.requests.length >= 5);
  const warnings = s.lines.filter((l) => l.includes('"warn"'));
  assert.equal(warnings.filter((l) => l.includes("refresh failed")).length, 1, warnings.join("\n"));
  assert.match(warnings[0], /"credential_source":"container".*"reason":"Server responded with status: 500"/);
  // Step from timer to timer, letting each retry finish: one jump would also fire a running resolution's timeout.
  while ((clock.nextDue() ?? Infinity) <= first.expiration! - 10_000) {
    clock.advanceTo(clock.nextDue()!);
    await s.idle();
  }
  clock.advanceTo(first.expiration! - 10_000);
  assert.equal(source.current(), undefined);
  assert.throws(() => source.get(), (e: Error) => {
    assert.ok(e instanceof CredentialsUnavailableError);
    assert.match(
      e.message,
      /^no AWS credentials from container \(via the default credential chain\): the credentials expired at .* and could not be refreshed: Server responded with status: 500$/,
    );
    return true;
  });
  assert.equal(source.status().state, "unavailable");
  await s.idle();
  endpoint.failWith(undefined);
  clock.advanceTo(clock.nextDue()!);
  await s.idle();
  assert.equal(source.current()?.accessKeyId, endpoint.issued.at(-1)?.accessKeyId);
  assert.ok(s.lines.some((l) => l.includes("refreshed after failures")));
  const all = s.lines.join("\n");
  for (const c of endpoint.issued) assert.ok(!all.includes(c.secretAccessKey) && !all.includes(c.sessionToken));
});

Deno.test("a source that fails at start is unavailable at once; a later call starts a retry without waiting for it", async () => {
  const clock = manualClock(Date.now());
  await using endpoint = startFakeContainerEndpoint({
    issue: issuer("down", () => clock.now() + 60 * MINUTE),
    authorization: "right",
  });
  using s = sources({ clock });
  const source = s.source(
    credentialSpec(
      { region: "us-west-2" },
      lookup({
        ...ISOLATED,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: "wrong-secret-token",
      }),
    ),
    { atStart: true },
  );
  await s.start();
  assert.equal(source.status().state, "unavailable");
  assert.match(source.unavailable() ?? "", /Server responded with status: 401/);
  clock.advance(2_000);
  assert.throws(() => source.get(), CredentialsUnavailableError);
  assert.equal(source.resolving(), true, "the call kicked a retry off the hot path");
  await s.idle();
  assert.equal(endpoint.requests.length, 2);
  assert.ok(!s.lines.join("\n").includes("wrong-secret-token"));
});
