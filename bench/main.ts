/**
 * @module
 * `deno task bench [--quick] [--json FILE] [--pin] [--profile DIR] [--baseline DIR] [--peer] [--floor] [--sections LIST]
 *   [--workers N|auto] [--concurrency N,N] [--rounds N] [--seconds S] [--caller budgeted|unbudgeted|master]
 *   [--upstream-client native|fetch] [--baseline-upstream-client native|fetch] [--otel]`
 *
 * Measures the gateway against the floor every Deno proxy shares, in one run on one machine, loopback only:
 * a fast fake Bedrock (`fake_upstream.ts`), a bare Deno forwarder (`bare_forwarder.ts`) and the gateway
 * (`server/main.ts` with a generated config, KV on disk) each run as their own process; load comes from autocannon.
 *
 * 1. converse: req/s, p50/p90/p99 and server CPU per request at concurrency 1, 32, 128 for the fake directly,
 *    the bare forwarder and the gateway; gateway/bare ratios and added latency.
 * 2. stream: time to first event (and proof that nothing is buffered), total time of a 500-event stream, events
 *    relayed per second at concurrency 32.
 * 3. memory: gateway RSS before, during and after many concurrent held streams, and during/after one huge stream.
 * 4. kv: KV reads and writes per call (a second gateway, `counting_gateway.ts`, counts them) and spend-flush latency.
 *
 * The caller key is a budgeted virtual key when the gateway serves `/key/generate`, else the master key (said in
 * the output); see gateway_setup.ts. Numbers are printed, never judged: the run fails only if something crashes.
 * `--quick` (the CI smoke test) runs every section small, in well under a minute.
 *
 * `--baseline DIR` adds a second gateway started from another checkout (e.g. `git worktree add /tmp/base main`),
 * measured interleaved with this one: before/after numbers from one run. `--pin` pins the proxies to CPU 1 and
 * the fake and load generator to CPU 0. `--caller` picks the key (default: a budgeted virtual key, see
 * gateway_setup.ts). `--profile DIR` writes V8 CPU profiles of the proxies
 * (read them with `deno run -A bench/profile_summary.ts FILE`). `--concurrency`, `--rounds` and `--seconds` override
 * the converse plan (e.g. a long A/B at one concurrency).
 *
 * `--otel` starts this checkout's gateway with Deno's OpenTelemetry export on (`OTEL_DENO=true`, http/protobuf) to an
 * OTLP receiver in this process (`testing/fake_otlp.ts`); with `--baseline .` the baseline is the same code with
 * tracing off: the cost of exporting traces, A/B in one run.
 *
 * `--upstream-client` sets `general_settings.upstream_client` of the gateway and the floor (default: the config's
 * default, `native`), `--baseline-upstream-client` that of the baseline; with `--baseline .` the two make an A/B of
 * the HTTP clients in one run: `--baseline . --upstream-client native --baseline-upstream-client fetch`.
 *
 * `--workers N` adds this checkout's gateway started with `--workers N` (its own KV file) to the converse section and
 * prints it against the one-isolate gateway: req/s, latency, CPU per request and RSS side by side.
 *
 * `--floor` adds the floor gateway (floor_gateway.ts): only the work any gateway with virtual keys, budgets and
 * spend tracking must do per call, so the targets line shows what is reachable on this machine at all.
 *
 * `--peer` adds a peer gateway to the converse section: Portkey's open-source gateway on Node.js, installed with npm
 * into a cache outside the repository at bench time (peer.ts). Never with `--quick` (CI never installs it); when it
 * cannot be installed, started or called, the bench says why and runs without it.
 */
import { parseArgs } from "node:util";
import { type FakeOtlp, startFakeOtlp } from "../testing/fake_otlp.ts";
import { callerKey, type CallerKind, gatewayYaml } from "./gateway_setup.ts";
import { hasTaskset, type ServerProcess, spawnServer } from "./processes.ts";
import {
  type PeerInfo,
  printConverse,
  printKv,
  printMemory,
  printPeerNote,
  printStream,
  printTargets,
  printWorkers,
  type WorkersInfo,
} from "./report.ts";
import { fmt } from "./format.ts";
import {
  converseSection,
  kvSection,
  memorySection,
  type Overhead,
  overheads,
  type Plan,
  type StreamRow,
  streamSection,
} from "./sections.ts";
import { choosePeerCall, installPeer, PORTKEY_VERSION, startPeer, warmUpPeer } from "./peer.ts";
import { converseOnce, type Target } from "./targets.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

const PLANS: Record<"full" | "quick", Plan> = {
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
    streamRuns: 10,
    streamLoadSeconds: 1,
    heldStreams: 100,
    bigMiB: 20,
    kvCalls: 20,
    flushSamples: 2,
    flushWaitMs: 2_000,
    watchdogMs: 240_000,
  },
};

const SECTIONS = ["converse", "stream", "memory", "kv"];

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

interface GatewayOptions {
  /** Checkout to run `server/main.ts` from (default: this one). */
  root?: string;
  /** The entry point, relative to `root` (default `server/main.ts`; the floor gateway is `bench/floor_gateway.ts`). */
  script?: string;
  cpus?: string;
  profileDir?: string;
  /** Extra `general_settings` for this gateway. */
  settings?: Record<string, unknown>;
  /** More CLI arguments (`--workers N`). */
  args?: string[];
  /** Environment variables of the gateway (`--otel`: Deno's OpenTelemetry export). */
  env?: Record<string, string>;
}

/** Deno's OpenTelemetry export of every span to `endpoint` (http/protobuf, Deno's default batching). */
const otelEnv = (endpoint: string): Record<string, string> => ({
  ...(Deno.env.get("BENCH_OTEL_TRACES_ONLY") ? { OTEL_DENO_TRACING: "true" } : { OTEL_DENO: "true" }),
  OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
  OTEL_DENO_CONSOLE: "ignore",
});

async function startGateway(
  fakeUrl: string,
  dir: string,
  name: string,
  plan: Plan,
  opts: GatewayOptions,
): Promise<ServerProcess> {
  const config = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(config, gatewayYaml(fakeUrl, plan.bigMiB, opts.settings));
  const prof = opts.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.profileDir}/${name}`] : [];
  const args = [
    "--config",
    config,
    "--kv",
    `${dir}/${name}.sqlite`,
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    ...opts.args ?? [],
  ];
  return await spawnServer({
    name,
    cwd: opts.root ?? ROOT,
    args: ["run", "-A", ...prof, opts.script ?? "server/main.ts", ...args],
    cpus: opts.cpus,
    env: opts.env,
  });
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      json: { type: "string" },
      pin: { type: "boolean" },
      profile: { type: "string" },
      baseline: { type: "string" },
      peer: { type: "boolean" },
      floor: { type: "boolean" },
      sections: { type: "string" },
      concurrency: { type: "string" },
      rounds: { type: "string" },
      seconds: { type: "string" },
      caller: { type: "string" },
      "upstream-client": { type: "string" },
      "baseline-upstream-client": { type: "string" },
      workers: { type: "string" },
      otel: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task bench [--quick] [--json FILE] [--pin] [--profile DIR] [--baseline DIR] [--peer] [--floor] " +
        `[--sections ${SECTIONS.join(",")}] [--workers N|auto] [--concurrency N,N] [--rounds N] [--seconds S] ` +
        "[--caller budgeted|unbudgeted|master] [--upstream-client native|fetch] " +
        "[--baseline-upstream-client native|fetch] [--otel]",
    );
    return;
  }
  const plan: Plan = { ...(values.quick ? PLANS.quick : PLANS.full) };
  const positive = (flag: string, v: string) => {
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${flag} wants a positive number, not ${v}`);
    return n;
  };
  if (values.concurrency) plan.concurrencies = values.concurrency.split(",").map((c) => positive("concurrency", c));
  if (values.rounds) plan.rounds = positive("rounds", values.rounds);
  if (values.seconds) plan.seconds = positive("seconds", values.seconds);
  const caller = (values.caller ?? "budgeted") as CallerKind;
  if (!["budgeted", "unbudgeted", "master"].includes(caller)) throw new Error(`unknown --caller ${values.caller}`);
  const clientSetting = (flag: string, v: string | undefined): Record<string, unknown> => {
    if (v === undefined) return {};
    if (v !== "native" && v !== "fetch") throw new Error(`--${flag} wants native or fetch, not ${v}`);
    return { upstream_client: v };
  };
  const gatewaySettings = clientSetting("upstream-client", values["upstream-client"]);
  const baselineSettings = clientSetting("baseline-upstream-client", values["baseline-upstream-client"]);
  const workers = values.workers === "auto" ? navigator.hardwareConcurrency : Number(values.workers ?? 0);
  if (values.workers !== undefined && !(Number.isInteger(workers) && workers >= 2)) {
    throw new Error(`--workers wants a whole number from 2, or auto, not ${values.workers}`);
  }
  const sections = new Set((values.sections ?? SECTIONS.join(",")).split(","));
  const wantPeer = Boolean(values.peer) && !values.quick && sections.has("converse");
  if (values.peer && !wantPeer) console.error("--peer ignored: it needs the converse section and no --quick");
  const started = performance.now();
  const loadBefore = loadAverage();
  const pin = values.pin && hasTaskset() && navigator.hardwareConcurrency >= 2;
  if (values.pin && !pin) console.error("--pin ignored: needs taskset and at least 2 CPUs");
  if (pin) {
    await new Deno.Command("taskset", { args: ["-a", "-p", "-c", "0", String(Deno.pid)], stdout: "null" }).output();
  }
  const proxyCpus = pin ? "1" : undefined;
  const clientCpus = pin ? "0" : undefined;
  const profileArgs = (name: string) =>
    values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}/${name}`] : [];

  const dir = await Deno.makeTempDir({ prefix: "converse-bench-" });
  const children: ServerProcess[] = [];
  let otlp: FakeOtlp | undefined;
  const stopAll = () => Promise.all(children.splice(0).map((c) => c.stop()));
  const abort = async (why: string) => {
    console.error(`bench: ${why}; stopping its servers`);
    await stopAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(1);
  };
  const watchdog = setTimeout(() => abort(`still running after ${plan.watchdogMs / 1000} s`), plan.watchdogMs);
  // Interrupted (Ctrl-C, CI timeout): never leave the servers running.
  const onSignal = () => abort("interrupted");
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const results: Record<string, unknown> = {
    machine: machine(),
    mode: values.quick ? "quick" : "full",
    pinned: pin,
    loadAverageBefore: loadBefore,
    plan,
  };
  let failed = false;
  /** Why the peer is not measured, once it is known that it will not be. */
  let peerSkipped: string | undefined;
  const installed = wantPeer ? await installPeer() : undefined;
  if (installed && "skipped" in installed) peerSkipped = installed.skipped;
  try {
    // --otel: the measured gateway exports every span to a receiver in this process (the test suite's fake).
    otlp = values.otel ? await startFakeOtlp() : undefined;
    const fake = await spawnServer({
      name: "fake",
      cwd: ROOT,
      args: ["run", "-A", "bench/fake_upstream.ts"],
      cpus: clientCpus,
    });
    children.push(fake);
    const [bare, gateway, withWorkers, baseline, floor, peer] = await Promise.all([
      spawnServer({
        name: "bare",
        cwd: ROOT,
        args: ["run", "-A", ...profileArgs("bare"), "bench/bare_forwarder.ts", "--upstream", fake.url],
        cpus: proxyCpus,
      }),
      startGateway(fake.url, dir, "gateway", plan, {
        cpus: proxyCpus,
        profileDir: values.profile,
        settings: gatewaySettings,
        env: otlp ? otelEnv(otlp.endpoint) : undefined,
      }),
      workers
        ? startGateway(fake.url, dir, "workers", plan, {
          cpus: proxyCpus,
          profileDir: values.profile,
          settings: gatewaySettings,
          args: ["--workers", String(workers)],
        })
        : undefined,
      values.baseline
        ? startGateway(fake.url, dir, "baseline", plan, {
          root: values.baseline,
          cpus: proxyCpus,
          profileDir: values.profile,
          settings: baselineSettings,
        })
        : undefined,
      values.floor
        ? startGateway(fake.url, dir, "floor", plan, {
          script: "bench/floor_gateway.ts",
          cpus: proxyCpus,
          profileDir: values.profile,
          // The gateway's upstream client: the two are compared on the same transport.
          settings: gatewaySettings,
        })
        : undefined,
      installed && !("skipped" in installed)
        ? startPeer(installed, proxyCpus).catch((e) => {
          peerSkipped = `Portkey did not start: ${(e as Error).message.slice(0, 500)}`;
          return undefined;
        })
        : undefined,
    ]);
    children.push(bare, gateway, ...[withWorkers, baseline, floor, peer].filter((p) => p !== undefined));

    const key = await callerKey(gateway.url, caller);
    const workersKey = withWorkers ? await callerKey(withWorkers.url, caller) : undefined;
    const baselineKey = baseline ? await callerKey(baseline.url, caller) : undefined;
    const floorKey = floor ? await callerKey(floor.url, caller) : undefined;
    const targets: Target[] = [
      { name: "direct", process: fake, key: key.key },
      { name: "bare", process: bare, key: key.key },
      { name: "gateway", process: gateway, key: key.key },
      ...(withWorkers ? [{ name: "workers" as const, process: withWorkers, key: workersKey!.key }] : []),
      ...(baseline ? [{ name: "baseline" as const, process: baseline, key: baselineKey!.key }] : []),
      ...(floor ? [{ name: "floor" as const, process: floor, key: floorKey!.key }] : []),
    ];
    if (peer && installed && !("skipped" in installed)) {
      try {
        const chosen = await choosePeerCall(peer, fake.url);
        targets.push({ name: "peer", process: peer, key: "", converse: chosen.call });
        results.peer = {
          package: `@portkey-ai/gateway@${PORTKEY_VERSION}`,
          node: installed.nodeVersion,
          route: chosen.route,
          path: new URL(chosen.call.url).pathname,
          notTaken: chosen.notes,
        };
        for (const n of chosen.notes) console.error(`  peer: not measured via ${n}`);
      } catch (e) {
        peerSkipped = (e as Error).message;
        await peer.stop();
      }
    }
    if (peerSkipped) {
      console.error(`peer skipped: ${peerSkipped}`);
      results.peer = { skipped: peerSkipped };
    }
    const gw = targets[2];
    await converseOnce(gw);
    const idleRss = gateway.rssKiB(); // modules loaded, one call served, no load yet
    const workersTarget = targets.find((t) => t.name === "workers");
    if (workersTarget) await converseOnce(workersTarget);
    const workersIdleRss = withWorkers?.rssKiB() ?? NaN;
    results.auth = key.note;
    if (baselineKey) results.baselineAuth = baselineKey.note;
    if (floorKey) results.floorAuth = floorKey.note;
    const m = machine();
    console.log(
      `Converse Gateway benchmark (${values.quick ? "quick" : "full"}): ${m.nproc} CPUs, ${m.cpu}, ` +
        `Deno ${m.deno}; load average ${loadBefore}; caller: ${key.note}` +
        (gatewaySettings.upstream_client ? `; gateway upstream_client: ${gatewaySettings.upstream_client}` : "") +
        (baselineKey ? `; baseline ${values.baseline}: ${baselineKey.note}` : "") +
        (baselineSettings.upstream_client ? ` (upstream_client: ${baselineSettings.upstream_client})` : "") +
        (floorKey ? `; floor gateway: ${floorKey.note}` : "") +
        (withWorkers ? `; also the gateway with --workers ${workers}` : "") +
        (pin ? "; proxies pinned to CPU 1, fake + load generator to CPU 0" : "") +
        (targets.some((t) => t.name === "peer")
          ? `; peer: Portkey ${PORTKEY_VERSION} (Node ${(results.peer as PeerInfo).node}) via ${
            (results.peer as PeerInfo).path
          }`
          : ""),
    );

    let ohs: Overhead[] | undefined;
    let streamRows: StreamRow[] | undefined;
    let mem;
    if (sections.has("converse")) {
      const peerTarget = targets.find((t) => t.name === "peer");
      if (peerTarget) await warmUpPeer(peerTarget, plan);
      const rows = await converseSection(targets, plan);
      ohs = overheads(rows);
      results.converse = rows;
      results.overhead = ohs;
      printConverse(rows, ohs, plan);
      if (targets.some((t) => t.name === "peer")) printPeerNote(results.peer as PeerInfo);
      if (withWorkers) {
        const info: WorkersInfo = {
          workers,
          idleRssKiB: { one: idleRss, many: workersIdleRss },
          loadedRssKiB: { one: gateway.rssKiB(), many: withWorkers.rssKiB() },
        };
        results.workers = info;
        printWorkers(rows, info);
      }
    }
    if (sections.has("stream")) {
      // The peer answers streams as OpenAI server-sent events, not Bedrock event-stream frames: not compared here.
      streamRows = await streamSection(targets.filter((t) => t.name !== "peer"), fake, plan);
      results.stream = streamRows;
      printStream(streamRows, plan);
    }
    if (sections.has("memory")) {
      mem = await memorySection(gw, bare, fake, plan, idleRss);
      results.memory = mem;
      printMemory(mem);
    }
    if (sections.has("kv")) {
      const counted = await startGateway(fake.url, dir, "gateway-kv", plan, { script: "bench/counting_gateway.ts" });
      children.push(counted);
      const kv = await kvSection(counted, plan, caller);
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
    if (otlp) {
      const names = new Map<string, number>();
      for (const span of otlp.spans) names.set(span.name, (names.get(span.name) ?? 0) + 1);
      const top = [...names].sort((x, y) => y[1] - x[1]).slice(0, 6).map(([n, c]) => `${n} ×${c}`).join(", ");
      console.log(`\n--otel: the receiver got ${otlp.spans.length} spans (${top})`);
      await otlp.close();
    }
    clearTimeout(watchdog);
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
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
