/**
 * @module
 * The main isolate of `deno task start --workers N`: it serves no HTTP itself. It checks the port is free (a socket
 * without SO_REUSEPORT: a port another program holds, or another gateway's workers share, is refused as with one
 * worker) and picks it when `--port 0`; starts N workers (`worker.ts`) on it, each a whole gateway with its own KV
 * handle on the one store; prints the one listening line once all are ready (or the first start-up failure, exit 1);
 * relays the routers' news between them; restarts a worker that crashed (with backoff); and on SIGINT/SIGTERM tells
 * every worker to drain and flush, waits for all (bounded), and exits 0.
 *
 * Workers are instances of the same module as the CLI (`workerUrl`): that works from source, from a bundle and in a
 * compiled binary alike, where a second entry file would not.
 */
import { createLogger } from "../core/log.ts";
import type { DescriptorLimit } from "../http/descriptors.ts";
import type { FromWorker, ToWorker } from "./messages.ts";
import type { CliOptions } from "./options.ts";
import { listenError } from "./run_gateway.ts";

export interface SuperviseOptions {
  options: CliOptions;
  descriptors: DescriptorLimit | undefined;
  /** The module each worker runs (the CLI's own: it serves as a worker when it finds itself in one). */
  workerUrl: string | URL;
  /** Prints the listening line (stdout) — and start-up errors (stderr): the entry's own printers. */
  announce: (line: string) => void;
  fail: (message: string, details: string[]) => never;
}

/** A restarted worker waits this long first, doubling per crash in a row up to the most. */
const RESTART_FIRST_MS = 1000;
const RESTART_MOST_MS = 30_000;
/** A worker that ran this long since its last restart starts the backoff afresh. */
const RESTART_RESET_MS = 60_000;
/** Beyond the workers' own bound on stopping, before the main isolate gives up on them. */
const STOP_MARGIN_MS = 2000;
/** The workers' bound when none has said its own yet (a signal during start-up): the default settings' bound. */
const DEFAULT_STOP_WITHIN_MS = 25_000 + 2000 + 4000;

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  stopped: boolean;
  startedAt: number;
  crashesInARow: number;
}

export async function supervise(opts: SuperviseOptions): Promise<void> {
  const { options } = opts;
  const count = options.workers;
  const log = createLogger();
  let port: number;
  try {
    const probe = Deno.listen({ hostname: options.hostname, port: options.port });
    port = (probe.addr as Deno.NetAddr).port;
    probe.close();
  } catch (e) {
    const err = listenError(e, options.hostname, options.port);
    opts.fail(err.message, err.details);
  }

  const slots: Slot[] = [];
  let stopping = false;
  let readyCount = 0;
  let stopWithinMs = 0;
  let announced = false;
  let onAllStopped: (() => void) | undefined;
  let startup!: { resolve: (r: Extract<FromWorker, { type: "ready" }>) => void; reject: (e: FromWorker) => void };
  const allReady = new Promise<Extract<FromWorker, { type: "ready" }>>((resolve, reject) => {
    startup = { resolve, reject };
  });
  allReady.catch(() => {});

  const post = (slot: Slot, m: ToWorker) => slot.worker.postMessage(m);
  const others = (slot: Slot) => slots.filter((s) => s !== slot && s.ready && !s.stopped);

  const spawn = (index: number, crashesInARow = 0): Slot => {
    const worker = new Worker(opts.workerUrl, { type: "module", name: `worker ${index}` });
    const slot: Slot = { index, worker, ready: false, stopped: false, startedAt: Date.now(), crashesInARow };
    slots[index] = slot;
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const m = event.data;
      if (m.type === "router") {
        for (const o of others(slot)) post(o, { type: "router", from: String(index), news: m.news });
      } else if (m.type === "ready") {
        slot.ready = true;
        stopWithinMs = Math.max(stopWithinMs, m.stopWithinMs);
        if (announced) log.info("worker restarted", { worker: index });
        else if (++readyCount === count) startup.resolve(m);
        if (stopping) post(slot, { type: "stop", signal: "restart during shutdown" });
      } else if (m.type === "failed") {
        if (!announced) startup.reject(m);
        else {
          log.error("a restarted worker failed to start; the others keep serving", { worker: index, error: m.message });
          slot.stopped = true;
          worker.terminate();
        }
      } else if (m.type === "stopped") {
        slot.stopped = true;
        worker.terminate();
        if (slots.every((s) => s.stopped)) onAllStopped?.();
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      crashed(slot, event.message);
    };
    post(slot, {
      type: "start",
      index,
      count,
      options: { ...options, port },
      descriptors: opts.descriptors,
    });
    return slot;
  };

  const crashed = (slot: Slot, message: string) => {
    if (slot.stopped) return;
    slot.stopped = true;
    slot.worker.terminate();
    // What it said of its calls in flight no longer holds.
    for (const o of others(slot)) post(o, { type: "router", from: String(slot.index), news: { kind: "gone" } });
    if (!announced) {
      startup.reject({
        type: "failed",
        message: `worker ${slot.index} crashed while starting: ${message}`,
        details: [],
      });
      return;
    }
    if (stopping) {
      log.error("a worker crashed while stopping: its unwritten accounting is lost", { worker: slot.index, message });
      if (slots.every((s) => s.stopped)) onAllStopped?.();
      return;
    }
    const inARow = Date.now() - slot.startedAt > RESTART_RESET_MS ? 0 : slot.crashesInARow + 1;
    const wait = Math.min(RESTART_MOST_MS, RESTART_FIRST_MS * 2 ** Math.max(0, inARow - 1));
    log.error("a worker crashed: the others keep serving; starting a new one", {
      worker: slot.index,
      message,
      restart_in_ms: wait,
    });
    setTimeout(() => {
      if (!stopping) spawn(slot.index, inARow);
    }, wait);
  };

  for (let i = 0; i < count; i++) spawn(i);

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const bound = (stopWithinMs || DEFAULT_STOP_WITHIN_MS) + STOP_MARGIN_MS;
    const done = new Promise<boolean>((resolve) => {
      onAllStopped = () => resolve(true);
      setTimeout(() => resolve(false), bound);
    });
    for (const slot of slots) if (!slot.stopped) post(slot, { type: "stop", signal });
    if (slots.every((s) => s.stopped)) onAllStopped?.();
    const clean = await done;
    if (!clean) {
      const left = slots.filter((s) => !s.stopped).map((s) => s.index);
      log.error("workers did not stop in time; exiting without them", { workers: left, waited_ms: bound });
    }
    Deno.exit(clean ? 0 : 1);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));

  let first: Extract<FromWorker, { type: "ready" }>;
  try {
    first = await allReady;
  } catch (e) {
    for (const slot of slots) slot.worker.terminate();
    const failed = e as Extract<FromWorker, { type: "failed" }>;
    opts.fail(failed.message, failed.details);
  }
  announced = true;
  if (stopping) return;
  const shown = options.hostname === "0.0.0.0" ? "localhost" : options.hostname;
  opts.announce(
    `Converse Gateway listening on http://${shown}:${port} with ${count} workers (config ${first.configSource}) ` +
      `models: ${first.models.join(", ")}`,
  );
}
