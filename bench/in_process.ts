/**
 * @module
 * The gateway's own per-call cost, without sockets: `gateway.fetch()` in one process, with a `fetch` stub that
 * answers at once, a budgeted virtual key, SigV4 signing, spend logs and KV on disk (the `deno task bench`
 * configuration). Far less noisy than the end-to-end bench, so it is the quick A/B check for hot-path changes:
 *
 * ```sh
 * deno run -A bench/in_process.ts [--concurrency 32] [--calls 20000] [--caller budgeted|master] [--target gateway|floor]
 * deno run -A --cpu-prof --cpu-prof-dir=/tmp/p bench/in_process.ts && deno run -A bench/profile_summary.ts /tmp/p/*.cpuprofile
 * ```
 *
 * Prints wall time and process CPU time (all threads: the KV writer's too) per call, after a warm-up.
 * `--target floor` runs the floor gateway (floor_gateway.ts) the same way: the gateway's own work against the least
 * any gateway must do, without the transport both share (`--target both` runs the two, alternating, twice).
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { loadConfig } from "../server/config/load.ts";
import { createGateway } from "../server/gateway.ts";
import { createLogger } from "../server/core/log.ts";
import { BODY } from "./targets.ts";
import { CONVERSE_ANSWER } from "./fake_upstream.ts";
import { MASTER_KEY } from "./gateway_setup.ts";
import { createFloorGateway } from "./floor_gateway.ts";

const CONFIG = `model_list:
  - model_name: bench
    litellm_params:
      model: bedrock/bench.fixed
      api_base: http://127.0.0.1:9
      aws_region_name: us-west-2
      aws_access_key_id: AKIABENCHFAKE0000001
      aws_secret_access_key: bench/Secret+Access/Key/0000000000000001
      aws_session_token: bench-session-token
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
general_settings:
  master_key: ${MASTER_KEY}
`;

/** Runs the measurement with `args` (the command line's, by default); bench/alloc_profile.ts runs it too. */
export async function main(args: string[] = Deno.args) {
  const { values } = parseArgs({
    args,
    options: {
      concurrency: { type: "string", default: "32" },
      calls: { type: "string", default: "20000" },
      caller: { type: "string", default: "budgeted" },
      target: { type: "string", default: "gateway" },
    },
  });
  const targets = values.target === "both" ? ["gateway", "floor", "gateway", "floor"] : [values.target];
  for (const target of targets) await measure(target, Number(values.concurrency), Number(values.calls), values.caller);
}

async function measure(target: string, concurrency: number, calls: number, caller: string) {
  const dir = await Deno.makeTempDir({ prefix: "gw-inproc-" });
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  // The request log is on, as in production; its lines are counted, not printed.
  let logBytes = 0;
  const stub = () =>
    Promise.resolve(new Response(CONVERSE_ANSWER, { headers: { "content-type": "application/json" } }));
  const gateway = target === "floor" ? createFloorGateway(CONFIG, kv, stub) : createGateway({
    config: loadConfig(CONFIG, () => undefined),
    kv,
    log: createLogger({ write: (line) => void (logBytes += line.length) }),
    fetch: stub,
  });
  let key = MASTER_KEY;
  if (caller !== "master") {
    const res = await gateway.fetch(
      new Request("http://gw/key/generate", {
        method: "POST",
        headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ models: ["bench"], ...caller === "budgeted" ? { max_budget: 1_000_000 } : {} }),
      }),
    );
    key = (await res.json()).key;
  }
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const one = async () => {
    const res = await gateway.fetch(
      new Request("http://gw/bedrock/model/bench/converse", { method: "POST", headers, body: BODY }),
    );
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`gateway answered ${res.status}`);
  };
  const run = async (n: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next++ < n) await one();
    }));
    await gateway.flush(); // the spend writes of these calls are part of their cost
  };

  await run(Math.min(calls, 3000)); // warm-up: JIT, caches
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(calls);
  const wallUs = (performance.now() - t0) * 1000 / calls;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `in-process ${target}.fetch, ${caller} caller, c=${concurrency}, ${calls} calls: ` +
      `${wallUs.toFixed(1)} µs wall/call, ${((cpu.user + cpu.system) / calls).toFixed(1)} µs CPU/call (all threads)` +
      `, ${(logBytes / (calls + Math.min(calls, 3000))).toFixed(0)} log bytes/call`,
  );
  await gateway.close();
  kv.close();
  await Deno.remove(dir, { recursive: true });
}

if (import.meta.main) await main();
