/**
 * @module
 * The benchmark's console output: Markdown tables (pasted as they are into docs/benchmarks.md) and the targets
 * check, which is informational only.
 */
import { STREAM_EVENTS } from "./fake_upstream.ts";
import { fmt } from "./format.ts";
import type { ConverseRow, KvResult, MemoryResult, Overhead, Plan, StreamRow } from "./sections.ts";
import { BODY, type TargetName } from "./targets.ts";

/** A Markdown table: first row is the header; numeric columns right-aligned. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => typeof c === "number" ? fmt(c) : c));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const numeric = cells[0].map((_, i) => rows.slice(1).every((r) => typeof r[i] === "number"));
  const line = (r: string[]) =>
    "| " + r.map((c, i) => numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join(" | ") + " |";
  const rule = "|" + widths.map((w, i) => numeric[i] ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2)).join("|") + "|";
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join("\n");
}

/** Signed difference with unit: +0.120 ms. */
export function delta(n: number, unit: string): string {
  if (!Number.isFinite(n)) return "n/a";
  return `${n >= 0 ? "+" : "−"}${fmt(Math.abs(n))} ${unit}`;
}

const mib = (kib: number) => kib / 1024;

export function printConverse(rows: ConverseRow[], ohs: Overhead[], plan: Plan) {
  console.log(
    `\n## Converse (non-streaming), ${BODY.length}-byte body: median of ${plan.rounds} round(s) × ${plan.seconds} s`,
  );
  console.log(table([
    ["target", "conc", "req/s", "p50 ms", "p90 ms", "p99 ms", "server CPU µs/req", "errors"],
    ...rows.map((r) => [
      r.target,
      r.connections,
      r.rps,
      r.p50Ms,
      r.p90Ms,
      r.p99Ms,
      r.cpuUsPerRequest,
      r.errors + r.non2xx,
    ]),
  ]));
  console.log();
  console.log(table([
    ["vs bare", "conc", "req/s ratio", "added p50", "added p99", "added CPU/req"],
    ...ohs.map((o) => [
      o.target,
      o.connections,
      `${fmt(o.throughputRatio)}×`,
      delta(o.addedP50Ms, "ms"),
      delta(o.addedP99Ms, "ms"),
      delta(o.addedCpuUs, "µs"),
    ]),
  ]));
}

/** `--workers N`: the gateway in one isolate against N workers, per concurrency (results.workers in `--json`). */
export interface WorkersInfo {
  workers: number;
  /** Resident memory after one call (modules loaded, nothing under load), KiB. */
  idleRssKiB: { one: number; many: number };
  /** After the converse section, KiB. */
  loadedRssKiB: { one: number; many: number };
}

export function printWorkers(rows: ConverseRow[], info: WorkersInfo) {
  const at = (t: TargetName, c: number) => rows.find((r) => r.target === t && r.connections === c);
  console.log(`\n## One isolate against --workers ${info.workers} (same machine, same load generator)`);
  console.log(table([
    [
      "conc",
      "req/s ×1",
      `req/s ×${info.workers}`,
      "ratio",
      "p50 ×1",
      `p50 ×${info.workers}`,
      "p99 ×1",
      `p99 ×${info.workers}`,
      "CPU µs/req ×1",
      `CPU µs/req ×${info.workers}`,
    ],
    ...[...new Set(rows.map((r) => r.connections))].flatMap((c) => {
      const one = at("gateway", c), many = at("workers", c);
      return one && many
        ? [[
          c,
          one.rps,
          many.rps,
          `${fmt(many.rps / one.rps)}×`,
          one.p50Ms,
          many.p50Ms,
          one.p99Ms,
          many.p99Ms,
          one.cpuUsPerRequest,
          many.cpuUsPerRequest,
        ]]
        : [];
    }),
  ]));
  console.log(
    `RSS: ×1 ${fmt(mib(info.idleRssKiB.one))} MiB idle, ${fmt(mib(info.loadedRssKiB.one))} MiB after load; ` +
      `×${info.workers} ${fmt(mib(info.idleRssKiB.many))} MiB idle, ${
        fmt(mib(info.loadedRssKiB.many))
      } MiB after load. ` +
      "A kept-alive connection stays with the worker that accepted it: at concurrency 1 one worker serves all.",
  );
}

/** What `--peer` measured (results.peer in `--json`). */
export interface PeerInfo {
  package: string;
  node: string;
  route: "pass-through" | "chat-completions";
  path: string;
  /** Routes tried first and why they were not used. */
  notTaken: string[];
}

export function printPeerNote(p: PeerInfo) {
  const how = p.route === "pass-through"
    ? "Converse body forwarded to the fake's /converse"
    : "OpenAI chat-completions body translated to the same Converse body, the answer translated back";
  console.log(
    `peer: ${p.package} on Node ${p.node}, POST ${p.path} (${how}; SigV4 with the same identity; no virtual keys, ` +
      "budgets or spend logs)" + (p.notTaken.length ? `; not used: ${p.notTaken.join("; ")}` : ""),
  );
}

export function printStream(rows: StreamRow[], plan: Plan) {
  console.log(
    `\n## Streaming, ${STREAM_EVENTS}-event converse-stream: ${plan.streamRuns} sequential calls per target, ` +
      `then concurrency 32 for ${plan.streamLoadSeconds} s`,
  );
  console.log(table([
    [
      "target",
      "TTFE p50 ms",
      "TTFE p90 ms",
      "first event before the rest",
      "total p50 ms",
      "total p90 ms",
      "events/s @c32",
      "CPU ms/1000 events",
    ],
    ...rows.map((r) => [
      r.target,
      r.ttfeP50Ms,
      r.ttfeP90Ms,
      r.firstEventBeforeRest ? "yes" : "NO",
      r.totalP50Ms,
      r.totalP90Ms,
      r.eventsPerSecond,
      r.cpuMsPer1000Events,
    ]),
  ]));
  console.log(
    "TTFE: the fake sends the first event alone and holds the other " + `${STREAM_EVENTS - 1} until the client ` +
      "has it (so every TTFE sample is also a no-buffering check); total: all events sent at once.",
  );
}

export function printMemory(m: MemoryResult) {
  const r = m.rssKiB;
  console.log(`\n## Gateway memory (RSS)`);
  console.log(table([
    ["moment", "RSS MiB"],
    ["idle after start (one call served)", mib(r.idleAtStart)],
    ["before the memory test (after the load tests)", mib(r.before)],
    ["(bare forwarder at that moment, for scale)", mib(m.bareBeforeKiB)],
    [`during ${m.heldStreams} concurrent held streams`, mib(r.duringHeld)],
    ["1 s after they finished", mib(r.afterHeld)],
    [`peak during one ${fmt(m.bigBytes / 2 ** 20)} MiB stream: its first half`, mib(r.peakFirstHalf)],
    ["… and its second half", mib(r.peakSecondHalf)],
    ["1 s after it finished", mib(r.afterBig)],
  ]));
  console.log(
    `held streams: ${m.heldEvents} events relayed, ${m.heldFailed} failed, ` +
      `${fmt(heldStreamKiB(m))} KiB of RSS per held stream; ` +
      `big stream at ${fmt(m.bigMiBPerSecond)} MiB/s through the gateway`,
  );
}

/** RSS per held stream: while they are held, over the RSS before them. */
export const heldStreamKiB = (m: MemoryResult) => (m.rssKiB.duringHeld - m.rssKiB.before) / m.heldStreams;

export function printKv(k: KvResult) {
  console.log(`\n## KV per call (${k.calls} calls each; ${k.auth})`);
  const ops = (o: Record<string, number>) => Object.entries(o).map(([op, n]) => `${op} ${fmt(n)}`).join(", ") || "none";
  console.log(table([
    ["call", "reads/call", "writes/call", "operations/call"],
    ["converse", k.converse.readsPerCall, k.converse.writesPerCall, ops(k.converse.byOp)],
    ["converse-stream", k.stream.readsPerCall, k.stream.writesPerCall, ops(k.stream.byOp)],
  ]));
  console.log(`spend flush: ${k.flushP50Ms === null ? "n/a" : `${fmt(k.flushP50Ms)} ms (median)`}: ${k.flushNote}`);
}

export function printTargets(ohs?: Overhead[], stream?: StreamRow[], mem?: MemoryResult) {
  const lines: string[] = [];
  const mark = (ok: boolean) => ok ? "met " : "MISS";
  /** What the floor gateway (`--floor`) and the bare forwarder reach on the same target: is it reachable here? */
  const reference = (parts: Array<string | undefined>) => {
    const known = parts.filter((p) => p !== undefined);
    if (known.length) lines.push(`       (${known.join("; ")})`);
  };
  const at = (t: TargetName, c: number) => ohs?.find((o) => o.target === t && o.connections === c);
  const c32 = at("gateway", 32), c1 = at("gateway", 1);
  if (c32) {
    lines.push(`${mark(c32.throughputRatio >= 0.8)} gateway req/s ≥ 0.8× bare at c=32: ${fmt(c32.throughputRatio)}×`);
    const floor = at("floor", 32);
    reference([floor && `floor gateway: ${fmt(floor.throughputRatio)}×`]);
    // The gateway's own work: CPU per call against the floor's (only the work any gateway must do), same rounds.
    if (floor) {
      const ratio = c32.cpuUs / floor.cpuUs;
      lines.push(
        `${mark(ratio <= 1.2)} gateway CPU/call ≤ 1.2× the floor gateway's at c=32: ${fmt(ratio)}× ` +
          `(${fmt(c32.cpuUs)} against ${fmt(floor.cpuUs)} µs)`,
      );
    }
    const base = at("baseline", 32);
    if (base) {
      lines.push(`info gateway CPU/call against the baseline's at c=32: ${delta(c32.cpuUs - base.cpuUs, "µs")}`);
    }
  }
  if (c1) {
    lines.push(`${mark(c1.addedP50Ms <= 0.3)} added p50 ≤ 0.3 ms at c=1: ${delta(c1.addedP50Ms, "ms")}`);
    const floor = at("floor", 1);
    reference([floor && `floor gateway: ${delta(floor.addedP50Ms, "ms")}`]);
  }
  const row = (t: TargetName) => stream?.find((r) => r.target === t);
  const gw = row("gateway"), direct = row("direct");
  if (gw && direct) {
    const overDirect = (r: StreamRow | undefined) => r && delta(r.ttfeP50Ms - direct.ttfeP50Ms, "ms");
    const d = gw.ttfeP50Ms - direct.ttfeP50Ms;
    lines.push(`${mark(d <= 1)} stream TTFE p50 within 1 ms of direct: ${delta(d, "ms")}`);
    const bare = overDirect(row("bare")), floor = overDirect(row("floor"));
    reference([bare && `bare forwarder: ${bare}`, floor && `floor gateway: ${floor}`]);
    lines.push(`${mark(gw.firstEventBeforeRest)} no buffering: first event before the rest, every time`);
  }
  // A small stream (--quick) cannot tell flat memory from ordinary heap movement, so it is only judged on a big one.
  if (mem && mem.bigMiB >= 100) {
    const r = mem.rssKiB;
    const growth = r.peakSecondHalf - r.peakFirstHalf;
    lines.push(
      `${mark(growth <= 16 * 1024)} memory flat across stream length (second half of a ${mem.bigMiB} MiB stream ` +
        `≤ 16 MiB over its first half): ${delta(mib(growth), "MiB")}`,
    );
    reference([`peak over the RSS before the stream: ${delta(mib(r.peakDuringBig - r.afterHeld), "MiB")}`]);
  }
  if (mem) lines.push(`info memory per held stream: ${fmt(heldStreamKiB(mem))} KiB (${mem.heldStreams} held at once)`);
  if (lines.length) console.log(`\n## Targets (informational: the bench never fails on numbers)\n${lines.join("\n")}`);
}
