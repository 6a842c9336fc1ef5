/**
 * @module
 * LiteLLM's free-form config sections, read as LiteLLM reads them:
 * - `environment_variables`: names and values that `os.environ/NAME` references (and the AWS credential chain) see
 *   before the process environment, through a layered lookup — the process environment itself is not changed.
 * - `litellm_settings`: the keys this gateway implements are honoured — `max_budget` and `budget_duration` (a budget
 *   over every call through the proxy), `request_timeout` (seconds; the upstream timeout when `router_settings.timeout`
 *   is not set), `num_retries` (when `router_settings.num_retries` is not set); every other key is named in a warning.
 */
import { parseDuration } from "../core/durations.ts";
import type { EnvLookup } from "../aws/mod.ts";
import type { ProxyBudget } from "./types.ts";

/** What `litellm_settings` sets that the gateway uses. */
export interface LitellmSettings {
  proxyBudget?: ProxyBudget;
  /** Seconds. */
  requestTimeout?: number;
  numRetries?: number;
}

const IMPLEMENTED = ["max_budget", "budget_duration", "request_timeout", "num_retries"];

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/**
 * The environment `os.environ/` references are resolved through: `environment_variables` first (scalars, as strings),
 * then `env`. Problems (a section that is not a mapping, a value that is not a scalar) are added to `problems`.
 */
export function layeredEnv(section: unknown, env: EnvLookup, problems: string[]): EnvLookup {
  if (section === undefined || section === null) return env;
  if (!isObject(section)) {
    problems.push("environment_variables: expected a mapping of names to values");
    return env;
  }
  const vars = new Map<string, string>();
  for (const [name, value] of Object.entries(section)) {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      vars.set(name, String(value));
    } else if (value !== null) {
      problems.push(`environment_variables.${name}: expected a string, number or boolean`);
    }
  }
  return (name) => vars.has(name) ? vars.get(name) : env(name);
}

/** The implemented keys of `litellm_settings`, checked; a warning names each key that is not implemented. */
export function readLitellmSettings(section: unknown, problems: string[], warnings: string[]): LitellmSettings {
  const out: LitellmSettings = {};
  if (section === undefined || section === null) return out;
  if (!isObject(section)) {
    problems.push("litellm_settings: expected a mapping");
    return out;
  }
  for (const key of Object.keys(section)) {
    if (!IMPLEMENTED.includes(key)) warnings.push(`litellm_settings.${key}: not implemented by this gateway, ignored`);
  }
  const number = (key: string, ok: (n: number) => boolean, what: string): number | undefined => {
    const v = section[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) {
      problems.push(`litellm_settings.${key}: expected ${what}`);
      return undefined;
    }
    return v;
  };
  const maxBudget = number("max_budget", (n) => n >= 0 && n <= 1e9, "a budget in USD (a number from 0)");
  const duration = section.budget_duration;
  let period: ProxyBudget["period"];
  if (duration !== undefined && duration !== null) {
    period = typeof duration === "string" ? parseDuration(duration) : undefined;
    if (!period) {
      problems.push("litellm_settings.budget_duration: expected a duration like 30s, 30m, 1h, 1d, 2w or 1mo");
    } else if (maxBudget === undefined) {
      warnings.push("litellm_settings.budget_duration: no max_budget to reset, ignored");
    }
  }
  // LiteLLM checks the proxy's budget only when it is above 0.
  if (maxBudget !== undefined && maxBudget > 0) {
    out.proxyBudget = { maxBudget };
    if (period) {
      out.proxyBudget.period = period;
      out.proxyBudget.budgetDuration = duration as string;
    }
  }
  const timeout = number("request_timeout", (n) => n > 0, "a positive number of seconds");
  if (timeout !== undefined) out.requestTimeout = timeout;
  const retries = number("num_retries", (n) => Number.isInteger(n) && n >= 0 && n <= 100, "a whole number from 0");
  if (retries !== undefined) out.numRetries = retries;
  return out;
}
