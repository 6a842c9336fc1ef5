/**
 * @module
 * The HTTP app: the features' route declarations (`bedrock/routes.ts`, `health/routes.ts`, `keys/routes.ts`,
 * `models/routes.ts`, `owners/routes.ts`, `spend/routes.ts`: each route's handler, schemas and description in one value) mounted over the services
 * `gateway.ts` built, the admin UI, and what every answer shares: a request id (`x-litellm-call-id`), and errors
 * rendered in one place (`errorResponse`), Bedrock's wire format under `/bedrock/*`, LiteLLM's elsewhere.
 *
 * `createFetch` serves model calls (the hot path, the routes declared `fast`) without the framework, by their path
 * prefix, and everything else from the Hono app.
 */
import { type Context, Hono } from "hono";
import type { BodyWatch, ServeInfo } from "../api/body_watch.ts";
import { matchPath, mountRoutes, type Route, type RouteInput, routeInput } from "../api/route.ts";
import { pathOf, pathStart, rawPathAfter } from "../api/url.ts";
import { BEDROCK_ROUTES, type BedrockRouteServices } from "../bedrock/routes.ts";
import { parseModelPath } from "../bedrock/model_path.ts";
import { MODEL_PREFIX } from "../calls/model_call.ts";
import {
  bedrockErrorResponse,
  GatewayError,
  litellmErrorResponse,
  type Refusal,
  refusalReason,
} from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { HEALTH_ROUTES, type HealthRouteServices } from "../health/routes.ts";
import { KEY_ROUTES, type KeyRouteServices } from "../keys/routes.ts";
import { AUDIT_ROUTES, type AuditRouteServices } from "../audit/routes.ts";
import { MODEL_ROUTES, type ModelRouteServices } from "../models/routes.ts";
import { OWNER_ROUTES, type OwnerRouteServices } from "../owners/routes.ts";
import { SPEND_ROUTES, type SpendRouteServices } from "../spend/routes.ts";
import type { UiEnv } from "../ui/mod.ts";
import type { ServerSpans } from "./server_span.ts";

/** What each group of routes is served with. */
export interface AppServices {
  /** `/bedrock/*`: the call pipeline's model and pass-through calls (`calls/pipeline.ts`). */
  calls: BedrockRouteServices;
  /** `/health/*` and `/health`. */
  health: HealthRouteServices;
  /** `/key/*`. */
  keys: KeyRouteServices;
  /** `/audit/logs`. */
  audit: AuditRouteServices;
  /** `/team/*` and `/user/*`. */
  owners: OwnerRouteServices;
  /** `/model/info`, `/v1/models`, `/models`. */
  models: ModelRouteServices;
  /** `/spend/logs`, `/global/spend`, `/global/spend/report`, `/metrics`. */
  spend: SpendRouteServices;
  /** The admin UI: `/ui` and under it, and `/` (a redirect there). HTML pages, not part of the API document. */
  ui: Hono<UiEnv>;
  newId: () => string;
  log: Logger;
  /** Every refused request (401, 403, 429, budget, validation, …), for its log line and counters. */
  refused?: (refusal: Refusal) => void;
  /** With OpenTelemetry tracing on: names Deno's server span after the route, notes refusals on it. */
  spans?: ServerSpans;
}

/** `remoteAddr`: the connection's, passed on to the UI (its sign-in limiter counts per client address). */
type Env = { Variables: { requestId: string }; Bindings: { remoteAddr?: Deno.NetAddr; body?: BodyWatch } };

/** Where an error happened, for its response and its refusal report. */
interface ErrorContext {
  req: Request;
  /** The request's path (Bedrock's error format under `/bedrock/*`). */
  path: string;
  requestId: string;
  /** The route pattern, logged instead of the path: `/key/{key}/regenerate` carries a raw key in its path. */
  route: string;
  clientIp?: string;
}

/** Hono's `/key/:key/regenerate` as OpenAPI writes it: `/key/{key}/regenerate`. */
const routePattern = (honoPath: string) => honoPath.replace(/:([^/{}]+)/g, "{$1}");

/** The model a `/bedrock/model/{model}/{operation}` request names, and its operation; undefined when none. */
function modelPathOf(url: string): { modelName: string; operation: string } | undefined {
  try {
    return parseModelPath(rawPathAfter(url, MODEL_PREFIX));
  } catch {
    return undefined;
  }
}

/** The request id, `x-litellm-call-id` on every answer, and errors rendered in the route's wire format. */
function installCommon(app: Hono<Env>, s: AppServices): void {
  // Every response carries the request's id as `x-litellm-call-id` (errors and admin routes included).
  app.use(async (c, next) => {
    c.set("requestId", s.newId());
    await next();
    if (!c.res.headers.has("x-litellm-call-id")) c.res.headers.set("x-litellm-call-id", c.get("requestId"));
    // With tracing on, Deno's server span is named after the route that served the request.
    if (s.spans && c.req.routePath !== "/*") s.spans.route(c.req.method, routePattern(c.req.routePath));
  });

  const context = (c: Context<Env>, route: string): ErrorContext => ({
    req: c.req.raw,
    path: c.req.path,
    requestId: c.get("requestId") ?? s.newId(),
    route,
    clientIp: c.env?.remoteAddr?.hostname,
  });

  // Bedrock's format (a top-level `message`, which boto3 and the AWS SDKs show) with LiteLLM's `error` object too.
  app.notFound((c) => {
    const ctx = context(c, "(no route)");
    const err = noRoute(c.req.method, c.req.path, c.req.url);
    report(err, ctx, s);
    return bedrockErrorResponse(err, ctx.requestId);
  });

  app.onError((e, c) => errorResponse(e, context(c, routePattern(c.req.routePath)), s));
}

/** Reports a refusal (log line, counters, the server span); errors that are not refusals are not reported here. */
function report(err: GatewayError, ctx: ErrorContext, s: AppServices): void {
  const reason = refusalReason(err);
  if (reason === undefined) return;
  s.spans?.refused(err.status, err.type, reason);
  if (!s.refused) return;
  const bedrock = ctx.path.startsWith("/bedrock/");
  s.refused({
    requestId: ctx.requestId,
    method: ctx.req.method,
    route: ctx.route,
    status: err.status,
    reason,
    errorType: err.type,
    message: err.message,
    caller: err.caller,
    model: bedrock ? modelPathOf(ctx.req.url)?.modelName : undefined,
    clientIp: ctx.clientIp,
    userAgent: ctx.req.headers.get("user-agent") ?? undefined,
    bedrock,
    settled: err.settled,
  });
}

/**
 * An error as the client sees it: Bedrock's wire format under `/bedrock/*`, LiteLLM's elsewhere. Unexpected errors
 * (KV down, a bug) are logged with their class and message server-side; the client gets no internals. A refusal is
 * logged and counted with its reason.
 */
function errorResponse(e: Error, ctx: ErrorContext, s: AppServices): Response {
  let err: GatewayError;
  if (e instanceof GatewayError) err = e;
  else {
    s.log.error("unhandled error", { requestId: ctx.requestId, error: e.name, message: e.message, route: ctx.route });
    err = new GatewayError(500, "InternalServerException", "internal gateway error", {
      litellmType: "internal_error",
    });
  }
  report(err, ctx, s);
  const path = ctx.path;
  return path.startsWith("/bedrock/") || path === "/bedrock"
    ? bedrockErrorResponse(err, ctx.requestId)
    : litellmErrorResponse(err, ctx.requestId);
}

/**
 * Paths of Bedrock operations as a client whose endpoint lacks `/bedrock` sends them, from the Bedrock routes: a
 * parameter of a route matched by prefix may span segments (a model id or guardrail ARN with a `/`).
 */
const BEDROCK_OPERATION_PATH = new RegExp(
  `^(?:${
    BEDROCK_ROUTES.map((route) => {
      const spans = route.fast || route.match === "prefix";
      return route.doc.path.slice("/bedrock".length).replace(/[.*+?^$()|[\]\\]/g, "\\$&")
        .replace(/\{[^}]+\}/g, spans ? ".+" : "[^/]+");
    }).join("|")
  })$`,
);

/** The 404 for a path no route serves; a Bedrock operation's path without `/bedrock` says how to fix the client. */
function noRoute(method: string, path: string, url: string): GatewayError {
  let message = `No route for ${method} ${path}`;
  if (BEDROCK_OPERATION_PATH.test(path)) {
    const base = `${url.slice(0, pathStart(url))}/bedrock`;
    message += `: Bedrock routes are served under /bedrock. Add /bedrock to the client's endpoint URL ` +
      `(boto3: endpoint_url="${base}"; AWS SDK for JavaScript: endpoint: "${base}")`;
  }
  return new GatewayError(404, "UnknownOperationException", message, { litellmType: "not_found_error" });
}

/**
 * A Host header that could not be a host (RFC 3986: reg-name or IP literal, optional port). The request URL is Host +
 * request-target, so a Host like `gw/health/liveliness?` would otherwise move the path routes are chosen by.
 */
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?$/;

const BAD_HOST = () =>
  new GatewayError(400, "ValidationException", "Invalid Host header: expected host[:port]", {
    litellmType: "bad_request_error",
  });

/**
 * Requests whose target is not a path: `CONNECT host:port` (the gateway is no proxy) and `OPTIONS *` (about the server
 * as a whole; Deno presents it as the path `/*`). Without this they were 404s naming a path nobody sent.
 */
const NOT_A_PATH = (method: string) =>
  new GatewayError(
    405,
    "UnknownOperationException",
    method === "CONNECT"
      ? "Method CONNECT is not allowed: the gateway is not a proxy"
      : "OPTIONS * is not served: send OPTIONS to a route (a CORS preflight)",
  );

/** An error answered ahead of routing, in Bedrock's format with the call id, as the routes' errors are. */
function refused(err: GatewayError, requestId: string): Response {
  const res = bedrockErrorResponse(err, requestId);
  res.headers.set("x-litellm-call-id", requestId);
  return res;
}

const notAllowed = (req: Request) =>
  new GatewayError(405, "UnknownOperationException", `Method ${req.method} is not allowed on ${pathOf(req.url)}`);

/** The routes served ahead of the framework: one prefix, one method, one handler (they parse the raw path). */
function fastRoutes<S>(routes: readonly Route<S>[]): { prefix: string; method: string; route: Route<S> } {
  const fast = routes.filter((r) => r.fast);
  const [first] = fast;
  const pattern = matchPath(first);
  if (fast.some((r) => matchPath(r) !== pattern || r.handle !== first.handle || r.doc.method !== first.doc.method)) {
    throw new Error("fast routes must share one prefix, method and handler");
  }
  return { prefix: pattern.slice(0, -1), method: first.doc.method.toUpperCase(), route: first };
}

/**
 * How requests are served: the fast routes (model calls, the hot path) directly, with what the app's common handling
 * does for them (request id, `x-litellm-call-id`, Bedrock-format errors); everything else by the Hono app. For a
 * route that needs no routing, Hono's router and middleware chain are pure overhead (docs/benchmarks.md).
 */
export function createFetch(
  s: AppServices,
): (req: Request, info?: ServeInfo) => Response | Promise<Response> {
  const full = createApp(s);
  const fast = fastRoutes(BEDROCK_ROUTES);
  const fastPattern = `${fast.prefix}{modelId}/{operation}`;
  const serveFast = async (req: Request, info?: ServeInfo): Promise<Response> => {
    const requestId = s.newId();
    if (s.spans) {
      const op = modelPathOf(req.url)?.operation;
      s.spans.route(req.method, op ? `${fast.prefix}{modelId}/${op}` : fastPattern);
    }
    // With --detailed-debug, say when a client leaves while its call is still being served (it is billed anyway).
    if (s.log.debugEnabled) {
      req.signal.addEventListener(
        "abort",
        () => s.log.debug("call: the client disconnected", { request_id: requestId }),
        { once: true },
      );
    }
    const clientIp = (info?.remoteAddr as Deno.NetAddr | undefined)?.hostname;
    try {
      if (req.method !== fast.method) throw notAllowed(req);
      const input: RouteInput = routeInput(undefined, req, requestId, pathOf(req.url), undefined, clientIp, info?.body);
      // Its answers carry `x-litellm-call-id` already (relayHeaders).
      return await fast.route.handle(input, s.calls);
    } catch (e) {
      const ctx = { req, path: pathOf(req.url), requestId, route: fastPattern, clientIp };
      const res = errorResponse(e as Error, ctx, s);
      // Errors too, as the app's common middleware does for every other route.
      res.headers.set("x-litellm-call-id", requestId);
      return res;
    }
  };
  // The connection info goes on to the app (the UI's sign-in limiter reads the client's address from it, body
  // readers the server's watch over slow bodies).
  return (req, info) => {
    const host = req.headers.get("host");
    if (host !== null && !VALID_HOST.test(host)) return refused(BAD_HOST(), s.newId());
    const method = req.method;
    if (method === "CONNECT" || (method === "OPTIONS" && pathOf(req.url) === "/*")) {
      return refused(NOT_A_PATH(method), s.newId());
    }
    const url = req.url;
    return url.startsWith(fast.prefix, pathStart(url)) ? serveFast(req, info) : full.fetch(req, info);
  };
}

/** The Hono app: every route but the fast ones, the UI, and the catch-all under `/bedrock`. */
export function createApp(s: AppServices): Hono<Env> {
  const app = new Hono<Env>();
  installCommon(app, s);
  mountRoutes(app, HEALTH_ROUTES, s.health);
  mountRoutes(app, BEDROCK_ROUTES, s.calls);
  mountRoutes(app, KEY_ROUTES, s.keys);
  mountRoutes(app, AUDIT_ROUTES, s.audit);
  mountRoutes(app, OWNER_ROUTES, s.owners);
  mountRoutes(app, MODEL_ROUTES, s.models);
  mountRoutes(app, SPEND_ROUTES, s.spend);
  app.route("/", s.ui);
  app.all("/bedrock/*", (c: Context<Env>) => {
    throw noRoute(c.req.method, c.req.path, c.req.url);
  });
  return app;
}
