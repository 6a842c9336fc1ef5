/**
 * @module
 * The CLI's options, declared once: what `deno task start` (and the binary) parses, and what `--help` prints — each
 * option with its default and environment variable. A flag wins over its variable, the variable over the default.
 *
 * @example
 * ```ts
 * import { parseCli } from "./options.ts";
 *
 * const parsed = parseCli(["--port", "0", "--workers", "auto"], (name) => Deno.env.get(name), 2);
 * if (parsed.kind === "run") console.log(parsed.options.port, parsed.options.workers); // 0 2
 * ```
 */
import { parseArgs } from "node:util";

/** What the CLI runs with, once parsed and checked. */
export interface CliOptions {
  /** `--config`; undefined: `CONFIG_YAML`, `./config.yaml`, then the example (boot.ts decides). */
  configPath?: string;
  port: number;
  hostname: string;
  /** `--kv` or `KV_PATH`; undefined: `./.data/gateway.sqlite` (boot.ts). */
  kvPath?: string;
  /** Isolates serving the port (1: no workers, the gateway runs in the main isolate). */
  workers: number;
  detailedDebug: boolean;
  /** `--log-format` or `LOG_FORMAT`; default `pretty` when stdout is a terminal, else `json`. */
  logFormat: "json" | "pretty";
}

export type Parsed =
  | { kind: "run"; options: CliOptions }
  | { kind: "help" }
  /** Bad usage: `message` goes to stderr with the usage line, exit code 2. */
  | { kind: "usage"; message: string };

interface OptionSpec {
  name: string;
  /** Other spellings (LiteLLM's `--num_workers`, `--detailed_debug`). */
  aliases?: readonly string[];
  short?: string;
  /** The value's placeholder; a flag without one is a switch. */
  value?: string;
  env?: string;
  default?: string;
  help: string;
}

/** Every option, in the order `--help` lists them. */
const OPTIONS: readonly OptionSpec[] = [
  {
    name: "config",
    value: "FILE",
    env: "CONFIG_YAML",
    default: "$CONFIG_YAML, else ./config.yaml, else config.example.yaml (built in)",
    help: "LiteLLM-format config (model_list, general_settings, router_settings). CONFIG_YAML holds the YAML " +
      "text itself, not a path. The example serves the demo model, which needs no AWS credentials.",
  },
  { name: "port", value: "N", env: "PORT", default: "4000", help: "Port to listen on; 0 picks a free one." },
  {
    name: "host",
    value: "H",
    env: "HOST",
    default: "0.0.0.0",
    help: "Address to listen on (127.0.0.1: this machine only).",
  },
  {
    name: "kv",
    value: "PATH",
    env: "KV_PATH",
    default: "./.data/gateway.sqlite",
    help: "Deno KV store for keys and spend: a file, :memory: (a throwaway store, one worker only) or a KV " +
      "Connect URL.",
  },
  {
    name: "workers",
    aliases: ["num_workers"],
    value: "N|auto",
    env: "NUM_WORKERS",
    default: "1",
    help: "Isolates serving the one port, each a whole gateway on the one KV store; auto = one per CPU.",
  },
  {
    name: "detailed-debug",
    aliases: ["detailed_debug"],
    help: "Add the upstream's details to each call's log line (model id, region, attempts, time to the " +
      "response head, body time) and log clients that leave early.",
  },
  {
    name: "log-format",
    aliases: ["log_format"],
    value: "pretty|json",
    env: "LOG_FORMAT",
    default: "pretty on a terminal, else json",
    help: "How log lines are written: pretty (time, level, message, key=value fields) for a person, or one JSON " +
      "object per line for a log shipper.",
  },
  { name: "help", short: "h", help: "Show this help and exit." },
];

const flagOf = (o: OptionSpec) => `${o.short ? `-${o.short}, ` : ""}--${o.name}${o.value ? ` ${o.value}` : ""}`;

/** The one-line usage, printed with a usage error. */
export function usageLine(): string {
  return `usage: deno task start ${OPTIONS.filter((o) => o.name !== "help").map((o) => `[${flagOf(o)}]`).join(" ")}`;
}

/** Wraps `text` at `width` columns, every line after the first indented by `indent`. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}

/** `--help`: every option with its default and environment variable. */
export function helpText(): string {
  const column = 22;
  const pad = " ".repeat(column);
  const options = OPTIONS.map((o) => {
    const head = `  ${flagOf(o)}`.padEnd(column);
    const also = o.aliases?.length ? ` Also ${o.aliases.map((a) => `--${a}`).join(", ")}.` : "";
    const where = [o.env ? `env ${o.env}` : "", o.default ? `default ${o.default}` : ""].filter(Boolean).join("; ");
    const body = wrap(`${o.help}${also}`, 96, pad) + (where ? `\n${pad}${wrap(`[${where}]`, 96, pad)}` : "");
    return (head.length > column ? `${head}\n${pad}` : head) + body;
  });
  return [
    "Converse Gateway: AWS Bedrock behind virtual keys, budgets and spend tracking (LiteLLM's /bedrock, rebuilt).",
    "",
    "Usage: deno task start [options]        (the binary: converse-gateway [options])",
    "",
    "Options (a flag wins over its environment variable, which wins over the default):",
    ...options,
    "",
    "The config may name more variables (os.environ/NAME, e.g. LITELLM_MASTER_KEY); AWS credentials come from the",
    "usual chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_REGION, web identity, containers, instance metadata).",
    "Docs: README.md (command line, configuration, running with workers, the binary, Deno Deploy).",
  ].join("\n");
}

/**
 * Parses `args` (and the environment through `env`); `cpus` is what `--workers auto` means, `isTerminal` whether
 * stdout is a terminal (the log format's default). Never exits: the entry decides what to print.
 */
export function parseCli(
  args: string[],
  env: (name: string) => string | undefined,
  cpus: number,
  isTerminal = false,
): Parsed {
  const spec: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const o of OPTIONS) {
    for (const name of [o.name, ...o.aliases ?? []]) {
      spec[name] = { type: o.value ? "string" : "boolean", ...(o.short && name === o.name ? { short: o.short } : {}) };
    }
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options: spec, strict: true, allowPositionals: false }));
  } catch (e) {
    return { kind: "usage", message: (e as Error).message };
  }
  if (values.help) return { kind: "help" };
  const value = (o: string, alias?: string) => (values[o] ?? (alias ? values[alias] : undefined)) as string | undefined;

  const portText = value("port") ?? env("PORT") ?? "4000";
  const port = Number(portText);
  if (portText.trim() === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    return { kind: "usage", message: `invalid port: ${portText} (a whole number from 0 to 65535)` };
  }

  const workersText = value("workers", "num_workers") ?? env("NUM_WORKERS") ?? "1";
  const workers = workersText === "auto" ? Math.max(1, cpus) : Number(workersText);
  if (workersText.trim() === "" || !Number.isInteger(workers) || workers < 1) {
    return { kind: "usage", message: `invalid --workers: ${workersText} (a whole number from 1, or auto)` };
  }

  const kvPath = value("kv") ?? env("KV_PATH");
  if (kvPath === ":memory:" && workers > 1) {
    return {
      kind: "usage",
      message: `the KV store :memory: (--kv or KV_PATH) cannot be shared by ${workers} workers: each would keep ` +
        "its own keys and spend, so budgets would not hold. Give a file (the default is ./.data/gateway.sqlite), " +
        "or run one worker",
    };
  }

  const logFormat = value("log-format", "log_format") ?? env("LOG_FORMAT") ?? (isTerminal ? "pretty" : "json");
  if (logFormat !== "json" && logFormat !== "pretty") {
    return { kind: "usage", message: `invalid --log-format: ${logFormat} (pretty or json)` };
  }

  return {
    kind: "run",
    options: {
      configPath: value("config"),
      port,
      hostname: value("host") ?? env("HOST") ?? "0.0.0.0",
      kvPath,
      workers,
      detailedDebug: Boolean(values["detailed-debug"] ?? values["detailed_debug"]),
      logFormat,
    },
  };
}
