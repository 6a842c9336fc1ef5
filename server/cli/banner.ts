/**
 * @module
 * The CLI's start-up line: where the gateway listens, and what an operator checks first — the config it read, the
 * models it serves, where keys and spend live (KV), whether a master key guards it, which models have deployments
 * without AWS credentials (their calls fail until credentials come), and whether traces are exported (and where to:
 * the OTLP endpoint's origin only, as its URL may carry a token).
 */

/** What the start-up line says beyond the address (a worker sends it to the supervisor with `ready`). */
export interface BannerFacts {
  configSource: string;
  models: string[];
  /** Where KV lives: a path, `:memory:`, a KV Connect URL's origin, or `Deno Deploy's KV`. */
  kv: string;
  masterKey: boolean;
  /** Model names with a deployment that has no usable AWS credentials now. */
  withoutCredentials: string[];
  /** `off`, or `OTLP <origin>` when Deno's OpenTelemetry export is on. */
  traces: string;
}

/** The start-up line, e.g. `Converse Gateway listening on http://localhost:4000 (config config.yaml) models: demo · …`. */
export function listeningLine(url: string, workers: number, f: BannerFacts): string {
  const how = workers > 1 ? ` with ${workers} workers` : "";
  const parts = [
    `Converse Gateway listening on ${url}${how} (config ${f.configSource}) models: ${f.models.join(", ")}`,
    `KV ${f.kv}`,
    f.masterKey ? "master key set" : "NO master key (open gateway)",
    f.withoutCredentials.length
      ? `no AWS credentials for: ${f.withoutCredentials.join(", ")}`
      : "AWS credentials for every model",
    `traces ${f.traces}`,
  ];
  return parts.join(" · ");
}

/** Where KV lives, as the line shows it: a remote store's origin only (its URL may carry a token). */
export function kvShown(path: string): string {
  if (!/^https?:\/\//.test(path)) return path;
  try {
    return new URL(path).origin;
  } catch {
    return "a KV Connect URL";
  }
}

/** Whether Deno's OpenTelemetry export is on (read at start: `OTEL_DENO`), and where it sends: the origin only. */
export function tracesShown(env: (name: string) => string | undefined): string {
  const on = (v: string | undefined) => v === "true" || v === "1";
  if (on(env("OTEL_SDK_DISABLED")) || !(on(env("OTEL_DENO")) || on(env("OTEL_DENO_TRACING")))) return "off";
  if (env("OTEL_DENO_TRACING") === "false") return "off";
  const endpoint = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ?? env("OTEL_EXPORTER_OTLP_ENDPOINT") ??
    "http://localhost:4318";
  try {
    return `OTLP ${new URL(endpoint).origin}`;
  } catch {
    return "OTLP (endpoint unreadable)";
  }
}
