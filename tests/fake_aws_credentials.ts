/**
 * @module
 * Fakes, on 127.0.0.1, of the services AWS hosts hand out temporary credentials from: the ECS/EKS container endpoint
 * (with its authorization token), EC2 instance metadata (IMDSv2: PUT a session token, then GET the role and its
 * credentials with it) and STS (AssumeRole, SigV4-verified against the base credentials; AssumeRoleWithWebIdentity,
 * unsigned), answering in the real services' shapes (JSON; STS's XML and XML errors).
 *
 * Credentials come from an `issuer` the test controls (their expiry, and who else learns them: the fake Bedrock).
 * Answers can be held on a `Latch` (to prove nothing waits on a refresh) or scripted to fail.
 */
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";
import type { FakeCredentials } from "../testing/fake_bedrock.ts";
import type { Latch } from "../testing/latch.ts";

/** Temporary credentials as a fake hands them out. */
export interface TempCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ms since the epoch. */
  expiration: number;
}

export type Issuer = () => TempCredentials;

/** `ASIA<PREFIX>0001`, `…0002`, … expiring at `expiresAt()`; `onIssue` sees each (register it with the fake Bedrock). */
export function issuer(prefix: string, expiresAt: () => number, onIssue?: (c: TempCredentials) => void): Issuer {
  let n = 0;
  return () => {
    n++;
    const id = String(n).padStart(4, "0");
    const c: TempCredentials = {
      accessKeyId: `ASIA${prefix.toUpperCase()}${id}`,
      secretAccessKey: `secret/${prefix}/${id}/${crypto.randomUUID()}`,
      sessionToken: `token-${prefix}-${id}-${crypto.randomUUID()}`,
      expiration: expiresAt(),
    };
    onIssue?.(c);
    return c;
  };
}

export interface RecordedCall {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface FakeCredentialService extends AsyncDisposable {
  /** Base URL (`http://127.0.0.1:PORT`); the container fake's full credentials URI is `uri`. */
  url: string;
  requests: RecordedCall[];
  /** Every set of credentials handed out, in order. */
  issued: TempCredentials[];
  /** Holds credential answers until the latch is released (requests are still recorded at once). */
  hold(latch: Latch | undefined): void;
  /** Answers credential requests with this status and body until called with undefined. */
  failWith(failure: { status: number; body: string; contentType?: string } | undefined): void;
  /** Resolves once `n` requests have arrived. */
  whenRequests(n: number): Promise<void>;
  close(): Promise<void>;
}

type Route = (req: Request, body: string) => Response | "issue" | Promise<Response | "issue">;

/** The common server: records, holds, fails, and issues through `answer`. */
function serve(issue: Issuer, route: Route, answer: (c: TempCredentials, body: string) => Response) {
  const requests: RecordedCall[] = [];
  const issued: TempCredentials[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let held: Latch | undefined;
  let failure: { status: number; body: string; contentType?: string } | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.text();
    requests.push({
      method: req.method,
      path: new URL(req.url).pathname,
      headers: Object.fromEntries(req.headers),
      body,
    });
    for (const w of waiters.splice(0)) requests.length >= w.n ? w.resolve() : waiters.push(w);
    const routed = await route(req, body);
    if (routed !== "issue") return routed;
    const latch = held;
    if (latch) await latch.wait();
    if (failure) {
      return new Response(failure.body, {
        status: failure.status,
        headers: { "content-type": failure.contentType ?? "application/json" },
      });
    }
    const c = issue();
    issued.push(c);
    return answer(c, body);
  });
  const close = () => server.shutdown();
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    issued,
    hold: (latch: Latch | undefined) => void (held = latch),
    failWith: (f: typeof failure) => void (failure = f),
    whenRequests: (n: number) =>
      requests.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    close,
    [Symbol.asyncDispose]: close,
  };
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The container endpoint's JSON (ECS task role / EKS Pod Identity). */
const containerJson = (c: TempCredentials) =>
  Response.json({
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    Token: c.sessionToken,
    Expiration: iso(c.expiration),
    RoleArn: "arn:aws:iam::123456789012:role/gateway-task-role",
  });

/**
 * The ECS / EKS Pod Identity container credentials endpoint at `uri` (`AWS_CONTAINER_CREDENTIALS_FULL_URI`). With
 * `authorization`, requests without exactly that `Authorization` header get a 401, as the EKS agent answers.
 */
export function startFakeContainerEndpoint(
  opts: { issue: Issuer; authorization?: string },
): FakeCredentialService & { uri: string } {
  const path = "/v1/credentials";
  const s = serve(opts.issue, (req) => {
    if (new URL(req.url).pathname !== path) return new Response("not found", { status: 404 });
    if (opts.authorization !== undefined && req.headers.get("authorization") !== opts.authorization) {
      return Response.json({ Code: "AccessDeniedException", Message: "invalid authorization token" }, { status: 401 });
    }
    return "issue";
  }, containerJson);
  return { ...s, uri: s.url + path };
}

/**
 * EC2 instance metadata, IMDSv2 only: `PUT /latest/api/token` (with a TTL header) returns a session token; the
 * role name and its credentials are served only to requests carrying it (`x-aws-ec2-metadata-token`), else 401.
 */
export function startFakeImds(opts: { issue: Issuer; role?: string }): FakeCredentialService {
  const role = opts.role ?? "gateway-instance-role";
  const tokens = new Set<string>();
  const base = "/latest/meta-data/iam/security-credentials/";
  return serve(opts.issue, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/latest/api/token") {
      if (req.method !== "PUT") return new Response("", { status: 405 });
      if (!req.headers.get("x-aws-ec2-metadata-token-ttl-seconds")) return new Response("", { status: 400 });
      const token = `imds-session-${crypto.randomUUID()}`;
      tokens.add(token);
      return new Response(token, { headers: { "content-type": "text/plain" } });
    }
    if (!tokens.has(req.headers.get("x-aws-ec2-metadata-token") ?? "")) return new Response("", { status: 401 });
    if (path === base) return new Response(role, { headers: { "content-type": "text/plain" } });
    if (path === base + role) return "issue";
    return new Response("", { status: 404 });
  }, (c) =>
    Response.json({
      Code: "Success",
      LastUpdated: iso(Date.now()),
      Type: "AWS-HMAC",
      AccessKeyId: c.accessKeyId,
      SecretAccessKey: c.secretAccessKey,
      Token: c.sessionToken,
      Expiration: iso(c.expiration),
    }));
}

const STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/";

/** STS's XML error body (`ErrorResponse`). */
export function stsError(code: string, message: string, type = "Sender"): string {
  return `<ErrorResponse xmlns="${STS_NS}">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${code}</Code>\n` +
    `    <Message>${message}</Message>\n  </Error>\n  <RequestId>${crypto.randomUUID()}</RequestId>\n</ErrorResponse>\n`;
}

const xml = (status: number, body: string) => new Response(body, { status, headers: { "content-type": "text/xml" } });

export interface FakeSts extends FakeCredentialService {
  /** Each accepted call's parameters (`Action`, `RoleArn`, `RoleSessionName`, `ExternalId`, …) and signer. */
  calls: Array<{ params: Record<string, string>; signedBy?: string; region?: string }>;
}

/**
 * STS on one endpoint (`aws_sts_endpoint`). AssumeRole must be SigV4-signed (service `sts`) by one of `base` (session
 * token included; the list is read at each request, so a test may add credentials another fake issued);
 * AssumeRoleWithWebIdentity is unsigned and needs a token from `webIdentityTokens`.
 */
export function startFakeSts(
  opts: { issue: Issuer; base?: FakeCredentials[]; webIdentityTokens?: string[] },
): FakeSts {
  const base = opts.base ?? [];
  const calls: FakeSts["calls"] = [];
  const s = serve(opts.issue, async (req, body) => {
    const params = Object.fromEntries(new URLSearchParams(body));
    if (req.method !== "POST" || params.Version !== "2011-06-15") {
      return xml(400, stsError("InvalidAction", "Could not find operation"));
    }
    if (params.Action === "AssumeRoleWithWebIdentity") {
      if (req.headers.get("authorization")) return xml(400, stsError("InvalidParameterValue", "must not be signed"));
      if (!(opts.webIdentityTokens ?? []).includes(params.WebIdentityToken ?? "")) {
        return xml(
          400,
          stsError("InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider"),
        );
      }
      calls.push({ params });
      return "issue";
    }
    if (params.Action !== "AssumeRole") return xml(400, stsError("InvalidAction", `unknown action ${params.Action}`));
    const verdict = await verifySts(req, body, base);
    if ("error" in verdict) return xml(403, verdict.error);
    calls.push({ params, signedBy: verdict.accessKeyId, region: verdict.region });
    return "issue";
  }, (c, body) => {
    const action = new URLSearchParams(body).get("Action") ?? "AssumeRole";
    const session = new URLSearchParams(body).get("RoleSessionName") ?? "session";
    const role = (new URLSearchParams(body).get("RoleArn") ?? "").split("/").pop();
    const extra = action === "AssumeRoleWithWebIdentity"
      ? "    <SubjectFromWebIdentityToken>system:serviceaccount:ai:gateway</SubjectFromWebIdentityToken>\n" +
        "    <Audience>sts.amazonaws.com</Audience>\n    <Provider>arn:aws:iam::123456789012:oidc-provider/x</Provider>\n"
      : "    <PackedPolicySize>6</PackedPolicySize>\n";
    return xml(
      200,
      `<${action}Response xmlns="${STS_NS}">\n  <${action}Result>\n` +
        `    <AssumedRoleUser>\n      <Arn>arn:aws:sts::123456789012:assumed-role/${role}/${session}</Arn>\n` +
        `      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:${session}</AssumedRoleId>\n    </AssumedRoleUser>\n` +
        `    <Credentials>\n      <AccessKeyId>${c.accessKeyId}</AccessKeyId>\n` +
        `      <SecretAccessKey>${c.secretAccessKey}</SecretAccessKey>\n      <SessionToken>${c.sessionToken}</SessionToken>\n` +
        `      <Expiration>${iso(c.expiration)}</Expiration>\n    </Credentials>\n${extra}` +
        `  </${action}Result>\n  <ResponseMetadata>\n    <RequestId>${crypto.randomUUID()}</RequestId>\n` +
        `  </ResponseMetadata>\n</${action}Response>\n`,
    );
  });
  return { ...s, calls };
}

/** Checks an STS request's SigV4 signature (service `sts`) against the accepted base credentials. */
async function verifySts(
  req: Request,
  body: string,
  base: readonly FakeCredentials[],
): Promise<{ accessKeyId: string; region: string } | { error: string }> {
  const auth =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/sts\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/
      .exec(req.headers.get("authorization") ?? "");
  if (!auth) return { error: stsError("MissingAuthenticationToken", "Request is missing Authentication Token") };
  const [, accessKeyId, , region, signedHeaders, signature] = auth;
  const identity = base.find((c) => c.accessKeyId === accessKeyId);
  const invalid = stsError("InvalidClientTokenId", "The security token included in the request is invalid.");
  if (!identity || (req.headers.get("x-amz-security-token") ?? undefined) !== identity.sessionToken) {
    return { error: invalid };
  }
  const amzDate = req.headers.get("x-amz-date") ?? "";
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return { error: invalid };
  const signingDate = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  const names = signedHeaders.split(";");
  const headers: Record<string, string> = {};
  for (const name of names) headers[name] = req.headers.get(name) ?? "";
  const url = new URL(req.url);
  const signer = new SignatureV4({
    service: "sts",
    region,
    credentials: { accessKeyId, secretAccessKey: identity.secretAccessKey },
    sha256: Sha256,
    applyChecksum: false,
  });
  const signed = await signer.sign({
    method: req.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: {},
    headers,
    body,
  }, { signingDate, signableHeaders: new Set(names) });
  const expected = /Signature=([0-9a-f]+)/.exec(signed.headers["authorization"] ?? "")?.[1];
  if (expected !== signature) {
    return { error: stsError("SignatureDoesNotMatch", "The request signature we calculated does not match") };
  }
  return { accessKeyId, region };
}
