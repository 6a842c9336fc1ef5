/**
 * A seeded fuzz of the front door: a few thousand bad requests — bad JSON and encodings, wrong types, huge, deep and
 * odd bodies, bad paths, headers, methods, keys and model ids, raw protocol junk — each must get a 4xx (413 or 503
 * where documented: over `max_request_body_bytes`, over `max_body_bytes_in_flight`), none may reach the fake
 * Bedrock, and afterwards the gateway must still serve a good call. Deterministic (one seed, a fixed list built
 * before anything is sent) and bounded (a fixed count, at most 8 requests in flight).
 */
import assert from "node:assert/strict";
import { FAKE_CREDENTIALS, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { seededRandom } from "../testing/seeded_random.ts";

const SEED = 0x15f022;
const COUNT = 3000;
const MAX_BODY = 64 * 1024;

interface BadRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array<ArrayBuffer>;
  /** Statuses allowed besides the usual 4xx: none, or 413/503 where documented. */
  allowed?: number[];
  /** Sent as raw bytes over TCP instead of through fetch (what fetch refuses to send). */
  raw?: string;
}

const enc = (s: string) => new TextEncoder().encode(s);
const GOOD = { messages: [{ role: "user", content: [{ text: "hi" }] }] };

function generate(random: () => number): BadRequest[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const int = (n: number) => Math.floor(random() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const auth = { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" };
  const modelOps = ["converse", "converse-stream", "invoke", "invoke-with-response-stream", "count-tokens"];
  const json = (v: unknown) => enc(JSON.stringify(v));

  /** A Converse body with one typed field set to a wrong type or value. */
  const wrongConverse = () => {
    const wrong = pick([1, "x", true, null, {}, [], -1, 1.5, [1], [{}], { a: 1 }]);
    const mutations: Array<() => unknown> = [
      () => ({ messages: wrong === null ? 1 : typeof wrong === "object" && Array.isArray(wrong) ? "x" : wrong }),
      () => ({ messages: [{ role: pick(["bot", "", "USER", 1, null]), content: [{ text: "hi" }] }] }),
      () => ({ messages: [{ role: "user", content: pick(["text", 1, {}, null]) }] }),
      () => ({ messages: [{ role: "user", content: [{ text: pick([1, true, {}, []]) }] }] }),
      () => ({ ...GOOD, inferenceConfig: { maxTokens: pick(["10", -1, 1.5, {}, []]) } }),
      () => ({ ...GOOD, inferenceConfig: { temperature: pick(["hot", {}, []]) } }),
      () => ({ ...GOOD, system: pick(["be nice", 1, {}]) }),
      () => ({ ...GOOD, toolConfig: { tools: pick([[], "t", 1, {}]) } }),
      () => ({ ...GOOD, requestMetadata: pick([{ k: 1 }, "x", [], { k: {} }]) }),
      () => ({ ...GOOD, guardrailConfig: pick(["g", 1, [], { guardrailIdentifier: 5 }]) }),
      () => pick([[], [GOOD], "string", 42, null, true]),
    ];
    return json(pick(mutations)());
  };

  /** Bytes that are not acceptable JSON for any route. */
  const badJson = (): Uint8Array<ArrayBuffer> => {
    const good = JSON.stringify(GOOD);
    return pick([
      () => bytes(1 + int(200)),
      () => new Uint8Array([0xef, 0xbb, 0xbf, ...enc(good)]),
      () => enc(good.slice(0, int(good.length - 1))),
      () => enc(good + "}"),
      () => enc(`{"messages":${"[".repeat(129 + int(3000))}${"]".repeat(129)}}`),
      () =>
        new Uint8Array([
          ...enc('{"messages":[{"role":"user","content":[{"text":"'),
          0xc0 + int(2),
          0x41,
          ...enc('"}]}]}'),
        ]),
      () => new Uint8Array([...enc('{"a":"'), 0xed, 0xa0, 0x80, ...enc('"}')]),
      () => enc(""),
      () => enc("null".slice(0, int(4))),
      () => enc("{'messages': []}"),
      () => enc(good.replaceAll('"', "'")),
      () => enc("\u0000".repeat(1 + int(50))),
    ])();
  };

  const out: BadRequest[] = [];
  const makers: Array<() => BadRequest> = [
    // Converse / ConverseStream bodies of the wrong shape.
    () => ({
      kind: "converse wrong type",
      method: "POST",
      path: `/bedrock/model/claude/${pick(["converse", "converse-stream"])}`,
      headers: auth,
      body: wrongConverse(),
    }),
    // Bodies that are not JSON, or not JSON we accept, on every JSON route.
    () => ({
      kind: "bad json",
      method: "POST",
      path: pick([
        ...modelOps.map((op) => `/bedrock/model/claude/${op}`),
        "/bedrock/guardrail/g1abc/version/1/apply",
      ]),
      headers: auth,
      body: badJson(),
    }),
    // Over max_request_body_bytes: 413.
    () => ({
      kind: "huge",
      method: "POST",
      path: `/bedrock/model/claude/${pick(modelOps)}`,
      headers: auth,
      body: enc(`{"messages":[{"role":"user","content":[{"text":"${"x".repeat(MAX_BODY + int(MAX_BODY))}"}]}]}`),
      allowed: [413, 503],
    }),
    // count-tokens and ApplyGuardrail bodies of the wrong shape.
    () => ({
      kind: "count-tokens wrong type",
      method: "POST",
      path: "/bedrock/model/claude/count-tokens",
      headers: auth,
      body: json(
        pick([{}, { input: 1 }, { input: {} }, { input: { converse: 1 } }, { input: { invokeModel: { body: 5 } } }]),
      ),
    }),
    () => ({
      kind: "guardrail wrong type",
      method: "POST",
      path: `/bedrock/guardrail/${pick(["g1abc", "gr0x"])}/version/${pick(["1", "DRAFT"])}/apply`,
      headers: auth,
      body: json(pick([{}, { source: "X", content: [{ text: { text: "a" } }] }, { source: "INPUT", content: [] }, {
        source: "INPUT",
        content: "a",
      }])),
    }),
    // Unknown or malformed model ids and operations.
    () => ({
      kind: "bad model id",
      method: "POST",
      path: `/bedrock/model/${
        pick([
          "nope",
          encodeURIComponent("a/b/c"),
          "%ZZ",
          "x".repeat(300 + int(3000)),
          "..",
          "%00",
          "claude%2F..%2F",
          String(int(1e9)),
        ])
      }/${pick([...modelOps, "converse2", "", "invoke/x"])}`,
      headers: auth,
      body: json(GOOD),
    }),
    // Paths no route serves, Bedrock-looking ones included, and bad ids in pass-through paths.
    () => ({
      kind: "bad path",
      method: pick(["POST", "GET"]),
      path: pick([
        `/${Array.from({ length: 1 + int(5) }, () => Math.floor(random() * 36 ** 4).toString(36)).join("/")}`,
        "/model/claude/converse",
        "/bedrock",
        "/bedrock/",
        "/bedrock/model/",
        "/bedrock/model/claude",
        `/bedrock/guardrail/${pick(["BAD!", "a%2", "x".repeat(200)])}/version/1/apply`,
        `/bedrock/guardrail/g1/version/${pick(["0", "-1", "latest"])}/apply`,
        `/bedrock/knowledgebases/${pick(["toolongid1234", "a-b", "%%"])}/retrieve`,
        "/bedrock/agents/A/agentAliases/B/sessions/x/text",
        "/v1/chat/completions",
        "/key/nope/nope",
      ]),
      headers: auth,
      body: json(GOOD),
    }),
    // Methods a route does not take.
    () => ({
      kind: "bad method",
      method: pick(["GET", "PUT", "DELETE", "PATCH"]),
      path: pick([`/bedrock/model/claude/${pick(modelOps)}`, "/bedrock/guardrail/g1/version/1/apply", "/key/generate"]),
      headers: auth,
      body: undefined,
    }),
    // Missing or wrong keys.
    () => ({
      kind: "bad key",
      method: "POST",
      path: `/bedrock/model/claude/${pick(modelOps)}`,
      headers: {
        "content-type": "application/json",
        ...pick<Record<string, string>>([
          {},
          { authorization: "Bearer sk-wrong-key-000000" },
          { authorization: "Basic Zm9vOmJhcg==" },
          { authorization: "Bearer " },
          { "x-api-key": "sk-nope" },
          { authorization: `Bearer ${MASTER_KEY}x` },
        ]),
      },
      body: json(GOOD),
    }),
    // Headers the operation binds, with bad values.
    () => ({
      kind: "bad header",
      method: "POST",
      path: `/bedrock/model/claude/${pick(["invoke", "invoke-with-response-stream"])}`,
      headers: {
        ...auth,
        "x-amzn-bedrock-request-metadata": pick(["not json", "[]", '{"a":1}', '{"a":{"b":"c"}}', "null"]),
      },
      body: json({ anthropic_version: "bedrock-2023-05-31", max_tokens: 10, messages: GOOD.messages }),
    }),
    // Protocol junk fetch would not send: raw over TCP.
    () => ({
      kind: "raw",
      method: "",
      path: "",
      headers: {},
      raw: pick([
        `POST /bedrock/model/claude/converse HTTP/1.1\r\nHost: gw/health/liveliness?\r\nAuthorization: Bearer ${MASTER_KEY}\r\nContent-Length: 2\r\n\r\n{}`,
        `GET /health/liveliness HTTP/1.1\r\nHost: a@b\r\n\r\n`,
        `POST /bedrock/model/claude/converse HTTP/1.1\r\nHost: gw\r\nContent-Length: abc\r\n\r\n`,
        `POST /bedrock/model/claude/converse HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nzz\r\n`,
        `BREW /coffee HTCPCP/1.0\r\n\r\n`,
        `POST /bedrock/model/claude/converse HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${MASTER_KEY}\r\nContent-Length: 3\r\n\r\n[[[`,
        `GET ${"/a".repeat(5000)} HTTP/1.1\r\nHost: gw\r\n\r\n`,
        `GET / HTTP/1.1\r\nHost: gw\r\n${"X-Big: " + "y".repeat(70_000)}\r\n\r\n`,
      ]),
    }),
  ];
  for (let i = 0; i < COUNT; i++) out.push(pick(makers)());
  return out;
}

/** One raw HTTP/1.1 exchange; the status code of the answer (0 when the server closed without one). */
async function rawStatus(port: number, text: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc(text.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    if (n === null) return 0;
    return Number(/^HTTP\/1\.[01] (\d{3})/.exec(new TextDecoder().decode(buf.subarray(0, n)))?.[1] ?? 0);
  } catch {
    return 0; // reset: refused at the protocol level
  } finally {
    conn.close();
  }
}

Deno.test("fuzz: thousands of bad requests each get a 4xx, none reaches Bedrock, and a good call is served after", async () => {
  const fake = await startFakeBedrock();
  const extra = `  max_request_body_bytes: ${MAX_BODY}
  bedrock_passthrough:
    aws_region_name: us-west-2
    aws_bedrock_runtime_endpoint: ${fake.url}
    aws_access_key_id: ${FAKE_CREDENTIALS.accessKeyId}
    aws_secret_access_key: ${FAKE_CREDENTIALS.secretAccessKey}
`;
  await using gw = await startGateway({
    yaml: fakeConfig(fake.url, { extra }),
    env: { AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey },
  });
  const port = Number(new URL(gw.url).port);
  const requests = generate(seededRandom(SEED));
  const failures: string[] = [];
  const byKind: Record<string, Record<number, number>> = {};
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const r = requests[next++];
      let status: number;
      if (r.raw !== undefined) status = await rawStatus(port, r.raw);
      else {
        const body = r.method === "GET" ? undefined : r.body;
        const res = await fetch(`${gw.url}${r.path}`, { method: r.method, headers: r.headers, body });
        status = res.status;
        await res.body?.cancel();
      }
      (byKind[r.kind] ??= {})[status] = (byKind[r.kind][status] ?? 0) + 1;
      const ok = (status >= 400 && status < 500) || (r.allowed?.includes(status) ?? false) ||
        (r.raw !== undefined && status === 0);
      if (!ok) failures.push(`${r.kind}: ${r.method} ${r.path.slice(0, 120)} → ${status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  assert.deepEqual(failures, [], JSON.stringify(byKind));
  assert.equal(fake.requests.length, 0, `reached Bedrock: ${fake.requests.map((r) => r.rawPath).join(", ")}`);
  // Every kind was exercised.
  assert.equal(Object.keys(byKind).length, 11, JSON.stringify(byKind));

  const good = await fetch(`${gw.url}/bedrock/model/claude/converse`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(GOOD),
  });
  assert.equal(good.status, 200);
  await good.body?.cancel();
  assert.equal(fake.requests.length, 1);
  await fake.close();
});
