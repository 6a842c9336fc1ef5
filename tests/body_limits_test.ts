/**
 * Bounded work per request, end to end: a byte-order mark, bytes that are not UTF-8 and nesting past
 * `max_json_depth` are 400 ValidationExceptions that never reach Bedrock (on model calls and pass-through calls
 * alike); `{}` is still a Converse body and is forwarded; a body that does not fit `max_body_bytes_in_flight` is a
 * 503 with Retry-After.
 */
import assert from "node:assert/strict";
import { FAKE_CREDENTIALS, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
};

async function setup(general = "") {
  const fake = await startFakeBedrock();
  const extra = `${general}  bedrock_passthrough:
    aws_region_name: us-west-2
    aws_bedrock_runtime_endpoint: ${fake.url}
    aws_access_key_id: ${FAKE_CREDENTIALS.accessKeyId}
    aws_secret_access_key: ${FAKE_CREDENTIALS.secretAccessKey}
`;
  const gw = await startGateway({ yaml: fakeConfig(fake.url, { extra }), env: ENV });
  return {
    fake,
    gw,
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await fake.close();
    },
  };
}

const post = (url: string, body: BodyInit) =>
  fetch(url, {
    method: "POST",
    body,
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
  });

const enc = (s: string) => new TextEncoder().encode(s);
const converse = '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}';

async function expect400(res: Response, pattern: RegExp) {
  assert.equal(res.status, 400);
  assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "ValidationException");
  const body = await res.json();
  assert.match(body.message, pattern);
}

Deno.test("BOM, invalid UTF-8 and deep nesting are 400s on every JSON route and never reach Bedrock", async () => {
  await using t = await setup();
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...enc(converse)]);
  const badUtf8 = new Uint8Array([
    ...enc('{"messages":[{"role":"user","content":[{"text":"'),
    0xff,
    0xfe,
    ...enc('"}]}]}'),
  ]);
  const deep = enc(`{"messages":${"[".repeat(50_000)}${"]".repeat(50_000)}}`);
  const routes = [
    "/bedrock/model/claude/converse",
    "/bedrock/model/claude/converse-stream",
    "/bedrock/model/claude/invoke",
    "/bedrock/model/claude/count-tokens",
    "/bedrock/guardrail/abc123/version/1/apply",
  ];
  for (const route of routes) {
    await expect400(await post(`${t.gw.url}${route}`, bom), /byte-order mark/);
    await expect400(await post(`${t.gw.url}${route}`, badUtf8), /not valid UTF-8/);
    await expect400(await post(`${t.gw.url}${route}`, deep), /more than 128 levels/);
  }
  assert.equal(t.fake.requests.length, 0, "nothing was forwarded");
});

Deno.test("max_json_values bounds the values of a body before it is parsed", async () => {
  await using t = await setup("  max_json_values: 10\n");
  const wide = JSON.stringify({ messages: [{ role: "user", content: Array(10).fill({ text: "x" }) }] });
  await expect400(await post(`${t.gw.url}/bedrock/model/claude/converse`, wide), /more than 10 JSON values/);
  assert.equal(t.fake.requests.length, 0);
  const ok = await post(`${t.gw.url}/bedrock/model/claude/converse`, converse);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});

Deno.test("max_json_depth is configurable, and {} is a Converse body that is forwarded", async () => {
  await using t = await setup("  max_json_depth: 4\n");
  const five = '{"messages":[{"role":"user","content":[{"text":"hi","x":{}}]}]}';
  await expect400(await post(`${t.gw.url}/bedrock/model/claude/converse`, five), /more than 4 levels/);
  assert.equal(t.fake.requests.length, 0);
  await post(`${t.gw.url}/bedrock/model/claude/converse`, "{}").then((r) => r.body?.cancel());
  assert.equal(t.fake.requests.length, 1, "{} reached Bedrock (messages are optional with a prompt ARN)");
  assert.equal(new TextDecoder().decode(t.fake.requests[0].body), "{}");
});

Deno.test("a body that does not fit max_body_bytes_in_flight is a 503 with Retry-After, unread and not forwarded", async () => {
  await using t = await setup("  max_body_bytes_in_flight: 1000\n");
  const big = JSON.stringify({ messages: [{ role: "user", content: [{ text: "x".repeat(2000) }] }] });
  const res = await post(`${t.gw.url}/bedrock/model/claude/converse`, big);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "1");
  assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "ServiceUnavailableException");
  assert.match((await res.json()).message, /max_body_bytes_in_flight/);
  assert.equal(t.fake.requests.length, 0);
  // The budget was given back: a body that fits goes through.
  const ok = await post(`${t.gw.url}/bedrock/model/claude/converse`, converse);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});
