/**
 * @module
 * Entry for Deno Deploy, or any plain `deno run`: serves the gateway (`deployed_gateway.ts`) with `Deno.serve`, the
 * server API Deno Deploy runs (it starts the entrypoint and waits for an HTTP server; it does not serve a module's
 * default export, which `serve.ts` relies on). It listens on `PORT` (default 8000) and `HOST` (default 0.0.0.0).
 *
 * Deno Deploy stops an instance with SIGINT and kills it 5 s later: on SIGINT/SIGTERM the server stops accepting and
 * drains the calls in flight, then accounting is written (bounded) and the process exits.
 */
import { deployedGateway } from "./deployed_gateway.ts";

function serveDeployed(): void {
  const gateway = deployedGateway();
  const server = Deno.serve({
    port: Number(Deno.env.get("PORT") ?? 8000),
    hostname: Deno.env.get("HOST") ?? "0.0.0.0",
    onListen: ({ hostname, port }) =>
      console.log(`Converse Gateway listening on http://${hostname}:${port} (Deno.serve)`),
  }, gateway.fetch);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      await server.shutdown();
      await gateway.close();
      Deno.exit(0);
    })();
  Deno.addSignalListener("SIGINT", () => void stop());
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => void stop());
}

if (import.meta.main) serveDeployed();
