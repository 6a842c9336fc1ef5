/**
 * @module
 * `general_settings.cors_allow_origins` / `cors_allow_credentials` / `cors_allow_headers` → the CORS policies of
 * `/bedrock/*` and of the admin API (`server/http/cors.ts` applies them).
 *
 * LiteLLM Proxy answers CORS for any origin on every route by default; here the default is any origin on `/bedrock/*`
 * only, and only when a master key is set (an open gateway would otherwise let any site a visitor opens call it
 * through the visitor's browser). Configured origins apply to both groups.
 */
import type { GeneralSettings } from "./schema.ts";

/** What one group of routes allows. */
export interface CorsPolicy {
  /** `"*"`: any origin (and then never credentials); otherwise the exact origins, as `scheme://host[:port]`. */
  origins: "*" | ReadonlySet<string>;
  /** Send `Access-Control-Allow-Credentials: true` (cookies; only with listed origins). */
  credentials: boolean;
  /** Request headers allowed besides the built-in allowed ones (`http/cors.ts`), lower-case; `"*"` allows any. */
  extraHeaders: "*" | ReadonlySet<string>;
}

/** The policies of the two groups of routes; a group without one answers no CORS request. */
export interface CorsSettings {
  /** `/bedrock` and everything under it: the model calls, guardrails, the agent runtime. */
  bedrock?: CorsPolicy;
  /** Every other route: `/key/*`, spend, metrics, health. */
  admin?: CorsPolicy;
}

type EnvLookup = (name: string) => string | undefined;

const ENV_PREFIX = "os.environ/";
const ANY: CorsPolicy = { origins: "*", credentials: false, extraHeaders: new Set() };
/** An HTTP header name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** The entries of a list-or-comma-string setting, `os.environ/` references resolved; undefined when unset. */
function entries(
  value: string | string[] | undefined,
  path: string,
  env: EnvLookup,
  problems: string[],
): string[] | undefined {
  if (value === undefined) return undefined;
  const resolve = (v: string): string => {
    if (!v.startsWith(ENV_PREFIX)) return v;
    const name = v.slice(ENV_PREFIX.length);
    const resolved = env(name);
    if (resolved === undefined) problems.push(`${path}: environment variable ${name} is not set`);
    return resolved ?? "";
  };
  const list = typeof value === "string" ? [value] : value;
  return list.flatMap((v) => resolve(v.trim()).split(",")).map((v) => v.trim()).filter(Boolean);
}

/** An origin as browsers send it (`scheme://host[:port]`, lower-case, no default port), or a problem. */
function origin(entry: string, path: string, problems: string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    problems.push(`${path}: "${entry}" is not an origin (scheme://host[:port])`);
    return undefined;
  }
  const canonical = url.origin;
  // Browsers send no trailing slash: "https://a.example/" would never match.
  if (canonical === "null" || `${canonical}/` !== url.href || entry.endsWith("/")) {
    const hint = canonical === "null" ? "" : `; did you mean "${canonical}"?`;
    problems.push(`${path}: "${entry}" is not an origin (scheme://host[:port], no path)${hint}`);
    return undefined;
  }
  return canonical;
}

/** Resolves the CORS settings; problems stop start-up, warnings are logged. */
export function resolveCors(
  general: GeneralSettings,
  hasMasterKey: boolean,
  env: EnvLookup,
  problems: string[],
  warnings: string[],
): CorsSettings {
  const originsPath = "general_settings.cors_allow_origins";
  const listed = entries(general.cors_allow_origins, originsPath, env, problems);
  const headerList = entries(general.cors_allow_headers, "general_settings.cors_allow_headers", env, problems) ?? [];
  const badHeader = headerList.find((h) => h !== "*" && !TOKEN.test(h.toLowerCase()));
  if (badHeader !== undefined) {
    problems.push(`general_settings.cors_allow_headers: "${badHeader}" is not a header name`);
  }
  const extraHeaders = headerList.includes("*") ? "*" : new Set(headerList.map((h) => h.toLowerCase()));

  if (listed === undefined) {
    if (general.cors_allow_credentials) {
      warnings.push(`general_settings.cors_allow_credentials: ignored without cors_allow_origins (never with "*")`);
    }
    return { bedrock: hasMasterKey ? { ...ANY, extraHeaders } : undefined };
  }
  if (listed.length === 0) {
    warnings.push(`${originsPath}: empty, so CORS is off: no web page on another origin can call the gateway`);
    return {};
  }

  let policy: CorsPolicy;
  if (listed.includes("*")) {
    if (general.cors_allow_credentials) {
      warnings.push(`general_settings.cors_allow_credentials: ignored, credentials are never allowed with "*"`);
    }
    policy = { origins: "*", credentials: false, extraHeaders };
  } else {
    const origins = new Set<string>();
    for (const entry of listed) {
      const o = origin(entry, originsPath, problems);
      if (o) origins.add(o);
    }
    policy = { origins, credentials: general.cors_allow_credentials ?? false, extraHeaders };
  }
  return { bedrock: policy, admin: policy };
}
