/**
 * @module
 * YAML text → validated, resolved `GatewayConfig`.
 *
 * Validation happens on the YAML as written (so error paths match the file), then `os.environ/NAME`
 * references are resolved through an injected `env` lookup (tests pass a plain object), layered under the config's
 * own `environment_variables` (`litellm_settings.ts`).
 */
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { entryProvider } from "./provider.ts";
import { awsCredentials } from "./aws_auth.ts";
import { resolveCors } from "./cors.ts";
import { resolveAlerting } from "./alerting.ts";
import { layeredEnv, readLitellmSettings } from "./litellm_settings.ts";
import { resolvePassthrough } from "./passthrough.ts";
import { MAX_OUTPUT_TOKENS_FIELD, PRICE_FIELD_NAMES, pricesFromFields } from "./price_fields.ts";
import { ConfigFile, type ModelEntry, unknownKeys } from "./schema.ts";
import type { Deployment, DeploymentAuth, GatewayConfig } from "./types.ts";

/**
 * Thrown when the config cannot be used; `problems` lists every issue with its YAML path. `excerpt`: for a YAML
 * syntax error, the lines around it with a caret under the spot (as the YAML parser shows them), values masked.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[], readonly excerpt?: string) {
    super(`invalid config:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** A config line's indentation, list dashes and key (`  - api_key:`), and whatever follows them. */
const KEY_LINE = /^(\s*(?:-\s+)*(?:[\w.-]+|"[^"]*"|'[^']*')\s*:)(.*)$/;

/**
 * The parser's excerpt with every value masked: a key's line keeps its indentation and key (`  master_key: …`),
 * any other line its indentation only, and the caret line one caret at the column. The offending line is often
 * the one holding a literal secret (`master_key`, `aws_secret_access_key`, `api_key`), and start-up prints the
 * excerpt to logs.
 */
function maskExcerpt(excerpt: string): string {
  return excerpt.split("\n").map((line) => {
    if (/^\s*\^+\s*$/.test(line)) return line.replace(/\^+\s*$/, "^");
    const keyed = KEY_LINE.exec(line);
    if (keyed) return keyed[2].trim() === "" ? keyed[1] : `${keyed[1]} …`;
    const indent = /^\s*/.exec(line)![0];
    return line.trim() === "" ? "" : `${indent}…`;
  }).join("\n");
}

/** A YAML parser error as one line (`line 5, column 1: <what>`) and the parser's excerpt of the spot, values masked. */
function yamlProblem(e: unknown): ConfigError {
  const err = e as { message?: unknown; linePos?: Array<{ line: number; col: number }> };
  const message = String(err.message ?? e);
  const at = message.search(/ at line \d+, column \d+:/);
  const what = at >= 0 ? message.slice(0, at) : message.split("\n")[0];
  const pos = err.linePos?.[0];
  const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
  const excerpt = message.includes("\n") ? message.slice(message.indexOf("\n")).replace(/^\n+|\n+$/g, "") : undefined;
  return new ConfigError([`${where}YAML syntax error: ${what}`], excerpt && maskExcerpt(excerpt));
}

export type EnvLookup = (name: string) => string | undefined;

const ENV_PREFIX = "os.environ/";
const DEFAULT_MAX_BODY = 20 * 1024 * 1024;
/**
 * How long a budgeted or rate-limited key's record + counter read is reused. Reading on every call costs a KV round
 * trip per request (~half the gateway's CPU per call at concurrency 1: docs/benchmarks.md); reusing it for a second
 * only delays what *other* instances did (their spend, admin changes made there) by up to a second. This instance's
 * own spend always counts at once, so one instance stops exactly at the budget either way. `0` reads every time.
 */
const DEFAULT_KEY_COUNTER_MAX_AGE_MS = 1_000;
const DAY_MS = 86_400_000;
/**
 * Output tokens held for a call whose request sets no `maxTokens`/`max_tokens`: many SDKs default to 4096, and a hold
 * only decides admission while calls run together (settlement bills the real usage).
 */
const DEFAULT_HOLD_OUTPUT_TOKENS = 4096;
/**
 * Front-door defaults (README, `general_settings`). Depth 128: a Converse body with a tool whose JSON Schema nests 50
 * object levels (`properties` → object → …) is ~110 deep; 50,000 is what an attacker sends. In flight: 128 MiB holds
 * six bodies at the 20 MiB per-request cap; each costs the process several times its size while it is validated and
 * sent (ten at once peaked at ~1 GiB RSS, six at ~0.7 GiB: docs/benchmarks.md), and the others get a retryable 503.
 * Timeouts as common servers choose them (Go's and Node's examples,
 * nginx's `client_header_timeout` 60 s, `keepalive_timeout` 75 s); the grace period fits Kubernetes' default 30 s
 * between SIGTERM and SIGKILL, leaving time for the spend flush.
 */
const DEFAULT_MAX_JSON_DEPTH = 128;
/**
 * Values per JSON body: over three times a very long agent session (5,000 tool calls and their results at ~15 values
 * each is ~75,000). A body built so that schema validation reports every element costs time and memory per element
 * (docs/benchmarks.md), so this bounds one body's validation to about a second.
 */
const DEFAULT_MAX_JSON_VALUES = 250_000;
const DEFAULT_MAX_BODY_BYTES_IN_FLIGHT = 128 * 1024 * 1024;
const DEFAULT_HEADER_TIMEOUT_MS = 30_000;
const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 75_000;
/**
 * A body gets 30 s, plus a second per 500 bytes received: Apache's `mod_reqtimeout` rule and its default rate
 * (`body=20,MinRate=500`). Only a client slower than 4 kbit/s is ever cut, so an upload on a weak link is read (the
 * AWS SDKs would retry a 408, sending it again to be cut again); one that sends a few bytes and stops holds its
 * connection 30 s, and at the connection cap the body furthest behind this rate makes room first.
 */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
export const DEFAULT_BODY_MIN_BYTES_PER_SECOND = 500;
const DEFAULT_SHUTDOWN_GRACE_MS = 25_000;
/** nginx's `send_timeout`: a client that takes nothing for a minute (its socket buffers full) is not reading. */
const DEFAULT_STREAM_SEND_TIMEOUT_MS = 60_000;
/** The AWS SDKs treat credentials this close to expiry as expired; refreshing then leaves room for a slow STS. */
const DEFAULT_AWS_REFRESH_AHEAD_S = 300;

/** Formats zod issues as `path: message` with LiteLLM-style YAML paths (`model_list[1].litellm_params.x`). */
function issuePaths(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    let path = "";
    for (const part of issue.path) {
      path += typeof part === "number" ? `[${part}]` : path ? `.${String(part)}` : String(part);
    }
    const message = issue.code === "invalid_type" && issue.message.endsWith("received undefined")
      ? "required"
      : issue.message.replace(/^Invalid input: /, "");
    return `${path || "(root)"}: ${message}`;
  });
}

/** Parses and resolves a config. Throws `ConfigError` listing every problem. */
export function loadConfig(yamlText: string, processEnv: EnvLookup): GatewayConfig {
  let raw: unknown;
  try {
    raw = parseYaml(yamlText);
  } catch (e) {
    throw yamlProblem(e);
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError(["the file is empty: it needs at least a model_list (see config.example.yaml)"]);
  }
  const problems: string[] = [];
  // `environment_variables` are seen by every `os.environ/` reference below, before the process environment.
  const env = layeredEnv((raw as { environment_variables?: unknown }).environment_variables, processEnv, problems);
  if (problems.length) throw new ConfigError(problems);
  const { checked, skipped, skipWarnings } = withoutOtherProviders(raw, env);
  const parsed = ConfigFile.safeParse(checked);
  if (!parsed.success) throw new ConfigError(issuePaths(parsed.error));
  const file = parsed.data;
  const warnings = [...skipWarnings, ...unknownKeys(checked).map((path) => `${path}: unknown key, ignored`)];
  const settings = readLitellmSettings(file.litellm_settings, problems, warnings);

  const general = file.general_settings ?? {};
  let masterKey: string | undefined;
  if (general.master_key !== undefined) {
    const ref = envRef(general.master_key);
    masterKey = ref ? env(ref) : general.master_key;
    if (!masterKey) {
      problems.push(`general_settings.master_key: environment variable ${ref} is not set`);
    }
  }

  const deployments: Deployment[] = [];
  const seenIds = new Set<string>();
  file.model_list.forEach((entry, i) => {
    if (skipped.has(i)) return;
    const d = resolveDeployment(entry, i, env, problems);
    if (!d) return;
    if (seenIds.has(d.id)) {
      problems.push(`model_list[${i}].model_info.id: duplicate deployment id "${d.id}"`);
      return;
    }
    seenIds.add(d.id);
    if (d.auth.kind === "unavailable") {
      warnings.push(`model_list[${i}] (${d.modelName}): unavailable: ${d.auth.reason}`);
    }
    deployments.push(d);
  });

  const passthrough = resolvePassthrough(general.bedrock_passthrough, env, problems, warnings);
  const cors = resolveCors(general, masterKey !== undefined, env, problems, warnings);
  const alerts = resolveAlerting(general, env, problems, warnings);

  const router = file.router_settings ?? {};
  const fallbacks = new Map<string, string[]>();
  for (const rule of router.fallbacks ?? []) {
    for (const [from, to] of Object.entries(rule)) fallbacks.set(from, to);
  }
  if (problems.length) throw new ConfigError(problems);

  const byModelName = new Map<string, Deployment[]>();
  for (const d of deployments) {
    const list = byModelName.get(d.modelName) ?? [];
    list.push(d);
    byModelName.set(d.modelName, list);
  }
  const otherProviders = new Map<string, string>();
  for (const [i, why] of skipped) {
    const name = file.model_list[i].model_name;
    if (!byModelName.has(name) && !otherProviders.has(name)) otherProviders.set(name, why);
  }
  for (const [from, to] of fallbacks) {
    if (from !== "*" && !byModelName.has(from)) {
      warnings.push(`router_settings.fallbacks: "${from}" is not a model_name, its rule is never used`);
    }
    for (const target of to.filter((m) => !byModelName.has(m))) {
      warnings.push(`router_settings.fallbacks: "${from}" falls back to unknown model "${target}", ignored`);
    }
  }
  return {
    deployments,
    byModelName,
    otherProviders,
    masterKey,
    maxRequestBodyBytes: general.max_request_body_bytes ?? DEFAULT_MAX_BODY,
    limits: {
      maxBodyBytesInFlight: general.max_body_bytes_in_flight ?? DEFAULT_MAX_BODY_BYTES_IN_FLIGHT,
      json: {
        maxDepth: general.max_json_depth ?? DEFAULT_MAX_JSON_DEPTH,
        maxValues: general.max_json_values ?? DEFAULT_MAX_JSON_VALUES,
      },
      streamSendTimeoutMs: general.stream_send_timeout_ms ?? DEFAULT_STREAM_SEND_TIMEOUT_MS,
    },
    server: {
      maxConnections: general.max_connections,
      headerTimeoutMs: general.header_timeout_ms ?? DEFAULT_HEADER_TIMEOUT_MS,
      keepAliveTimeoutMs: general.keep_alive_timeout_ms ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      bodyTimeoutMs: general.body_timeout_ms ?? DEFAULT_BODY_TIMEOUT_MS,
      bodyMinBytesPerSecond: general.body_min_bytes_per_second ?? DEFAULT_BODY_MIN_BYTES_PER_SECOND,
      shutdownGraceMs: general.shutdown_grace_ms ?? DEFAULT_SHUTDOWN_GRACE_MS,
    },
    keyCacheTtlMs: general.key_cache_ttl_ms ?? 2_000,
    keyCounterMaxAgeMs: general.key_counter_max_age_ms ?? DEFAULT_KEY_COUNTER_MAX_AGE_MS,
    storePrompts: general.store_prompts_in_spend_logs ?? false,
    alerts,
    defaultHoldOutputTokens: general.default_hold_output_tokens ?? DEFAULT_HOLD_OUTPUT_TOKENS,
    spendLogRetentionMs: (general.spend_logs_retention_days ?? 30) * DAY_MS,
    modelPricesFile: general.model_prices_file,
    guardrailPrices: general.guardrail_prices ?? {},
    allowUnpricedModels: general.allow_unpriced_models ?? false,
    metricsPublic: general.metrics_public ?? false,
    upstreamClient: general.upstream_client ?? "native",
    router: {
      strategy: router.routing_strategy ?? "simple-shuffle",
      numRetries: router.num_retries ?? settings.numRetries ?? 2,
      retryAfterMs: (router.retry_after ?? 0) * 1000,
      allowedFails: router.allowed_fails ?? 3,
      cooldownMs: (router.cooldown_time ?? 5) * 1000,
      timeoutMs: (router.timeout ?? settings.requestTimeout ?? 600) * 1000,
      streamTimeoutMs: (router.stream_timeout ?? router.timeout ?? settings.requestTimeout ?? 600) * 1000,
      fallbacks,
      enablePreCallChecks: router.enable_pre_call_checks ?? false,
    },
    passthrough,
    awsRefreshAheadMs: (general.aws_credentials_refresh_ahead_seconds ?? DEFAULT_AWS_REFRESH_AHEAD_S) * 1000,
    cors,
    ...(settings.proxyBudget ? { proxyBudget: settings.proxyBudget } : {}),
    warnings,
  };
}

/**
 * The raw config with other providers' `model_list` entries replaced by a stub the schema accepts (so error paths
 * keep their indices and those entries' fields are neither validated nor resolved), which indices were skipped and
 * why, and one warning per skipped entry.
 */
function withoutOtherProviders(raw: unknown, env: EnvLookup) {
  const skipped = new Map<number, string>();
  const skipWarnings: string[] = [];
  const list = (raw as { model_list?: unknown } | null)?.model_list;
  if (!Array.isArray(list)) return { checked: raw, skipped, skipWarnings };
  const entries = list.map((entry: unknown, i: number) => {
    const e = entry as { model_name?: unknown; litellm_params?: Record<string, unknown> } | null;
    const params = e?.litellm_params;
    if (!params || typeof params !== "object") return entry;
    const model = typeof params.model === "string" && envRef(params.model) ? env(envRef(params.model)!) : params.model;
    const verdict = entryProvider({ model, custom_llm_provider: params.custom_llm_provider });
    if (verdict.bedrock) return entry;
    const name = typeof e?.model_name === "string" ? e.model_name : `#${i}`;
    skipped.set(i, `its config entry is for provider "${verdict.provider}" (${verdict.reason})`);
    skipWarnings.push(
      `model_list[${i}] (${name}): provider "${verdict.provider}" is not Bedrock (${verdict.reason}): entry ` +
        "skipped, its credentials are not read; this gateway serves only Bedrock models " +
        "(model: bedrock/…, or custom_llm_provider: bedrock)",
    );
    return { model_name: name, litellm_params: { model: "bedrock/skipped" } };
  });
  return { checked: { ...(raw as object), model_list: entries }, skipped, skipWarnings };
}

const unsetMessage = (names: string[]) =>
  names.length === 1
    ? `environment variable ${names[0]} is not set`
    : `environment variables ${names.join(", ")} are not set`;

function envRef(value: string): string | undefined {
  return value.startsWith(ENV_PREFIX) ? value.slice(ENV_PREFIX.length) : undefined;
}

/** Strips LiteLLM's provider and route prefixes: `bedrock/converse/<id>` → `<id>`. */
export function bedrockModelId(model: string): string {
  let id = model;
  if (id.startsWith("bedrock/")) id = id.slice("bedrock/".length);
  for (const route of ["converse/", "invoke/"]) {
    if (id.startsWith(route)) id = id.slice(route.length);
  }
  return id;
}

/** The region encoded in an ARN (`arn:aws:bedrock:<region>:…`), if any. */
function arnRegion(id: string): string | undefined {
  const parts = id.split(":");
  return parts[0] === "arn" && parts[3] ? parts[3] : undefined;
}

function resolveDeployment(
  entry: ModelEntry,
  index: number,
  env: EnvLookup,
  problems: string[],
): Deployment | undefined {
  const p = entry.litellm_params;
  const path = `model_list[${index}].litellm_params`;
  const missing: string[] = [];
  /** Resolves a possibly `os.environ/` value; records the variable when a required one is unset. */
  const value = (v: string | undefined, required: boolean): string | undefined => {
    if (v === undefined) return undefined;
    const ref = envRef(v);
    if (!ref) return v;
    const resolved = env(ref);
    if (resolved === undefined || resolved === "") {
      if (required) missing.push(ref);
      return undefined;
    }
    return resolved;
  };

  const modelId = bedrockModelId(value(p.model, true) ?? "");
  const region = value(p.aws_region_name, true) ?? arnRegion(modelId) ?? env("AWS_REGION_NAME") ??
    env("AWS_REGION") ?? env("AWS_DEFAULT_REGION");
  const isMock = p.mock_response !== undefined;
  if (!region && !isMock && !missing.length) {
    problems.push(`${path}.aws_region_name: required`);
    return undefined;
  }
  const endpoint = (value(p.aws_bedrock_runtime_endpoint ?? p.api_base, true) ?? env("AWS_BEDROCK_RUNTIME_ENDPOINT") ??
    `https://bedrock-runtime.${region}.amazonaws.com`).replace(/\/+$/, "");

  let auth: DeploymentAuth;
  if (isMock) {
    auth = { kind: "mock", text: p.mock_response ?? "" };
  } else {
    // An api_key whose variable is unset falls back to SigV4, as in LiteLLM.
    const bearer = value(p.api_key ?? p.aws_bearer_token, false);
    if (bearer) auth = { kind: "bearer", token: bearer };
    else {
      const sigv4 = awsCredentials(p, { value, env, region: region ?? "us-east-1", path, problems });
      auth = "spec" in sigv4
        ? { kind: "sigv4", credentials: sigv4.spec }
        : { kind: "unavailable", reason: sigv4.reason };
    }
  }
  // An unset variable is the reason, whatever else it left missing.
  if (missing.length) {
    auth = { kind: "unavailable", reason: unsetMessage(missing) };
  }

  const info = entry.model_info ?? {};
  // Field by field, `litellm_params` over `model_info` (both validated by the schema).
  const priceFields: Record<string, number | undefined> = {};
  for (const name of [...PRICE_FIELD_NAMES, MAX_OUTPUT_TOKENS_FIELD] as const) {
    priceFields[name] = p[name] ?? info[name];
  }
  const seconds = (s: number | undefined) => s === undefined ? undefined : s * 1000;
  return {
    id: info.id ?? deploymentId(entry.model_name, modelId, region ?? "", endpoint, index),
    modelName: entry.model_name,
    bedrockModelId: modelId,
    region: region ?? "us-east-1",
    endpoint,
    auth,
    weight: p.weight,
    rpm: p.rpm,
    tpm: p.tpm,
    timeoutMs: seconds(p.timeout),
    streamTimeoutMs: seconds(p.stream_timeout),
    cooldownMs: seconds(p.cooldown_time),
    prices: pricesFromFields(priceFields) ?? {},
    baseModel: info.base_model === undefined ? undefined : bedrockModelId(info.base_model),
  };
}

/**
 * A readable, stable id from non-secret params. The list index keeps two otherwise identical deployments
 * (same model, region and endpoint but different accounts) apart.
 */
function deploymentId(name: string, model: string, region: string, endpoint: string, index: number): string {
  let h = 0x811c9dc5;
  for (const ch of `${name}|${model}|${region}|${endpoint}|${index}`) {
    h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  }
  return `${name}-${h.toString(16).padStart(8, "0")}`;
}
