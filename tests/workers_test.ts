/**
 * `deno task start --workers 2`, end to end as a process (`server/cli/supervisor.ts`, `worker.ts`): two isolates
 * serve one port (SO_REUSEPORT), each a whole gateway on the one KV file. Under load every call the upstream served is
 * billed exactly once, and SIGTERM drains and flushes every worker; 50 calls at once on a budget for 10 let at most 11
 * through; a deployment failing in one worker cools down in both (the routers' news relayed by the main isolate); one
 * stdout, no torn line. The fake Bedrock runs in this process, on 127.0.0.1; calls open new connections (no keep-alive
 * pool) so the kernel spreads them over the workers.
 */
import assert from "node:assert/strict";
import { type FakeBedrock, Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { type GatewayProcess, startGatewayProcess } from "../testing/gateway_process.ts";
import { fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { adminCall, ENV, PRICE_PARAMS } from "./keys_helpers.ts";

/** At PRICE_PARAMS ($1 / $2 per million tokens): the fake's default 10 in + 5 out = 20 µ$. */
const DEFAULT_CALL_NANOS = 20_000n;

interface Workers extends AsyncDisposable {
  fake: FakeBedrock;
  gateway: GatewayProcess;
  url: string;
  kvPath: string;
  yaml: string;
  /** Stops the process with SIGTERM: exit code and every stdout line. */
  stop(): Promise<{ code: number; lines: string[] }>;
}

async function startWorkers(yaml: (fakeUrl: string) => string): Promise<Workers> {
  const fake = await startFakeBedrock();
  const dir = await Deno.makeTempDir({ prefix: "workers-test-" });
  const kvPath = `${dir}/kv.sqlite`;
  const config = yaml(fake.url);
  await Deno.writeTextFile(`${dir}/config.yaml`, config);
  const gateway = startGatewayProcess({
    args: ["--workers", "2", "--config", `${dir}/config.yaml`, "--kv", kvPath, "--port", "0", "--host", "127.0.0.1"],
    env: ENV,
  });
  const line = await gateway.waitFor(/listening on/);
  assert.match(line, /with 2 workers/);
  let ended: { code: number; lines: string[] } | undefined;
  const stop = async () => {
    if (!ended) {
      gateway.child.kill("SIGTERM");
      const { code, stdout } = await gateway.ended();
      ended = { code, lines: stdout.split("\n").filter(Boolean) };
    }
    return ended;
  };
  return {
    fake,
    gateway,
    url: `http://127.0.0.1:${await gateway.port()}`,
    kvPath,
    yaml: config,
    stop,
    [Symbol.asyncDispose]: async () => {
      await gateway[Symbol.asyncDispose]();
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A fetch client that keeps no idle connection: each call opens its own, which the kernel gives to either worker. */
const fresh = () => Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

/** Every stdout line is whole: a JSON log line, or the one listening line. Returns the log lines, parsed. */
function logLines(lines: string[]): Array<Record<string, unknown>> {
  const parsed: Array<Record<string, unknown>> = [];
  for (const line of lines) {
    if (line.startsWith("Converse Gateway listening on")) continue;
    try {
      parsed.push(JSON.parse(line));
    } catch {
      assert.fail(`a torn or foreign line on stdout: ${line.slice(0, 200)}`);
    }
  }
  return parsed;
}

/** The key's spend in KV (nano-USD), read once the process has flushed and exited. */
async function keySpend(kvPath: string, token: string): Promise<bigint> {
  await using kv = await Deno.openKv(kvPath);
  const id = (await kv.get<{ id: string }>(["keys", token])).value!.id;
  let total = 0n;
  for await (const e of kv.list<Deno.KvU64>({ prefix: ["key_spend", id] })) total += e.value.value;
  return total;
}

Deno.test("2 workers under load: every call the upstream served is billed once; SIGTERM drains and flushes both", async () => {
  await using w = await startWorkers((url) => fakeConfig(url, { models: [{ name: "claude", params: PRICE_PARAMS }] }));
  const { key, token } = (await adminCall(w.url, "POST", "/key/generate", {})).json;
  const newConnections = fresh();
  const CALLS = 240;
  const CONCURRENCY = 24;
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let i = next++; i < CALLS; i = next++) {
      const stream = i % 5 === 0;
      const res = await fetch(`${w.url}/bedrock/model/claude/${stream ? "converse-stream" : "converse"}`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: [{ text: `call ${i}` }] }] }),
        // Half on new connections (spread by the kernel), half kept alive (each stays with its worker).
        ...(i % 2 ? { client: newConnections } : {}),
      });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
  }));
  assert.deepEqual(new Set(statuses), new Set([200]), "every call answered");
  const served = w.fake.requests.filter((r) => r.status === 200).length;
  assert.equal(served, CALLS, "the upstream served every call once");

  // Whichever worker a scrape reaches, /metrics counts the whole process's calls (the others' gathered through main).
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${w.url}/metrics`, {
      headers: { authorization: `Bearer ${MASTER_KEY}` },
      client: newConnections,
    });
    const text = await res.text();
    const counted = [...text.matchAll(/^litellm_requests_metric_total\{[^}]*status="success"[^}]*\} (\d+)$/gm)]
      .reduce((sum, m) => sum + Number(m[1]), 0);
    assert.equal(counted, CALLS, `scrape ${i}: litellm_requests_metric_total`);
    assert.match(text, /^litellm_deployment_state\{[^}]*\} 0$/m, "a gauge read alike by every worker: not summed");
  }
  newConnections.close();

  const { code, lines } = await w.stop();
  assert.equal(code, 0, "SIGTERM: exit 0 once every worker drained and flushed");
  const log = logLines(lines);
  const calls = log.filter((l) => l.msg === "call");
  assert.equal(calls.length, CALLS, "one log line per call");
  const byWorker = [0, 1].map((i) => calls.filter((l) => l.worker === i).length);
  assert.ok(byWorker.every((n) => n > 0), `both workers served calls: ${byWorker}`);
  for (const i of [0, 1]) {
    assert.ok(log.some((l) => l.msg === "shutting down: no new connections; draining" && l.worker === i));
  }

  // What the workers wrote to KV, read by a fresh gateway on the same file.
  assert.equal(await keySpend(w.kvPath, token), BigInt(served) * DEFAULT_CALL_NANOS, "the key's spend: exact");
  await using reader = await startGateway({ yaml: w.yaml, env: ENV, kvPath: w.kvPath });
  const rows = (await adminCall(reader.url, "GET", "/spend/logs?page_size=1000")).json as Array<
    { request_id: string; spend: number }
  >;
  assert.equal(rows.length, served, "one spend row per served call");
  assert.equal(new Set(rows.map((r) => r.request_id)).size, served);
});

Deno.test("2 workers: 50 calls at once on a budget for 10 let at most 11 through, each served and billed once", async () => {
  const answer = new Latch();
  await using w = await startWorkers((url) => fakeConfig(url, { models: [{ name: "claude", params: PRICE_PARAMS }] }));
  // 4,000 characters (an estimate of 1,001 input tokens) and maxTokens 500; the fake reports 1,000 in / 500 out, so
  // a call never uses more than it holds. At PRICE_PARAMS one call costs 2,000 µ$.
  const body = JSON.stringify({
    messages: [{ role: "user", content: [{ text: "word ".repeat(799) + "end." }] }],
    inferenceConfig: { maxTokens: 500 },
  });
  const callNanos = 2_000_000n;
  w.fake.setDefault({ kind: "converse", usage: { inputTokens: 1000, outputTokens: 500 }, waitFor: answer });
  const { key, token } = (await adminCall(w.url, "POST", "/key/generate", { max_budget: 10 * 0.002 })).json;

  // Each call is either refused or reaches the fake (where it waits): once all 50 are decided, the fake answers.
  const CALLS = 50;
  let decided = 0;
  const allDecided = new Latch();
  const tick = () => {
    if (++decided === CALLS) allDecided.release();
  };
  w.fake.handler = () => {
    tick();
    return undefined;
  };
  const client = fresh();
  const running = Array.from({ length: CALLS }, async () => {
    const res = await fetch(`${w.url}/bedrock/model/claude/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body,
      client,
    });
    await res.arrayBuffer();
    if (res.status !== 200) tick();
    return res.status;
  });
  await allDecided.wait();
  answer.release();
  const statuses = await Promise.all(running);
  client.close();
  const passed = statuses.filter((s) => s === 200).length;
  assert.ok(passed <= 11, `${passed} calls passed`);
  assert.ok(passed >= 1, "the budget is used");
  assert.deepEqual([...new Set(statuses.filter((s) => s !== 200))], [429], "refused while calls in flight hold it");
  assert.equal(w.fake.requests.length, passed, "the fake served exactly the calls that passed");

  const { code, lines } = await w.stop();
  assert.equal(code, 0);
  const refusedBy = new Set(logLines(lines).filter((l) => l.msg === "call").map((l) => l.worker));
  assert.ok(refusedBy.size >= 1);
  assert.equal(await keySpend(w.kvPath, token), BigInt(passed) * callNanos, "every call that passed billed once");
});

Deno.test("2 workers: a deployment failing in one worker cools down in both (news relayed by the main isolate)", async () => {
  // Group m: deployment a (weight 100: nearly always picked first, it fails) and b (answers).
  await using w = await startWorkers((url) =>
    fakeConfig(url, {
      models: [
        { name: "m", model: "bedrock/anthropic.model-a", params: `${PRICE_PARAMS}\n      weight: 100` },
        { name: "m", model: "bedrock/anthropic.model-b", params: PRICE_PARAMS },
      ],
      extra: "router_settings:\n  allowed_fails: 1\n  cooldown_time: 600\n",
    })
  );
  w.fake.handler = (req) =>
    req.modelId.endsWith("model-a")
      ? { kind: "error", status: 503, type: "ServiceUnavailableException", message: "down" }
      : undefined;
  const client = fresh();
  const call = async () => {
    const res = await fetch(`${w.url}/bedrock/model/m/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi" }] }] }),
      client,
    });
    await res.arrayBuffer();
    return res.status;
  };
  const toA = () => w.fake.requests.filter((r) => r.modelId.endsWith("model-a")).length;
  // Until a worker has tried a (the first call, almost surely): it fails there, the call is retried on b.
  for (let i = 0; i < 20 && toA() === 0; i++) assert.equal(await call(), 200);
  assert.equal(toA(), 1);
  // Now both workers know: 40 calls on new connections (both workers serve some), none of them to a.
  const before = w.gateway.stdout().split("\n").length;
  for (let i = 0; i < 40; i++) assert.equal(await call(), 200);
  assert.equal(toA(), 1, "no worker tried the deployment cooling down again");
  for (let i = 0; i < 10; i++) {
    const health = await fetch(`${w.url}/health`, { headers: { authorization: `Bearer ${MASTER_KEY}` }, client });
    const { unhealthy_endpoints } = await health.json();
    assert.deepEqual(unhealthy_endpoints.map((e: { status: string }) => e.status), ["cooling_down"]);
  }
  client.close();
  const { code, lines } = await w.stop();
  assert.equal(code, 0);
  const workers = new Set(logLines(lines.slice(before - 1)).filter((l) => l.msg === "call").map((l) => l.worker));
  assert.deepEqual([...workers].sort(), [0, 1], "both workers served calls after the failure");
});
