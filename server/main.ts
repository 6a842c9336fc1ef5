/**
 * @module
 * The CLI: `deno task start [--config FILE] [--port N] [--host H] [--kv PATH] [--detailed-debug]`.
 * Serves through the front door (`http/front_door.ts`: own accept loop, connection cap, header and keep-alive
 * timeouts), prints one line with the URL and the model names, and on SIGINT/SIGTERM stops accepting, drains within
 * `shutdown_grace_ms`, ends the streams still running with an error event, and flushes accounting before exiting.
 * Start-up failures print one line (what, where, how to fix) and exit 1, never a stack trace.
 * (`deno serve` and Deno Deploy use `serve.ts`, which builds the same gateway.)
 */
import { parseArgs } from "node:util";
import { boot, type Booted, type BootOptions, exampleKeyWarning, StartupError } from "./boot.ts";
import { connectionServer } from "./http/connection_server.ts";
import { defaultMaxConnections, raiseDescriptorLimit } from "./http/descriptors.ts";
import { type FrontDoor, serveFrontDoor } from "./http/front_door.ts";
import { serveWithDenoServe } from "./http/serve_fallback.ts";

function usage(): never {
  console.error(
    "usage: deno task start [--config FILE] [--port N] [--host H] [--kv PATH|:memory:] [--detailed-debug]",
  );
  Deno.exit(2);
}

/** Prints a start-up failure as `error: <one line>` (plus its details) and exits 1. */
function fail(e: unknown, booted?: Booted): never {
  booted?.flushLog();
  if (e instanceof StartupError) {
    console.error(`error: ${e.message}`);
    for (const line of e.details) console.error(line);
  } else {
    // Not one we know how to explain: still no stack trace, but what and where it came from.
    console.error(`error: start-up failed: ${(e as Error).name}: ${(e as Error).message}`);
  }
  Deno.exit(1);
}

/** The listener's failure (port taken, address not ours, no permission) as a StartupError. */
function listenError(e: unknown, hostname: string, port: number): StartupError {
  const where = `${hostname}:${port}`;
  if (e instanceof Deno.errors.AddrInUse) {
    return new StartupError(
      `port ${port} is already in use on ${hostname} (another gateway or program listens there): stop it, or start ` +
        "on another port with --port N (or PORT=N)",
    );
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new StartupError(
      `no permission to listen on ${where}: ports below 1024 need privileges; use --port 4000 or above`,
    );
  }
  if (e instanceof Deno.errors.AddrNotAvailable) {
    return new StartupError(
      `cannot listen on ${where}: ${hostname} is not an address of this machine; use --host 0.0.0.0 or 127.0.0.1`,
    );
  }
  return new StartupError(`cannot listen on ${where}: ${(e as Error).message}`);
}

/**
 * Runs the CLI with `args`; `hooks` wrap the KV store and the request handler (the benchmark's KV counting gateway,
 * `bench/counting_gateway.ts`, starts the CLI this way).
 */
export async function main(args: string[], hooks: Pick<BootOptions, "wrapKv" | "wrapFetch"> = {}): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        kv: { type: "string" },
        "detailed-debug": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error((e as Error).message);
    usage();
  }
  if (values.help) usage();
  const port = Number(values.port ?? Deno.env.get("PORT") ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid port: ${values.port ?? Deno.env.get("PORT")}`);
    usage();
  }
  const hostname = values.host ?? "0.0.0.0";

  let booted: Booted;
  try {
    booted = await boot({
      configPath: values.config,
      kvPath: values.kv,
      detailedDebug: values["detailed-debug"],
      ...hooks,
    });
  } catch (e) {
    fail(e);
  }
  const { gateway, config, kv, log } = booted;
  const settings = config.server;
  const limit = raiseDescriptorLimit();
  const maxConnections = settings.maxConnections ?? defaultMaxConnections(limit);
  const serveConnection = connectionServer();

  let server: FrontDoor;
  try {
    server = serveConnection
      ? serveFrontDoor({
        hostname,
        port,
        handler: gateway.fetch,
        log,
        maxConnections,
        headerTimeoutMs: settings.headerTimeoutMs,
        keepAliveTimeoutMs: settings.keepAliveTimeoutMs,
        serveConnection,
      })
      : serveWithDenoServe({ hostname, port, handler: gateway.fetch, log });
  } catch (e) {
    kv.close();
    fail(listenError(e, hostname, port), booted);
  }

  if (!serveConnection) {
    log.warn(
      "this Deno has no per-connection HTTP server: serving with Deno.serve, without max_connections, " +
        "header_timeout_ms or keep_alive_timeout_ms",
      { deno: Deno.version.deno },
    );
  }
  const exampleKey = exampleKeyWarning(config.masterKey, hostname);
  if (exampleKey) log.warn(exampleKey);
  log.info("front door", {
    max_connections: maxConnections,
    header_timeout_ms: settings.headerTimeoutMs,
    keep_alive_timeout_ms: settings.keepAliveTimeoutMs,
    shutdown_grace_ms: settings.shutdownGraceMs,
    max_body_bytes_in_flight: config.limits.maxBodyBytesInFlight,
    max_json_depth: config.limits.json.maxDepth,
    max_json_values: config.limits.json.maxValues,
    open_files: limit
      ? { soft: limit.soft, hard: limit.hard, soft_at_start: limit.before }
      : "unknown (needs --allow-ffi)",
  });
  const shown = server.addr.hostname === "0.0.0.0" ? "localhost" : server.addr.hostname;
  const models = [...config.byModelName.keys()].join(", ");
  booted.flushLog();
  console.log(
    `Converse Gateway listening on http://${shown}:${server.addr.port} (config ${booted.configSource}) models: ${models}`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down: no new connections; draining", { signal, grace_ms: settings.shutdownGraceMs });
    const report = await server.shutdown({
      graceMs: settings.shutdownGraceMs,
      onGraceOver: () => gateway.endStreams(),
    });
    if (report.leftAfterGrace) {
      log.warn("shutdown grace period over: ended the streams still running and closed the connections left", {
        connections_after_grace: report.leftAfterGrace,
        closed_outright: report.forced,
      });
    }
    await gateway.close();
    kv.close();
    booted.flushLog();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
}

if (import.meta.main) await main(Deno.args);
