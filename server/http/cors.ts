/**
 * @module
 * CORS: which web pages on other origins may call the gateway from a browser, applied around the whole request
 * handler (the model-call fast path included) by {@link withCors}.
 *
 * - A request without `Origin` (curl, boto3, servers) costs one header lookup and is passed on untouched.
 * - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here, before any route,
 *   so it never authenticates nor reads KV: a browser sends it without the key.
 * - Every other answer to an allowed origin, errors included, gets `Access-Control-Allow-Origin` and exposes the
 *   headers the gateway put on it, so a page reads the request id, error type, cost and `Retry-After` a typed
 *   error needs. An origin not allowed gets no CORS header at all, and the browser withholds the answer.
 *
 * The group of routes decides the policy: `/bedrock/*` and the admin API (everything else) are configured apart.
 */
import type { ServeInfo } from "../api/body_watch.ts";
import type { CorsPolicy, CorsSettings } from "../config/cors.ts";

/** A request handler; `info` (`Deno.serve`'s connection info) is passed on untouched. */
type Handler = (req: Request, info?: ServeInfo) => Response | Promise<Response>;

/** Methods the gateway's routes use (`POST` and `GET` need no preflight for the method itself; listed for clarity). */
const ALLOW_METHODS = "GET, POST";
/**
 * Seconds a browser may reuse a preflight answer for one URL. Chromium caps it at 7200, Firefox at 86400; a longer
 * cache only saves round trips (a withdrawn origin is still refused on the answer itself).
 */
const MAX_AGE = "7200";
/** A preflight's answer depends on all three (the allowed headers mirror the requested ones). */
const PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/** Headers our SDK, the AWS SDKs (SigV4 or bearer) and LiteLLM clients send. */
const REQUEST_HEADERS: ReadonlySet<string> = new Set(["authorization", "content-type", "accept", "x-api-key"]);
/** `x-amz-date`, `x-amz-user-agent`, `x-amzn-bedrock-*` (InvokeModel), `amz-sdk-request`, `x-litellm-api-key`, … */
const REQUEST_HEADER_PREFIXES = ["x-amz-", "x-amzn-", "amz-sdk-", "x-litellm-"];

/** Response headers every page may read anyway (CORS-safelisted), and those that are CORS's own. */
const NOT_EXPOSED: ReadonlySet<string> = new Set([
  "cache-control",
  "content-language",
  "content-length",
  "content-type",
  "expires",
  "last-modified",
  "pragma",
  "vary",
  "set-cookie",
]);

/** Whether a request header (lower-case) is one the gateway's clients send. */
export function allowedRequestHeader(name: string): boolean {
  return REQUEST_HEADERS.has(name) || REQUEST_HEADER_PREFIXES.some((p) => name.startsWith(p));
}

/** `/bedrock` or a path under it; `url` is a request URL (`scheme://host/path?query`). */
function isBedrockUrl(url: string): boolean {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0 || !url.startsWith("/bedrock", start)) return false;
  const next = url[start + "/bedrock".length];
  return next === undefined || next === "/" || next === "?";
}

const allows = (policy: CorsPolicy, origin: string) => policy.origins === "*" || policy.origins.has(origin);

/** The requested headers this policy allows, as the answer's `Access-Control-Allow-Headers` (browsers check each). */
function allowHeaders(policy: CorsPolicy, requested: string): string {
  const names = requested.split(",").map((h) => h.trim().toLowerCase()).filter(Boolean);
  const extra = policy.extraHeaders;
  return names.filter((h) => extra === "*" || extra.has(h) || allowedRequestHeader(h)).join(", ");
}

function preflight(policy: CorsPolicy | undefined, origin: string, req: Request): Response {
  if (!policy || !allows(policy, origin)) {
    // No CORS header: the browser refuses the call. The text is for whoever tries it with curl.
    return new Response(`CORS: origin ${origin} is not allowed here (general_settings.cors_allow_origins)\n`, {
      status: 403,
      headers: { "content-type": "text/plain; charset=utf-8", vary: PREFLIGHT_VARY },
    });
  }
  const headers: Record<string, string> = {
    "access-control-allow-origin": policy.origins === "*" ? "*" : origin,
    "access-control-allow-methods": ALLOW_METHODS,
    "access-control-max-age": MAX_AGE,
    vary: PREFLIGHT_VARY,
  };
  const requested = req.headers.get("access-control-request-headers");
  const allowed = requested ? allowHeaders(policy, requested) : "";
  if (allowed) headers["access-control-allow-headers"] = allowed;
  if (policy.credentials) headers["access-control-allow-credentials"] = "true";
  return new Response(null, { status: 204, headers });
}

/** Every header on the answer a page could not read without being told (the gateway sends only what clients use). */
function exposedHeaders(headers: Headers): string {
  const names: string[] = [];
  headers.forEach((_, name) => {
    if (!NOT_EXPOSED.has(name) && !name.startsWith("access-control-")) names.push(name);
  });
  return names.join(", ");
}

/** `res` with the CORS headers of an answer to `origin`. */
function decorate(policy: CorsPolicy, origin: string, res: Response): Response {
  try {
    setCorsHeaders(policy, origin, res.headers);
    return res;
  } catch (e) {
    // Immutable headers (a `fetch` response relayed as is; the first `set` threw, nothing changed): copy once.
    if (!(e instanceof TypeError)) throw e;
    const copy = new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
    setCorsHeaders(policy, origin, copy.headers);
    return copy;
  }
}

function setCorsHeaders(policy: CorsPolicy, origin: string, headers: Headers): void {
  const listed = policy.origins !== "*";
  // With listed origins the answer differs from one origin to another: caches must not reuse it across origins.
  if (listed) appendVary(headers, "Origin");
  if (!allows(policy, origin)) return;
  headers.set("access-control-allow-origin", listed ? origin : "*");
  const expose = exposedHeaders(headers);
  if (expose) headers.set("access-control-expose-headers", expose);
  if (policy.credentials) headers.set("access-control-allow-credentials", "true");
}

function appendVary(headers: Headers, name: string): void {
  const vary = headers.get("vary");
  if (!vary) headers.set("vary", name);
  else if (!vary.toLowerCase().split(",").some((v) => v.trim() === name.toLowerCase())) {
    headers.set("vary", `${vary}, ${name}`);
  }
}

/**
 * `next` with CORS. Preflights are answered here whatever the settings (refused when the group has no policy), so
 * an `OPTIONS` never reaches a route's authentication.
 */
export function withCors(settings: CorsSettings, next: Handler): Handler {
  return (req, info) => {
    const origin = req.headers.get("origin");
    if (origin === null) return next(req, info);
    const policy = isBedrockUrl(req.url) ? settings.bedrock : settings.admin;
    if (req.method === "OPTIONS" && req.headers.has("access-control-request-method")) {
      return preflight(policy, origin, req);
    }
    if (!policy) return next(req, info);
    const res = next(req, info);
    return res instanceof Promise ? res.then((r) => decorate(policy, origin, r)) : decorate(policy, origin, res);
  };
}
