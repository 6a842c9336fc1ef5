/**
 * @module
 * The gateway as a platform's fetch handler, for the entries whose HTTP server is not the CLI's front door:
 * `serve.ts` (`deno serve`) and `deploy.ts` (Deno Deploy, `Deno.serve`). It boots at once — config from
 * `CONFIG_YAML` or the deployed `config.yaml`; on Deploy (`DENO_DEPLOYMENT_ID` set) KV is `Deno.openKv()`'s managed
 * store and nothing is written to the filesystem — and until then readiness answers 503 and other requests wait.
 * A start-up failure prints one line (what, where, how to fix) and exits 1, as the CLI does.
 */
import { boot, type Booted, exampleKeyWarning, StartupError } from "./boot.ts";

export interface DeployedGateway {
  /** `info` (the client's address) goes on to the gateway: the admin UI's sign-in limiter counts per address. */
  fetch(req: Request, info: Deno.ServeHandlerInfo): Promise<Response>;
  /** Writes what accounting holds now (the calls settled so far), without stopping anything. */
  flush(): Promise<void>;
  /** Once the server has stopped taking calls: accounting written (bounded: `Gateway.close()`), KV closed. */
  close(): Promise<void>;
}

export function deployedGateway(): DeployedGateway {
  let booted: Booted | undefined;
  const booting = boot().then((b) => {
    booted = b;
    // Deployed means reachable: an example master key is everyone's admin key.
    const exampleKey = exampleKeyWarning(b.config.masterKey, undefined);
    if (exampleKey) b.log.warn(exampleKey);
    return b;
  }, (e): never => {
    console.error(`error: ${e instanceof StartupError ? e.message : `start-up failed: ${(e as Error).message}`}`);
    if (e instanceof StartupError) { for (const line of e.details) console.error(line); }
    Deno.exit(1);
  });
  return {
    async fetch(req, info) {
      if (!booted && new URL(req.url).pathname === "/health/readiness") {
        return Response.json({ status: "starting", db: "connecting" }, { status: 503 });
      }
      return await (booted ?? await booting).gateway.fetch(req, info);
    },
    async flush() {
      const b = await booting;
      await b.gateway.flush();
      b.flushLog();
    },
    async close() {
      const b = await booting;
      await b.gateway.close();
      b.kv.close();
      b.flushLog();
    },
  };
}
