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
import { pathOf, pathStart } from "../api/url.ts";
import { BEDROCK_ROUTES, type BedrockRouteServices } from "../bedrock/routes.ts";
import { bedrockErrorResponse, GatewayError, litellmErrorResponse } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { HEALTH_ROUTES, type HealthRouteServices } from "../health/routes.ts";
import { KEY_ROUTES, type KeyRouteServices } from "../keys/routes.ts";
import { MODEL_ROUTES, type ModelRouteServices } from "../models/routes.ts";
import { OWNER_ROUTES, type OwnerRouteServices } from "../owners/routes.ts";
import { SPEND_ROUTES, type SpendRouteServices } from "../spend/routes.ts";
import type { UiEnv } from "../ui/mod.ts";

/** What each group of routes is served with. */
export interface AppServices {
  /** `/bedrock/*`: the call pipeline's model and pass-through calls (`calls/pipeline.ts`). */
  calls: BedrockRouteServices;
  /** `/health/*` and `/health`. */
  health: HealthRouteServices;
  /** `/key/*`. */
  keys: KeyRouteServices;
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
}

/** `remoteAddr`: the connection's, passed on to the UI (its sign-in limiter counts per client address). */
type Env = { Variables: { requestId: string }; Bindings: { remoteAddr?: Deno.NetAddr; body?: BodyWatch } };

/** The request id, `x-litellm-call-id` on every answer, and errors rendered in the route's wire format. */
function installCommon(app: Hono<Env>, s: AppServices): void {
  // Every response carries the request's id as `x-litellm-call-id` (errors and admin routes included).
  app.use(async (c, next) => {
    c.set("requestId", s.newId());
    await next();
    if (!c.res.headers.has("x-litellm-call-id")) c.res.headers.set("x-litellm-call-id", c.get("requestId"));
  });

  // Bedrock's format (a top-level `message`, which boto3 and the AWS SDKs show) with LiteLLM's `error` object too.
  app.notFound((c) =>
    bedrockErrorResponse(noRoute(c.req.method, c.req.path, c.req.url), c.get("requestId") ?? s.newId())
  );

  app.onError((e, c) => errorResponse(e, c.req.path, c.get("requestId") ?? s.newId(), s.log, c.req.routePath));
}

/**
 * An error as the client sees it: Bedrock's wire format under `/bedrock/*`, LiteLLM's elsewhere. Unexpected errors
 * (KV down, a bug) are logged with their class and message server-side; the client gets no internals. `route` is
 * the route pattern, logged instead of the path: `/key/{key}/regenerate` carries a raw key in its path.
 */
function errorResponse(e: Error, path: string, requestId: string, log: Logger, route: string): Response {
  let err: GatewayError;
  if (e instanceof GatewayError) err = e;
  else {
    log.error("unhandled error", { requestId, error: e.name, message: e.message, route });
    err = new GatewayError(500, "InternalServerException", "internal gateway error", {
      litellmType: "internal_error",
    });
  }
  return path.startsWith("/bedrock/") || path === "/bedrock"
    ? bedrockErrorResponse(err, requestId)
    : litellmErrorResponse(err, requestId);
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
  const fastPattern = `${fast.prefix}*`;
  const serveFast = async (req: Request, bodyWatch: BodyWatch | undefined): Promise<Response> => {
    const requestId = s.newId();
    // With --detailed-debug, say when a client leaves while its call is still being served (it is billed anyway).
    if (s.log.debugEnabled) {
      req.signal.addEventListener(
        "abort",
        () => s.log.debug("call: the client disconnected", { request_id: requestId }),
        { once: true },
      );
    }
    try {
      if (req.method !== fast.method) throw notAllowed(req);
      const input: RouteInput = routeInput(undefined, req, requestId, pathOf(req.url), undefined, bodyWatch);
      // Its answers carry `x-litellm-call-id` already (relayHeaders).
      return await fast.route.handle(input, s.calls);
    } catch (e) {
      const res = errorResponse(e as Error, pathOf(req.url), requestId, s.log, fastPattern);
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
    return url.startsWith(fast.prefix, pathStart(url)) ? serveFast(req, info?.body) : full.fetch(req, info);
  };
}

/** The Hono app: every route but the fast ones, the UI, and the catch-all under `/bedrock`. */
export function createApp(s: AppServices): Hono<Env> {
  const app = new Hono<Env>();
  installCommon(app, s);
  mountRoutes(app, HEALTH_ROUTES, s.health);
  mountRoutes(app, BEDROCK_ROUTES, s.calls);
  mountRoutes(app, KEY_ROUTES, s.keys);
  mountRoutes(app, OWNER_ROUTES, s.owners);
  mountRoutes(app, MODEL_ROUTES, s.models);
  mountRoutes(app, SPEND_ROUTES, s.spend);
  app.route("/", s.ui);
  app.all("/bedrock/*", (c: Context<Env>) => {
    throw noRoute(c.req.method, c.req.path, c.req.url);
  });
  return app;
}
