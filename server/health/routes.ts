/**
 * @module
 * LiteLLM's health routes, each declared once (`api/route.ts`): the liveness and readiness probes (anyone) and
 * `GET /health`, every deployment's state (master key: it reveals the deployments, and `?probe=true` spends money on
 * live calls). Their answers are typed by the schemas they are documented with (`schemas.ts`).
 */
import { routesOver } from "../api/route.ts";
import type { Caller } from "../core/call_record.ts";
import { GatewayError } from "../core/errors.ts";
import type { Authenticator } from "../keys/auth.ts";
import { DeploymentHealthQuery, DeploymentHealthReport, HealthLiveliness, HealthReadiness } from "./schemas.ts";
import type { Readiness } from "./readiness.ts";

/** What the health routes are served with. */
export interface HealthRouteServices {
  auth: Authenticator;
  /** Readiness: config loaded, KV answering, spend being written (`readiness.ts`). */
  ready: Readiness;
  /** The deployments' report, optionally after one live probe each (`report.ts`). */
  health(opts: { probe: boolean; caller: Caller }): Promise<DeploymentHealthReport>;
}

const route = routesOver<HealthRouteServices>();

const probe = { tag: "health", auth: "none", errorFormat: "litellm", errors: [] } as const;

const ALIVE = "I'm alive!";

export const HEALTH_ROUTES = [
  route({
    ...probe,
    method: "get",
    path: "/health/liveliness",
    operationId: "healthLiveliness",
    summary: "Liveness probe",
    description: "Answers as long as the process serves requests. `/health/liveness` is an alias.",
    responses: { 200: { description: "Alive.", schema: HealthLiveliness } },
    sdk: { group: "health", method: "liveliness" },
  }, (input) => input.json(ALIVE)),
  route({
    ...probe,
    method: "get",
    path: "/health/liveness",
    operationId: "healthLiveness",
    summary: "Liveness probe (alias of /health/liveliness)",
    responses: { 200: { description: "Alive.", schema: HealthLiveliness } },
  }, (input) => input.json(ALIVE)),
  route({
    ...probe,
    method: "get",
    path: "/health/readiness",
    operationId: "healthReadiness",
    summary: "Readiness probe",
    description: "Healthy once the config is loaded and the KV store answers.",
    responses: {
      200: { description: "Ready.", schema: HealthReadiness },
      503: { description: "Not ready: the KV store does not answer.", schema: HealthReadiness },
    },
    sdk: { group: "health", method: "readiness" },
  }, async (input, s) => {
    const r = await s.ready();
    const body: HealthReadiness = { status: r.ok ? "healthy" : "unhealthy", db: r.db };
    if (r.cause) body.cause = r.cause;
    return input.json(body, r.ok ? 200 : 503);
  }),
  route({
    method: "get",
    path: "/health",
    operationId: "healthDeployments",
    summary: "Every deployment's state, optionally probed with a live call",
    description: "Calls no model unless `probe=true`; then each deployment gets one minimal Converse call " +
      "(`maxTokens: 1`), billed and logged like any call and tagged `health_probe`.",
    tag: "health",
    auth: "admin",
    errorFormat: "litellm",
    errors: [401],
    query: DeploymentHealthQuery,
    responses: { 200: { description: "Healthy and unhealthy deployments.", schema: DeploymentHealthReport } },
    sdk: { group: "health", method: "deployments" },
  }, async (input, s) => {
    const principal = await s.auth.authenticate(input.request.headers);
    if (principal.kind !== "master" && principal.kind !== "open") {
      throw new GatewayError(401, "AccessDeniedException", "Only the master key may call /health", {
        litellmType: "auth_error",
      });
    }
    const { probe } = input.query();
    return input.json(await s.health({ probe: probe === true, caller: principal.caller }));
  }),
];
