/**
 * @module
 * Every documented route, in one list. `deno task gen` turns it into `openapi.yaml`, `sdk/types.gen.ts` and
 * `sdk/operations.gen.ts`.
 *
 * To document a new route (the keys, spend and other admin routes), add its `RouteDoc` here — or export a list from
 * the feature's folder (`server/keys/routes_doc.ts`) and spread it into `ROUTES` — with the zod schemas the route
 * validates with. Give it `sdk: { group, method }` to expose it on the SDK client as `client.keys.generate(…)`.
 * Then run `deno task gen`; `deno task check` fails until the generated files are committed.
 */
import {
  MODEL_CALL_ERRORS,
  MODEL_INVOKE_ROUTES,
  ModelCallHeaders,
  ModelPathParams,
  PASSTHROUGH_ROUTES,
} from "../bedrock/routes_doc.ts";
import { ConverseRequest, ConverseResponse, ConverseStreamEvent, ConverseStreamRequest } from "../bedrock/schemas.ts";
import { DeploymentHealthQuery, DeploymentHealthReport, HealthLiveliness, HealthReadiness } from "../health/schemas.ts";
import { KEY_ROUTES } from "../keys/routes_doc.ts";
import { SPEND_ROUTES } from "../spend/routes_doc.ts";
import type { RouteDoc } from "../api/route_doc.ts";

const STREAM_DESCRIPTION =
  `The body is a sequence of binary frames in AWS's event-stream encoding (\`application/vnd.amazon.eventstream\`),
relayed from Bedrock as they arrive. Each frame has string headers \`:message-type\` (\`event\` or \`exception\`),
\`:event-type\` (or \`:exception-type\`) and \`:content-type: application/json\`; its payload is the JSON value of that
member. The schema below shows each frame the way the AWS SDKs (and this gateway's SDK) present it: an object whose
single key is the event type. Typical order: \`messageStart\`, then per content block an optional
\`contentBlockStart\` (tool and image blocks only), \`contentBlockDelta\`s and \`contentBlockStop\`, then
\`messageStop\` and \`metadata\` (usage). Errors after the 200 arrive as one exception frame
(\`throttlingException\`, \`modelStreamErrorException\`, \`validationException\`, \`internalServerException\`,
\`serviceUnavailableException\`), after which the stream ends. Event payloads may carry an undocumented \`p\`
padding string; ignore it.`;

/** The Bedrock Runtime pass-through. */
export const BEDROCK_ROUTES: readonly RouteDoc[] = [
  {
    method: "post",
    path: "/bedrock/model/{modelId}/converse",
    operationId: "converse",
    summary: "Converse: send messages to a model, get one answer",
    description: "Bedrock Runtime's Converse operation. The body is forwarded to Bedrock byte for byte after " +
      "validation; the answer is relayed unchanged.",
    tag: "bedrock",
    auth: "key",
    errorFormat: "bedrock",
    errors: MODEL_CALL_ERRORS,
    params: ModelPathParams,
    headers: ModelCallHeaders,
    body: { schema: ConverseRequest },
    responses: { 200: { description: "The model's answer.", schema: ConverseResponse } },
  },
  {
    method: "post",
    path: "/bedrock/model/{modelId}/converse-stream",
    operationId: "converseStream",
    summary: "ConverseStream: send messages to a model, stream the answer",
    description: "Bedrock Runtime's ConverseStream operation. Errors found before the stream starts are ordinary " +
      "error responses; later ones are exception frames inside the 200 stream.",
    tag: "bedrock",
    auth: "key",
    errorFormat: "bedrock",
    errors: MODEL_CALL_ERRORS,
    params: ModelPathParams,
    headers: ModelCallHeaders,
    body: { schema: ConverseStreamRequest },
    responses: {
      200: {
        description: STREAM_DESCRIPTION,
        schema: ConverseStreamEvent,
        contentType: "application/vnd.amazon.eventstream",
      },
    },
  },
];

/** LiteLLM's health probes. */
export const HEALTH_ROUTES: readonly RouteDoc[] = [
  {
    method: "get",
    path: "/health/liveliness",
    operationId: "healthLiveliness",
    summary: "Liveness probe",
    description: "Answers as long as the process serves requests. `/health/liveness` is an alias.",
    tag: "health",
    auth: "none",
    errorFormat: "litellm",
    errors: [],
    responses: { 200: { description: "Alive.", schema: HealthLiveliness } },
    sdk: { group: "health", method: "liveliness" },
  },
  {
    method: "get",
    path: "/health/liveness",
    operationId: "healthLiveness",
    summary: "Liveness probe (alias of /health/liveliness)",
    tag: "health",
    auth: "none",
    errorFormat: "litellm",
    errors: [],
    responses: { 200: { description: "Alive.", schema: HealthLiveliness } },
  },
  {
    method: "get",
    path: "/health/readiness",
    operationId: "healthReadiness",
    summary: "Readiness probe",
    description: "Healthy once the config is loaded and the KV store answers.",
    tag: "health",
    auth: "none",
    errorFormat: "litellm",
    errors: [],
    responses: {
      200: { description: "Ready.", schema: HealthReadiness },
      503: { description: "Not ready: the KV store does not answer.", schema: HealthReadiness },
    },
    sdk: { group: "health", method: "readiness" },
  },
];

/** `GET /health`: the router's view of every deployment (master key). */
const DEPLOYMENT_HEALTH_ROUTE: RouteDoc = {
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
};

/** The one list the generator reads. Admin routes (spend, …) are added here. */
export const ROUTES: readonly RouteDoc[] = [
  ...BEDROCK_ROUTES,
  ...MODEL_INVOKE_ROUTES,
  ...PASSTHROUGH_ROUTES,
  ...HEALTH_ROUTES,
  DEPLOYMENT_HEALTH_ROUTE,
  ...KEY_ROUTES,
  ...SPEND_ROUTES,
];
