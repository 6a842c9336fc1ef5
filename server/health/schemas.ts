/**
 * @module
 * Zod schemas of the health routes' answers (LiteLLM's shapes), for `openapi.yaml` and the SDK's types; the types the
 * routes and `report.ts` build are inferred from them, so what is served is what is documented.
 */
import { z } from "zod";
import { SOURCE_KINDS } from "../aws/mod.ts";
import { queryBoolean } from "../api/query_boolean.ts";

/** `GET /health/liveliness` (and `/health/liveness`): the process is up. */
export const HealthLiveliness = z.literal("I'm alive!").meta({
  id: "HealthLiveliness",
  description: "LiteLLM's liveness answer, a JSON string.",
});
export type HealthLiveliness = z.infer<typeof HealthLiveliness>;

/**
 * `GET /health/readiness`: config loaded, the KV store answering and spend being written to it (HTTP 503 with
 * `unhealthy` and the `cause` otherwise).
 */
export const HealthReadiness = z.looseObject({
  status: z.enum(["healthy", "unhealthy"]),
  db: z.string().meta({ description: "KV store state: `connected` or `disconnected`." }),
  cause: z.string().optional().meta({
    description: "Why the gateway is not ready: KV unreachable, or spend that cannot be written to it (since when, " +
      "the error, how many calls' accounting waits).",
  }),
}).meta({ id: "HealthReadiness" });
export type HealthReadiness = z.infer<typeof HealthReadiness>;

/** One live probe's outcome (`GET /health?probe=true`). */
export const ProbeResult = z.object({
  ok: z.boolean(),
  status: z.number().meta({ description: "HTTP status of the probe call (0 when it never answered)." }),
  latency_ms: z.number(),
  error_type: z.string().optional(),
  error: z.string().optional(),
}).meta({ id: "ProbeResult" });
export type ProbeResult = z.infer<typeof ProbeResult>;

/** One deployment as the router sees it. */
export const EndpointHealth = z.object({
  model_name: z.string(),
  model_id: z.string().meta({ description: "The deployment's id." }),
  model: z.string().meta({ description: "The Bedrock model id sent upstream." }),
  region: z.string(),
  api_base: z.string().optional(),
  status: z.enum(["healthy", "cooling_down", "rate_limited", "unavailable", "probe_failed"]),
  cooldown_until: z.string().nullable().meta({ description: "ISO 8601, while cooling down." }),
  in_flight: z.number().meta({
    description: "Calls in flight on it, from the whole process (every worker of `--workers N`, as last told).",
  }),
  latency_ms: z.number().nullable().meta({ description: "Recent average latency of converse calls." }),
  time_to_first_byte_ms: z.number().nullable().meta({
    description: "Recent average time to first byte of converse-stream calls.",
  }),
  requests_this_minute: z.number(),
  tokens_this_minute: z.number(),
  rpm: z.number().nullable(),
  tpm: z.number().nullable(),
  failures_last_minute: z.number(),
  total_requests: z.number(),
  total_failures: z.number(),
  last_error: z.object({ type: z.string(), status: z.number(), at: z.string() }).nullable(),
  unavailable_reason: z.string().optional(),
  credential_source: z.enum(SOURCE_KINDS).nullable().meta({
    description: "Where a SigV4 deployment's AWS credentials come from (never their values); null for API keys, " +
      "mocks, and until first resolved.",
  }),
  credential_error: z.string().optional().meta({
    description: "The last credential refresh failed; the current credentials serve until they expire.",
  }),
  probe: ProbeResult.optional(),
}).meta({ id: "EndpointHealth" });
export type EndpointHealth = z.infer<typeof EndpointHealth>;

/** `GET /health` (master key): every deployment, in LiteLLM's healthy / unhealthy lists. */
export const DeploymentHealthReport = z.object({
  healthy_endpoints: z.array(EndpointHealth),
  unhealthy_endpoints: z.array(EndpointHealth),
  healthy_count: z.number(),
  unhealthy_count: z.number(),
}).meta({ id: "DeploymentHealthReport" });
export type DeploymentHealthReport = z.infer<typeof DeploymentHealthReport>;
/** What `report.ts` builds: the documented report. */
export type HealthReport = DeploymentHealthReport;

/** `GET /health` query: `probe=true` makes one live, billed call per deployment. */
export const DeploymentHealthQuery = z.object({
  probe: queryBoolean().meta({ description: "`true`: one minimal live call per deployment." }),
}).meta({ id: "DeploymentHealthQuery" });
