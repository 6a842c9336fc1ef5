/**
 * @module
 * Entry for `deno serve server/serve.ts` and Deno Deploy: the same gateway as the CLI, exported as a fetch
 * handler. Config comes from `CONFIG_YAML` or the deployed file; on Deploy, KV is the managed store (no
 * filesystem writes). Until start-up finishes, readiness answers 503.
 */
import { boot, exampleKeyWarning, StartupError } from "./boot.ts";
import type { Gateway } from "./gateway.ts";

/** The fetch handler: boots once, at import; until then readiness answers 503 and other requests wait. */
function deployedGateway(): Deno.ServeDefaultExport {
  let gateway: Gateway | undefined;
  const booting = boot().then((b) => {
    gateway = b.gateway;
    // Deployed means reachable: an example master key is everyone's admin key.
    const exampleKey = exampleKeyWarning(b.config.masterKey, undefined);
    if (exampleKey) b.log.warn(exampleKey);
    return b.gateway;
  }, (e): never => {
    // One line (what, where, how to fix), no stack trace, as the CLI does.
    console.error(`error: ${e instanceof StartupError ? e.message : `start-up failed: ${(e as Error).message}`}`);
    if (e instanceof StartupError) { for (const line of e.details) console.error(line); }
    Deno.exit(1);
  });
  return {
    // `info` (the client's address) goes on to the gateway: the admin UI's sign-in limiter counts per address.
    async fetch(req: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
      if (!gateway && new URL(req.url).pathname === "/health/readiness") {
        return Response.json({ status: "starting", db: "connecting" }, { status: 503 });
      }
      return (gateway ?? await booting).fetch(req, info);
    },
  };
}

export default deployedGateway();
