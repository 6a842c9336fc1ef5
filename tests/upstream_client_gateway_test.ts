/**
 * `general_settings.upstream_client` end to end: the gateway built from config (no injected fetch) calls the fake
 * Bedrock with the native client when asked (the fake sees its `accept-encoding: identity`, where Deno's fetch asks
 * for gzip), relays converse and converse-stream to the real AWS SDK, and passes a client's abort upstream; the
 * default is `native`, `fetch` when the config asks for it; an unknown value stops start-up.
 */
import assert from "node:assert/strict";
import { ConverseCommand, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { ConfigError, loadConfig } from "../server/config/load.ts";
import { FAKE_CREDENTIALS, Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { bedrockClient, fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
};
const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];
const NATIVE = "  upstream_client: native\n";

Deno.test("upstream_client: native sends the gateway's calls with the native client; converse and streams relay", async () => {
  await using fake = await startFakeBedrock();
  await using gw = await startGateway({ yaml: fakeConfig(fake.url, { extra: NATIVE }), env: ENV });
  assert.equal(gw.config.upstreamClient, "native");
  const client = bedrockClient(gw.url, MASTER_KEY);
  try {
    const out = await client.send(new ConverseCommand({ modelId: "claude", messages }));
    assert.equal(out.output?.message?.content?.[0].text, "echo: Hello");
    const stream = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
    let text = "";
    for await (const e of stream.stream!) text += e.contentBlockDelta?.delta?.text ?? "";
    assert.equal(text, "Hello from fake");
    const calls = await gw.waitForCalls(2);
    assert.deepEqual(calls.map((c) => c.status), ["success", "success"]);
    assert.equal(calls[1].usage?.outputTokens, 5);
    assert.equal(fake.requests.length, 2);
    for (const r of fake.requests) {
      assert.equal(r.rejected, false, r.rejectReason);
      assert.equal(r.headers["accept-encoding"], "identity");
    }
  } finally {
    client.destroy();
  }
});

Deno.test("upstream_client: native passes a client's abort mid-stream to the upstream", async () => {
  await using fake = await startFakeBedrock();
  await using gw = await startGateway({ yaml: fakeConfig(fake.url, { extra: NATIVE }), env: ENV });
  const latch = new Latch(); // never released: only the abort ends this stream
  fake.enqueue({ kind: "stream", pauseAfterFirst: latch });
  const ac = new AbortController();
  const res = await fetch(`${gw.url}/bedrock/model/claude/converse-stream`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ messages }),
    signal: ac.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  ac.abort();
  await assert.rejects(reader.read());
  const rec = await fake.whenAborted(0);
  assert.equal(rec.aborted, true);
  const [call] = await gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
  latch.release();
});

Deno.test("upstream_client: the default is native, fetch when asked, and an unknown value stops start-up", async () => {
  await using fake = await startFakeBedrock();
  const call = (url: string) =>
    fetch(`${url}/bedrock/model/claude/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ messages }),
    }).then(async (res) => {
      await res.body?.cancel();
      return res.status;
    });
  {
    await using gw = await startGateway({ yaml: fakeConfig(fake.url), env: ENV });
    assert.equal(gw.config.upstreamClient, "native");
    assert.equal(await call(gw.url), 200);
    // The native client asks for an uncompressed answer; Deno's fetch asks for gzip and the like.
    assert.equal(fake.requests.at(-1)!.headers["accept-encoding"], "identity");
  }
  {
    await using gw = await startGateway({
      yaml: fakeConfig(fake.url, { extra: "  upstream_client: fetch\n" }),
      env: ENV,
    });
    assert.equal(gw.config.upstreamClient, "fetch");
    assert.equal(await call(gw.url), 200);
    assert.notEqual(fake.requests.at(-1)!.headers["accept-encoding"], "identity");
  }
  assert.throws(
    () => loadConfig(fakeConfig(fake.url, { extra: "  upstream_client: curl\n" }), (n) => ENV[n as keyof typeof ENV]),
    (e) => e instanceof ConfigError && e.problems.some((p) => p.startsWith("general_settings.upstream_client")),
  );
});
