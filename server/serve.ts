/**
 * @module
 * Entry for `deno serve server/serve.ts` (and `deno serve --parallel`): the same gateway as the CLI, exported as a
 * fetch handler (`deployed_gateway.ts`). `deno serve` listens on port 8000 unless `--port` (and `--host`) say
 * otherwise; the connection settings of the CLI's front door (`max_connections`, timeouts, `shutdown_grace_ms`) do not
 * apply, as `deno serve` owns the HTTP server.
 *
 * On SIGINT/SIGTERM `deno serve` stops accepting and drains the calls in flight; here the signal also writes what
 * accounting holds at once, rather than at the ledger's next batch. Calls that finish while draining are written as
 * they settle (the ledger's pending write keeps the process alive until it lands).
 */
import { deployedGateway } from "./deployed_gateway.ts";

function servedGateway(): Deno.ServeDefaultExport {
  const gateway = deployedGateway();
  const flushOn = (signal: Deno.Signal) => Deno.addSignalListener(signal, () => void gateway.flush());
  flushOn("SIGINT");
  if (Deno.build.os !== "windows") flushOn("SIGTERM");
  return { fetch: gateway.fetch };
}

export default servedGateway();
