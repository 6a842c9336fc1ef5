/**
 * @module
 * A worker of `--workers N`: a whole gateway (its own config parse, KV handle, ledger, router, front door) serving
 * the process's one port with SO_REUSEPORT, so the kernel spreads new connections over the workers. It never listens
 * for signals (every isolate that does gets them): the main isolate tells it to stop, and it answers once it has
 * drained and flushed. Its router shares failures and calls in flight with the other workers through the main
 * isolate (`router/peers.ts`); a scrape of `/metrics` it answers gathers the other workers' metrics the same way.
 */
import { StartupError } from "../boot.ts";
import type { RouterNews, RouterPeers } from "../router/peers.ts";
import type { MetricsSnapshot } from "../spend/metrics.ts";
import type { ToWorker, WorkerScope } from "./messages.ts";
import { runGateway, type RunningGateway } from "./run_gateway.ts";

/** Serves as a worker: waits for `start`, then relays router news and stops when told. */
export function serveAsWorker(scope: WorkerScope): void {
  const hearers: Array<(from: string, news: RouterNews) => void> = [];
  const peers: RouterPeers = {
    send: (news) => scope.postMessage({ type: "router", news }),
    listen: (hear) => void hearers.push(hear),
  };
  let starting: Promise<RunningGateway | undefined> | undefined;
  let running: RunningGateway | undefined;
  // Scrapes this worker answers, waiting for the others' metrics.
  const gathering = new Map<number, (snapshots: MetricsSnapshot[]) => void>();
  let nextGather = 0;
  const metrics = () =>
    new Promise<MetricsSnapshot[]>((resolve) => {
      const id = ++nextGather;
      gathering.set(id, resolve);
      scope.postMessage({ type: "metrics_wanted", id });
    });

  scope.onmessage = (event: MessageEvent<ToWorker>) => {
    const m = event.data;
    if (m.type === "router") {
      for (const hear of hearers) hear(m.from, m.news);
    } else if (m.type === "start") {
      starting = runGateway({
        options: m.options,
        descriptors: m.descriptors,
        worker: { index: m.index, count: m.count, peers, metrics },
      }).then((started) => {
        running = started;
        scope.postMessage({
          type: "ready",
          banner: started.banner,
          stopWithinMs: started.stopWithinMs,
        });
        return started;
      }, (e) => {
        const known = e instanceof StartupError;
        scope.postMessage({
          type: "failed",
          message: known ? e.message : `start-up failed: ${(e as Error).name}: ${(e as Error).message}`,
          details: known ? e.details : [],
        });
        return undefined;
      });
    } else if (m.type === "metrics_snapshot_wanted") {
      // Not serving yet: nothing counted.
      const snapshot = running ? running.booted.gateway.metricsSnapshot() : Promise.resolve([]);
      snapshot.then((s) => scope.postMessage({ type: "metrics_snapshot", gather: m.gather, snapshot: s }));
    } else if (m.type === "metrics") {
      gathering.get(m.id)?.(m.snapshots);
      gathering.delete(m.id);
    } else if (m.type === "stop") {
      void (async () => {
        await (await starting)?.stop(m.signal);
        scope.postMessage({ type: "stopped" });
      })();
    }
  };
}
