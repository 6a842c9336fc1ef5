/**
 * @module
 * Measures what a hard kill (SIGKILL: no shutdown, no flush) loses of the spend accounting, and checks that a
 * SIGTERM loses nothing.
 *
 * `deno run -A scripts/hard_kill.ts [trials=10] [concurrency=16]`
 *
 * Each trial starts the real CLI (`server/main.ts`) as a child process against an in-process fake Bedrock and a
 * fresh KV file, keeps `concurrency` clients calling until ~400 calls have been answered, kills the child, then
 * opens the KV file and counts, among the calls the clients got a 200 for, those with no spend-log row, and
 * compares the spend roll-up with what those answers' usage cost. It prints both per trial and a summary.
 */
import { SPEND_LOG_PAGE } from "../server/spend/kv_layout.ts";
import { FAKE_CREDENTIALS, startFakeBedrock } from "../testing/fake_bedrock.ts";

const trials = Number(Deno.args[0] ?? 10);
const concurrency = Number(Deno.args[1] ?? 16);
const CALLS_BEFORE_KILL = 400;
const MASTER = "sk-hard-kill-master";
/** $3 in, $15 out per million tokens; the fake answers 10 in / 5 out: 105 000 nano-USD a call. */
const NANOS_PER_CALL = 10n * 3000n + 5n * 15000n;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface Outcome {
  answered: number;
  lostRows: number;
  lostNanos: bigint;
  callsPerSecond: number;
}

async function trial(signal: "SIGKILL" | "SIGTERM", fakeUrl: string): Promise<Outcome> {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/kv.sqlite`;
  const config = `${dir}/config.yaml`;
  await Deno.writeTextFile(
    config,
    `model_list:
  - model_name: m
    litellm_params:
      model: bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0
      aws_region_name: us-west-2
      aws_bedrock_runtime_endpoint: ${fakeUrl}
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
general_settings:
  master_key: ${MASTER}
`,
  );
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "server/main.ts", "--config", config, "--kv", kvPath, "--port", String(port)],
    env: { AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // Wait for the listening line, then keep draining stdout (one JSON line per call).
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`gateway exited before listening: ${seen}`);
    seen += value;
  }
  const draining = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();

  const url = `http://127.0.0.1:${port}/bedrock/model/m/converse`;
  const ok: string[] = [];
  let stop = false;
  let started = 0;
  const t0 = performance.now();
  let killedAt = 0;
  const body = JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi" }] }] });
  const worker = async () => {
    while (!stop) {
      started++;
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${MASTER}`, "content-type": "application/json" },
          body,
        });
        await res.arrayBuffer();
        if (res.status === 200) ok.push(res.headers.get("x-litellm-call-id")!);
      } catch {
        // The gateway died under this call.
      }
      if (ok.length >= CALLS_BEFORE_KILL && !stop) {
        stop = true;
        killedAt = performance.now();
        child.kill(signal);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await child.status;
  await draining;

  const kv = await Deno.openKv(kvPath);
  // Spend-log rows live many to a page (server/spend/kv_layout.ts): collect every stored request id.
  const logged = new Set<string>();
  for await (const page of kv.list<Array<{ request_id: string }>>({ prefix: [SPEND_LOG_PAGE] })) {
    for (const row of page.value) logged.add(row.request_id);
  }
  const lostRows = ok.filter((id) => !logged.has(id)).length;
  let spend = 0n;
  for await (const e of kv.list<Deno.KvU64>({ prefix: ["spend_daily", "total"] })) {
    if (e.key[4] === "spend") spend += e.value.value;
  }
  kv.close();
  await Deno.remove(dir, { recursive: true });
  const expected = BigInt(ok.length) * NANOS_PER_CALL;
  return {
    answered: ok.length,
    lostRows,
    lostNanos: expected - spend,
    callsPerSecond: ok.length / ((killedAt - t0) / 1000),
  };
}

const fake = await startFakeBedrock();
try {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    const outcomes: Outcome[] = [];
    for (let i = 0; i < (signal === "SIGTERM" ? Math.min(3, trials) : trials); i++) {
      const o = await trial(signal, fake.url);
      outcomes.push(o);
      console.log(
        `${signal} trial ${i + 1}: ${o.answered} calls answered 200 at ~${Math.round(o.callsPerSecond)}/s; ` +
          `rows missing ${o.lostRows}; spend missing ${Number(o.lostNanos) / 1e9} USD ` +
          `(${o.lostNanos / NANOS_PER_CALL} calls' worth)`,
      );
    }
    const lost = outcomes.map((o) => o.lostRows).sort((a, b) => a - b);
    const rate = outcomes.reduce((s, o) => s + o.callsPerSecond, 0) / outcomes.length;
    console.log(
      `${signal}: calls answered but not in KV — min ${lost[0]}, median ${lost[Math.floor(lost.length / 2)]}, ` +
        `max ${lost.at(-1)} (at ~${Math.round(rate)} calls/s, i.e. up to ~${
          Math.round((lost.at(-1)! / rate) * 1000)
        } ms of traffic)`,
    );
  }
} finally {
  await fake.close();
}
