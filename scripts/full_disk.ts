/**
 * @module
 * Measures what a KV file on a full filesystem costs the spend accounting: the gateway's KV lives on a small tmpfs
 * that is then filled up; clients make calls while it is full; the gateway is stopped with SIGTERM while it is still
 * full; space comes back and the gateway restarts on the same KV. Counts the calls answered 200 whose spend never
 * reached KV (the target: at most 5), and shows readiness and the refusals while it was full.
 *
 * `sudo deno run -A scripts/full_disk.ts [calls=300] [concurrency=4]` (root: it mounts a tmpfs; Linux only)
 *
 * The gateway is the real CLI (`server/main.ts`) in a child process, with one mock deployment priced at $3 / $15 per
 * million tokens, and a virtual key with a budget (so its calls also hold against it).
 */

import { type GatewayProcess, startGatewayProcess } from "../testing/gateway_process.ts";

const calls = Number(Deno.args[0] ?? 300);
const concurrency = Number(Deno.args[1] ?? 4);
const MASTER = "sk-full-disk-master";

async function run(cmd: string, ...args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return { ok: out.success, text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
}

interface Gateway {
  url: string;
  process: GatewayProcess;
}

async function startGateway(config: string, kvPath: string): Promise<Gateway> {
  const process = startGatewayProcess({
    args: ["--config", config, "--kv", kvPath, "--port", "0", "--host", "127.0.0.1"],
  });
  return { url: `http://127.0.0.1:${await process.port()}`, process };
}

/** SIGTERM, and the time to exit; resolves with everything the gateway wrote. */
async function stop(gw: Gateway): Promise<{ ms: number; output: string }> {
  const started = performance.now();
  gw.process.child.kill("SIGTERM");
  const { stdout, stderr } = await gw.process.ended();
  return { ms: performance.now() - started, output: stdout + stderr };
}

async function main() {
  if (Deno.build.os !== "linux") throw new Error("Linux only (tmpfs)");
  const work = await Deno.makeTempDir({ prefix: "full-disk-" });
  const mnt = `${work}/mnt`;
  await Deno.mkdir(mnt);
  const mounted = await run("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt);
  if (!mounted.ok) {
    console.log(`cannot mount a tmpfs here (${mounted.text.trim()}): run as root, or measure elsewhere`);
    Deno.exit(2);
  }
  const kvPath = `${mnt}/kv.sqlite`;
  const config = `${work}/config.yaml`;
  await Deno.writeTextFile(
    config,
    `model_list:
  - model_name: demo
    litellm_params:
      model: bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0
      mock_response: "Hello from a gateway whose disk is full."
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
general_settings:
  master_key: ${MASTER}
`,
  );
  const filler = `${mnt}/filler`;
  try {
    let gw = await startGateway(config, kvPath);
    const admin = (path: string, body?: unknown) =>
      fetch(`${gw.url}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${MASTER}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then((r) => r.json());
    const { key } = await admin("/key/generate", { max_budget: 1000, key_alias: "full-disk" });
    const body = JSON.stringify({ messages: [{ role: "user", content: [{ text: "Hello there" }] }] });
    const call = async () => {
      const res = await fetch(`${gw.url}/bedrock/model/demo/converse`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body,
      });
      const cost = res.headers.get("x-litellm-response-cost");
      await res.arrayBuffer();
      return { status: res.status, nanos: cost ? BigInt(Math.round(Number(cost) * 1e9)) : 0n };
    };
    // Before the disk fills: a few calls, written.
    let answeredNanos = 0n;
    let answeredBefore = 0;
    for (let i = 0; i < 5; i++) {
      const r = await call();
      if (r.status === 200) {
        answeredBefore++;
        answeredNanos += r.nanos;
      }
    }
    await new Promise((r) => setTimeout(r, 200));

    // Fill the filesystem.
    const file = await Deno.open(filler, { write: true, create: true });
    const block = new Uint8Array(64 * 1024);
    try {
      for (;;) await file.write(block);
    } catch { /* ENOSPC */ }
    file.close();
    console.log(`filesystem full: ${(await run("df", "-k", mnt)).text.trim().split("\n").at(-1)}`);

    const statuses = new Map<number, number>();
    let answeredWhileFull = 0;
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next++ < calls) {
        const r = await call();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 200) {
          answeredWhileFull++;
          answeredNanos += r.nanos;
        }
      }
    }));
    const readiness = await fetch(`${gw.url}/health/readiness`);
    const readyBody = await readiness.text();
    const stopped = await stop(gw);
    const lost = stopped.output.split("\n").find((l) => l.includes("shutting down with spend not written"));

    // Space comes back; the gateway restarts on the same KV.
    await Deno.remove(filler);
    gw = await startGateway(config, kvPath);
    const info = await admin(`/key/info?key=${key}`);
    const billedNanos = BigInt(Math.round(info.info.spend * 1e9));
    await stop(gw);

    const perCall = answeredBefore ? answeredNanos / BigInt(answeredBefore + answeredWhileFull) : 1n;
    const unbilledNanos = answeredNanos - billedNanos;
    console.log(`calls while full: ${calls} at concurrency ${concurrency}; statuses ${JSON.stringify([...statuses])}`);
    console.log(`readiness while full: ${readiness.status} ${readyBody}`);
    console.log(`SIGTERM → exit: ${stopped.ms.toFixed(0)} ms`);
    console.log(`shutdown log: ${lost ?? "(nothing unwritten)"}`);
    console.log(
      `answered: ${answeredBefore} before + ${answeredWhileFull} while full; billed after restart: ` +
        `${billedNanos} of ${answeredNanos} nano-USD; unbilled answered calls: ${unbilledNanos / perCall}`,
    );
  } finally {
    await Deno.remove(filler).catch(() => {});
    await run("umount", mnt);
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
