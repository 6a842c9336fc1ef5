/**
 * @module
 * Start-up shared by the CLI (`main.ts`) and the `deno serve` / Deno Deploy entry (`serve.ts`):
 * find and load the config, open KV, build the gateway. Nothing here runs per request.
 */
import { ConfigError, loadConfig } from "./config/load.ts";
import type { GatewayConfig } from "./config/types.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { countingKv, withKvCountRoute } from "./kv_counter.ts";
import { bufferedStdout, createLogger, type Logger } from "./log.ts";

export interface BootOptions {
  /** Config file path; default `./config.yaml` if present, else `config.example.yaml`. */
  configPath?: string;
  /** KV path; `:memory:` allowed. Default `KV_PATH` env or `./.data/gateway.sqlite`; on Deno Deploy, the managed KV. */
  kvPath?: string;
  detailedDebug?: boolean;
}

export interface Booted {
  gateway: Gateway;
  config: GatewayConfig;
  kv: Deno.Kv;
  log: Logger;
  configSource: string;
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

/** Reads the config text: `CONFIG_YAML` env, an explicit path, `./config.yaml`, or the bundled example. */
async function configText(path: string | undefined): Promise<{ text: string; source: string }> {
  const inline = Deno.env.get("CONFIG_YAML");
  if (!path && inline) return { text: inline, source: "CONFIG_YAML" };
  const chosen = path ?? (await exists("config.yaml") ? "config.yaml" : "config.example.yaml");
  return { text: await Deno.readTextFile(chosen), source: chosen };
}

async function openKv(path: string | undefined): Promise<Deno.Kv> {
  const chosen = path ?? Deno.env.get("KV_PATH");
  if (chosen) return await Deno.openKv(chosen);
  // Deno Deploy has no writable filesystem: its managed KV is opened with no path.
  if (onDeploy()) return await Deno.openKv();
  await Deno.mkdir(".data", { recursive: true });
  return await Deno.openKv(".data/gateway.sqlite");
}

/** Loads everything; throws `ConfigError` (every problem listed) when the config is unusable. */
export async function boot(opts: BootOptions = {}): Promise<Booted> {
  // Batched stdout writes, except on Deno Deploy, whose log viewer shows each console.log call as one entry.
  const log = createLogger({ debug: opts.detailedDebug, write: onDeploy() ? undefined : bufferedStdout() });
  const { text, source } = await configText(opts.configPath);
  const config = loadConfig(text, (name) => Deno.env.get(name));
  for (const w of config.warnings) log.warn(w, { config: source });
  if (!config.masterKey) {
    log.warn(
      "NO MASTER KEY: general_settings.master_key is not set, so the gateway is OPEN: anyone who can reach it " +
        "can call every model. Set master_key (e.g. os.environ/LITELLM_MASTER_KEY) before exposing it.",
    );
  }
  const kv = await openKv(opts.kvPath);
  // `deno task bench` counts KV operations per call; off (and free) unless asked for.
  const counting = Deno.env.get("BENCH_COUNT_KV") === "1" ? countingKv(kv) : undefined;
  const built = createGateway({ config, kv: counting?.kv ?? kv, log });
  // AWS credentials are resolved before the gateway serves (bounded by the SDK's timeouts: an unreachable
  // instance-metadata endpoint costs about two seconds); each deployment left without them is logged.
  await built.ready();
  const gateway = counting ? { ...built, fetch: withKvCountRoute(built.fetch, counting.counts) } : built;
  return { gateway, config, kv, log, configSource: source };
}

export { ConfigError };
