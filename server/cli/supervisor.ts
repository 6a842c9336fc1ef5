/**
 * @module
 * The main isolate of `deno task start --workers N`: it serves no HTTP itself. It checks the port is free (a socket
 * without SO_REUSEPORT: a port another program holds, or another gateway's workers share, is refused as with one
 * worker) and picks it when `--port 0`; starts N workers (`worker.ts`) on it, each a whole gateway with its own KV
 * handle on the one store; says when all are ready (or the first start-up failure); relays the routers' news between
 * them, and the metrics a worker answering a scrape gathers from the others (each given {@link GATHER_WAIT_MS});
 * restarts a worker that crashed (with backoff; the others keep serving the port meanwhile); and when told to stop,
 * tells every worker to drain and flush and waits for all, bounded.
 *
 * Workers are instances of the same module as the CLI (`workerUrl`): that works from source, from a bundle and in a
 * compiled binary alike, where a second entry file would not.
 */
import { StartupError } from "../boot.ts";
import { createLogger, type Logger } from "../core/log.ts";
import type { DescriptorLimit } from "../http/descriptors.ts";
import type { MetricsSnapshot } from "../spend/metrics.ts";
import type { FromWorker, ToWorker } from "./messages.ts";
import type { CliOptions } from "./options.ts";
import type { BannerFacts } from "./banner.ts";
import { listenError } from "./run_gateway.ts";

export interface SuperviseOptions {
  options: CliOptions;
  descriptors: DescriptorLimit | undefined;
  /** The module each worker runs (the CLI's own: it serves as a worker when it finds itself in one). */
  workerUrl: string | URL;
  /** The main isolate's own log lines (a crash, a restart); default stdout. */
  log?: Logger;
  /** The first restart's wait after a crash (default {@link RESTART_FIRST_MS}; tests pass 0). */
  restartFirstMs?: number;
}

export interface Supervisor {
  /** The port every worker serves. */
  port: number;
  /** Resolves once every worker serves, with what the listening line says; rejects with the first `StartupError`. */
  ready: Promise<BannerFacts>;
  /** Tells every worker to drain and flush; true once all have, false when the bound ran out first. Once. */
  stop(signal: string): Promise<boolean>;
}

/** How long a scrape waits for the other workers' metrics; a worker that has not answered by then is left out. */
export const GATHER_WAIT_MS = 2000;
/** A restarted worker waits this long first, doubling per crash in a row up to the most. */
export const RESTART_FIRST_MS = 1000;
const RESTART_MOST_MS = 30_000;
/** A worker that ran this long since its last restart starts the backoff afresh. */
const RESTART_RESET_MS = 60_000;
/** Beyond the workers' own bound on stopping, before the main isolate gives up on them. */
const STOP_MARGIN_MS = 2000;
/** The workers' bound when none has said its own yet (stopped during start-up): the default settings' bound. */
const DEFAULT_STOP_WITHIN_MS = 25_000 + 2000 + 4000;

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  stopped: boolean;
  startedAt: number;
  crashesInARow: number;
  /** It replaces a worker that crashed. */
  replacement: boolean;
}

type Ready = Extract<FromWorker, { type: "ready" }>;

/** Starts the workers; throws a `StartupError` when the port cannot be had. */
export function superviseWorkers(opts: SuperviseOptions): Supervisor {
  const { options } = opts;
  const count = options.workers;
  const log = opts.log ?? createLogger();
  let port: number;
  try {
    const probe = Deno.listen({ hostname: options.hostname, port: options.port });
    port = (probe.addr as Deno.NetAddr).port;
    probe.close();
  } catch (e) {
    throw listenError(e, options.hostname, options.port);
  }

  const slots: Slot[] = [];
  let stopping: Promise<boolean> | undefined;
  let stopWithinMs = 0;
  let announced = false;
  let onAllStopped: (() => void) | undefined;
  const startup = Promise.withResolvers<Ready>();
  startup.promise.catch(() => {});

  /** Scrapes being gathered: who asked, whose metrics are still awaited, what came. */
  const gathers = new Map<
    number,
    { asker: Slot; id: number; waiting: Set<number>; got: MetricsSnapshot[]; timer: ReturnType<typeof setTimeout> }
  >();
  let nextGather = 0;
  const gathered = (g: number) => {
    const gather = gathers.get(g);
    if (!gather) return;
    gathers.delete(g);
    clearTimeout(gather.timer);
    post(gather.asker, { type: "metrics", id: gather.id, snapshots: gather.got });
  };

  const post = (slot: Slot, m: ToWorker) => slot.worker.postMessage(m);
  const others = (slot: Slot) => slots.filter((s) => s !== slot && s.ready && !s.stopped);
  const allStopped = () => {
    if (slots.every((s) => s.stopped)) onAllStopped?.();
  };
  /** Start-up failed: no worker keeps running, and the CLI says why. */
  const failStartup = (message: string, details: string[]) => {
    for (const s of slots) {
      s.stopped = true;
      s.worker.terminate();
    }
    startup.reject(new StartupError(message, details));
  };

  const onMessage = (slot: Slot, m: FromWorker) => {
    if (m.type === "router") {
      for (const o of others(slot)) post(o, { type: "router", from: String(slot.index), news: m.news });
    } else if (m.type === "metrics_wanted") {
      const g = ++nextGather;
      const from = others(slot);
      const timer = setTimeout(() => gathered(g), GATHER_WAIT_MS);
      gathers.set(g, { asker: slot, id: m.id, waiting: new Set(from.map((o) => o.index)), got: [], timer });
      for (const o of from) post(o, { type: "metrics_snapshot_wanted", gather: g });
      if (from.length === 0) gathered(g);
    } else if (m.type === "metrics_snapshot") {
      const gather = gathers.get(m.gather);
      if (gather?.waiting.delete(slot.index)) {
        gather.got.push(m.snapshot);
        if (gather.waiting.size === 0) gathered(m.gather);
      }
    } else if (m.type === "ready") {
      slot.ready = true;
      stopWithinMs = Math.max(stopWithinMs, m.stopWithinMs);
      if (slot.replacement) log.info("worker restarted", { worker: slot.index });
      if (slots.filter((s) => s.ready && !s.stopped).length === count) startup.resolve(m);
      if (stopping) post(slot, { type: "stop", signal: "stopping" });
    } else if (m.type === "failed") {
      if (!slot.replacement && !announced) return failStartup(m.message, m.details);
      log.error("a restarted worker failed to start; the others keep serving", {
        worker: slot.index,
        error: m.message,
      });
      slot.stopped = true;
      slot.worker.terminate();
      allStopped();
    } else if (m.type === "stopped") {
      slot.stopped = true;
      slot.worker.terminate();
      allStopped();
    }
  };

  const spawn = (index: number, crashesInARow = 0, replacement = false): Slot => {
    const worker = new Worker(opts.workerUrl, { type: "module", name: `worker ${index}` });
    const slot: Slot = {
      index,
      worker,
      ready: false,
      stopped: false,
      startedAt: Date.now(),
      crashesInARow,
      replacement,
    };
    slots[index] = slot;
    worker.onmessage = (event: MessageEvent<FromWorker>) => onMessage(slot, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      crashed(slot, event.message);
    };
    post(slot, { type: "start", index, count, options: { ...options, port }, descriptors: opts.descriptors });
    return slot;
  };

  const crashed = (slot: Slot, message: string) => {
    if (slot.stopped) return;
    slot.stopped = true;
    slot.worker.terminate();
    // What it said of its calls in flight no longer holds.
    for (const o of others(slot)) post(o, { type: "router", from: String(slot.index), news: { kind: "gone" } });
    // A worker that never served is a start-up failure; one that served is replaced.
    if (!slot.ready && !announced) return failStartup(`worker ${slot.index} crashed while starting: ${message}`, []);
    if (stopping) {
      log.error("a worker crashed while stopping: its unwritten accounting is lost", { worker: slot.index, message });
      return allStopped();
    }
    const inARow = Date.now() - slot.startedAt > RESTART_RESET_MS ? 0 : slot.crashesInARow + 1;
    const first = opts.restartFirstMs ?? RESTART_FIRST_MS;
    const wait = Math.min(RESTART_MOST_MS, first * 2 ** Math.max(0, inARow - 1));
    log.error("a worker crashed: the others keep serving; starting a new one", {
      worker: slot.index,
      message,
      restart_in_ms: wait,
    });
    setTimeout(() => {
      if (!stopping) spawn(slot.index, inARow, true);
    }, wait);
  };

  for (let i = 0; i < count; i++) spawn(i);

  const stop = (signal: string) =>
    stopping ??= (async () => {
      const bound = (stopWithinMs || DEFAULT_STOP_WITHIN_MS) + STOP_MARGIN_MS;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = new Promise<boolean>((resolve) => {
        onAllStopped = () => resolve(true);
        timer = setTimeout(() => resolve(false), bound);
      });
      for (const slot of slots) if (!slot.stopped) post(slot, { type: "stop", signal });
      allStopped();
      const clean = await done;
      clearTimeout(timer);
      if (!clean) {
        const left = slots.filter((s) => !s.stopped).map((s) => s.index);
        for (const s of slots) s.worker.terminate();
        log.error("workers did not stop in time; exiting without them", { workers: left, waited_ms: bound });
      }
      return clean;
    })();

  const ready = startup.promise.then((m) => {
    announced = true;
    return m.banner;
  });
  return { port, ready, stop };
}
