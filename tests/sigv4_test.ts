// Oracle tests for server/aws/sigv4.ts: every signature must equal aws4fetch's byte for byte and be
// reproduced by @smithy/signature-v4 (the AWS SDK's signer) for the same request.

import assert from "node:assert/strict";
import { AwsV4Signer } from "aws4fetch";
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";
import { type AwsCredentials, type SignRequest } from "../server/aws/sigv4.ts";
import { createSigV4Signer } from "../server/aws/mod.ts";

const REGION = "us-west-2";
const SERVICE = "bedrock";
const HOST = "https://bedrock-runtime.us-west-2.amazonaws.com";
const MODEL_URL = `${HOST}/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse`;
const PROFILE_ARN_URL = `${HOST}/model/` +
  "arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0" +
  "/converse-stream";

const STATIC_CREDS: AwsCredentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const SESSION_CREDS: AwsCredentials = {
  accessKeyId: "ASIAEXAMPLE",
  secretAccessKey: "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
  sessionToken: "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLXdlc3QtMiJHMEUCIQ+token/with+base64==",
};

/** Headers aws4fetch never signs; smithy is told the same so both oracles sign one header set. */
const AWS4FETCH_UNSIGNABLE = [
  "authorization",
  "content-type",
  "content-length",
  "user-agent",
  "presigned-expires",
  "expect",
  "x-amzn-trace-id",
  "range",
  "connection",
];

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** Body hash computed by an independent implementation (pure-JS SHA-256), not by the code under test. */
async function independentSha256Hex(body: Uint8Array): Promise<string> {
  const h = new Sha256();
  h.update(body);
  return hex(await h.digest());
}

function request(overrides: Partial<SignRequest> = {}): SignRequest {
  return {
    method: "POST",
    url: MODEL_URL,
    headers: { "content-type": "application/json", accept: "application/json" },
    body: utf8('{"messages":[{"role":"user","content":[{"text":"Hello, Claude. Please say hi back."}]}]}'),
    region: REGION,
    service: SERVICE,
    credentials: STATIC_CREDS,
    now: new Date("2024-10-22T13:37:42.123Z"),
    ...overrides,
  };
}

/**
 * aws4fetch with the same inputs. Our signer always sends (and signs) x-amz-content-sha256, which
 * aws4fetch only does for s3, so the independently computed body hash is passed as that header.
 */
async function aws4fetchHeaders(req: SignRequest): Promise<Headers> {
  const signer = new AwsV4Signer({
    method: req.method,
    url: req.url,
    headers: { ...req.headers, "x-amz-content-sha256": await independentSha256Hex(req.body) },
    body: new Uint8Array(req.body), // copy narrows Uint8Array<ArrayBufferLike> to BodyInit's Uint8Array<ArrayBuffer>
    accessKeyId: req.credentials.accessKeyId,
    secretAccessKey: req.credentials.secretAccessKey,
    sessionToken: req.credentials.sessionToken,
    region: req.region,
    service: req.service,
    // aws4fetch's own default formatting, applied to the injected clock.
    datetime: req.now.toISOString().replace(/[:-]|\.\d{3}/g, ""),
    cache: new Map(), // fresh: never share derived keys with the code under test
  });
  return (await signer.sign()).headers;
}

/**
 * @smithy/signature-v4 (what the AWS SDK uses) with the same request. Smithy hashes the body itself
 * (applyChecksum defaults to true) and adds x-amz-content-sha256, so the payload hash is checked
 * independently of both the code under test and the aws4fetch path.
 */
async function smithyHeaders(req: SignRequest): Promise<Record<string, string>> {
  const url = new URL(req.url);
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const signer = new SignatureV4({
    service: req.service,
    region: req.region,
    credentials: req.credentials,
    sha256: Sha256,
    uriEscapePath: true,
  });
  const signed = await signer.sign({
    method: req.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port === "" ? undefined : Number(url.port),
    path: url.pathname,
    query,
    headers: { host: url.host, ...req.headers },
    body: req.body,
  }, { signingDate: req.now, unsignableHeaders: new Set(AWS4FETCH_UNSIGNABLE) });
  return signed.headers;
}

const signatureOf = (authorization: string): string => {
  const m = /, Signature=([0-9a-f]{64})$/.exec(authorization);
  assert.ok(m, `no Signature= in ${authorization}`);
  return m[1];
};

/** Signs with the code under test and asserts agreement with both oracles. Returns our headers. */
async function assertMatchesOracles(req: SignRequest, signer = createSigV4Signer()): Promise<Record<string, string>> {
  const ours = signer.sign(req);
  const expectedKeys = ["authorization", "x-amz-content-sha256", "x-amz-date"];
  if (req.credentials.sessionToken) expectedKeys.push("x-amz-security-token");
  assert.deepEqual(Object.keys(ours).sort(), expectedKeys);

  assert.equal(ours["x-amz-content-sha256"], await independentSha256Hex(req.body));

  const a4f = await aws4fetchHeaders(req);
  assert.equal(ours.authorization, a4f.get("authorization"));
  assert.equal(ours["x-amz-date"], a4f.get("x-amz-date"));
  assert.equal(ours["x-amz-security-token"], a4f.get("x-amz-security-token") ?? undefined);

  const smithy = await smithyHeaders(req);
  assert.equal(signatureOf(ours.authorization), signatureOf(smithy.authorization));
  assert.equal(ours.authorization, smithy.authorization); // same credential scope and SignedHeaders too
  assert.equal(ours["x-amz-content-sha256"], smithy["x-amz-content-sha256"]);
  assert.equal(ours["x-amz-date"], smithy["x-amz-date"]);
  assert.equal(ours["x-amz-security-token"], smithy["x-amz-security-token"]);
  return ours;
}

Deno.test("sigv4: plain model id, static credentials", async () => {
  const ours = await assertMatchesOracles(request());
  assert.equal(ours["x-amz-date"], "20241022T133742Z");
  assert.match(
    ours.authorization,
    /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20241022\/us-west-2\/bedrock\/aws4_request, SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
  );
});

Deno.test("sigv4: inference-profile ARN path (double-encoded %3A and %2F), session token", async () => {
  const ours = await assertMatchesOracles(request({ url: PROFILE_ARN_URL, credentials: SESSION_CREDS }));
  assert.equal(ours["x-amz-security-token"], SESSION_CREDS.sessionToken);
  assert.match(ours.authorization, /SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
});

Deno.test("sigv4: inference-profile ARN path without session token", async () => {
  await assertMatchesOracles(request({ url: PROFILE_ARN_URL }));
});

Deno.test("sigv4: plain model id with session token", async () => {
  await assertMatchesOracles(request({ credentials: SESSION_CREDS }));
});

Deno.test("sigv4: empty body", async () => {
  const ours = await assertMatchesOracles(request({ body: new Uint8Array(0) }));
  assert.equal(ours["x-amz-content-sha256"], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

Deno.test("sigv4: GET with empty body and no extra headers", async () => {
  await assertMatchesOracles(
    request({ method: "GET", url: `${HOST}/foundation-models`, headers: {}, body: new Uint8Array(0) }),
  );
});

Deno.test("sigv4: unicode body", async () => {
  await assertMatchesOracles(
    request({ body: utf8('{"text":"héllo wörld — 你好，世界 🌍🚀 \\u0000 ∑"}'), credentials: SESSION_CREDS }),
  );
});

Deno.test("sigv4: extra and unsignable headers, whitespace normalisation", async () => {
  const ours = await assertMatchesOracles(request({
    url: PROFILE_ARN_URL,
    headers: {
      "content-type": "application/json",
      accept: "application/vnd.amazon.eventstream",
      "x-amzn-bedrock-guardrailidentifier": "gr-abc123",
      "x-amzn-bedrock-guardrailversion": "DRAFT",
      "x-amzn-bedrock-trace": "  ENABLED   for\t\tall  ",
      "x-custom-empty": "",
      // Excluded by aws4fetch (and by smithy once told the same list):
      "user-agent": "converse-gateway/1.0",
      "content-length": "123",
      "x-amzn-trace-id": "Root=1-abc",
      connection: "keep-alive",
      expect: "100-continue",
      range: "bytes=0-1",
    },
  }));
  assert.match(
    ours.authorization,
    /SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date;x-amzn-bedrock-guardrailidentifier;x-amzn-bedrock-guardrailversion;x-amzn-bedrock-trace;x-custom-empty,/,
  );
});

Deno.test("sigv4: header names are lower-cased for signing", async () => {
  const req = request({ headers: { Accept: "application/json", "X-Amzn-Bedrock-Trace": "ENABLED" } });
  const lower = request({ headers: { accept: "application/json", "x-amzn-bedrock-trace": "ENABLED" } });
  assert.deepEqual(createSigV4Signer().sign(req), createSigV4Signer().sign(lower));
  await assertMatchesOracles(lower);
});

Deno.test("sigv4: query string is sorted and re-encoded", async () => {
  await assertMatchesOracles(
    request({
      method: "GET",
      url: `${HOST}/foundation-models?z=1&byProvider=Anthropic&a=2&a=1&q=x+y%2Fz%3A*`,
      headers: {},
    }),
  );
});

Deno.test("sigv4: non-default port goes into the signed host header", async () => {
  const ours = await assertMatchesOracles(
    request({ url: "http://127.0.0.1:8787/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse" }),
  );
  assert.match(ours.authorization, /SignedHeaders=accept;host;/);
});

Deno.test("sigv4: repeated slashes are collapsed like both oracles do", async () => {
  await assertMatchesOracles(
    request({ url: `${HOST}//model//us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse` }),
  );
});

Deno.test("sigv4: different service and region", async () => {
  await assertMatchesOracles(
    request({
      url: "https://bedrock-agent-runtime.eu-central-1.amazonaws.com/retrieveAndGenerate",
      region: "eu-central-1",
    }),
  );
});

Deno.test("sigv4: signing key is derived once per day and reused", async () => {
  const scopes: string[] = [];
  const signer = createSigV4Signer({ onSigningKeyDerived: (scope) => scopes.push(scope) });
  for (const iso of ["2024-10-22T00:00:00.000Z", "2024-10-22T13:37:42.123Z", "2024-10-22T23:59:59.999Z"]) {
    await assertMatchesOracles(request({ now: new Date(iso) }), signer);
  }
  assert.deepEqual(scopes, ["20241022/us-west-2/bedrock/aws4_request"]);

  // The session token is not part of the signing key, so rotating it alone must not re-derive.
  await assertMatchesOracles(request({ credentials: { ...STATIC_CREDS, sessionToken: "other-token" } }), signer);
  assert.equal(scopes.length, 1);
});

Deno.test("sigv4: signing key is re-derived across a UTC day boundary", async () => {
  const scopes: string[] = [];
  const signer = createSigV4Signer({ onSigningKeyDerived: (scope) => scopes.push(scope) });
  const before = await assertMatchesOracles(request({ now: new Date("2024-12-31T23:59:59Z") }), signer);
  const after = await assertMatchesOracles(request({ now: new Date("2025-01-01T00:00:01Z") }), signer);
  assert.match(before.authorization, /Credential=AKIDEXAMPLE\/20241231\//);
  assert.match(after.authorization, /Credential=AKIDEXAMPLE\/20250101\//);
  assert.deepEqual(scopes, ["20241231/us-west-2/bedrock/aws4_request", "20250101/us-west-2/bedrock/aws4_request"]);
  // Going back to a still-cached day reuses its key.
  await assertMatchesOracles(request({ now: new Date("2024-12-31T23:59:59Z") }), signer);
  assert.equal(scopes.length, 2);
});

Deno.test("sigv4: cache keys on secret, region and service", async () => {
  const scopes: string[] = [];
  const signer = createSigV4Signer({ onSigningKeyDerived: (scope) => scopes.push(scope) });
  await assertMatchesOracles(request(), signer);
  await assertMatchesOracles(request({ credentials: SESSION_CREDS }), signer); // different secret
  await assertMatchesOracles(request({ region: "us-east-1" }), signer);
  await assertMatchesOracles(request({ service: "bedrock-runtime" }), signer);
  assert.equal(scopes.length, 4);
  await assertMatchesOracles(request(), signer);
  await assertMatchesOracles(request({ credentials: SESSION_CREDS }), signer);
  assert.equal(scopes.length, 4);
});

Deno.test("sigv4: bounded cache evicts and stays correct", async () => {
  const scopes: string[] = [];
  const signer = createSigV4Signer({ maxCachedKeys: 1, onSigningKeyDerived: (scope) => scopes.push(scope) });
  for (let i = 0; i < 3; i++) {
    await assertMatchesOracles(request(), signer);
    await assertMatchesOracles(request({ credentials: SESSION_CREDS }), signer);
  }
  assert.equal(scopes.length, 6);
});

Deno.test("sigv4: signers do not share state", () => {
  const a: string[] = [];
  const b: string[] = [];
  createSigV4Signer({ onSigningKeyDerived: (s) => a.push(s) }).sign(request());
  createSigV4Signer({ onSigningKeyDerived: (s) => b.push(s) }).sign(request());
  assert.equal(a.length, 1);
  assert.equal(b.length, 1);
});

Deno.test("sigv4: rejects headers the signer generates and case-insensitive duplicates", () => {
  const signer = createSigV4Signer();
  for (const name of ["host", "Host", "authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"]) {
    assert.throws(() => signer.sign(request({ headers: { [name]: "x" } })), TypeError, name);
  }
  assert.throws(() => signer.sign(request({ headers: { accept: "a", Accept: "b" } })), TypeError);
});

Deno.test("sigv4: rejects invalid header values and dates", () => {
  const signer = createSigV4Signer();
  assert.throws(() => signer.sign(request({ headers: { "x-bad": "a\r\nb" } })), TypeError);
  assert.throws(() => signer.sign(request({ headers: { "x-bad": "snow ☃" } })), TypeError);
  assert.throws(() => signer.sign(request({ now: new Date(Number.NaN) })), RangeError);
});
