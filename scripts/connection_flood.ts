/**
 * @module
 * Measures the front door under a connection flood with few descriptors: idle connections and slowloris connections
 * (headers sent a line at a time, never finished) from a client without a key, while a client with a key keeps
 * calling.
 *
 * `deno run -A scripts/connection_flood.ts [idle=2000] [slow=2000] [seconds=40] [nofile=1024] [max_connections]`
 *
 * Starts the real CLI (`server/main.ts`) as a child process under `ulimit -n <nofile>` (soft and hard) with a mock
 * model and default front-door settings, opens the attack connections over the first seconds, keeps them alive (a
 * slowloris connection sends one more header line every 5 s), and meanwhile makes a keyed call every 100 ms on a
 * fresh connection. Reports the keyed calls (answered, failed, latency), how many attack connections the gateway had
 * closed at 10-second marks and at the end, and whether the process is still alive.
 */
import { startGatewayProcess } from "../testing/gateway_process.ts";

const idle = Number(Deno.args[0] ?? 2000);
const slow = Number(Deno.args[1] ?? 2000);
const seconds = Number(Deno.args[2] ?? 40);
const nofile = Number(Deno.args[3] ?? 1024);
/** Unset: the default (from the descriptor limit). Set above the limit to make accept itself fail (EMFILE). */
const maxConnections = Deno.args[4];
const MASTER = "sk-connection-flood-master";

const dir = await Deno.makeTempDir();
await Deno.writeTextFile(
  `${dir}/config.yaml`,
  `model_list:
  - model_name: demo
    litellm_params: { model: bedrock/x, mock_response: hi, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }
general_settings:
  master_key: ${MASTER}
${maxConnections ? `  max_connections: ${maxConnections}\n` : ""}`,
);
const gateway = startGatewayProcess({
  shell: `ulimit -n ${nofile};`,
  args: ["--config", `${dir}/config.yaml`, "--kv", ":memory:", "--port", "0", "--host", "127.0.0.1"],
});
const child = gateway.child;
const port = await gateway.port();
const base = `http://127.0.0.1:${port}`;
const frontDoor = gateway.stdout().split("\n").find((l) => l.includes('"front door"'));
console.log(`gateway: ${frontDoor}`);

// A virtual key, as an app would have.
const gen = await fetch(`${base}/key/generate`, {
  method: "POST",
  headers: { authorization: `Bearer ${MASTER}`, "content-type": "application/json" },
  body: "{}",
});
const key = (await gen.json()).key as string;

interface Attack {
  conn: Deno.Conn;
  closed: boolean;
  slow: boolean;
}
const attacks: Attack[] = [];
const watch = (a: Attack) => {
  (async () => {
    const buf = new Uint8Array(1024);
    try {
      while ((await a.conn.read(buf)) !== null);
    } catch {
      // reset
    }
    a.closed = true;
  })();
};
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;

// Open the attack connections over the first ~4 seconds (a connect that fails counts as refused).
let refused = 0;
const opening = (async () => {
  for (let i = 0; i < idle + slow; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const a = { conn, closed: false, slow: i % 2 === 1 && i / 2 < slow };
      if (a.slow) {
        await conn.write(new TextEncoder().encode("POST /bedrock/model/demo/converse HTTP/1.1\r\nHost: gw\r\n"));
      }
      attacks.push(a);
      watch(a);
    } catch {
      refused++;
    }
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 100));
  }
})();
const trickle = setInterval(() => {
  for (const a of attacks) {
    if (a.slow && !a.closed) {
      a.conn.write(new TextEncoder().encode(`X-Slow-${Math.floor(elapsed())}: a\r\n`)).catch(() => (a.closed = true));
    }
  }
}, 5000);

const latencies: number[] = [];
let failed = 0;
const failures: string[] = [];
const marks: string[] = [];
let nextMark = 10;
while (elapsed() < seconds) {
  const t0 = performance.now();
  try {
    const res = await fetch(`${base}/bedrock/model/demo/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", connection: "close" },
      body: '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}',
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    if (res.status === 200) latencies.push(performance.now() - t0);
    else (failed++, failures.push(String(res.status)));
  } catch (e) {
    failed++;
    failures.push((e as Error).name);
  }
  if (elapsed() >= nextMark) {
    const closed = attacks.filter((a) => a.closed).length;
    marks.push(`${nextMark}s: ${attacks.length} attack connections opened, ${closed} closed by the gateway`);
    nextMark += 10;
  }
  await new Promise((r) => setTimeout(r, 100));
}
await opening;
clearInterval(trickle);
latencies.sort((a, b) => a - b);
const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]?.toFixed(0);
let alive = false;
try {
  alive = (await fetch(`${base}/health/liveliness`)).status === 200;
} catch {
  alive = false;
}
const stillOpen = attacks.filter((a) => !a.closed);
console.log(`attack: ${idle} idle + ${slow} slowloris connections, nofile ${nofile}, ${seconds} s`);
for (const m of marks) console.log(`  ${m}`);
console.log(
  `  end: ${stillOpen.length} still open (${
    stillOpen.filter((a) => a.slow).length
  } slowloris), ${refused} refused at connect`,
);
console.log(
  `keyed calls: ${latencies.length} answered 200, ${failed} failed (${[...new Set(failures)].join(", ") || "none"}); ` +
    `latency p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${latencies.at(-1)?.toFixed(0)} ms`,
);
const logLines = gateway.stdout().split("\n");
const acceptErrors = logLines.filter((l) => l.includes("accepting connections failed")).length;
const capLines = logLines.filter((l) => l.includes("connection cap reached")).length;
console.log(`process alive: ${alive}; accept-error bursts logged: ${acceptErrors}; cap warnings: ${capLines}`);
for (const a of attacks) {
  try {
    a.conn.close();
  } catch {
    // closed
  }
}
child.kill("SIGTERM");
await gateway.ended();
await Deno.remove(dir, { recursive: true });
Deno.exit(0);
