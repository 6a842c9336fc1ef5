/**
 * @module
 * Start-up shared by the CLI (`main.ts`) and the `deno serve` / Deno Deploy entry (`serve.ts`):
 * find and load the config, open KV, build the gateway. Nothing here runs per request.
 *
 * What can go wrong here is the operator's to fix, so it is thrown as a {@link StartupError}: one line saying what,
 * where and how to fix it (a config's problems listed below it), never a stack trace. Log lines written before the
 * failure are flushed first, so the warnings that may explain it are not lost.
 */
// The example config is data, built into the module graph so a bundle or binary serves the demo model from an
// empty folder (the one file server/ reads from outside it; tests/architecture_test.ts allows exactly this).
import exampleConfig from "../config.example.yaml" with { type: "text" };
import { ConfigError, loadConfig } from "./config/load.ts";
import type { GatewayConfig } from "./config/types.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { bufferedStdout, createLogger, type LogFormat, type Logger, PIPE_BUF } from "./core/log.ts";
import type { RouterPeers } from "./router/peers.ts";
import type { MetricsSnapshot } from "./spend/metrics.ts";

export interface BootOptions {
  /**
   * Config file path; default `CONFIG_YAML` (the YAML text) if set, else `./config.yaml` if present, else
   * `./config.example.yaml` if present, else the example built in.
   */
  configPath?: string;
  /** KV path; `:memory:` allowed. Default `KV_PATH` env or `./.data/gateway.sqlite`; on Deno Deploy, the managed KV. */
  kvPath?: string;
  detailedDebug?: boolean;
  /** How log lines are written (default `json`). */
  logFormat?: LogFormat;
  /** Wraps the KV store before the gateway gets it (the benchmark counts KV operations this way). */
  wrapKv?: (kv: Deno.Kv) => Deno.Kv;
  /** Wraps the gateway's request handler (the benchmark serves its KV counts this way). */
  wrapFetch?: (fetch: Gateway["fetch"]) => Gateway["fetch"];
  /**
   * This gateway is worker `worker` of a `--workers N` process: its log lines carry `"worker": i` and are written
   * whole (stdout writes of at most `PIPE_BUF`, so the workers' lines never interleave), and only worker 0 logs the
   * config's warnings (every worker loads the same config).
   */
  worker?: number;
  /** The other workers of this process, for the router (see `router/peers.ts`). */
  routerPeers?: RouterPeers;
  /** The other workers' metrics, so that `/metrics` answers for the whole process. */
  metricsPeers?: () => Promise<MetricsSnapshot[]>;
}

export interface Booted {
  gateway: Gateway;
  config: GatewayConfig;
  kv: Deno.Kv;
  /** Where KV lives (`--kv`, `KV_PATH`, the default file, or Deno Deploy's), for the start-up line. */
  kvWhere: string;
  log: Logger;
  configSource: string;
  /** Writes the log lines still waiting in the stdout batch. */
  flushLog(): void;
}

/** A start-up failure the operator can fix: `message` is one line (what, where, how to fix); `details` follow it. */
export class StartupError extends Error {
  constructor(message: string, readonly details: string[] = []) {
    super(message);
    this.name = "StartupError";
  }
}

const onDeploy = () => Deno.env.get("DENO_DEPLOYMENT_ID") !== undefined;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The name a config built in from `config.example.yaml` is reported by. */
export const BUILT_IN_CONFIG = "built-in config.example.yaml";

/**
 * Reads the config text: an explicit path, `CONFIG_YAML` env, `./config.yaml`, `./config.example.yaml` (a checkout),
 * or the example built in (a bundle or binary run from another folder).
 */
async function configText(path: string | undefined): Promise<{ text: string; source: string }> {
  const inline = Deno.env.get("CONFIG_YAML");
  if (!path && inline) return { text: inline, source: "CONFIG_YAML" };
  if (!path && !await exists("config.yaml") && !await exists("config.example.yaml")) {
    return { text: exampleConfig, source: BUILT_IN_CONFIG };
  }
  const chosen = path ?? (await exists("config.yaml") ? "config.yaml" : "config.example.yaml");
  try {
    return { text: await Deno.readTextFile(chosen), source: chosen };
  } catch (e) {
    const given = path ? " (--config)" : "";
    if (e instanceof Deno.errors.NotFound) {
      throw new StartupError(
        `config file not found: ${chosen}${given}; check the path, or leave --config out to use ./config.yaml ` +
          "(else config.example.yaml)",
      );
    }
    if (e instanceof Deno.errors.IsADirectory) {
      throw new StartupError(`config path ${chosen}${given} is a directory; give the YAML file itself`);
    }
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
      throw new StartupError(
        `cannot read config file ${chosen}${given}: ${(e as Error).message}; check its permissions`,
      );
    }
    throw new StartupError(`cannot read config file ${chosen}${given}: ${(e as Error).message}`);
  }
}

/** The config, or a StartupError naming the file and listing its problems. */
function configFrom(text: string, source: string): GatewayConfig {
  try {
    return loadConfig(text, (name) => Deno.env.get(name));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (e.problems.length === 1) {
      const details = e.excerpt ? e.excerpt.split("\n").map((l) => `    ${l}`) : [];
      throw new StartupError(`invalid config in ${source}: ${e.problems[0]}`, details);
    }
    throw new StartupError(
      `invalid config in ${source}: ${e.problems.length} problems, fix them and start again:`,
      e.problems.map((p) => `  - ${p}`),
    );
  }
}

async function openKv(path: string | undefined): Promise<{ kv: Deno.Kv; where: string }> {
  const chosen = path ?? Deno.env.get("KV_PATH");
  const where = chosen ?? (onDeploy() ? "Deno Deploy's KV" : ".data/gateway.sqlite");
  try {
    if (chosen) return { kv: await Deno.openKv(chosen), where };
    // Deno Deploy has no writable filesystem: its managed KV is opened with no path.
    if (onDeploy()) return { kv: await Deno.openKv(), where };
    await Deno.mkdir(".data", { recursive: true });
    return { kv: await Deno.openKv(".data/gateway.sqlite"), where };
  } catch (e) {
    const message = (e as Error).message;
    const fix = /not a database|malformed|corrupt/i.test(message)
      ? "it is not a Deno KV (SQLite) file or is damaged: move it aside (a new store is created) or point --kv / KV_PATH elsewhere"
      : "check that its directory exists and is writable, or point --kv / KV_PATH elsewhere (:memory: for a throwaway store)";
    throw new StartupError(`cannot open the KV store ${where}: ${message}; ${fix}`);
  }
}

/** Master keys copied from docs and examples: anyone who read them knows these. */
const EXAMPLE_MASTER_KEYS: ReadonlySet<string> = new Set([
  "sk-1234",
  "sk-12345",
  "sk-123456",
  "sk-1234567890",
  "sk-master",
  "sk-master-key",
  "sk-admin",
  "sk-test",
  "sk-password",
  "changeme",
  "password",
  "admin",
]);

const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * The warning for a well-known example master key on an address other machines can reach (`host` undefined: a
 * deployment, reachable by definition); undefined when there is nothing to warn about.
 */
export function exampleKeyWarning(masterKey: string | undefined, host: string | undefined): string | undefined {
  if (!masterKey || !EXAMPLE_MASTER_KEYS.has(masterKey.toLowerCase())) return undefined;
  if (host !== undefined && isLoopback(host)) return undefined;
  return `EXAMPLE MASTER KEY: general_settings.master_key is "${masterKey}", a well-known example key, and the ` +
    `gateway is reachable ${host ? `on ${host}` : "from the network"}: anyone who can reach it can call every model ` +
    "and manage keys. Set a secret master key (e.g. os.environ/LITELLM_MASTER_KEY), or listen on 127.0.0.1 (--host).";
}

/** Loads everything; throws `StartupError` (after flushing the log) when something must be fixed first. */
export async function boot(opts: BootOptions = {}): Promise<Booted> {
  // Batched stdout writes, except on Deno Deploy, whose log viewer shows each console.log call as one entry.
  const worker = opts.worker;
  const stdout = onDeploy() ? undefined : bufferedStdout(worker === undefined ? {} : { maxWriteBytes: PIPE_BUF });
  const flushLog = () => stdout?.flush();
  const log = createLogger({
    debug: opts.detailedDebug,
    format: opts.logFormat,
    write: stdout,
    fields: worker === undefined ? undefined : { worker },
  });
  const notices = !worker;
  try {
    const { text, source } = await configText(opts.configPath);
    const config = configFrom(text, source);
    if (notices) { for (const w of config.warnings) log.warn(w, { config: source }); }
    if (notices && !config.masterKey) {
      log.warn(
        "NO MASTER KEY: general_settings.master_key is not set, so the gateway is OPEN: anyone who can reach it " +
          "can call every model. Set master_key (e.g. os.environ/LITELLM_MASTER_KEY) before exposing it.",
      );
    }
    const { kv, where: kvWhere } = await openKv(opts.kvPath);
    const built = createGateway({
      config,
      kv: opts.wrapKv?.(kv) ?? kv,
      log,
      routerPeers: opts.routerPeers,
      metricsPeers: opts.metricsPeers,
    });
    // AWS credentials are resolved before the gateway serves (bounded by the SDK's timeouts: an unreachable
    // instance-metadata endpoint costs about two seconds); each deployment left without them is logged.
    await built.ready();
    const gateway = opts.wrapFetch ? { ...built, fetch: opts.wrapFetch(built.fetch) } : built;
    return { gateway, config, kv, kvWhere, log, configSource: source, flushLog };
  } catch (e) {
    flushLog();
    throw e;
  }
}
