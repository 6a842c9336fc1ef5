/**
 * Shutdown is bounded: the front door stops accepting and drains; when the grace period is over, the streams still
 * running end with a well-formed `serviceUnavailableException` event (the SDK raises the retryable
 * `ServiceUnavailableException`) and are accounted for; then accounting is flushed — a stream whose client is not
 * reading included. In-process with the grace timer fired by hand, and once end to end with SIGTERM sent to
 * `server/main.ts`.
 */
import assert from "node:assert/strict";
import { ConverseStreamCommand, ServiceUnavailableException } from "@aws-sdk/client-bedrock-runtime";
import { loadConfig } from "../server/config/load.ts";
import { createGateway } from "../server/gateway.ts";
import { connectionServer } from "../server/http/connection_server.ts";
import { serveFrontDoor } from "../server/http/front_door.ts";
import { createLogger } from "../server/core/log.ts";
import type { CallRecord } from "../server/core/call_record.ts";
import { FAKE_CREDENTIALS, Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { bedrockClient, fakeConfig, MASTER_KEY } from "../testing/harness.ts";
import { startGatewayProcess } from "../testing/gateway_process.ts";
import { ManualTimers } from "./manual_timers.ts";

const ENV: Record<string, string> = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
};
const messages = [{ role: "user" as const, content: [{ text: "hi" }] }];

Deno.test("grace period over: a running stream ends with a serviceUnavailableException event, is accounted, then flushed", async () => {
  const fake = await startFakeBedrock();
  const config = loadConfig(fakeConfig(fake.url), (n) => ENV[n]);
  const kv = await Deno.openKv(":memory:");
  const calls: CallRecord[] = [];
  const gateway = createGateway({ config, kv, log: createLogger({ write: () => {} }), onCall: (r) => calls.push(r) });
  const timers = new ManualTimers();
  const door = serveFrontDoor({
    hostname: "127.0.0.1",
    port: 0,
    handler: gateway.fetch,
    log: createLogger({ write: () => {} }),
    maxConnections: 10,
    headerTimeoutMs: 60_000,
    keepAliveTimeoutMs: 60_000,
    bodyTimeoutMs: 30_000,
    bodyMinBytesPerSecond: 65_536,
    serveConnection: connectionServer()!,
    timers,
  });
  const latch = new Latch();
  fake.enqueue({ kind: "stream", pauseAfterFirst: latch }); // the rest never comes until released
  const client = bedrockClient(`http://127.0.0.1:${door.addr.port}`, MASTER_KEY, { http1: true });
  const out = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  const it = out.stream![Symbol.asyncIterator]();
  assert.deepEqual((await it.next()).value, { messageStart: { role: "assistant" } });

  let graceOver = 0;
  const done = door.shutdown({
    graceMs: 7777,
    onGraceOver: () => {
      graceOver++;
      gateway.endStreams();
    },
  });
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: door.addr.port }), "no new connections");
  await timers.armed(7777);
  timers.fire(7777);
  await assert.rejects(
    (async () => {
      for (let r = await it.next(); !r.done; r = await it.next()) { /* the rest of the stream, if any */ }
    })(),
    (e) => e instanceof ServiceUnavailableException && /shutting down/.test(e.message),
  );
  client.destroy();
  const report = await done;
  assert.equal(graceOver, 1);
  assert.equal(report.leftAfterGrace, 1);
  assert.equal(report.forced, 0, "the stream ended by itself once told to");
  assert.equal(calls.length, 1);
  assert.equal(calls[0].errorType, "ServiceUnavailableException");
  // Bedrock generated up to the cut: the call is billed an estimate, not 0.
  assert.equal(calls[0].usageEstimated, true);
  assert.ok((calls[0].usage?.inputTokens ?? 0) > 0, "the request's input is billed");
  await gateway.close();
  kv.close();
  latch.release();
  await fake.close();
});

Deno.test("close(): a stream whose client is not reading is ended and billed before the ledger closes", async () => {
  const fake = await startFakeBedrock();
  const config = loadConfig(fakeConfig(fake.url), (n) => ENV[n]);
  const kv = await Deno.openKv(":memory:");
  const calls: CallRecord[] = [];
  const quiet = createLogger({ write: () => {} });
  const gateway = createGateway({ config, kv, log: quiet, onCall: (r) => calls.push(r) });
  const headers = { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" };
  // Mid-generation: one event, then nothing (else the native client can read the whole answer at once, usage included).
  fake.enqueue({ kind: "stream", stallAfter: 1 });
  const res = await gateway.fetch(
    new Request("http://gw/bedrock/model/claude/converse-stream", {
      method: "POST",
      headers,
      body: JSON.stringify({ messages }),
    }),
  );
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  await reader.read(); // the first event; then the client reads nothing more (no read pending)
  // No endStreams() first (`deno serve`, Deno Deploy): close() ends the stream itself, then closes the ledger.
  await gateway.close();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].errorType, "ServiceUnavailableException");
  assert.equal(calls[0].usageEstimated, true);
  // Written before the ledger closed: another gateway on the same KV finds the row.
  const again = createGateway({ config, kv, log: quiet });
  const logs = await (await again.fetch(new Request("http://gw/spend/logs", { headers }))).json();
  assert.equal(logs.length, 1);
  assert.equal(logs[0].usage_estimated, true);
  assert.ok(logs[0].spend > 0);
  await again.close();
  await reader.cancel();
  kv.close();
  await fake.close();
});

Deno.test("SIGTERM with a stream in flight: the process drains for shutdown_grace_ms, ends the stream and exits 0", async () => {
  const fake = await startFakeBedrock();
  fake.setDefault({ kind: "stream", stallAfter: 1 }); // one frame, then silence: a stream that never ends
  const dir = await Deno.makeTempDir();
  const configPath = `${dir}/config.yaml`;
  await Deno.writeTextFile(
    configPath,
    fakeConfig(fake.url, { extra: "  shutdown_grace_ms: 300\nrouter_settings:\n  stream_timeout: 600\n" }),
  );
  await using p = startGatewayProcess({
    args: ["--config", configPath, "--port", "0", "--host", "127.0.0.1", "--kv", ":memory:"],
    env: ENV,
  });
  const port = await p.port();
  const res = await fetch(`http://127.0.0.1:${port}/bedrock/model/claude/converse-stream`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ messages }),
  });
  const reader = res.body!.getReader();
  await reader.read(); // the first frame
  p.child.kill("SIGTERM");
  let body = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) body += new TextDecoder().decode(r.value);
  assert.match(body, /serviceUnavailableException/);
  assert.match(body, /The gateway is shutting down/);
  const { code, stdout: out } = await p.ended();
  assert.equal(code, 0);
  assert.match(out, /"msg":"shutting down: no new connections; draining"/);
  assert.match(out, /"msg":"shutdown grace period over/);
  assert.match(out, /"msg":"call".*"call_type":"converse-stream"/, "the stream was accounted before exit");
  await Deno.remove(dir, { recursive: true });
  await fake.close();
});
