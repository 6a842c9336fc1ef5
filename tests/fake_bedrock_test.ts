/**
 * @module
 * Tests for the fake Bedrock server itself. The judge is the real `@aws-sdk/client-bedrock-runtime`
 * (plus aws4fetch and a hand-written SigV4 signer for auth), talking to the fake directly: if the
 * SDK accepts the fake's answers, gateway tests built on the fake are exercising real wire shapes.
 */

import assert from "node:assert/strict";
import {
  BedrockAgentRuntimeClient,
  InvokeAgentCommand,
  RetrieveAndGenerateCommand,
  RetrieveCommand,
} from "@aws-sdk/client-bedrock-agent-runtime";
import {
  ApplyGuardrailCommand,
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  CountTokensCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  ThrottlingException,
  ValidationException,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { AwsClient } from "aws4fetch";
import {
  FAKE_BEARER_TOKEN,
  FAKE_CREDENTIALS,
  type FakeBedrock,
  type FakeBedrockOptions,
  Latch,
  startFakeBedrock,
} from "../testing/fake_bedrock.ts";

const REGION = "us-west-2";
const MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0";
const PROFILE_ARN =
  "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0";
const USER_HI = [{ role: "user" as const, content: [{ text: "hi" }] }];

type Client = BedrockRuntimeClient & Disposable;

/** A real SDK client pointed at the fake. NodeHttpHandler because the fake speaks HTTP/1.1 only. */
function sdk(fake: FakeBedrock, config: Partial<BedrockRuntimeClientConfig> = {}): Client {
  const client = new BedrockRuntimeClient({
    endpoint: fake.url,
    region: REGION,
    credentials: { ...FAKE_CREDENTIALS },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
    ...config,
  });
  // destroy() closes keep-alive sockets, which Deno's resource sanitizer would flag otherwise.
  return Object.assign(client, { [Symbol.dispose]: () => client.destroy() });
}

function bearerSdk(fake: FakeBedrock, token = FAKE_BEARER_TOKEN): Client {
  return sdk(fake, {
    credentials: undefined,
    token: { token },
    authSchemePreference: ["httpBearerAuth"],
  });
}

/** Raw request with a Bedrock API key, for wire-level assertions the SDK would hide. */
function bearerFetch(fake: FakeBedrock, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(fake.url + path, {
    method: "POST",
    body: JSON.stringify({ messages: USER_HI }),
    ...init,
    headers: {
      authorization: `Bearer ${FAKE_BEARER_TOKEN}`,
      "content-type": "application/json",
      ...(init.headers as Record<string, string> | undefined),
    },
  });
}

async function withFake(opts: FakeBedrockOptions, fn: (fake: FakeBedrock) => Promise<void>): Promise<void> {
  await using fake = await startFakeBedrock(opts);
  await fn(fake);
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** Split concatenated event-stream bytes into decoded messages (independent of the SDK). */
function decodeFrames(bytes: Uint8Array): Array<{ headers: Record<string, string>; payload: Record<string, unknown> }> {
  const out = [];
  let offset = 0;
  while (offset < bytes.length) {
    const total = new DataView(bytes.buffer, bytes.byteOffset + offset).getUint32(0);
    const msg = codec.decode(bytes.subarray(offset, offset + total));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(msg.headers)) headers[k] = String(v.value);
    out.push({ headers, payload: JSON.parse(new TextDecoder().decode(msg.body)) });
    offset += total;
  }
  return out;
}

async function collect(stream: AsyncIterable<ConverseStreamOutput> | undefined): Promise<ConverseStreamOutput[]> {
  assert.ok(stream);
  const events: ConverseStreamOutput[] = [];
  for await (const e of stream) events.push(e);
  return events;
}

function textOf(events: ConverseStreamOutput[]): string {
  return events.map((e) => e.contentBlockDelta?.delta?.text ?? "").join("");
}

// ------------------------------------------------------------------ Converse + SigV4

Deno.test("Converse round trip with SigV4: SDK parses the answer, fake records the signed request", async () => {
  await withFake({}, async (fake) => {
    using client = sdk(fake);
    const out = await client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI }));
    assert.deepEqual(out.output?.message, { role: "assistant", content: [{ text: "echo: hi" }] });
    assert.equal(out.stopReason, "end_turn");
    assert.deepEqual(out.usage, { inputTokens: 10, outputTokens: 5, totalTokens: 15 });
    assert.equal(out.metrics?.latencyMs, 42);

    assert.equal(fake.requests.length, 1);
    const rec = fake.requests[0];
    assert.equal(out.$metadata.requestId, rec.requestId);
    assert.equal(rec.method, "POST");
    assert.equal(rec.operation, "converse");
    assert.equal(rec.modelId, MODEL);
    assert.equal(rec.rawPath, "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse");
    assert.equal(rec.status, 200);
    assert.equal(rec.rejected, false);
    assert.equal(rec.aborted, false);
    assert.equal(rec.auth.kind, "sigv4");
    if (rec.auth.kind !== "sigv4") return;
    assert.equal(rec.auth.accessKeyId, FAKE_CREDENTIALS.accessKeyId);
    assert.equal(rec.auth.region, REGION);
    assert.equal(rec.auth.service, "bedrock");
    for (const h of ["host", "x-amz-date", "x-amz-content-sha256", "content-length"]) {
      assert.ok(rec.auth.signedHeaders.includes(h), `${h} signed`);
    }
    assert.deepEqual(JSON.parse(new TextDecoder().decode(rec.body)).messages, USER_HI);
  });
});

Deno.test("Converse with session credentials; a wrong session token is refused", async () => {
  const creds = { accessKeyId: "ASIAFAKESESSION00001", secretAccessKey: "session-secret", sessionToken: "tok-123" };
  await withFake({ credentials: [creds] }, async (fake) => {
    {
      using client = sdk(fake, { credentials: { ...creds } });
      const out = await client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI }));
      assert.equal(out.stopReason, "end_turn");
      const rec = fake.requests[0];
      assert.equal(rec.headers["x-amz-security-token"], "tok-123");
      assert.ok(rec.auth.kind === "sigv4" && rec.auth.signedHeaders.includes("x-amz-security-token"));
    }
    {
      using client = sdk(fake, { credentials: { ...creds, sessionToken: "tok-wrong" } });
      await assert.rejects(client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI })), (e: Error) => {
        assert.equal(e.name, "UnrecognizedClientException");
        return true;
      });
      assert.equal(fake.requests[1].rejected, true);
      assert.equal(fake.requests[1].status, 403);
    }
  });
});

Deno.test("inference-profile ARN: raw path keeps %3A/%2F, modelId is decoded once", async () => {
  await withFake({}, async (fake) => {
    using client = sdk(fake);
    await client.send(new ConverseCommand({ modelId: PROFILE_ARN, messages: USER_HI }));
    const rec = fake.requests[0];
    assert.equal(
      rec.rawPath,
      "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
    );
    assert.equal(rec.modelId, PROFILE_ARN);
    assert.equal(rec.status, 200);
  });
});

Deno.test("SigV4 failures: wrong secret, unknown key, wrong region → 403 and recorded as rejected", async () => {
  await withFake({}, async (fake) => {
    const cases: Array<[Partial<BedrockRuntimeClientConfig>, string]> = [
      [{ credentials: { ...FAKE_CREDENTIALS, secretAccessKey: "wrong" } }, "InvalidSignatureException"],
      [{ credentials: { accessKeyId: "AKIAUNKNOWN000000000", secretAccessKey: "x" } }, "UnrecognizedClientException"],
      [{ region: "eu-central-1" }, "InvalidSignatureException"],
    ];
    for (const [i, [config, name]] of cases.entries()) {
      using client = sdk(fake, config);
      await assert.rejects(client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI })), (e: Error) => {
        assert.equal(e.name, name);
        assert.equal((e as ThrottlingException).$metadata.httpStatusCode, 403);
        return true;
      });
      const rec = fake.requests[i];
      assert.equal(rec.rejected, true);
      assert.equal(rec.status, 403);
      assert.equal(rec.errorType, name);
      assert.equal(rec.auth.kind, "sigv4");
    }
    // The wrong-secret message is the real service's wording.
    const res = await fetch(fake.url + "/model/x/converse", {
      method: "POST",
      headers: fake.requests[0].headers,
      body: fake.requests[0].body.slice(),
    });
    assert.equal(res.status, 403);
    assert.match((await res.json()).message, /^The request signature we calculated does not match/);
  });
});

Deno.test("SigV4 clock skew: ±15 minutes accepted, beyond that refused as expired", async () => {
  const offsetMs = { value: 0 };
  await withFake({ now: () => new Date(Date.now() + offsetMs.value) }, async (fake) => {
    using client = sdk(fake);
    offsetMs.value = 10 * 60 * 1000;
    await client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI }));
    offsetMs.value = 20 * 60 * 1000;
    await assert.rejects(client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI })), (e: Error) => {
      assert.equal(e.name, "InvalidSignatureException");
      assert.match(e.message, /^Signature expired/);
      return true;
    });
    assert.deepEqual(fake.requests.map((r) => r.status), [200, 403]);
  });
});

Deno.test("SigV4 from independent signers: aws4fetch, and a hand-written boto-style signer", async () => {
  await withFake({}, async (fake) => {
    const aws = new AwsClient({ ...FAKE_CREDENTIALS, service: "bedrock", region: REGION });
    const res = await aws.fetch(`${fake.url}/model/${encodeURIComponent(PROFILE_ARN)}/converse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: USER_HI }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.body?.cancel();

    const body = JSON.stringify({ messages: USER_HI });
    const path = `/model/${encodeURIComponent(PROFILE_ARN)}/converse`;
    const good = await handSign(fake.url, path, body, true);
    const ok = await fetch(fake.url + path, { method: "POST", headers: good, body });
    assert.equal(ok.status, 200, await ok.clone().text());
    await ok.body?.cancel();

    // The classic proxy bug: canonical path not double-encoded → real AWS (and the fake) refuse it.
    const bad = await handSign(fake.url, path, body, false);
    const refused = await fetch(fake.url + path, { method: "POST", headers: bad, body });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get("x-amzn-errortype")?.split(":")[0], "InvalidSignatureException");
    await refused.body?.cancel();

    // Body swapped after signing (declared payload hash no longer matches) → refused.
    const signed = await handSign(fake.url, path, body, true, true);
    const tampered = await fetch(fake.url + path, {
      method: "POST",
      headers: signed,
      body: body.replace("hi", "yo"),
    });
    assert.equal(tampered.status, 403);
    await tampered.body?.cancel();
    assert.match(fake.requests[3].rejectReason ?? "", /x-amz-content-sha256/);
  });
});

/** Minimal SigV4 (botocore-style: content-type;host;x-amz-date signed), written from the spec. */
async function handSign(
  baseUrl: string,
  rawPath: string,
  body: string,
  doubleEncode: boolean,
  withContentSha = false,
): Promise<Record<string, string>> {
  const enc = new TextEncoder();
  const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
  const sha = async (s: string) => hex(await crypto.subtle.digest("SHA-256", enc.encode(s)));
  const hmac = async (key: Uint8Array | string, data: string) => {
    const k = await crypto.subtle.importKey(
      "raw",
      typeof key === "string" ? enc.encode(key) : new Uint8Array(key),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(data)));
  };
  const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const host = new URL(baseUrl).host;
  const payloadHash = await sha(body);
  const headers: Record<string, string> = { "content-type": "application/json", host, "x-amz-date": amzDate };
  if (withContentSha) headers["x-amz-content-sha256"] = payloadHash;
  const names = Object.keys(headers).sort();
  const canonicalPath = doubleEncode ? rawPath.split("/").map(encodeURIComponent).join("/") : rawPath;
  const canonical = [
    "POST",
    canonicalPath,
    "",
    ...names.map((n) => `${n}:${headers[n]}`),
    "",
    names.join(";"),
    payloadHash,
  ].join("\n");
  const scope = `${day}/${REGION}/bedrock/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha(canonical)].join("\n");
  let key = await hmac(`AWS4${FAKE_CREDENTIALS.secretAccessKey}`, day);
  for (const part of [REGION, "bedrock", "aws4_request"]) key = await hmac(key, part);
  const signature = hex((await hmac(key, toSign)).buffer as ArrayBuffer);
  delete headers.host; // fetch sets Host itself, to the same value
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${FAKE_CREDENTIALS.accessKeyId}/${scope}, SignedHeaders=${
      names.join(";")
    }, Signature=${signature}`,
  };
}

// ------------------------------------------------------------------ Bearer

Deno.test("Bedrock API key via the SDK (httpBearerAuth); unknown key refused", async () => {
  await withFake({}, async (fake) => {
    {
      using client = bearerSdk(fake);
      const out = await client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI }));
      assert.equal(out.stopReason, "end_turn");
      const rec = fake.requests[0];
      assert.deepEqual(rec.auth, { kind: "bearer", token: FAKE_BEARER_TOKEN });
      assert.equal(rec.headers["x-amz-date"], undefined);
      assert.equal(rec.headers.authorization, `Bearer ${FAKE_BEARER_TOKEN}`);
    }
    {
      using client = bearerSdk(fake, "bedrock-api-key-nope");
      await assert.rejects(
        client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI })),
        (e: Error) => e.name === "UnrecognizedClientException",
      );
      assert.equal(fake.requests[1].rejected, true);
      assert.deepEqual(fake.requests[1].auth, { kind: "bearer", token: "bedrock-api-key-nope" });
    }
  });
});

Deno.test("auth edge cases on the wire: missing auth, bearer mixed with x-amz-date", async () => {
  await withFake({}, async (fake) => {
    const missing = await fetch(fake.url + `/model/${MODEL}/converse`, { method: "POST", body: "{}" });
    assert.equal(missing.status, 403);
    assert.equal(missing.headers.get("x-amzn-errortype")?.split(":")[0], "MissingAuthenticationTokenException");
    await missing.body?.cancel();
    assert.deepEqual(fake.requests[0].auth, { kind: "none" });

    const mixed = await bearerFetch(fake, `/model/${MODEL}/converse`, {
      headers: { "x-amz-date": "20240101T000000Z" },
    });
    assert.equal(mixed.status, 403);
    await mixed.body?.cancel();
    assert.equal(fake.requests[1].rejected, true);
  });
});

// ------------------------------------------------------------------ routing, validation, errors

Deno.test("routing: unencoded model id with ':' works; unknown paths/ops 404; non-POST 405", async () => {
  await withFake({}, async (fake) => {
    const ok = await bearerFetch(fake, `/model/${MODEL}/converse`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("content-type"), "application/json");
    assert.match(ok.headers.get("x-amzn-requestid") ?? "", /^[0-9a-f-]{36}$/);
    await ok.body?.cancel();
    assert.equal(fake.requests[0].modelId, MODEL);
    assert.equal(fake.requests[0].rawPath, `/model/${MODEL}/converse`);

    for (
      const [path, method, status] of [
        ["/foo", "POST", 404],
        [`/model/${MODEL}/nope`, "POST", 404],
        ["/model/a/b/converse", "POST", 404],
        [`/model/${MODEL}/converse`, "GET", 405],
      ] as const
    ) {
      const res = await bearerFetch(fake, path, { method, body: method === "GET" ? null : "{}" });
      assert.equal(res.status, status, `${method} ${path}`);
      assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "UnknownOperationException");
      assert.ok(res.headers.get("x-amzn-requestid"));
      assert.equal(typeof (await res.json()).message, "string");
    }
    assert.equal(fake.requests.length, 5);
    assert.ok(fake.requests.slice(1).every((r) => r.rejected));
  });
});

Deno.test("validation: Converse bodies without a usable messages array → 400 ValidationException", async () => {
  await withFake({}, async (fake) => {
    using client = sdk(fake);
    await assert.rejects(client.send(new ConverseCommand({ modelId: MODEL, messages: [] })), (e: Error) => {
      assert.ok(e instanceof ValidationException);
      assert.equal(e.$metadata.httpStatusCode, 400);
      return true;
    });
    for (
      const body of ["not json", "[]", "{}", '{"messages":{}}', '{"messages":[{"role":"assistant","content":[]}]}']
    ) {
      const res = await bearerFetch(fake, `/model/${MODEL}/converse-stream`, { body });
      assert.equal(res.status, 400, body);
      assert.equal(
        res.headers.get("x-amzn-errortype"),
        "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
      );
      assert.match((await res.json()).message, /Malformed input request|must start with a user message/);
    }
    assert.ok(fake.requests.every((r) => r.rejected && r.status === 400));
  });
});

Deno.test("error behavior: ThrottlingException is the SDK's modeled class, with Bedrock headers", async () => {
  await withFake({}, async (fake) => {
    const throttle = {
      kind: "error",
      status: 429,
      type: "ThrottlingException",
      message: "Too many tokens",
      retryAfter: "3",
    } as const;
    fake.enqueue(throttle, throttle);
    using client = sdk(fake);
    await assert.rejects(client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI })), (e: Error) => {
      assert.ok(e instanceof ThrottlingException);
      assert.equal(e.message, "Too many tokens");
      assert.equal(e.$metadata.httpStatusCode, 429);
      assert.equal(e.$metadata.requestId, fake.requests[0].requestId);
      return true;
    });
    const res = await bearerFetch(fake, `/model/${MODEL}/converse`);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "3");
    assert.equal(
      res.headers.get("x-amzn-errortype"),
      "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
    );
    assert.deepEqual(await res.json(), { message: "Too many tokens" });
    assert.equal(fake.requests[1].errorType, "ThrottlingException");
    assert.equal(fake.requests[1].rejected, false);
  });
});

Deno.test("behavior selection: handler > queue > default; reset clears everything", async () => {
  await withFake({}, async (fake) => {
    using client = sdk(fake);
    const ask = async () =>
      (await client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI }))).output?.message?.content?.[0]
        .text;
    fake.setDefault({ kind: "converse", text: "default" });
    fake.enqueue({ kind: "converse", text: "q1" }, { kind: "converse", text: "q2" });
    fake.handler = (req) => req.modelId === "special" ? { kind: "converse", text: "handled" } : undefined;
    assert.equal(await ask(), "q1");
    assert.equal(
      (await client.send(new ConverseCommand({ modelId: "special", messages: USER_HI }))).output?.message?.content?.[0]
        .text,
      "handled",
    );
    assert.equal(await ask(), "q2");
    assert.equal(await ask(), "default");
    fake.reset();
    assert.equal(fake.requests.length, 0);
    assert.equal(await ask(), "echo: hi");
    assert.equal(fake.requests.length, 1);
  });
});

Deno.test("converse behavior: custom text, usage with cache tokens, stop reason", async () => {
  await withFake({}, async (fake) => {
    fake.setDefault({
      kind: "converse",
      text: "custom",
      usage: { inputTokens: 3, outputTokens: 4, cacheReadInputTokens: 100 },
      stopReason: "max_tokens",
      latencyMs: 7,
    });
    using client = sdk(fake);
    const out = await client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI }));
    assert.equal(out.output?.message?.content?.[0].text, "custom");
    assert.deepEqual(out.usage, { inputTokens: 3, outputTokens: 4, totalTokens: 107, cacheReadInputTokens: 100 });
    assert.equal(out.stopReason, "max_tokens");
    assert.equal(out.metrics?.latencyMs, 7);
    // The same behaviour rendered for ConverseStream.
    const s = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: USER_HI }));
    const events = await collect(s.stream);
    assert.equal(textOf(events), "custom");
    assert.equal(events.at(-2)?.messageStop?.stopReason, "max_tokens");
    assert.equal(events.at(-1)?.metadata?.usage?.totalTokens, 107);
  });
});

Deno.test("raw behavior sends exactly the given status, headers and body", async () => {
  await withFake({}, async (fake) => {
    fake.enqueue({ kind: "raw", status: 502, headers: { "x-test": "1" }, body: "<html>bad gateway</html>" });
    const res = await bearerFetch(fake, `/model/${MODEL}/converse`);
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("x-test"), "1");
    assert.equal(res.headers.get("content-type"), null);
    assert.equal(res.headers.get("x-amzn-requestid"), null);
    assert.equal(await res.text(), "<html>bad gateway</html>");
    assert.equal(fake.requests[0].status, 502);
  });
});

// ------------------------------------------------------------------ ConverseStream

Deno.test("ConverseStream default: SDK yields the events; bytes are real frames with padding", async () => {
  await withFake({}, async (fake) => {
    using client = sdk(fake);
    const out = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: USER_HI }));
    assert.equal(out.$metadata.requestId, fake.requests[0].requestId);
    const events = await collect(out.stream);
    assert.deepEqual(events.map((e) => Object.keys(e)[0]), [
      "messageStart",
      "contentBlockDelta",
      "contentBlockDelta",
      "contentBlockDelta",
      "contentBlockStop",
      "messageStop",
      "metadata",
    ]);
    assert.equal(textOf(events), "Hello from fake");
    assert.equal(events[5].messageStop?.stopReason, "end_turn");
    assert.deepEqual(events[6].metadata?.usage, { inputTokens: 10, outputTokens: 5, totalTokens: 15 });
    assert.equal(events[6].metadata?.metrics?.latencyMs, 42);

    const rec = await fake.whenDone(0);
    assert.equal(rec.streamIndex, 0);
    const frames = decodeFrames(fake.streamBytes[0]);
    assert.equal(frames.length, 7);
    assert.deepEqual(frames[1].headers, {
      ":event-type": "contentBlockDelta",
      ":content-type": "application/json",
      ":message-type": "event",
    });
    assert.ok(frames.every((f) => typeof f.payload.p === "string" && /^[a-zA-Z0-9]+$/.test(f.payload.p)));

    fake.setDefault({ kind: "stream", padding: false });
    await collect((await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: USER_HI }))).stream);
    assert.ok(decodeFrames(fake.streamBytes[1]).every((f) => !("p" in f.payload)));
  });
});

Deno.test("ConverseStream wire headers: content-type eventstream and request id", async () => {
  await withFake({}, async (fake) => {
    const res = await bearerFetch(fake, `/model/${MODEL}/converse-stream`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/vnd.amazon.eventstream");
    assert.equal(res.headers.get("x-amzn-requestid"), fake.requests[0].requestId);
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual(bytes, fake.streamBytes[0]);
  });
});

Deno.test("ConverseStream exceptionAt: SDK iterator throws the modeled ThrottlingException", async () => {
  await withFake({}, async (fake) => {
    fake.setDefault({ kind: "stream", exceptionAt: { index: 2, type: "throttlingException", message: "slow down" } });
    using client = sdk(fake);
    const out = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: USER_HI }));
    const seen: ConverseStreamOutput[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of out.stream!) seen.push(e);
      })(),
      (e: Error) => {
        assert.ok(e instanceof ThrottlingException);
        assert.equal(e.message, "slow down");
        return true;
      },
    );
    assert.equal(textOf(seen), "Hello");
    const frames = decodeFrames(fake.streamBytes[0]);
    assert.equal(frames.length, 3);
    assert.deepEqual(frames[2].headers, {
      ":exception-type": "throttlingException",
      ":content-type": "application/json",
      ":message-type": "exception",
    });
  });
});

Deno.test("ConverseStream chunkSize 1 and packAll still decode identically", async () => {
  await withFake({}, async (fake) => {
    using client = sdk(fake);
    const texts = [];
    for (const b of [{ chunkSize: 1 }, { chunkSize: 7 }, { packAll: true }]) {
      fake.enqueue({ kind: "stream", ...b });
      const events = await collect(
        (await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: USER_HI }))).stream,
      );
      assert.equal(events.length, 7);
      texts.push(textOf(events));
    }
    assert.deepEqual(texts, ["Hello from fake", "Hello from fake", "Hello from fake"]);
    // Same frames whatever the chunking (padding is deterministic).
    assert.deepEqual(fake.streamBytes[0], fake.streamBytes[2]);
  });
});

Deno.test("ConverseStream truncateAfter: stream ends cleanly without messageStop/metadata", async () => {
  await withFake({}, async (fake) => {
    fake.setDefault({ kind: "stream", truncateAfter: 3 });
    using client = sdk(fake);
    const events = await collect(
      (await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: USER_HI }))).stream,
    );
    assert.deepEqual(events.map((e) => Object.keys(e)[0]), ["messageStart", "contentBlockDelta", "contentBlockDelta"]);
    assert.equal((await fake.whenDone(0)).aborted, false);
  });
});

Deno.test("ConverseStream pauseAfterFirst: the SDK has the first event while the rest is held", async () => {
  await withFake({}, async (fake) => {
    const latch = new Latch();
    fake.setDefault({ kind: "stream", pauseAfterFirst: latch });
    using client = sdk(fake);
    // send() itself only resolves once the first event has been read (wire digest §7).
    const out = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: USER_HI }));
    const it = out.stream![Symbol.asyncIterator]();
    const first = await it.next();
    assert.deepEqual(first.value, { messageStart: { role: "assistant" } });
    assert.equal(latch.released, false);
    assert.equal(decodeFrames(fake.streamBytes[0]).length, 1);
    latch.release();
    const rest: ConverseStreamOutput[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    assert.equal(rest.length, 6);
    assert.equal(textOf(rest), "Hello from fake");
  });
});

// ------------------------------------------------------------------ aborts and close

Deno.test("client abort while the fake hangs marks the request aborted", async () => {
  await withFake({}, async (fake) => {
    fake.setDefault({ kind: "hang" });
    using client = sdk(fake);
    const ac = new AbortController();
    const pending = client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI }), { abortSignal: ac.signal });
    await fake.whenRequest(0);
    ac.abort();
    await assert.rejects(pending, (e: Error) => e.name === "AbortError");
    const rec = await fake.whenAborted(0);
    assert.equal(rec.aborted, true);
    assert.equal(rec.status, 0);
  });
});

Deno.test("client abort during a stalled stream marks the request aborted", async () => {
  await withFake({}, async (fake) => {
    fake.setDefault({ kind: "stream", stallAfter: 2 });
    const ac = new AbortController();
    const res = await bearerFetch(fake, `/model/${MODEL}/converse-stream`, { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await assert.rejects(reader.read());
    const rec = await fake.whenAborted(0);
    assert.equal(rec.aborted, true);
    assert.equal(decodeFrames(fake.streamBytes[0]).length, 2);
  });
});

Deno.test("SDK abortSignal during a paused ConverseStream marks the request aborted", async () => {
  await withFake({}, async (fake) => {
    const latch = new Latch();
    fake.setDefault({ kind: "stream", pauseAfterFirst: latch });
    using client = sdk(fake);
    const ac = new AbortController();
    const out = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: USER_HI }), {
      abortSignal: ac.signal,
    });
    const it = out.stream![Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    await assert.rejects(it.next());
    assert.equal((await fake.whenAborted(0)).aborted, true);
    latch.release();
  });
});

Deno.test("close() does not hang with a pending hang and a stalled stream", async () => {
  const fake = await startFakeBedrock();
  fake.enqueue({ kind: "hang" }, { kind: "stream", stallAfter: 1 });
  const hung = bearerFetch(fake, `/model/${MODEL}/converse`).then(async (r) => {
    await r.body?.cancel();
    return r.status;
  }, (e: Error) => e.name);
  await fake.whenRequest(0);
  const streamRes = await bearerFetch(fake, `/model/${MODEL}/converse-stream`);
  const reader = streamRes.body!.getReader();
  await reader.read();
  await fake.close();
  assert.equal(await hung, 503);
  // The stalled stream is ended by close(); drain whatever is left.
  for (let r = await reader.read(); !r.done; r = await reader.read()) { /* drain */ }
  assert.equal(fake.requests[0].aborted, false);
  await fake.close(); // idempotent
});

// ------------------------------------------------------------------ other operations

Deno.test("InvokeModel, InvokeModelWithResponseStream and CountTokens via the SDK", async () => {
  await withFake({}, async (fake) => {
    using client = bearerSdk(fake);
    const claudeBody = JSON.stringify({
      anthropic_version: "bedrock-2023-05-31",
      max_tokens: 10,
      messages: [{ role: "user", content: "ping" }],
    });
    const inv = await client.send(
      new InvokeModelCommand({ modelId: MODEL, body: claudeBody, contentType: "application/json" }),
    );
    const native = JSON.parse(new TextDecoder().decode(inv.body));
    assert.equal(native.content[0].text, "echo: ping");
    assert.deepEqual(native.usage, { input_tokens: 10, output_tokens: 5 });
    assert.equal(fake.requests[0].operation, "invoke");

    const st = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL, body: claudeBody }));
    let text = "";
    let metrics: Record<string, number> | undefined;
    for await (const e of st.body!) {
      const ev = JSON.parse(new TextDecoder().decode(e.chunk?.bytes));
      if (ev.type === "content_block_delta") text += ev.delta.text;
      if (ev.type === "message_stop") metrics = ev["amazon-bedrock-invocationMetrics"];
    }
    assert.equal(text, "Hello from fake");
    assert.equal(metrics?.inputTokenCount, 10);

    fake.enqueue({ kind: "converse", usage: { inputTokens: 77 } });
    const ct = await client.send(
      new CountTokensCommand({ modelId: MODEL, input: { converse: { messages: USER_HI } } }),
    );
    assert.equal(ct.inputTokens, 77);
    assert.equal(fake.requests[2].operation, "count-tokens");
  });
});

Deno.test("waitFor holds a converse answer until the latch opens", async () => {
  await withFake({}, async (fake) => {
    const latch = new Latch();
    fake.setDefault({ kind: "converse", text: "late", waitFor: latch });
    using client = sdk(fake);
    const pending = client.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI }));
    const rec = await fake.whenRequest(0);
    assert.equal(rec.status, 0);
    latch.release();
    assert.equal((await pending).output?.message?.content?.[0].text, "late");
    assert.equal((await fake.whenDone(0)).status, 200);
  });
});

// ------------------------------------------------------------------ guardrails and the agent runtime

/** The real agent-runtime SDK pointed at a fake playing bedrock-agent-runtime (SigV4 only, like the service). */
function agentSdk(fake: FakeBedrock): BedrockAgentRuntimeClient & Disposable {
  const client = new BedrockAgentRuntimeClient({
    endpoint: fake.url,
    region: REGION,
    credentials: { ...FAKE_CREDENTIALS },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
  });
  return Object.assign(client, { [Symbol.dispose]: () => client.destroy() });
}

Deno.test("ApplyGuardrail: the SDK accepts the fake's verdicts; an ARN id is one encoded segment", async () => {
  await using fake = await startFakeBedrock();
  using client = sdk(fake);
  const arn = "arn:aws:bedrock:us-west-2:123456789012:guardrail/abc123";
  const out = await client.send(
    new ApplyGuardrailCommand({
      guardrailIdentifier: arn,
      guardrailVersion: "1",
      source: "INPUT",
      content: [{ text: { text: "forbidden stuff" } }],
    }),
  );
  assert.equal(out.action, "GUARDRAIL_INTERVENED");
  assert.equal(out.assessments?.[0].topicPolicy?.topics?.[0].action, "BLOCKED");
  const seen = fake.requests[0];
  assert.equal(seen.rejected, false, seen.rejectReason);
  assert.equal(seen.operation, "apply-guardrail");
  assert.equal(seen.rawPath, `/guardrail/${encodeURIComponent(arn)}/version/1/apply`);
  assert.deepEqual(seen.pathParams, { guardrailIdentifier: arn, guardrailVersion: "1" });
});

Deno.test("agent runtime: Retrieve, RetrieveAndGenerate and InvokeAgent answers are what the SDK parses", async () => {
  await using fake = await startFakeBedrock({ api: "agent-runtime" });
  using client = agentSdk(fake);
  const retrieved = await client.send(new RetrieveCommand({ knowledgeBaseId: "KB1", retrievalQuery: { text: "q" } }));
  assert.equal(retrieved.retrievalResults?.[0].content?.text, "passage about q");
  const generated = await client.send(new RetrieveAndGenerateCommand({ input: { text: "why?" }, sessionId: "s-9" }));
  assert.equal(generated.output?.text, "answer to why?");
  assert.equal(generated.sessionId, "s-9");
  const agent = await client.send(
    new InvokeAgentCommand({ agentId: "A1", agentAliasId: "AL1", sessionId: "s-1", inputText: "hello there" }),
  );
  const pieces: string[] = [];
  let citations = 0;
  for await (const e of agent.completion ?? []) {
    pieces.push(new TextDecoder().decode(e.chunk?.bytes));
    citations += e.chunk?.attribution?.citations?.length ?? 0;
  }
  assert.deepEqual(pieces, ["agent", " echo:", " hello", " there"]);
  assert.equal(citations, 1);
  assert.equal(agent.sessionId, "s-1");
  assert.equal(agent.contentType, "application/json");
  assert.deepEqual(fake.requests.map((r) => [r.operation, r.rejected, r.auth.kind]), [
    ["retrieve", false, "sigv4"],
    ["retrieve-and-generate", false, "sigv4"],
    ["invoke-agent", false, "sigv4"],
  ]);
});

Deno.test("each fake plays one API: runtime paths 404 on the agent runtime and the other way round", async () => {
  await using agent = await startFakeBedrock({ api: "agent-runtime" });
  await using runtime = await startFakeBedrock();
  using runtimeClient = sdk(agent);
  await assert.rejects(
    runtimeClient.send(new ConverseCommand({ modelId: MODEL, messages: USER_HI })),
    (e) => (e as Error).name === "UnknownOperationException",
  );
  using agentClient = agentSdk(runtime);
  await assert.rejects(
    agentClient.send(new RetrieveCommand({ knowledgeBaseId: "KB1", retrievalQuery: { text: "q" } })),
    (e) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404,
  );
});
