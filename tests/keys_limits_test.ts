/**
 * Rate limits (rpm, tpm, parallel requests) hit and recovered on an injected clock, typed as the AWS SDK's
 * ThrottlingException; parallel slots released exactly once however a call ends; model restrictions on every
 * `/bedrock` route.
 */
import assert from "node:assert/strict";
import {
  AccessDeniedException,
  ConverseCommand,
  ConverseStreamCommand,
  ThrottlingException,
  ValidationException,
} from "@aws-sdk/client-bedrock-runtime";
import { Latch } from "../testing/fake_bedrock.ts";
import { bedrockClient } from "../testing/harness.ts";
import { converseBody, PRICE_PARAMS, setupKeys } from "./keys_helpers.ts";

const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];

async function expectThrottled(res: Response, pattern: RegExp, retryAfter: string) {
  const body = await res.json();
  assert.equal(res.status, 429, JSON.stringify(body));
  assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "ThrottlingException");
  assert.equal(res.headers.get("retry-after"), retryAfter);
  assert.equal(body.error.type, "rate_limit_error");
  assert.match(body.message, pattern);
}

Deno.test("rpm_limit: the next call in the minute is a 429 with Retry-After; the next minute admits again", async () => {
  await using t = await setupKeys();
  t.clock.t = Date.UTC(2025, 5, 1, 12, 0, 15); // 45 s before the next minute
  const g = await t.generate({ rpm_limit: 2 });
  assert.equal((await t.converse(g.key)).status, 200);
  assert.equal((await t.converse(g.key)).status, 200);
  await expectThrottled(await t.converse(g.key), /2 requests per minute/, "45");
  // Refused calls do not count: still refused at the end of the minute, admitted once it turns.
  t.clock.advance(44_999);
  await expectThrottled(await t.converse(g.key), /requests per minute/, "1");
  t.clock.advance(1);
  assert.equal((await t.converse(g.key)).status, 200);
  assert.equal((await t.converse(g.key)).status, 200);
  assert.equal((await t.converse(g.key)).status, 429);
  assert.equal(t.fake.requests.length, 4);
  // The shared counter in KV holds this minute's count (the minute is packed into the value's high bits).
  await t.gw.gateway.flush();
  const id = (await t.gw.kv.get<{ id: string }>(["keys", g.token])).value!.id;
  const packed = (await t.gw.kv.get<Deno.KvU64>(["key_rpm", id])).value!.value;
  assert.equal(packed >> 36n, BigInt(Math.floor(t.clock.now() / 60_000)));
  assert.equal(packed & ((1n << 36n) - 1n), 2n);
});

Deno.test("the AWS SDK raises ThrottlingException for a key over its rpm_limit", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ rpm_limit: 1 });
  const client = bedrockClient(t.gw.url, g.key);
  await client.send(new ConverseCommand({ modelId: "claude", messages }));
  await assert.rejects(client.send(new ConverseCommand({ modelId: "claude", messages })), (e) => {
    assert.ok(e instanceof ThrottlingException, String(e));
    assert.match(e.message, /1 requests per minute/);
    assert.equal(e.$metadata.httpStatusCode, 429);
    return true;
  });
  client.destroy();
});

Deno.test("tpm_limit counts the tokens of completed calls, per minute", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ tpm_limit: 20 });
  // 15 tokens per call (the fake's default usage): under the limit after one call, over it after two.
  assert.equal((await t.converse(g.key)).status, 200);
  assert.equal((await t.converse(g.key)).status, 200);
  await expectThrottled(await t.converse(g.key), /20 tokens per minute/, "60");
  // Failed calls report no usage and count no tokens.
  t.clock.advance(60_000);
  t.fake.enqueue({ kind: "error", status: 400, type: "ValidationException", message: "bad" });
  assert.equal((await t.converse(g.key)).status, 400);
  t.fake.enqueue({ kind: "converse", usage: { inputTokens: 15, outputTokens: 5 } });
  assert.equal((await t.converse(g.key)).status, 200);
  assert.equal((await t.converse(g.key)).status, 429);
});

Deno.test("max_parallel_requests: a second call while one is held is a 429; the slot frees when it ends", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ max_parallel_requests: 1 });
  const gate = new Latch();
  t.fake.enqueue({ kind: "converse", waitFor: gate });
  const first = t.converse(g.key);
  await t.fake.whenRequest(0);
  await expectThrottled(await t.converse(g.key), /1 calls at a time/, "1");
  gate.release();
  assert.equal((await first).status, 200);
  assert.equal((await t.converse(g.key)).status, 200);

  // A stream holds its slot until it ends, not until its headers are sent.
  const pause = new Latch();
  t.fake.enqueue({ kind: "stream", pauseAfterFirst: pause });
  const client = bedrockClient(t.gw.url, g.key, { http1: true });
  const out = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  await assert.rejects(
    client.send(new ConverseCommand({ modelId: "claude", messages })),
    (e) => e instanceof ThrottlingException,
  );
  pause.release();
  for await (const _ of out.stream!) { /* drain */ }
  await t.gw.waitForCalls(3);
  await client.send(new ConverseCommand({ modelId: "claude", messages }));
  client.destroy();
});

Deno.test("parallel slots are released when a streaming client disconnects and when a call is refused early", async () => {
  await using t = await setupKeys();
  const g = await t.generate({ max_parallel_requests: 1 });
  t.fake.enqueue({ kind: "stream", stallAfter: 1 });
  const abort = new AbortController();
  const res = await fetch(`${t.gw.url}/bedrock/model/claude/converse-stream`, {
    method: "POST",
    headers: { authorization: `Bearer ${g.key}`, "content-type": "application/json" },
    body: converseBody(),
    signal: abort.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  await reader.read(); // the first frame
  assert.equal((await t.converse(g.key)).status, 429);
  abort.abort();
  await reader.cancel().catch(() => {});
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
  assert.equal((await t.converse(g.key)).status, 200);

  // Refused inside the model call (bad body, unknown model, model not allowed): the slot comes back.
  assert.equal((await t.converse(g.key, "claude", '{"messages": "nope"}')).status, 400);
  assert.equal((await t.converse(g.key, "no-such-model")).status, 400);
  assert.equal((await t.converse(g.key)).status, 200);
});

Deno.test("a key restricted to one model cannot call another on any /bedrock route", async () => {
  await using t = await setupKeys({
    models: [{ name: "allowed", params: PRICE_PARAMS }, { name: "secret", params: PRICE_PARAMS }],
  });
  const g = await t.generate({ models: ["allowed"] });
  const client = bedrockClient(t.gw.url, g.key);
  const out = await client.send(new ConverseCommand({ modelId: "allowed", messages }));
  assert.equal(out.stopReason, "end_turn");
  const denied = (e: unknown) => {
    assert.ok(e instanceof AccessDeniedException, String(e));
    assert.match(e.message, /not allowed to call model "secret"/);
    return true;
  };
  await assert.rejects(client.send(new ConverseCommand({ modelId: "secret", messages })), denied);
  await assert.rejects(client.send(new ConverseStreamCommand({ modelId: "secret", messages })), denied);
  // The error for an unknown model lists only what this key may call.
  await assert.rejects(
    client.send(new ConverseCommand({ modelId: "nope", messages })),
    (e) => e instanceof ValidationException && /Models available to this key: allowed$/.test(e.message),
  );
  client.destroy();
  for (const op of ["converse", "converse-stream", "invoke", "invoke-with-response-stream", "count-tokens"]) {
    for (const model of ["secret", encodeURIComponent("secret")]) {
      const res = await fetch(`${t.gw.url}/bedrock/model/${model}/${op}`, {
        method: "POST",
        headers: { "x-api-key": g.key, "content-type": "application/json" },
        body: converseBody(),
      });
      const body = await res.json();
      assert.equal(res.status, 403, `${op}: ${JSON.stringify(body)}`);
      assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "AccessDeniedException");
      assert.equal(body.error.type, "key_model_access_denied");
    }
  }
  assert.equal(t.fake.requests.length, 1);
  // The master key is not restricted.
  assert.equal((await t.converse("sk-master-test", "secret")).status, 200);
});

Deno.test("a key's new models and block apply at its next call (remembered key hash, principal per record)", async () => {
  await using t = await setupKeys({
    models: [{ name: "allowed", params: PRICE_PARAMS }, { name: "secret", params: PRICE_PARAMS }],
  });
  const g = await t.generate({ models: ["allowed"] });
  const first = await t.converse(g.key, "secret");
  assert.equal(first.status, 403); // the key's hash and principal are now remembered
  assert.equal((await t.converse(g.key, "allowed")).status, 200);
  const updated = await t.admin("POST", "/key/update", { key: g.key, models: ["allowed", "secret"] });
  assert.equal(updated.status, 200, JSON.stringify(updated.json));
  assert.equal((await t.converse(g.key, "secret")).status, 200);
  assert.equal((await t.admin("POST", "/key/block", { key: g.key })).status, 200);
  assert.equal((await t.converse(g.key, "allowed")).status, 401);
});
