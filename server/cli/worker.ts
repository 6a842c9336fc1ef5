/**
 * @module
 * A worker of `--workers N`: a whole gateway (its own config parse, KV handle, ledger, router, front door) serving
 * the process's one port with SO_REUSEPORT, so the kernel spreads new connections over the workers. It never listens
 * for signals (every isolate that does gets them): the main isolate tells it to stop, and it answers once it has
 * drained and flushed. Its router shares failures and calls in flight with the other workers through the main
 * isolate (`router/peers.ts`).
 */
import { StartupError } from "../boot.ts";
import type { RouterNews, RouterPeers } from "../router/peers.ts";
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

  scope.onmessage = (event: MessageEvent<ToWorker>) => {
    const m = event.data;
    if (m.type === "router") {
      for (const hear of hearers) hear(m.from, m.news);
    } else if (m.type === "start") {
      starting = runGateway({
        options: m.options,
        descriptors: m.descriptors,
        worker: { index: m.index, count: m.count, peers },
      }).then((running) => {
        scope.postMessage({
          type: "ready",
          models: running.models,
          configSource: running.booted.configSource,
          stopWithinMs: running.stopWithinMs,
        });
        return running;
      }, (e) => {
        const known = e instanceof StartupError;
        scope.postMessage({
          type: "failed",
          message: known ? e.message : `start-up failed: ${(e as Error).name}: ${(e as Error).message}`,
          details: known ? e.details : [],
        });
        return undefined;
      });
    } else if (m.type === "stop") {
      void (async () => {
        const running = await starting;
        await running?.stop(m.signal);
        scope.postMessage({ type: "stopped" });
      })();
    }
  };
}
