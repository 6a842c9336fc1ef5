/**
 * @module
 * One gateway served the CLI's way, in whichever isolate runs it (the main one, or a worker of `--workers N`): boot
 * (config, KV, gateway), the front door on the port (`http/front_door.ts`: own accept loop, connection cap, header
 * and keep-alive timeouts), the start-up log lines, and the bounded stop — stop accepting, drain within
 * `shutdown_grace_ms`, end the streams still running with an error event, flush accounting, close KV.
 *
 * Start-up failures are thrown as a `StartupError` (one line: what, where, how to fix) for the entry to print.
 */
import { boot, type Booted, type BootOptions, exampleKeyWarning, StartupError } from "../boot.ts";
import { connectionServer } from "../http/connection_server.ts";
import { defaultMaxConnections, type DescriptorLimit } from "../http/descriptors.ts";
import { type FrontDoor, serveFrontDoor } from "../http/front_door.ts";
import { serveWithDenoServe } from "../http/serve_fallback.ts";
import { CLOSE_WAIT_MS } from "../kv/ledger.ts";
import type { RouterPeers } from "../router/peers.ts";
import type { MetricsSnapshot } from "../spend/metrics.ts";
import type { CliOptions } from "./options.ts";
import { type BannerFacts, kvShown, tracesShown } from "./banner.ts";

/** What the front door gives connections after the grace period to write the streams' error events. */
const FINAL_MS = 2000;

export interface RunGatewayOptions {
  options: CliOptions;
  /** The process's descriptor limit, raised once by the main isolate (`raiseDescriptorLimit()`). */
  descriptors: DescriptorLimit | undefined;
  /** The bench's KV counting hooks (main isolate only: functions do not cross to workers). */
  hooks?: Pick<BootOptions, "wrapKv" | "wrapFetch">;
  /**
   * Set when this is worker `index` of `count`: the port is shared (SO_REUSEPORT), and so are the router's state and
   * the metrics.
   */
  worker?: { index: number; count: number; peers: RouterPeers; metrics: () => Promise<MetricsSnapshot[]> };
}

export interface RunningGateway {
  booted: Booted;
  addr: Deno.NetAddr;
  /** What the start-up line says. */
  banner: BannerFacts;
  /**
   * How long `stop` may take at most: the drain's grace, the streams' last words, accounting's wait (what a
   * supervisor allows its workers before it gives up on them).
   */
  stopWithinMs: number;
  /** Stops accepting, drains, ends what is left, flushes accounting and logs, closes KV. Once. */
  stop(signal: string): Promise<void>;
}

/** The listener's failure (port taken, address not ours, no permission) as a StartupError. */
export function listenError(e: unknown, hostname: string, port: number): StartupError {
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

/** Boots and serves; throws a `StartupError` (its log flushed, KV closed) when that cannot be done. */
export async function runGateway(opts: RunGatewayOptions): Promise<RunningGateway> {
  const { options, worker } = opts;
  const { hostname, port } = options;
  const booted = await boot({
    configPath: options.configPath,
    kvPath: options.kvPath,
    detailedDebug: options.detailedDebug,
    logFormat: options.logFormat,
    worker: worker?.index,
    routerPeers: worker?.peers,
    metricsPeers: worker?.metrics,
    ...opts.hooks,
  });
  const { gateway, config, kv, log } = booted;
  const settings = config.server;
  // Descriptors are the process's: workers share the cap.
  const maxConnections = Math.max(
    1,
    Math.ceil((settings.maxConnections ?? defaultMaxConnections(opts.descriptors)) / (worker?.count ?? 1)),
  );
  const serveConnection = connectionServer();
  const reusePort = worker !== undefined;

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
        bodyTimeoutMs: settings.bodyTimeoutMs,
        bodyMinBytesPerSecond: settings.bodyMinBytesPerSecond,
        serveConnection,
        listen: reusePort ? (o) => Deno.listen({ ...o, reusePort }) : undefined,
      })
      : serveWithDenoServe({ hostname, port, handler: gateway.fetch, log, reusePort });
  } catch (e) {
    await gateway.close();
    kv.close();
    booted.flushLog();
    throw listenError(e, hostname, port);
  }

  if (!serveConnection) {
    log.warn(
      "this Deno has no per-connection HTTP server: serving with Deno.serve, without max_connections, " +
        "header_timeout_ms, keep_alive_timeout_ms or body_timeout_ms",
      { deno: Deno.version.deno },
    );
  }
  if (!worker?.index) {
    const exampleKey = exampleKeyWarning(config.masterKey, hostname);
    if (exampleKey) log.warn(exampleKey);
  }
  const limit = opts.descriptors;
  log.info("front door", {
    max_connections: maxConnections,
    header_timeout_ms: settings.headerTimeoutMs,
    keep_alive_timeout_ms: settings.keepAliveTimeoutMs,
    body_timeout_ms: settings.bodyTimeoutMs,
    body_min_bytes_per_second: settings.bodyMinBytesPerSecond,
    shutdown_grace_ms: settings.shutdownGraceMs,
    max_body_bytes_in_flight: config.limits.maxBodyBytesInFlight,
    max_json_depth: config.limits.json.maxDepth,
    max_json_values: config.limits.json.maxValues,
    open_files: limit
      ? { soft: limit.soft, hard: limit.hard, soft_at_start: limit.before }
      : "unknown (needs --allow-ffi)",
  });
  booted.flushLog();

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) =>
    stopping ??= (async () => {
      log.info("shutting down: no new connections; draining", { signal, grace_ms: settings.shutdownGraceMs });
      const report = await server.shutdown({
        graceMs: settings.shutdownGraceMs,
        finalMs: FINAL_MS,
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
    })();

  return {
    booted,
    addr: server.addr,
    banner: {
      configSource: booted.configSource,
      models: [...config.byModelName.keys()],
      kv: kvShown(booted.kvWhere),
      masterKey: config.masterKey !== undefined,
      withoutCredentials: gateway.modelsWithoutCredentials(),
      traces: tracesShown((name) => Deno.env.get(name)),
    },
    stopWithinMs: settings.shutdownGraceMs + FINAL_MS + CLOSE_WAIT_MS,
    stop,
  };
}
