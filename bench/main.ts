/**
 * @module
 * `deno task bench [--quick] [--json FILE] [--pin] [--profile DIR] [--sections converse,stream,memory,kv]`
 *
 * Measures the gateway against the floor every Deno proxy shares, in one run on one machine, loopback only:
 * a fast fake Bedrock (`fake_upstream.ts`), a bare Deno forwarder (`bare_forwarder.ts`) and the gateway
 * (`server/main.ts` with a generated config, KV on disk) each run as their own process. Load comes from autocannon.
 *
 * 1. Converse overhead: req/s and p50/p90/p99 at concurrency 1, 32, 128 for the fake directly, the bare forwarder
 *    and the gateway; gateway/bare ratios and added latency.
 * 2. Streaming: time to first event and total time of a 500-event stream (direct, bare, gateway), events relayed
 *    per second at concurrency 32, and a no-buffering proof (the fake holds 499 events until the client has seen
 *    the first one through the proxy).
 * 3. Memory: gateway RSS before, during and after many concurrent held streams, and during/after one huge stream.
 * 4. KV: reads and writes per call (a second gateway with `BENCH_COUNT_KV=1`) and spend-flush latency.
 *
 * Numbers are printed, never judged: the run fails only if something crashes. `--quick` (CI smoke test) runs every
 * section small, in well under a minute.
 */
import { parseArgs } from "node:util";
import { type CallerKey, callerKey, gatewayYaml, MODELS } from "./gateway_setup.ts";
import { type LoadResult, percentile, runLoad } from "./load.ts";
import { hasTaskset, type ServerProcess, spawnServer } from "./processes.ts";
import { delta, fmt, mib, table } from "./report.ts";
import { drainStream, holdStreams, type StreamCall, timeStream } from "./streams.ts";
import { STREAM_EVENTS } from "./fake_upstream.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The size of every knob, full and quick. */
const PLANS = {
  full: {
    concurrencies: [1, 32, 128],
    seconds: 5,
    warmupSeconds: 1,
    rounds: 3,
    streamRuns: 100,
    streamLoadSeconds: 5,
    heldStreams: 1000,
    bigMiB: 200,
    kvCalls: 200,
    flushSamples: 5,
    flushWaitMs: 10_000,
    watchdogMs: 20 * 60_000,
  },
  quick: {
    concurrencies: [1, 32, 128],
    seconds: 1,
    warmupSeconds: 0.3,
    rounds: 1,
    streamRuns: 20,
    streamLoadSeconds: 1,
    heldStreams: 100,
    bigMiB: 20,
    kvCalls: 20,
    flushSamples: 2,
    flushWaitMs: 2_000,
    watchdogMs: 110_000,
  },
};
type Plan = typeof PLANS.full;

/** A ~110-byte Converse request, the size the targets are stated for. */
const BODY = JSON.stringify({
  messages: [{ role: "user", content: [{ text: "Hello, benchmark. Say hi." }] }],
  inferenceConfig: { maxTokens: 64 },
});

type Target = "direct" | "bare" | "gateway";
const TARGETS: Target[] = ["direct", "bare", "gateway"];

interface Servers {
  fake: ServerProcess;
  bare: ServerProcess;
  gateway: ServerProcess;
}

const epochNow = () => performance.timeOrigin + performance.now();
const median = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 0.5);

function machine() {
  let cpu = "unknown";
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? cpu;
  } catch { /* not Linux */ }
  return { nproc: navigator.hardwareConcurrency, cpu, deno: Deno.version.deno, v8: Deno.version.v8 };
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

/** Where each target serves a model operation, and the headers every target gets (same request bytes). */
function endpoints(s: Servers, key: string) {
  const url = (t: Target, model: keyof typeof MODELS, op: "converse" | "converse-stream") => {
    if (t === "gateway") return `${s.gateway.url}/bedrock/model/${MODELS[model]}/${op}`;
    const fakeId = model === "big" ? "bench.big" : `bench.${model}`;
    return `${t === "direct" ? s.fake.url : s.bare.url}/model/${fakeId}/${op}`;
  };
  const headers = { "content-type": "application/json", authorization: `Bearer ${key}` };
  const call = (t: Target, model: keyof typeof MODELS, op: "converse" | "converse-stream"): StreamCall => ({
    url: url(t, model, op),
    body: BODY,
    headers,
  });
  return { url, headers, call };
}

const release = (s: Servers) => fetch(`${s.fake.url}/__release`, { method: "POST" }).then((r) => r.json());

// ---------------------------------------------------------------------------------------------------------------
// 1. Converse overhead
// ---------------------------------------------------------------------------------------------------------------

interface ConverseRow {
  target: Target;
  connections: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** CPU time of the serving process (fake, bare forwarder or gateway) per request, µs (median of rounds). */
  cpuUsPerRequest: number;
  rounds: LoadResult[];
}

async function converseSection(s: Servers, key: string, plan: Plan): Promise<ConverseRow[]> {
  const ep = endpoints(s, key);
  const byCell = new Map<string, LoadResult[]>();
  const cpuByCell = new Map<string, number[]>();
  const serverOf = (t: Target) => t === "direct" ? s.fake : t === "bare" ? s.bare : s.gateway;
  // Rounds interleave the targets so slow drift (other work on the machine) hits all of them alike.
  for (let round = 0; round < plan.rounds; round++) {
    for (const connections of plan.concurrencies) {
      for (const target of TARGETS) {
        let cpuBefore = NaN;
        const r = await runLoad({
          url: ep.url(target, "fixed", "converse"),
          body: BODY,
          headers: ep.headers,
          connections,
          seconds: plan.seconds,
          warmupSeconds: plan.warmupSeconds,
          onMeasureStart: () => cpuBefore = serverOf(target).cpuMs(),
        });
        const cpuUs = (serverOf(target).cpuMs() - cpuBefore) * 1000 / r.requests;
        const cell = `${target}/${connections}`;
        byCell.set(cell, [...byCell.get(cell) ?? [], r]);
        cpuByCell.set(cell, [...cpuByCell.get(cell) ?? [], cpuUs]);
        console.error(
          `  converse ${target.padEnd(7)} c=${String(connections).padEnd(3)} round ${round + 1}: ` +
            `${fmt(r.rps)} req/s p50 ${fmt(r.p50Ms)} ms p99 ${fmt(r.p99Ms)} ms, server CPU ${fmt(cpuUs)} µs/req` +
            (r.errors || r.non2xx ? ` (${r.errors} errors, ${r.non2xx} non-2xx)` : ""),
        );
      }
    }
  }
  const rows: ConverseRow[] = [];
  for (const connections of plan.concurrencies) {
    for (const target of TARGETS) {
      const rounds = byCell.get(`${target}/${connections}`)!;
      rows.push({
        target,
        connections,
        rps: median(rounds.map((r) => r.rps)),
        p50Ms: median(rounds.map((r) => r.p50Ms)),
        p90Ms: median(rounds.map((r) => r.p90Ms)),
        p99Ms: median(rounds.map((r) => r.p99Ms)),
        errors: rounds.reduce((a, r) => a + r.errors, 0),
        non2xx: rounds.reduce((a, r) => a + r.non2xx, 0),
        cpuUsPerRequest: median(cpuByCell.get(`${target}/${connections}`)!),
        rounds,
      });
    }
  }
  return rows;
}

interface Overhead {
  connections: number;
  /** gateway req/s ÷ bare req/s */
  throughputRatio: number;
  addedP50Ms: number;
  addedP99Ms: number;
  /** bare req/s ÷ direct req/s: what any Deno proxy costs */
  bareRatio: number;
}

function overheads(rows: ConverseRow[]): Overhead[] {
  const at = (t: Target, c: number) => rows.find((r) => r.target === t && r.connections === c)!;
  return [...new Set(rows.map((r) => r.connections))].map((c) => ({
    connections: c,
    throughputRatio: at("gateway", c).rps / at("bare", c).rps,
    addedP50Ms: at("gateway", c).p50Ms - at("bare", c).p50Ms,
    addedP99Ms: at("gateway", c).p99Ms - at("bare", c).p99Ms,
    bareRatio: at("bare", c).rps / at("direct", c).rps,
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Streaming
// ---------------------------------------------------------------------------------------------------------------

interface StreamRow {
  target: Target;
  ttfeP50Ms: number;
  ttfeP90Ms: number;
  totalP50Ms: number;
  totalP90Ms: number;
  events: number;
  /** Events/s delivered at concurrency 32 (autocannon on converse-stream × events per stream). */
  eventsPerSecond: number;
  streamsPerSecond: number;
}

interface BufferingProof {
  target: Target;
  /** The first event reached the client while the fake still held the other events. */
  firstEventBeforeRest: boolean;
  ttfeMs: number;
  totalMs: number;
  events: number;
}

async function streamSection(s: Servers, key: string, plan: Plan) {
  const ep = endpoints(s, key);
  const samples = new Map<Target, { ttfe: number[]; total: number[]; events: number }>(
    TARGETS.map((t) => [t, { ttfe: [], total: [], events: 0 }]),
  );
  // Warm each path once, then interleave sequential calls.
  for (const t of TARGETS) await timeStream(ep.call(t, "fixed", "converse-stream"));
  for (let i = 0; i < plan.streamRuns; i++) {
    for (const t of TARGETS) {
      const r = await timeStream(ep.call(t, "fixed", "converse-stream"));
      const acc = samples.get(t)!;
      acc.ttfe.push(r.ttfeMs);
      acc.total.push(r.totalMs);
      acc.events = r.events;
    }
  }
  const rows: StreamRow[] = [];
  for (const t of TARGETS) {
    const acc = samples.get(t)!;
    const load = await runLoad({
      url: ep.url(t, "fixed", "converse-stream"),
      body: BODY,
      headers: ep.headers,
      connections: 32,
      seconds: plan.streamLoadSeconds,
      warmupSeconds: plan.warmupSeconds,
    });
    const ttfe = Float64Array.from(acc.ttfe).sort();
    const total = Float64Array.from(acc.total).sort();
    rows.push({
      target: t,
      ttfeP50Ms: percentile(ttfe, 0.5),
      ttfeP90Ms: percentile(ttfe, 0.9),
      totalP50Ms: percentile(total, 0.5),
      totalP90Ms: percentile(total, 0.9),
      events: acc.events,
      eventsPerSecond: load.rps * STREAM_EVENTS,
      streamsPerSecond: load.rps,
    });
    console.error(`  stream ${t.padEnd(7)} ttfe p50 ${fmt(rows.at(-1)!.ttfeP50Ms)} ms, ${fmt(load.rps)} streams/s`);
  }

  const proofs: BufferingProof[] = [];
  for (const t of ["bare", "gateway"] as const) {
    // The fake holds all but the first event until released. A proxy that buffered could not deliver the first
    // event before the release; after 10 s the watchdog releases the fake anyway so the run ends, and the proof
    // fails.
    let held = true;
    let firstWhileHeld = false;
    const watchdog = setTimeout(() => {
      held = false;
      release(s);
    }, 10_000);
    const r = await timeStream(ep.call(t, "gated", "converse-stream"), async () => {
      firstWhileHeld = held;
      held = false;
      await release(s);
    }).finally(() => clearTimeout(watchdog));
    proofs.push({
      target: t,
      firstEventBeforeRest: firstWhileHeld && r.events === STREAM_EVENTS,
      ttfeMs: r.ttfeMs,
      totalMs: r.totalMs,
      events: r.events,
    });
  }
  return { rows, proofs };
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Memory
// ---------------------------------------------------------------------------------------------------------------

interface MemoryResult {
  heldStreams: number;
  bigMiB: number;
  rssKiB: {
    idleAtStart: number;
    before: number;
    duringHeld: number;
    afterHeld: number;
    peakDuringBig: number;
    afterBig: number;
  };
  heldEvents: number;
  heldFailed: number;
  bigBytes: number;
  bigMiBPerSecond: number;
}

async function memorySection(s: Servers, key: string, plan: Plan, idleAtStart: number): Promise<MemoryResult> {
  const ep = endpoints(s, key);
  const rss = () => s.gateway.rssKiB();
  const before = rss();
  const held = await holdStreams(ep.call("gateway", "gated", "converse-stream"), plan.heldStreams, 60_000);
  const duringHeld = rss();
  await release(s);
  const { events, failed } = await held.finish();
  // Let the closed connections and their buffers go (no GC hook from outside; this is what an operator sees).
  await new Promise((r) => setTimeout(r, 1000));
  const afterHeld = rss();

  let peak = rss();
  const big = await drainStream(ep.call("gateway", "big", "converse-stream"), () => {
    peak = Math.max(peak, rss());
  }, 20);
  await new Promise((r) => setTimeout(r, 1000));
  const afterBig = rss();
  console.error(`  memory: ${plan.heldStreams} held streams, ${fmt(big.bytes / 2 ** 20)} MiB stream done`);
  return {
    heldStreams: plan.heldStreams,
    bigMiB: plan.bigMiB,
    rssKiB: { idleAtStart, before, duringHeld, afterHeld, peakDuringBig: peak, afterBig },
    heldEvents: events,
    heldFailed: failed,
    bigBytes: big.bytes,
    bigMiBPerSecond: big.bytes / 2 ** 20 / big.seconds,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 4. KV
// ---------------------------------------------------------------------------------------------------------------

interface KvCountsWire {
  reads: number;
  writes: number;
  byOp: Record<string, number>;
  lastWriteAt: number | null;
}

interface KvResult {
  auth: string;
  calls: number;
  converse: { readsPerCall: number; writesPerCall: number; byOp: Record<string, number> };
  stream: { readsPerCall: number; writesPerCall: number; byOp: Record<string, number> };
  /** Response end → last KV write of that call settled, ms (median); null when no write follows a call. */
  flushP50Ms: number | null;
  flushSamples: number[];
  flushNote: string;
}

function diffOps(a: KvCountsWire, b: KvCountsWire, n: number) {
  const byOp: Record<string, number> = {};
  for (const op of new Set([...Object.keys(a.byOp), ...Object.keys(b.byOp)])) {
    const d = (b.byOp[op] ?? 0) - (a.byOp[op] ?? 0);
    if (d) byOp[op] = d / n;
  }
  return { readsPerCall: (b.reads - a.reads) / n, writesPerCall: (b.writes - a.writes) / n, byOp };
}

async function kvSection(gateway: ServerProcess, fake: ServerProcess, plan: Plan): Promise<KvResult> {
  const key = await callerKey(gateway.url);
  // Only the gateway is called here; `bare` is unused.
  const s: Servers = { gateway, fake, bare: fake };
  const ep = endpoints(s, key.key);
  const counts = async (): Promise<KvCountsWire> =>
    await (await fetch(`${gateway.url}/__bench/kv-counts`)).json() as KvCountsWire;
  const converse = async () => {
    const res = await fetch(ep.url("gateway", "fixed", "converse"), {
      method: "POST",
      headers: ep.headers,
      body: BODY,
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`KV gateway converse answered ${res.status}`);
  };

  await converse(); // warm: key record cached, connections open
  const c0 = await counts();
  for (let i = 0; i < plan.kvCalls; i++) await converse();
  const c1 = await counts();
  for (let i = 0; i < plan.kvCalls; i++) await timeStream(ep.call("gateway", "fixed", "converse-stream"));
  const c2 = await counts();

  // Spend flush: after one call has fully answered, how long until its KV writes have settled.
  const flushSamples: number[] = [];
  let flushNote = "";
  for (let i = 0; i < plan.flushSamples; i++) {
    const start = await counts();
    await converse();
    const responseEnd = epochNow();
    let seen: KvCountsWire | undefined;
    const deadline = performance.now() + plan.flushWaitMs;
    while (performance.now() < deadline) {
      const c = await counts();
      if (c.writes > start.writes && c.lastWriteAt !== null && c.lastWriteAt !== start.lastWriteAt) {
        seen = c;
        // Give a batch that spans several writes 200 ms to finish, then take the last one.
        await new Promise((r) => setTimeout(r, 200));
        seen = await counts();
        break;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    if (!seen) {
      flushNote = `no KV write within ${plan.flushWaitMs} ms of a call: nothing to flush (no spend ledger yet)`;
      break;
    }
    flushSamples.push(seen.lastWriteAt! - responseEnd);
  }
  if (flushSamples.length) {
    flushNote = flushSamples.some((x) => x < 0)
      ? "some writes settled before the response ended (awaited on the response path?)"
      : "response end → last write of the call settled";
  }
  return {
    auth: key.note,
    calls: plan.kvCalls,
    converse: diffOps(c0, c1, plan.kvCalls),
    stream: diffOps(c1, c2, plan.kvCalls),
    flushP50Ms: flushSamples.length ? median(flushSamples) : null,
    flushSamples,
    flushNote,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running it all
// ---------------------------------------------------------------------------------------------------------------

async function startGateway(
  fakeUrl: string,
  dir: string,
  name: string,
  plan: Plan,
  opts: { env?: Record<string, string>; cpus?: string; profileDir?: string },
): Promise<ServerProcess> {
  const config = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(config, gatewayYaml(fakeUrl, plan.bigMiB));
  const prof = opts.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.profileDir}/${name}`] : [];
  return await spawnServer({
    name,
    cwd: ROOT,
    args: [
      "run",
      "-A",
      ...prof,
      "server/main.ts",
      "--config",
      config,
      "--kv",
      `${dir}/${name}.sqlite`,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
    ],
    env: opts.env,
    cpus: opts.cpus,
  });
}

function printConverse(rows: ConverseRow[], ohs: Overhead[], plan: Plan) {
  console.log(
    `\n## Converse (non-streaming), ${BODY.length}-byte body; median of ${plan.rounds} round(s) × ${plan.seconds} s`,
  );
  console.log(table([
    ["target", "conc", "req/s", "p50 ms", "p90 ms", "p99 ms", "server CPU µs/req", "errors"],
    ...rows.map((
      r,
    ) => [r.target, r.connections, r.rps, r.p50Ms, r.p90Ms, r.p99Ms, r.cpuUsPerRequest, r.errors + r.non2xx]),
  ]));
  console.log();
  console.log(table([
    ["conc", "gateway/bare req/s", "added p50", "added p99", "bare/direct req/s"],
    ...ohs.map((o) => [
      o.connections,
      `${fmt(o.throughputRatio)}×`,
      delta(o.addedP50Ms, "ms"),
      delta(o.addedP99Ms, "ms"),
      `${fmt(o.bareRatio)}×`,
    ]),
  ]));
}

function printStream(rows: StreamRow[], proofs: BufferingProof[], plan: Plan) {
  console.log(`\n## Streaming, ${STREAM_EVENTS}-event converse-stream; ${plan.streamRuns} sequential calls per target`);
  console.log(table([
    ["target", "TTFE p50 ms", "TTFE p90 ms", "total p50 ms", "total p90 ms", "events/s @c32", "streams/s @c32"],
    ...rows.map((r) => [
      r.target,
      r.ttfeP50Ms,
      r.ttfeP90Ms,
      r.totalP50Ms,
      r.totalP90Ms,
      r.eventsPerSecond,
      r.streamsPerSecond,
    ]),
  ]));
  for (const p of proofs) {
    console.log(
      `no buffering (${p.target}): ${p.firstEventBeforeRest ? "yes" : "NO"}: the first event arrived after ` +
        `${fmt(p.ttfeMs)} ms while the fake held the other ${STREAM_EVENTS - 1}; ${p.events} events in total`,
    );
  }
}

function printMemory(m: MemoryResult) {
  const r = m.rssKiB;
  console.log(`\n## Gateway memory (RSS, MiB)`);
  console.log(table([
    ["moment", "RSS MiB"],
    ["idle after start", mib(r.idleAtStart)],
    ["before the memory test (after the load tests)", mib(r.before)],
    [`during ${m.heldStreams} concurrent held streams`, mib(r.duringHeld)],
    [`1 s after they finished`, mib(r.afterHeld)],
    [`peak during one ${fmt(m.bigBytes / 2 ** 20)} MiB stream`, mib(r.peakDuringBig)],
    [`1 s after it finished`, mib(r.afterBig)],
  ]));
  console.log(
    `held streams: ${m.heldEvents} events relayed, ${m.heldFailed} failed; ` +
      `big stream ${fmt(m.bigMiBPerSecond)} MiB/s through the gateway`,
  );
}

function printKv(k: KvResult) {
  console.log(`\n## KV per call (${k.calls} calls each; ${k.auth})`);
  const ops = (o: Record<string, number>) => Object.entries(o).map(([op, n]) => `${op} ${fmt(n)}`).join(", ") || "none";
  console.log(table([
    ["call", "reads/call", "writes/call", "operations/call"],
    ["converse", k.converse.readsPerCall, k.converse.writesPerCall, ops(k.converse.byOp)],
    ["converse-stream", k.stream.readsPerCall, k.stream.writesPerCall, ops(k.stream.byOp)],
  ]));
  console.log(
    `spend flush: ${k.flushP50Ms === null ? "n/a" : `${fmt(k.flushP50Ms)} ms (median)`}: ${k.flushNote}`,
  );
}

function printTargets(ohs: Overhead[] | undefined, stream: StreamRow[] | undefined, mem: MemoryResult | undefined) {
  const lines: string[] = [];
  const mark = (ok: boolean) => ok ? "met " : "MISS";
  const c32 = ohs?.find((o) => o.connections === 32);
  const c1 = ohs?.find((o) => o.connections === 1);
  if (c32) {
    lines.push(`${mark(c32.throughputRatio >= 0.8)} throughput ≥ 0.8× bare at c=32: ${fmt(c32.throughputRatio)}×`);
  }
  if (c1) lines.push(`${mark(c1.addedP50Ms <= 0.3)} added p50 ≤ 0.3 ms at c=1: ${delta(c1.addedP50Ms, "ms")}`);
  if (stream) {
    const d = stream.find((r) => r.target === "gateway")!.ttfeP50Ms -
      stream.find((r) => r.target === "direct")!.ttfeP50Ms;
    lines.push(`${mark(d <= 1)} stream TTFE within 1 ms of direct: ${delta(d, "ms")}`);
  }
  if (mem) {
    const growth = mem.rssKiB.peakDuringBig - mem.rssKiB.afterHeld;
    lines.push(
      `${mark(growth <= 16 * 1024)} memory flat across stream length (≤ 16 MiB growth over a ` +
        `${mem.bigMiB} MiB stream): ${delta(mib(growth), "MiB")}`,
    );
  }
  if (lines.length) console.log(`\n## Targets (informational: the bench never fails on numbers)\n${lines.join("\n")}`);
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      json: { type: "string" },
      pin: { type: "boolean" },
      profile: { type: "string" },
      sections: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task bench [--quick] [--json FILE] [--pin] [--profile DIR] [--sections converse,stream,memory,kv]",
    );
    return;
  }
  const plan = values.quick ? PLANS.quick : PLANS.full;
  const sections = new Set((values.sections ?? "converse,stream,memory,kv").split(","));
  const started = performance.now();
  const loadBefore = loadAverage();
  // --pin: the proxies get CPU 1 to themselves; the fake and the load generator share CPU 0.
  const pin = values.pin && hasTaskset() && navigator.hardwareConcurrency >= 2;
  if (values.pin && !pin) console.error("--pin ignored: needs taskset and at least 2 CPUs");
  if (pin) {
    await new Deno.Command("taskset", { args: ["-a", "-p", "-c", "0", String(Deno.pid)], stdout: "null" }).output();
  }
  const proxyCpus = pin ? "1" : undefined;
  const clientCpus = pin ? "0" : undefined;

  const dir = await Deno.makeTempDir({ prefix: "converse-bench-" });
  const children: ServerProcess[] = [];
  const stopAll = () => Promise.all(children.splice(0).map((c) => c.stop()));
  const watchdog = setTimeout(async () => {
    console.error(`bench: still running after ${plan.watchdogMs / 1000} s; stopping`);
    await stopAll();
    Deno.exit(1);
  }, plan.watchdogMs);

  const results: Record<string, unknown> = {
    machine: machine(),
    mode: values.quick ? "quick" : "full",
    pinned: pin,
    loadAverageBefore: loadBefore,
    plan,
  };
  let failed = false;
  try {
    const fake = await spawnServer({
      name: "fake",
      cwd: ROOT,
      args: ["run", "-A", "bench/fake_upstream.ts"],
      cpus: clientCpus,
    });
    children.push(fake);
    const [bare, gateway] = await Promise.all([
      spawnServer({
        name: "bare",
        cwd: ROOT,
        args: [
          "run",
          "-A",
          ...(values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}/bare`] : []),
          "bench/bare_forwarder.ts",
          "--upstream",
          fake.url,
        ],
        cpus: proxyCpus,
      }),
      startGateway(fake.url, dir, "gateway", plan, { cpus: proxyCpus, profileDir: values.profile }),
    ]);
    children.push(bare, gateway);
    const servers: Servers = { fake, bare, gateway };
    const key: CallerKey = await callerKey(gateway.url);
    // RSS once the gateway has answered something (modules loaded, JIT warm-ish), before any load.
    await fetch(endpoints(servers, key.key).url("gateway", "fixed", "converse"), {
      method: "POST",
      headers: endpoints(servers, key.key).headers,
      body: BODY,
    }).then((r) => r.arrayBuffer());
    const idleRss = gateway.rssKiB();
    results.auth = key.note;
    console.log(
      `Converse Gateway benchmark (${values.quick ? "quick" : "full"}): ${machine().nproc} CPUs, ${machine().cpu}, ` +
        `Deno ${Deno.version.deno}; load average ${loadBefore}; caller: ${key.note}` +
        (pin ? "; proxies pinned to CPU 1, fake + load generator to CPU 0" : ""),
    );

    let ohs: Overhead[] | undefined;
    let streamRows: StreamRow[] | undefined;
    let mem: MemoryResult | undefined;
    if (sections.has("converse")) {
      const rows = await converseSection(servers, key.key, plan);
      ohs = overheads(rows);
      results.converse = rows;
      results.overhead = ohs;
      printConverse(rows, ohs, plan);
    }
    if (sections.has("stream")) {
      const { rows, proofs } = await streamSection(servers, key.key, plan);
      streamRows = rows;
      results.stream = rows;
      results.noBuffering = proofs;
      printStream(rows, proofs, plan);
    }
    if (sections.has("memory")) {
      mem = await memorySection(servers, key.key, plan, idleRss);
      results.memory = mem;
      printMemory(mem);
    }
    if (sections.has("kv")) {
      const counted = await startGateway(fake.url, dir, "gateway-kv", plan, { env: { BENCH_COUNT_KV: "1" } });
      children.push(counted);
      const kv = await kvSection(counted, fake, plan);
      results.kv = kv;
      printKv(kv);
    }
    printTargets(ohs, streamRows, mem);
  } catch (e) {
    failed = true;
    console.error(`bench failed: ${(e as Error).stack ?? e}`);
    for (const c of children) {
      const tail = c.stderrTail().trim();
      if (tail) console.error(`--- ${c.name} stderr ---\n${tail}`);
    }
  } finally {
    await stopAll();
    clearTimeout(watchdog);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  results.loadAverageAfter = loadAverage();
  results.seconds = (performance.now() - started) / 1000;
  console.log(`\nload average after: ${results.loadAverageAfter}; ${fmt(results.seconds as number)} s in total`);
  if (values.json) {
    await Deno.writeTextFile(values.json, JSON.stringify(results, null, 2) + "\n");
    console.log(`wrote ${values.json}`);
  }
  if (failed) Deno.exit(1);
}

if (import.meta.main) await main();
