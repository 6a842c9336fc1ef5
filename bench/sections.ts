/**
 * @module
 * The four measurements: converse overhead, streaming, memory, KV. Each takes running targets and a plan and
 * returns plain data (printed by report.ts, written by `--json`).
 */
import { STREAM_EVENTS } from "./fake_upstream.ts";
import { callerKey, type CallerKind } from "./gateway_setup.ts";
import { type LoadResult, percentile, runLoad } from "./load.ts";
import type { ServerProcess } from "./processes.ts";
import { fmt } from "./format.ts";
import { drainStream, holdStreams, timeStream } from "./streams.ts";
import { BODY, callOf, converseCall, converseOnce, headersOf, type Target, type TargetName, urlOf } from "./targets.ts";

/** The size of every knob (see PLANS in main.ts). */
export interface Plan {
  concurrencies: number[];
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  streamRuns: number;
  streamLoadSeconds: number;
  heldStreams: number;
  bigMiB: number;
  kvCalls: number;
  flushSamples: number;
  flushWaitMs: number;
  watchdogMs: number;
}

const median = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 0.5);
const sorted = (xs: number[]) => Float64Array.from(xs).sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const epochNow = () => performance.timeOrigin + performance.now();

/** Opens every stream the fake is holding. */
export const releaseFake = (fake: ServerProcess) =>
  fetch(`${fake.url}/__release`, { method: "POST" }).then((r) => r.json());

// ---------------------------------------------------------------------------------------------------------------
// 1. Converse overhead
// ---------------------------------------------------------------------------------------------------------------

export interface ConverseRow {
  target: TargetName;
  connections: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** CPU time of the serving process (fake, bare forwarder, gateway or peer) per request, µs. */
  cpuUsPerRequest: number;
  rounds: (LoadResult & { cpuUsPerRequest: number })[];
}

/** Every figure is the median over rounds; rounds interleave the targets so drift on the machine hits all alike. */
export async function converseSection(targets: Target[], plan: Plan): Promise<ConverseRow[]> {
  const cells = new Map<string, (LoadResult & { cpuUsPerRequest: number })[]>();
  for (let round = 0; round < plan.rounds; round++) {
    for (const connections of plan.concurrencies) {
      for (const t of targets) {
        let cpuBefore = NaN;
        const call = converseCall(t);
        const r = await runLoad({
          ...call,
          connections,
          seconds: plan.seconds,
          warmupSeconds: plan.warmupSeconds,
          onMeasureStart: () => cpuBefore = t.process.cpuMs(),
        });
        const cpuUsPerRequest = (t.process.cpuMs() - cpuBefore) * 1000 / r.requests;
        const cell = `${t.name}/${connections}`;
        cells.set(cell, [...cells.get(cell) ?? [], { ...r, cpuUsPerRequest }]);
        console.error(
          `  converse ${t.name.padEnd(8)} c=${String(connections).padEnd(3)} round ${round + 1}: ` +
            `${fmt(r.rps)} req/s, p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms, ` +
            `server CPU ${fmt(cpuUsPerRequest)} µs/req` +
            (r.errors || r.non2xx ? ` (${r.errors} errors, ${r.non2xx} non-2xx)` : ""),
        );
      }
    }
  }
  const rows: ConverseRow[] = [];
  for (const connections of plan.concurrencies) {
    for (const t of targets) {
      const rounds = cells.get(`${t.name}/${connections}`)!;
      rows.push({
        target: t.name,
        connections,
        rps: median(rounds.map((r) => r.rps)),
        p50Ms: median(rounds.map((r) => r.p50Ms)),
        p90Ms: median(rounds.map((r) => r.p90Ms)),
        p99Ms: median(rounds.map((r) => r.p99Ms)),
        errors: rounds.reduce((a, r) => a + r.errors, 0),
        non2xx: rounds.reduce((a, r) => a + r.non2xx, 0),
        cpuUsPerRequest: median(rounds.map((r) => r.cpuUsPerRequest)),
        rounds,
      });
    }
  }
  return rows;
}

export interface Overhead {
  target: TargetName;
  connections: number;
  /** target req/s ÷ bare req/s */
  throughputRatio: number;
  addedP50Ms: number;
  addedP99Ms: number;
  addedCpuUs: number;
  /** The target's own server CPU per request (µs). */
  cpuUs: number;
}

/** Each proxy against the bare forwarder, per concurrency. */
export function overheads(rows: ConverseRow[]): Overhead[] {
  const at = (t: TargetName, c: number) => rows.find((r) => r.target === t && r.connections === c);
  const out: Overhead[] = [];
  for (const c of new Set(rows.map((r) => r.connections))) {
    const bare = at("bare", c)!;
    for (const t of ["gateway", "workers", "baseline", "floor", "peer"] as const) {
      const r = at(t, c);
      if (!r) continue;
      out.push({
        target: t,
        connections: c,
        throughputRatio: r.rps / bare.rps,
        addedP50Ms: r.p50Ms - bare.p50Ms,
        addedP99Ms: r.p99Ms - bare.p99Ms,
        addedCpuUs: r.cpuUsPerRequest - bare.cpuUsPerRequest,
        cpuUs: r.cpuUsPerRequest,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Streaming
// ---------------------------------------------------------------------------------------------------------------

export interface StreamRow {
  target: TargetName;
  /** Time to first event, the fake sending it alone (then holding the rest until released). */
  ttfeP50Ms: number;
  ttfeP90Ms: number;
  /** Every held stream delivered its first event before the fake was released: nothing buffered. */
  firstEventBeforeRest: boolean;
  /** Time for the whole 500-event stream when the fake sends every event at once. */
  totalP50Ms: number;
  totalP90Ms: number;
  /**
   * Events delivered per second to 32 concurrent clients requesting burst streams back to back (body bytes
   * received ÷ bytes per event, so streams still in flight when the run ends count too).
   */
  eventsPerSecond: number;
  /** Server CPU per 1000 events relayed in that run, ms. */
  cpuMsPer1000Events: number;
}

export async function streamSection(targets: Target[], fake: ServerProcess, plan: Plan): Promise<StreamRow[]> {
  const acc = new Map<TargetName, { ttfe: number[]; total: number[]; held: boolean }>(
    targets.map((t) => [t.name, { ttfe: [], total: [], held: true }]),
  );
  let bytesPerEvent = 0;
  /**
   * One held stream: the fake sends the first event and waits; the client releases it once that event is in.
   * A proxy that buffered could not deliver the first event before the release; a watchdog releases the fake
   * after 10 s anyway so the run ends, and the stream counts as not held.
   */
  const heldStream = async (t: Target) => {
    let released = false;
    const watchdog = setTimeout(() => {
      released = true;
      releaseFake(fake);
    }, 10_000);
    let firstWhileHeld = false;
    const r = await timeStream(callOf(t, "gated", "converse-stream"), async () => {
      firstWhileHeld = !released;
      released = true;
      await releaseFake(fake);
    }).finally(() => clearTimeout(watchdog));
    return { ...r, firstWhileHeld: firstWhileHeld && r.events === STREAM_EVENTS };
  };

  for (const t of targets) {
    await heldStream(t);
    await timeStream(callOf(t, "fixed", "converse-stream"));
  }
  // Every other run in reverse order: a target's calls follow another's burst otherwise, always the same one, and a
  // position in the order measured up to 4 ms of TTFE on a loaded machine (the gateway's slot was worse with either
  // upstream client in it).
  for (let i = 0; i < plan.streamRuns; i++) {
    for (const t of i % 2 ? [...targets].reverse() : targets) {
      const a = acc.get(t.name)!;
      const held = await heldStream(t);
      a.ttfe.push(held.ttfeMs);
      a.held &&= held.firstWhileHeld;
      const burst = await timeStream(callOf(t, "fixed", "converse-stream"));
      if (burst.events !== STREAM_EVENTS) throw new Error(`${t.name}: ${burst.events} events, not ${STREAM_EVENTS}`);
      bytesPerEvent = burst.bytes / burst.events;
      a.total.push(burst.totalMs);
    }
  }
  const rows: StreamRow[] = [];
  for (const t of targets) {
    const a = acc.get(t.name)!;
    let cpuBefore = NaN;
    const load = await runLoad({
      url: urlOf(t, "fixed", "converse-stream"),
      body: BODY,
      headers: headersOf(t),
      connections: 32,
      seconds: plan.streamLoadSeconds,
      warmupSeconds: plan.warmupSeconds,
      onMeasureStart: () => cpuBefore = t.process.cpuMs(),
      countBodyBytes: true,
    });
    const cpuMs = t.process.cpuMs() - cpuBefore;
    const eventsPerSecond = load.bodyBytesPerSecond / bytesPerEvent;
    const ttfe = sorted(a.ttfe);
    const total = sorted(a.total);
    rows.push({
      target: t.name,
      ttfeP50Ms: percentile(ttfe, 0.5),
      ttfeP90Ms: percentile(ttfe, 0.9),
      firstEventBeforeRest: a.held,
      totalP50Ms: percentile(total, 0.5),
      totalP90Ms: percentile(total, 0.9),
      eventsPerSecond,
      cpuMsPer1000Events: cpuMs / (eventsPerSecond * plan.streamLoadSeconds) * 1000,
    });
    console.error(
      `  stream ${t.name.padEnd(8)} TTFE p50 ${fmt(rows.at(-1)!.ttfeP50Ms)} ms, ${
        fmt(eventsPerSecond)
      } events/s at c=32`,
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Memory
// ---------------------------------------------------------------------------------------------------------------

export interface MemoryResult {
  heldStreams: number;
  bigMiB: number;
  rssKiB: {
    idleAtStart: number;
    before: number;
    duringHeld: number;
    afterHeld: number;
    /** Peak RSS while the first half of the big stream was relayed (sampled every 20 ms), and the second half. */
    peakFirstHalf: number;
    peakSecondHalf: number;
    peakDuringBig: number;
    afterBig: number;
  };
  /** The bare forwarder's RSS at `before`, for scale: what any Deno proxy holds after the same load. */
  bareBeforeKiB: number;
  heldEvents: number;
  heldFailed: number;
  bigBytes: number;
  bigMiBPerSecond: number;
}

export async function memorySection(
  gateway: Target,
  bare: ServerProcess,
  fake: ServerProcess,
  plan: Plan,
  idleAtStart: number,
): Promise<MemoryResult> {
  const rss = () => gateway.process.rssKiB();
  const before = rss();
  const bareBeforeKiB = bare.rssKiB();
  const held = await holdStreams(callOf(gateway, "gated", "converse-stream"), plan.heldStreams, 60_000);
  const duringHeld = rss();
  await releaseFake(fake);
  const { events, failed } = await held.finish();
  // Closed connections and their buffers are let go lazily (no GC hook from outside): what an operator sees.
  await sleep(1000);
  const afterHeld = rss();

  // Flat across stream length means the second half of the stream needs no more memory than the first: a proxy that
  // buffered would hold ~half the stream more by its end. The peak over the RSS before the stream is reported too, but
  // it also holds what any stream needs at all (read buffers, young-generation garbage until the next scavenge).
  const half = plan.bigMiB * 2 ** 20 / 2;
  let peakFirstHalf = rss(), peakSecondHalf = 0;
  const big = await drainStream(callOf(gateway, "big", "converse-stream"), (bytesSoFar) => {
    if (bytesSoFar < half) peakFirstHalf = Math.max(peakFirstHalf, rss());
    else peakSecondHalf = Math.max(peakSecondHalf, rss());
  }, 20);
  await sleep(1000);
  const afterBig = rss();
  console.error(`  memory: ${plan.heldStreams} held streams, ${fmt(big.bytes / 2 ** 20)} MiB stream`);
  return {
    heldStreams: plan.heldStreams,
    bigMiB: plan.bigMiB,
    rssKiB: {
      idleAtStart,
      before,
      duringHeld,
      afterHeld,
      peakFirstHalf,
      peakSecondHalf,
      peakDuringBig: Math.max(peakFirstHalf, peakSecondHalf),
      afterBig,
    },
    bareBeforeKiB,
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

export interface KvPerCall {
  readsPerCall: number;
  writesPerCall: number;
  byOp: Record<string, number>;
}

export interface KvResult {
  auth: string;
  calls: number;
  converse: KvPerCall;
  stream: KvPerCall;
  /** Response end → the call's last KV write settled, ms (median); null when no write follows a call. */
  flushP50Ms: number | null;
  flushSamples: number[];
  flushNote: string;
}

function perCall(a: KvCountsWire, b: KvCountsWire, n: number): KvPerCall {
  const byOp: Record<string, number> = {};
  for (const op of new Set([...Object.keys(a.byOp), ...Object.keys(b.byOp)])) {
    const d = (b.byOp[op] ?? 0) - (a.byOp[op] ?? 0);
    if (d) byOp[op] = d / n;
  }
  return { readsPerCall: (b.reads - a.reads) / n, writesPerCall: (b.writes - a.writes) / n, byOp };
}

/** Runs against the counting gateway (`counting_gateway.ts`: it serves `/__bench/kv-counts`). */
export async function kvSection(counted: ServerProcess, plan: Plan, caller: CallerKind): Promise<KvResult> {
  const key = await callerKey(counted.url, caller);
  const t: Target = { name: "gateway", process: counted, key: key.key };
  const counts = async (): Promise<KvCountsWire> =>
    await (await fetch(`${counted.url}/__bench/kv-counts`)).json() as KvCountsWire;

  await converseOnce(t); // warm: key record cached, connections open
  const c0 = await counts();
  for (let i = 0; i < plan.kvCalls; i++) await converseOnce(t);
  const c1 = await counts();
  for (let i = 0; i < plan.kvCalls; i++) await timeStream(callOf(t, "fixed", "converse-stream"));
  const c2 = await counts();

  // Spend flush: once a call has fully answered, how long until its KV writes have settled.
  const flushSamples: number[] = [];
  let flushNote = "";
  for (let i = 0; i < plan.flushSamples; i++) {
    await sleep(100); // let the previous call's writes land first
    const start = await counts();
    await converseOnce(t);
    const responseEnd = epochNow();
    let seen: KvCountsWire | undefined;
    const deadline = performance.now() + plan.flushWaitMs;
    while (performance.now() < deadline) {
      const c = await counts();
      if (c.writes > start.writes && c.lastWriteAt !== null && c.lastWriteAt !== start.lastWriteAt) {
        // A flush may span several commits: give it 200 ms, then take the last one.
        await sleep(200);
        seen = await counts();
        break;
      }
      await sleep(1);
    }
    if (!seen) {
      flushNote = `no KV write within ${plan.flushWaitMs} ms of a call: nothing to flush`;
      break;
    }
    flushSamples.push(seen.lastWriteAt! - responseEnd);
  }
  if (flushSamples.length) {
    flushNote = flushSamples.some((x) => x < 0)
      ? "a write settled before the response ended (is one awaited on the response path?)"
      : "response end → the call's last KV write settled";
  }
  return {
    auth: key.note,
    calls: plan.kvCalls,
    converse: perCall(c0, c1, plan.kvCalls),
    stream: perCall(c1, c2, plan.kvCalls),
    flushP50Ms: flushSamples.length ? median(flushSamples) : null,
    flushSamples,
    flushNote,
  };
}
