/**
 * @module
 * What the main isolate of `--workers N` and its workers say to each other over the workers' message ports
 * (structured clones: plain data only). Ports deliver every message in order, so the router's news relayed through
 * the main isolate is never lost (unlike Deno's `BroadcastChannel`, which drops messages when a receiver lags).
 */
import type { DescriptorLimit } from "../http/descriptors.ts";
import type { RouterNews } from "../router/peers.ts";
import type { MetricsSnapshot } from "../spend/metrics.ts";
import type { CliOptions } from "./options.ts";
import type { BannerFacts } from "./banner.ts";

/** Main isolate → worker. */
export type ToWorker =
  /** Boot and serve `options.port` (already chosen: never 0) with SO_REUSEPORT. */
  | { type: "start"; index: number; count: number; options: CliOptions; descriptors?: DescriptorLimit }
  /** Another worker's router news (`from`: its index). */
  | { type: "router"; from: string; news: RouterNews }
  /** Drain, flush and close (after a signal to the process), then say `stopped`. */
  | { type: "stop"; signal: string }
  /** Another worker answers a scrape: send this worker's metrics for gathering `gather`. */
  | { type: "metrics_snapshot_wanted"; gather: number }
  /** The other workers' metrics, for this worker's request `id`. */
  | { type: "metrics"; id: number; snapshots: MetricsSnapshot[] };

/** Worker → main isolate. */
export type FromWorker =
  | { type: "ready"; banner: BannerFacts; stopWithinMs: number }
  /** Start-up failed: one line and its details, as the CLI prints them. */
  | { type: "failed"; message: string; details: string[] }
  /** This worker's router news, for the others. */
  | { type: "router"; news: RouterNews }
  | { type: "stopped" }
  /** This worker answers a scrape: it wants the others' metrics (answered by `metrics` with the same `id`). */
  | { type: "metrics_wanted"; id: number }
  | { type: "metrics_snapshot"; gather: number; snapshot: MetricsSnapshot };

/** The scope a worker's module runs in, as far as the protocol needs it. */
export interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}

/** Whether this module runs in a Web Worker (`import.meta.main` is true there too, so it cannot tell). */
export const inWorker = (): boolean =>
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";
