/**
 * @module
 * Measures what large and hostile request bodies cost the gateway: peak memory, how long a health check waits
 * meanwhile, and whether the process survives.
 *
 * `deno run -A scripts/body_pressure.ts [concurrency=10] [mib=19.9] [upstream_client=native]`
 *
 * Starts the real CLI (`server/main.ts`) as a child process in front of a minimal Bedrock sink, then sends, in
 * three rounds, `concurrency` bodies of `mib` MiB at once with the master key to `/converse`: arrays nested as deep
 * as the size allows (`[[[[…]]]]`), one long text, and a flat array of a million-odd numbers (a body that is valid
 * JSON, shallow, and wrong for the schema). Meanwhile a prober asks `/health/liveliness` every 20 ms. Reported per
 * round: the answers' statuses, the child's peak RSS (`VmHWM`) and its RSS after the round, and the longest
 * liveliness wait. Limits in force are the defaults (`max_body_bytes_in_flight` 128 MiB: six of ten
 * 19.9 MiB bodies at once, the others get a 503; `max_json_depth` 128; `max_json_values` 250,000).
 */

import { startGatewayProcess } from "../testing/gateway_process.ts";

const concurrency = Number(Deno.args[0] ?? 10);
const mib = Number(Deno.args[1] ?? 19.9);
/** `native` (the gateway's default) or `fetch`: general_settings.upstream_client. */
const client = Deno.args[2] ?? "native";
const size = Math.floor(mib * 1024 * 1024);
const MASTER = "sk-body-pressure-master";

// Bedrock is played by a minimal sink in its own process (it drains the body and answers a fixed Converse JSON):
// the fake Bedrock verifies SigV4 by hashing each 20 MiB body in JavaScript, which would take the CPU the
// measurement is about on a small machine.
const sinkCode = `
  const answer = JSON.stringify({ output: { message: { role: "assistant", content: [{ text: "ok" }] } },
    stopReason: "end_turn", usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 }, metrics: { latencyMs: 1 } });
  let calls = 0;
  Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: (a) => console.log("port " + a.port) }, async (req) => {
    await req.arrayBuffer();
    if (new URL(req.url).pathname === "/calls") return new Response(String(calls));
    calls++;
    return new Response(answer, { headers: { "content-type": "application/json" } });
  });`;
const sink = new Deno.Command(Deno.execPath(), { args: ["eval", sinkCode], stdout: "piped" }).spawn();
const sinkLines = sink.stdout.pipeThrough(new TextDecoderStream()).getReader();
const sinkUrl = `http://127.0.0.1:${/port (\d+)/.exec((await sinkLines.read()).value ?? "")![1]}`;
const dir = await Deno.makeTempDir();
await Deno.writeTextFile(
  `${dir}/config.yaml`,
  `model_list:
  - model_name: m
    litellm_params:
      model: bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0
      aws_region_name: us-west-2
      aws_bedrock_runtime_endpoint: ${sinkUrl}
general_settings:
  master_key: ${MASTER}
  upstream_client: ${client}
`,
);
const gateway = startGatewayProcess({
  args: ["--config", `${dir}/config.yaml`, "--kv", ":memory:", "--port", "0", "--host", "127.0.0.1"],
  env: { AWS_ACCESS_KEY_ID: "AKIAEXAMPLEKEY000001", AWS_SECRET_ACCESS_KEY: "example/secret/key/for/the/sink/0000001" },
});
const child = gateway.child;
const base = `http://127.0.0.1:${await gateway.port()}`;

function status(field: "VmHWM" | "VmRSS"): number {
  const text = Deno.readTextFileSync(`/proc/${child.pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)![1]) / 1024;
}

function deep(bytes: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(bytes);
  b.fill(0x5b, 0, bytes >> 1);
  b.fill(0x5d, bytes >> 1);
  return b;
}
function text(bytes: number): Uint8Array<ArrayBuffer> {
  const head = '{"messages":[{"role":"user","content":[{"text":"';
  const tail = '"}]}]}';
  const b = new Uint8Array(bytes).fill(0x61);
  b.set(new TextEncoder().encode(head));
  b.set(new TextEncoder().encode(tail), bytes - tail.length);
  return b;
}
function wide(bytes: number): Uint8Array<ArrayBuffer> {
  const head = '{"messages":[';
  const b = new Uint8Array(bytes);
  b.set(new TextEncoder().encode(head));
  for (let i = head.length; i < bytes - 2; i += 2) (b[i] = 0x31, b[i + 1] = 0x2c);
  b[bytes - 3] = 0x31;
  b[bytes - 2] = 0x5d;
  b[bytes - 1] = 0x7d;
  return b;
}

// The prober runs in its own process: this one is busy sending bodies (and playing Bedrock), which would delay its
// own timers and fetches and be counted as the gateway's.
const probeCode = `
  const base = ${JSON.stringify(base)};
  for (;;) {
    const t0 = performance.now();
    const r = await fetch(base + "/health/liveliness");
    await r.body?.cancel();
    console.log((performance.now() - t0).toFixed(1));
    await new Promise((r) => setTimeout(r, 20));
  }`;
const prober = new Deno.Command(Deno.execPath(), { args: ["eval", probeCode], stdout: "piped", stderr: "null" })
  .spawn();
let maxWait = 0;
(async () => {
  let buf = "";
  for await (const chunk of prober.stdout.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) maxWait = Math.max(maxWait, Number(l));
  }
})();

async function round(name: string, body: Uint8Array<ArrayBuffer>) {
  maxWait = 0;
  const statuses = await Promise.all(Array.from({ length: concurrency }, async () => {
    try {
      const r = await fetch(`${base}/bedrock/model/m/converse`, {
        method: "POST",
        headers: { authorization: `Bearer ${MASTER}`, "content-type": "application/json" },
        body,
      });
      await r.body?.cancel();
      return r.status;
    } catch (e) {
      return (e as Error).name;
    }
  }));
  await new Promise((r) => setTimeout(r, 300)); // the prober's last answers
  const counts: Record<string, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  console.log(
    `${name.padEnd(6)} ${concurrency} × ${mib} MiB: statuses ${JSON.stringify(counts)}; peak RSS ${
      status("VmHWM").toFixed(0)
    } MiB; RSS after ${status("VmRSS").toFixed(0)} MiB; longest liveliness wait ${maxWait.toFixed(0)} ms`,
  );
}

console.log(`baseline: RSS ${status("VmRSS").toFixed(0)} MiB`);
await round("deep", deep(size));
await round("text", text(size));
await round("wide", wide(size));
prober.kill();
await prober.status;
const alive = (await fetch(`${base}/health/liveliness`)).status === 200;
const upstreamCalls = await (await fetch(`${sinkUrl}/calls`)).text();
console.log(`process alive: ${alive}; upstream calls: ${upstreamCalls}`);
child.kill("SIGTERM");
await gateway.ended();
sink.kill();
await sink.status;
await Deno.remove(dir, { recursive: true });
