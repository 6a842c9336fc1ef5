/**
 * @module
 * The HTTP routes, and nothing else: each route hands its request to a service built by `gateway.ts`.
 * Errors become responses in one place (`errorResponse`): Bedrock's wire format under `/bedrock/*`, LiteLLM's elsewhere.
 * `createFetch` serves model calls (the hot path) without the framework and everything else from the full app.
 */
import { type Context, Hono } from "hono";
import { parseInput } from "./api/input.ts";
import { pathOf, pathStart } from "./api/url.ts";
import { MODEL_PREFIX } from "./calls/model_call.ts";
import type { CallHandler } from "./calls/pipeline.ts";
import { bedrockErrorResponse, GatewayError, litellmErrorResponse } from "./core/errors.ts";
import type { Logger } from "./core/log.ts";
import type { Health } from "./health/report.ts";
import { DeploymentHealthQuery, type HealthLiveliness, type HealthReadiness } from "./health/schemas.ts";
import type { Authenticator } from "./keys/auth.ts";

export interface AppServices {
  auth: Authenticator;
  /** Bedrock operations through the call pipeline (`calls/pipeline.ts`): model calls and pass-through calls. */
  calls: { model: CallHandler; passthrough: CallHandler };
  /** The `/key/*` admin API. */
  keyRoutes: Hono;
  /** `/spend/logs`, `/global/spend`, `/global/spend/report`, `/metrics`. */
  spendRoutes: Hono;
  /** The admin UI: `/ui` and under it, and `/` (a redirect there). HTML pages, not part of the API document. */
  // deno-lint-ignore no-explicit-any -- the UI's own Env (connection info); mounted as is.
  ui: Hono<any>;
  newId: () => string;
  log: Logger;
  /** Readiness: config loaded, KV answering, spend being written. */
  ready: () => Promise<{ ok: boolean; db: string; cause?: string }>;
  /** Deployment health (`GET /health`). */
  health: Health;
}

type Env = { Variables: { requestId: string } };

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

/** Paths of Bedrock operations, as a client whose endpoint lacks `/bedrock` sends them. */
const BEDROCK_OPERATION_PATH =
  /^\/(?:model\/[^/]+(?:\/.*)?\/(?:converse|converse-stream|invoke|invoke-with-response-stream|count-tokens)|guardrail\/.+\/apply|knowledgebases\/[^/]+\/retrieve|retrieveAndGenerate|agents\/.+\/text)$/;

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

function badHost(requestId: string): Response {
  const err = new GatewayError(400, "ValidationException", "Invalid Host header: expected host[:port]", {
    litellmType: "bad_request_error",
  });
  const res = bedrockErrorResponse(err, requestId);
  res.headers.set("x-litellm-call-id", requestId);
  return res;
}

const notAllowed = (req: Request) =>
  new GatewayError(405, "UnknownOperationException", `Method ${req.method} is not allowed on ${pathOf(req.url)}`);

/** `POST /bedrock/model/{modelId}/{operation}`, and a 405 for any other method there. */
function installModelRoutes(app: Hono<Env>, s: AppServices): void {
  app.post(`${MODEL_PREFIX}*`, (c) => s.calls.model(c.req.raw, c.get("requestId")));
  app.all(`${MODEL_PREFIX}*`, (c) => {
    throw notAllowed(c.req.raw);
  });
}

/**
 * How requests are served: model calls, the hot path, by the call pipeline directly, with what the apps' common
 * handling does for them (request id, `x-litellm-call-id`, Bedrock-format errors); everything else by the Hono app.
 * Hono cost a model call ~5–10 µs at concurrency 32 and ~40 µs at concurrency 1 (cold: its router's regular
 * expression and middleware chain), measured with `deno task bench --profile`, for one route that needs no routing.
 */
export function createFetch(
  s: AppServices,
): (req: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response> {
  const full = createApp(s);
  const serveModel = async (req: Request): Promise<Response> => {
    const requestId = s.newId();
    // With --detailed-debug, say when a client leaves while its call is still being served (it is billed anyway).
    if (s.log.debugEnabled) {
      req.signal.addEventListener(
        "abort",
        () => s.log.debug("call: the client disconnected", { request_id: requestId }),
        {
          once: true,
        },
      );
    }
    try {
      if (req.method !== "POST") throw notAllowed(req);
      // Its answers carry `x-litellm-call-id` already (relayHeaders).
      return await s.calls.model(req, requestId);
    } catch (e) {
      const res = errorResponse(e as Error, pathOf(req.url), requestId, s.log, `${MODEL_PREFIX}*`);
      // Errors too, as the apps' common middleware does for every other route.
      res.headers.set("x-litellm-call-id", requestId);
      return res;
    }
  };
  // The connection info goes on to the app (the UI's sign-in limiter reads the client's address from it).
  return (req, info) => {
    const host = req.headers.get("host");
    if (host !== null && !VALID_HOST.test(host)) return badHost(s.newId());
    const url = req.url;
    return url.startsWith(MODEL_PREFIX, pathStart(url)) ? serveModel(req) : full.fetch(req, info);
  };
}

/** Every route (the OpenAPI test lists them from here). */
export function createApp(s: AppServices): Hono<Env> {
  const app = new Hono<Env>();
  installCommon(app, s);

  // `satisfies`: the answers are the ones openapi.yaml documents (server/health/schemas.ts).
  app.get("/health/liveliness", (c) => c.json("I'm alive!" satisfies HealthLiveliness));
  app.get("/health/liveness", (c) => c.json("I'm alive!" satisfies HealthLiveliness));
  app.get("/health/readiness", async (c) => {
    const r = await s.ready();
    const body: HealthReadiness = { status: r.ok ? "healthy" : "unhealthy", db: r.db };
    if (r.cause) body.cause = r.cause;
    return c.json(body, r.ok ? 200 : 503);
  });
  // Admin only: it reveals the deployments, and `?probe=true` spends money on live calls.
  app.get("/health", async (c) => {
    const principal = await s.auth.authenticate(c.req.raw.headers);
    if (principal.kind !== "master" && principal.kind !== "open") {
      throw new GatewayError(401, "AccessDeniedException", "Only the master key may call /health", {
        litellmType: "auth_error",
      });
    }
    const { probe } = parseInput(DeploymentHealthQuery, c.req.query(), "query");
    return c.json(await s.health({ probe: probe === true, caller: principal.caller }));
  });

  installModelRoutes(app, s);

  // Guardrails and the agent runtime. The guardrail id may be an ARN (`%2F` inside), hence the wildcard.
  const passthrough = (c: Context<Env>) => s.calls.passthrough(c.req.raw, c.get("requestId"), c.req.path);
  app.post("/bedrock/guardrail/*", passthrough);
  app.post("/bedrock/knowledgebases/:knowledgeBaseId/retrieve", passthrough);
  app.post("/bedrock/retrieveAndGenerate", passthrough);
  app.post("/bedrock/agents/:agentId/agentAliases/:agentAliasId/sessions/:sessionId/text", passthrough);

  app.route("/key", s.keyRoutes);
  app.route("/", s.spendRoutes);
  app.route("/", s.ui);

  app.all("/bedrock/*", (c) => {
    throw noRoute(c.req.method, c.req.path, c.req.url);
  });

  return app;
}
