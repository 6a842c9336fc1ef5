/**
 * Load balancing end to end: the real AWS SDK (or fetch) → gateway → two or three fake Bedrocks, with the
 * gateway's random source and clock injected. Retries never wait (the harness's `sleep` resolves at once).
 */
import assert from "node:assert/strict";
import {
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from "@aws-sdk/client-bedrock-runtime";
import { FAKE_CREDENTIALS, type FakeBedrock, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { bedrockClient, converseBody, MASTER_KEY, startGateway, type StartOptions } from "../testing/harness.ts";
import { manualClock, seededRandom } from "../testing/seeded_random.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
};
const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];

/** One `model_list` entry pointing at `url`, with a stable id. */
const entry = (name: string, id: string, url: string, params = "") =>
  `  - model_name: ${name}
    litellm_params: { model: bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0, aws_region_name: us-west-2, aws_bedrock_runtime_endpoint: "${url}"${
    params ? `, ${params}` : ""
  } }
    model_info: { id: ${id} }`;

const yaml = (entries: string[], routerSettings = "") =>
  `model_list:\n${entries.join("\n")}\ngeneral_settings: { master_key: ${MASTER_KEY} }\n${
    routerSettings ? `router_settings: ${routerSettings}\n` : ""
  }`;

async function fakes(n: number): Promise<FakeBedrock[] & AsyncDisposable> {
  const list = await Promise.all(Array.from({ length: n }, () => startFakeBedrock()));
  return Object.assign(list, { [Symbol.asyncDispose]: () => Promise.all(list.map((f) => f.close())).then(() => {}) });
}

const gateway = (entries: string[], routerSettings = "", opts: Partial<StartOptions> = {}) =>
  startGateway({ yaml: yaml(entries, routerSettings), env: ENV, random: seededRandom(11), ...opts });

const post = (url: string, model: string, op = "converse", key = MASTER_KEY) =>
  fetch(`${url}/bedrock/model/${model}/${op}`, {
    method: "POST",
    body: converseBody(),
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
  });

async function collect(stream: AsyncIterable<ConverseStreamOutput> | undefined): Promise<ConverseStreamOutput[]> {
  const out: ConverseStreamOutput[] = [];
  for await (const e of stream ?? []) out.push(e);
  return out;
}

interface EndpointView {
  model_id: string;
  status: string;
  cooldown_until: string | null;
  in_flight: number;
  failures_last_minute: number;
  total_requests: number;
  total_failures: number;
  last_error: { type: string; status: number } | null;
  latency_ms: number | null;
  probe?: { ok: boolean; status: number; error_type?: string };
}
interface HealthView {
  healthy_endpoints: EndpointView[];
  unhealthy_endpoints: EndpointView[];
  healthy_count: number;
  unhealthy_count: number;
}

async function health(url: string, query = ""): Promise<HealthView & { byId: Record<string, EndpointView> }> {
  const res = await fetch(`${url}/health${query}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
  assert.equal(res.status, 200);
  const body = await res.json() as HealthView;
  const byId = Object.fromEntries([...body.healthy_endpoints, ...body.unhealthy_endpoints].map((e) => [e.model_id, e]));
  return { ...body, byId };
}

Deno.test("end to end: 400 calls over two upstreams follow weight 1:3 within ±8 points (over 3 std devs)", async () => {
  await using f = await fakes(2);
  await using gw = await gateway([
    entry("claude", "light", f[0].url, "weight: 1"),
    entry("claude", "heavy", f[1].url, "weight: 3"),
  ]);
  for (let i = 0; i < 400; i++) {
    const res = await post(gw.url, "claude");
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  const heavyShare = f[1].requests.length / 400;
  assert.equal(f[0].requests.length + f[1].requests.length, 400);
  assert.ok(Math.abs(heavyShare - 0.75) <= 0.08, `heavy got ${heavyShare}`);
  // The spend record names the deployment that served each call.
  assert.equal(gw.calls.filter((c) => c.deploymentId === "heavy").length, f[1].requests.length);
  assert.ok(gw.calls.every((c) => c.retries === 0 && c.status === "success"));
});

Deno.test("one upstream answering 503: every call succeeds, the bad one cools down, stops being called, and rejoins", async () => {
  await using f = await fakes(2);
  const [bad, good] = f;
  bad.setDefault({ kind: "error", status: 503, type: "ServiceUnavailableException", message: "overloaded" });
  const clock = manualClock();
  await using gw = await gateway(
    [
      entry("claude", "bad", bad.url),
      entry("claude", "good", good.url),
    ],
    "{ allowed_fails: 3, cooldown_time: 30 }",
    { now: clock.now },
  );
  const client = bedrockClient(gw.url, MASTER_KEY, { http1: true });
  for (let i = 0; i < 30; i++) {
    const out = await client.send(new ConverseCommand({ modelId: "claude", messages }));
    assert.equal(out.output?.message?.content?.[0].text, "echo: Hello");
  }
  assert.equal(bad.requests.length, 3, "cooled down after allowed_fails failures");
  const retried = gw.calls.filter((c) => c.retries === 1);
  assert.equal(retried.length, 3);
  assert.ok(gw.calls.every((c) => c.status === "success" && c.deploymentId === "good"));

  const h = await health(gw.url);
  assert.equal(h.byId.bad.status, "cooling_down");
  assert.equal(h.byId.bad.cooldown_until, new Date(clock.now() + 30_000).toISOString());
  assert.equal(h.byId.bad.total_failures, 3);
  assert.deepEqual(h.byId.bad.last_error && { ...h.byId.bad.last_error, at: undefined }, {
    type: "ServiceUnavailableException",
    status: 503,
    at: undefined,
  });
  assert.equal(h.byId.good.status, "healthy");
  assert.equal(h.byId.good.in_flight, 0);
  assert.deepEqual(h.unhealthy_endpoints.map((e) => e.model_id), ["bad"]);

  // Still cooling down just before the end of its cooldown: the count does not move.
  clock.advance(29_000);
  for (let i = 0; i < 10; i++) await client.send(new ConverseCommand({ modelId: "claude", messages }));
  assert.equal(bad.requests.length, 3);

  // Recovered and past its cooldown: it gets calls again.
  bad.setDefault({ kind: "converse", text: "back" });
  clock.advance(1_001);
  const texts: string[] = [];
  for (let i = 0; i < 20; i++) {
    const out = await client.send(new ConverseCommand({ modelId: "claude", messages }));
    texts.push(out.output?.message?.content?.[0].text ?? "");
  }
  client.destroy();
  assert.ok(bad.requests.length > 3, "rejoined after the cooldown");
  assert.ok(texts.includes("back"));
  assert.equal((await health(gw.url)).byId.bad.status, "healthy");
});

Deno.test("one upstream refusing connections: every call succeeds and /health shows it cooling down", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadUrl = `http://127.0.0.1:${closed.addr.port}`;
  closed.close();
  await using f = await fakes(1);
  await using gw = await gateway([entry("claude", "dead", deadUrl), entry("claude", "alive", f[0].url)]);
  for (let i = 0; i < 25; i++) {
    const res = await post(gw.url, "claude");
    assert.equal(res.status, 200, await res.text());
  }
  assert.equal(f[0].requests.length, 25);
  const h = await health(gw.url);
  assert.equal(h.byId.dead.status, "cooling_down");
  assert.equal(h.byId.dead.total_requests, 3);
  assert.equal(h.byId.dead.last_error?.status, 502);
  assert.equal(gw.calls.filter((c) => c.retries === 1).length, 3);
});

Deno.test("a timed-out attempt is abandoned (its connection closed) and retried on another deployment", async () => {
  await using f = await fakes(2);
  f[0].setDefault({ kind: "hang" });
  await using gw = await gateway(
    [
      entry("claude", "slow", f[0].url, "timeout: 0.05"),
      entry("claude", "fast", f[1].url),
    ],
    "",
    { random: () => 0 },
  ); // the first deployment is always the first choice
  const res = await post(gw.url, "claude");
  assert.equal(res.status, 200, await res.text());
  await f[0].whenAborted(0);
  assert.equal(f[1].requests.length, 1);
  assert.equal(gw.calls[0].deploymentId, "fast");
  assert.equal(gw.calls[0].retries, 1);
});

Deno.test("retry budget exhausted → the fallback group serves the call (AWS SDK)", async () => {
  await using f = await fakes(2);
  f[0].setDefault({ kind: "error", status: 503, type: "ServiceUnavailableException", message: "down" });
  f[1].setDefault({ kind: "converse", text: "from the fallback" });
  await using gw = await gateway(
    [entry("primary", "p1", f[0].url), entry("backup", "b1", f[1].url)],
    `{ fallbacks: [{ primary: [backup] }] }`,
  );
  const client = bedrockClient(gw.url, MASTER_KEY);
  const out = await client.send(new ConverseCommand({ modelId: "primary", messages }));
  client.destroy();
  assert.equal(out.output?.message?.content?.[0].text, "from the fallback");
  assert.equal(f[0].requests.length, 3, "1 + num_retries (2) attempts on the primary group");
  assert.equal(f[1].requests.length, 1);
  const [call] = gw.calls;
  assert.equal(call.modelName, "primary");
  assert.equal(call.deploymentId, "b1");
  assert.equal(call.retries, 3);
  assert.equal(call.status, "success");
});

Deno.test("everything failing: the client gets the last upstream error, typed (ThrottlingException, ServiceUnavailableException)", async () => {
  await using f = await fakes(2);
  f[0].setDefault({ kind: "error", status: 503, type: "ServiceUnavailableException", message: "down" });
  f[1].setDefault({ kind: "error", status: 429, type: "ThrottlingException", message: "slow down" });
  await using gw = await gateway(
    [entry("primary", "p1", f[0].url), entry("backup", "b1", f[1].url), entry("solo", "s1", f[0].url)],
    `{ fallbacks: [{ primary: [backup] }] }`,
  );
  const client = bedrockClient(gw.url, MASTER_KEY);
  await assert.rejects(client.send(new ConverseCommand({ modelId: "primary", messages })), (e) => {
    assert.ok(e instanceof ThrottlingException, String(e));
    assert.equal(e.message, "slow down");
    return true;
  });
  await assert.rejects(client.send(new ConverseCommand({ modelId: "solo", messages })), (e) => {
    assert.ok(e instanceof ServiceUnavailableException, String(e));
    assert.equal(e.message, "down");
    return true;
  });
  client.destroy();
  assert.equal(gw.calls[0].status, "failure");
  assert.equal(gw.calls[0].errorType, "ThrottlingException");
  assert.equal(gw.calls[0].retries, 5);
  assert.equal(gw.calls[0].deploymentId, "b1");
  assert.equal(gw.calls[1].errorType, "ServiceUnavailableException");
  assert.equal(gw.calls[1].retries, 2);
});

Deno.test("an upstream validation error is not retried, not fallen back from, and not held against the deployment", async () => {
  await using f = await fakes(2);
  f[0].setDefault({ kind: "error", status: 400, type: "ValidationException", message: "maxTokens too large" });
  f[1].setDefault({ kind: "error", status: 400, type: "ValidationException", message: "maxTokens too large" });
  await using gw = await gateway(
    [entry("claude", "c1", f[0].url), entry("claude", "c2", f[1].url), entry("other", "o1", f[1].url)],
    `{ fallbacks: [{ claude: [other] }] }`,
  );
  const client = bedrockClient(gw.url, MASTER_KEY);
  await assert.rejects(
    client.send(new ConverseCommand({ modelId: "claude", messages })),
    (e) => e instanceof ValidationException && e.message === "maxTokens too large",
  );
  client.destroy();
  assert.equal(f[0].requests.length + f[1].requests.length, 1);
  assert.equal(gw.calls[0].retries, 0);
  const h = await health(gw.url);
  assert.equal(h.byId.c1.total_failures + h.byId.c2.total_failures, 0);
});

Deno.test("streams: an error response before any byte is retried; a stream that already sent bytes is not", async () => {
  await using f = await fakes(1);
  const fake = f[0];
  await using gw = await gateway([entry("claude", "s1", fake.url), entry("claude", "s2", fake.url)]);
  const client = bedrockClient(gw.url, MASTER_KEY, { http1: true });

  fake.enqueue({ kind: "error", status: 503, type: "ServiceUnavailableException", message: "busy" });
  const ok = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  const events = await collect(ok.stream);
  assert.equal(events.map((e) => e.contentBlockDelta?.delta?.text ?? "").join(""), "Hello from fake");
  assert.equal(fake.requests.length, 2, "retried before the first byte");
  const [first] = await gw.waitForCalls(1);
  assert.equal(first.retries, 1);
  assert.equal(first.status, "success");

  // Bytes reached the client, then the upstream failed: the client sees the failure, nothing is retried.
  fake.enqueue({ kind: "stream", exceptionAt: { index: 2, type: "throttlingException", message: "mid-stream" } });
  const broken = await client.send(new ConverseStreamCommand({ modelId: "claude", messages }));
  const seen: ConverseStreamOutput[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of broken.stream ?? []) seen.push(e);
    })(),
    (e) => e instanceof ThrottlingException && e.message === "mid-stream",
  );
  client.destroy();
  assert.ok(seen.length >= 2, "the client had received events");
  const calls = await gw.waitForCalls(2);
  assert.equal(fake.requests.length, 3, "no retry after bytes were sent");
  assert.equal(calls[1].retries, 0);
  assert.equal(calls[1].errorType, "ThrottlingException");
  const h = await health(gw.url);
  assert.equal(h.byId.s1.in_flight + h.byId.s2.in_flight, 0, "finished streams free their in-flight slot");
});

Deno.test("GET /health: master key only (LiteLLM error shape), no model called; ?probe=true calls each deployment once", async () => {
  await using f = await fakes(2);
  f[1].setDefault({ kind: "error", status: 403, type: "AccessDeniedException", message: "no model access" });
  const entries = [
    entry("claude", "ok1", f[0].url),
    entry("claude", "denied", f[1].url),
    `  - model_name: demo\n    litellm_params: { model: bedrock/x, mock_response: hi }\n    model_info: { id: mock1 }`,
    `  - model_name: broken\n    litellm_params: { model: bedrock/x, aws_region_name: us-west-2, aws_access_key_id: os.environ/NOPE, aws_secret_access_key: s }\n    model_info: { id: unavail }`,
  ];
  await using gw = await gateway(entries);

  const anonymous = await fetch(`${gw.url}/health`);
  assert.equal(anonymous.status, 401);
  const err = await anonymous.json();
  assert.equal(err.error.type, "auth_error");
  assert.equal(err.error.code, "401");
  assert.equal((await fetch(`${gw.url}/health`, { headers: { authorization: "Bearer sk-wrong" } })).status, 401);

  const plain = await health(gw.url);
  assert.equal(f[0].requests.length + f[1].requests.length, 0, "no model called without probe");
  assert.deepEqual(plain.healthy_endpoints.map((e) => e.model_id).sort(), ["denied", "mock1", "ok1"]);
  assert.deepEqual(plain.unhealthy_endpoints.map((e) => e.model_id), ["unavail"]);
  assert.equal(plain.byId.unavail.status, "unavailable");

  const probed = await health(gw.url, "?probe=true");
  assert.equal(f[0].requests.length, 1);
  assert.equal(f[1].requests.length, 1);
  const sent = JSON.parse(new TextDecoder().decode(f[0].requests[0].body));
  assert.equal(sent.inferenceConfig.maxTokens, 1);
  assert.equal(f[0].requests[0].rejected, false, "probes are signed like any call");
  assert.deepEqual(probed.byId.ok1.probe && { ok: probed.byId.ok1.probe.ok, status: probed.byId.ok1.probe.status }, {
    ok: true,
    status: 200,
  });
  assert.equal(probed.byId.denied.status, "probe_failed");
  assert.equal(probed.byId.denied.probe?.error_type, "AccessDeniedException");
  assert.ok(probed.unhealthy_endpoints.some((e) => e.model_id === "denied"));
  assert.equal(probed.byId.mock1.probe?.ok, true);
  // A probe is a real, billed call: it is accounted once, tagged, and does not touch the router's health.
  const probes = gw.calls.filter((c) => c.requestTags?.includes("health_probe"));
  assert.equal(probes.length, 2);
  assert.equal(probes.find((c) => c.deploymentId === "ok1")?.usage?.totalTokens, 15);
  assert.equal(probed.byId.denied.total_failures, 0);
});

Deno.test("per-minute usage is published to the shared KV (on close at the latest) for the other instances", async () => {
  await using f = await fakes(1);
  const kv = await Deno.openKv(":memory:");
  try {
    const gw = await gateway([entry("claude", "capped", f[0].url, "rpm: 100")], "", { kv });
    for (let i = 0; i < 2; i++) await (await post(gw.url, "claude")).body?.cancel();
    await gw.close();
    const rows = await Array.fromAsync(kv.list<{ requests: number; tokens: number }>({ prefix: ["router_usage"] }));
    assert.equal(rows.length, 1);
    assert.equal(rows[0].key[2], "capped");
    assert.deepEqual(rows[0].value, { requests: 2, tokens: 30 });
  } finally {
    kv.close();
  }
});
