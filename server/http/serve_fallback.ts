/**
 * @module
 * Serving with plain `Deno.serve` when this Deno has no per-connection server (`connection_server.ts`): no connection
 * cap and no header or keep-alive timeouts (`Deno.serve` has none), but still no crash on an accept error and still a
 * bounded shutdown. `Deno.serve` ends its accept loop on an error such as EMFILE (its listener goes with it, the
 * connections it had keep being served); here the error is logged once and the port is served again as soon as a new
 * listener can be opened.
 */
import type { Logger } from "../core/log.ts";
import type { FrontDoor, ShutdownOptions, ShutdownReport } from "./front_door.ts";

export interface FallbackOptions {
  hostname: string;
  port: number;
  handler: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;
  log: Logger;
  /** Share the port with the other workers of this process (SO_REUSEPORT; `--unstable-net`). */
  reusePort?: boolean;
}

export function serveWithDenoServe(opts: FallbackOptions): FrontDoor {
  const { log } = opts;
  const servers = new Set<Deno.HttpServer<Deno.NetAddr>>();
  const aborts = new Set<AbortController>();
  let stopping = false;
  const start = (port: number): Deno.HttpServer<Deno.NetAddr> => {
    const abort = new AbortController();
    const server = Deno.serve(
      { hostname: opts.hostname, port, reusePort: opts.reusePort, signal: abort.signal, onListen: () => {} },
      opts.handler,
    );
    servers.add(server);
    aborts.add(abort);
    server.finished.then(() => servers.delete(server), (e) => {
      if (stopping) return;
      log.error("accepting connections failed; serving open connections and listening again", {
        error: (e as Error).name,
        message: (e as Error).message,
      });
      // Its listener is gone; its open connections are still served. Drain it and listen anew.
      server.shutdown().catch(() => {}).finally(() => servers.delete(server));
      void relisten(port);
    });
    return server;
  };
  const relisten = async (port: number) => {
    for (let wait = 10; !stopping; wait = Math.min(wait * 2, 1000)) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        start(port);
        log.info("listening again", { port });
        return;
      } catch {
        // Descriptors still exhausted: try again later.
      }
    }
  };
  const first = start(opts.port);
  return {
    addr: first.addr,
    get connections() {
      return Number.NaN; // Deno.serve does not say
    },
    async shutdown({ graceMs, onGraceOver, finalMs = 2000 }: ShutdownOptions): Promise<ShutdownReport> {
      stopping = true;
      const drained = Promise.all([...servers].map((s) => s.shutdown().catch(() => {})));
      const within = (ms: number) =>
        Promise.race([drained.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
      if (await within(graceMs)) return { leftAfterGrace: 0, forced: 0 };
      onGraceOver?.();
      const done = await within(finalMs);
      if (!done) { for (const a of aborts) a.abort(); }
      await drained;
      return { leftAfterGrace: Number.NaN, forced: done ? 0 : Number.NaN };
    },
  };
}
