/**
 * @module
 * The Bedrock routes, each declared once (`api/route.ts`): Converse, ConverseStream, InvokeModel,
 * InvokeModelWithResponseStream, CountTokens, ApplyGuardrail, and the agent runtime's Retrieve, RetrieveAndGenerate
 * and InvokeAgent — their path parameters, headers, bodies and answers (the schemas in `schemas.ts` and
 * `passthrough_schemas.ts`), error statuses, and their handlers: every one is a call served by the call pipeline,
 * which reads the raw path itself (a model id or guardrail ARN may hold an unencoded `/`). Model calls are the hot
 * path, served ahead of the framework.
 */
import { z } from "zod";
import type { BodyWatch } from "../api/body_watch.ts";
import { type RouteInput, routesOver } from "../api/route.ts";
import {
  ApplyGuardrailRequest,
  ApplyGuardrailResponse,
  CountTokensRequest,
  CountTokensResponse,
  InvokeAgentEvent,
  InvokeAgentRequest,
  InvokeModelBody,
  InvokeModelStreamEvent,
  RetrieveAndGenerateRequest,
  RetrieveAndGenerateResponse,
  RetrieveRequest,
  RetrieveResponse,
} from "./passthrough_schemas.ts";
import { ConverseRequest, ConverseResponse, ConverseStreamEvent, ConverseStreamRequest } from "./schemas.ts";

/**
 * Serves one call (`calls/pipeline.ts`); `path` is the request's path as a 404 names it, `clientIp` the client's
 * address when known, `bodyWatch` the server's watch over a slow body.
 */
export type CallHandler = (
  req: Request,
  requestId: string,
  path?: string,
  clientIp?: string,
  bodyWatch?: BodyWatch,
) => Promise<Response>;

/** What the Bedrock routes are served with: the call pipeline's two kinds of call. */
export interface BedrockRouteServices {
  model: CallHandler;
  passthrough: CallHandler;
}

const route = routesOver<BedrockRouteServices>();

/** Every model operation: a model call, its path parsed by the pipeline. */
const modelCall = (input: RouteInput, s: BedrockRouteServices) =>
  s.model(input.request, input.requestId, undefined, input.clientIp, input.bodyWatch);
/** Every other Bedrock operation: a pass-through call. */
const passthroughCall = (input: RouteInput, s: BedrockRouteServices) =>
  s.passthrough(input.request, input.requestId, input.path, input.clientIp, input.bodyWatch);
/** Served by prefix, ahead of the framework: the hot path. */
const FAST = { fast: true } as const;
/** The guardrail id may be an ARN (`%2F` inside, or an unencoded `/`): matched by prefix. */
const BY_PREFIX = { match: "prefix" } as const;

export const ModelPathParams = z.object({
  modelId: z.string().min(1).meta({
    description: "A `model_name` from the gateway's config (a Bedrock model id, inference profile id or ARN when " +
      "deployed under that name). Percent-encode it as one path segment, as the AWS SDKs do (`:` → `%3A`, " +
      "`/` → `%2F`); the unencoded form is accepted too.",
    examples: ["claude", "us.anthropic.claude-3-5-sonnet-20240620-v1%3A0"],
  }),
});

export const ModelCallHeaders = z.object({
  "x-litellm-tags": z.string().optional().meta({
    description: "Comma-separated tags recorded with the call's spend log.",
    examples: ["team-a,experiment-7"],
  }),
});

/** Statuses a model call can answer with besides 200 (gateway-made and relayed from Bedrock). */
export const MODEL_CALL_ERRORS = [400, 401, 403, 404, 408, 413, 424, 429, 500, 502, 503, 504] as const;

/** Statuses of the guardrail and agent-runtime routes (503 also when no pass-through account is configured). */
const PASSTHROUGH_ERRORS = [400, 401, 403, 404, 408, 413, 429, 500, 502, 503, 504] as const;

const header = (description: string) => z.string().optional().meta({ description });

/** The request headers InvokeModel binds, forwarded to Bedrock and signed. */
const invokeHeaders = (stream: boolean) =>
  z.object({
    ...ModelCallHeaders.shape,
    "content-type": header("The body's media type; Bedrock requires `application/json`."),
    ...(stream
      ? { "x-amzn-bedrock-accept": header("Media type of the chunks' payloads (default `application/json`).") }
      : { accept: header("Media type of the answer (default `application/json`).") }),
    "x-amzn-bedrock-trace": header("`ENABLED`, `DISABLED` or `ENABLED_FULL` (guardrail trace)."),
    "x-amzn-bedrock-guardrailidentifier": header("A guardrail to apply, in the deployment's account."),
    "x-amzn-bedrock-guardrailversion": header("The guardrail's version."),
    "x-amzn-bedrock-performanceconfig-latency": header("`standard` or `optimized`."),
    "x-amzn-bedrock-service-tier": header("`priority`, `default`, `flex` or `reserved`."),
    "x-amzn-bedrock-request-metadata": header(
      "A JSON object of strings (≤ 8500 chars); its pairs also become tags on the call's spend log.",
    ),
  });

const GuardrailPathParams = z.object({
  guardrailIdentifier: z.string().min(1).meta({
    description: "The guardrail's id (`[a-z0-9]+`) or ARN (percent-encoded as one segment, or unencoded).",
    examples: ["gr0abc123"],
  }),
  guardrailVersion: z.string().min(1).meta({ description: "A version number or `DRAFT`.", examples: ["1"] }),
});

const KnowledgeBasePathParams = z.object({
  knowledgeBaseId: z.string().min(1).meta({ description: "`[0-9a-zA-Z]{1,10}`.", examples: ["KB12345678"] }),
});

const AgentPathParams = z.object({
  agentId: z.string().min(1).meta({ description: "`[0-9a-zA-Z]{1,10}`.", examples: ["AGENT12345"] }),
  agentAliasId: z.string().min(1).meta({ description: "`[0-9a-zA-Z]{1,10}`.", examples: ["TSTALIASID"] }),
  sessionId: z.string().min(1).meta({ description: "`[0-9a-zA-Z._:-]{2,100}`.", examples: ["session-1"] }),
});

const INVOKE_AGENT_HEADERS = z.object({
  ...ModelCallHeaders.shape,
  "x-amz-source-arn": header("InvokeAgent's `sourceArn` (the resource calling the agent), forwarded and signed."),
});

const PASSTHROUGH_AUTH = "Needs the master key or a virtual key whose `allowed_routes` matches the path; the " +
  "call is signed with the `general_settings.bedrock_passthrough` account's credentials (503 when none is " +
  "configured). Logged and counted with no token cost.";

const model = { tag: "bedrock", auth: "key", errorFormat: "bedrock", errors: MODEL_CALL_ERRORS } as const;
const passthrough = { tag: "bedrock", auth: "key", errorFormat: "bedrock", errors: PASSTHROUGH_ERRORS } as const;

const INVOKE_STREAM_DESCRIPTION =
  `An event stream (\`application/vnd.amazon.eventstream\`) relayed as it arrives: \`chunk\` events whose payload is
\`{"bytes": "<base64 of one model-native stream event>"}\` (for Claude, the Anthropic Messages stream events), the last
one carrying \`amazon-bedrock-invocationMetrics\` (which the gateway bills from), or one exception frame that ends the
stream. The payload's media type is in \`x-amzn-bedrock-content-type\`.`;

const CONVERSE_STREAM_DESCRIPTION =
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

/** The Bedrock Runtime and Agent Runtime operations, in the order `openapi.yaml` lists them. */
export const BEDROCK_ROUTES = [
  route(
    {
      ...model,
      method: "post",
      path: "/bedrock/model/{modelId}/converse",
      operationId: "converse",
      summary: "Converse: send messages to a model, get one answer",
      description: "Bedrock Runtime's Converse operation. The body is forwarded to Bedrock byte for byte after " +
        "validation; the answer is relayed unchanged.",
      params: ModelPathParams,
      headers: ModelCallHeaders,
      body: { schema: ConverseRequest },
      responses: { 200: { description: "The model's answer.", schema: ConverseResponse } },
    },
    modelCall,
    FAST,
  ),
  route(
    {
      ...model,
      method: "post",
      path: "/bedrock/model/{modelId}/converse-stream",
      operationId: "converseStream",
      summary: "ConverseStream: send messages to a model, stream the answer",
      description: "Bedrock Runtime's ConverseStream operation. Errors found before the stream starts are ordinary " +
        "error responses; later ones are exception frames inside the 200 stream.",
      params: ModelPathParams,
      headers: ModelCallHeaders,
      body: { schema: ConverseStreamRequest },
      responses: {
        200: {
          description: CONVERSE_STREAM_DESCRIPTION,
          schema: ConverseStreamEvent,
          contentType: "application/vnd.amazon.eventstream",
        },
      },
    },
    modelCall,
    FAST,
  ),
  route(
    {
      ...model,
      method: "post",
      path: "/bedrock/model/{modelId}/invoke",
      operationId: "invokeModel",
      summary: "InvokeModel: a model-native request, a model-native answer",
      description: "Bedrock Runtime's InvokeModel — what `@anthropic-ai/bedrock-sdk` and Claude Code call. The body " +
        "is forwarded byte for byte (checked only to be JSON); the answer is relayed unchanged with Bedrock's " +
        "`x-amzn-bedrock-input-token-count` / `-output-token-count` headers, which the call is billed from, and " +
        "`x-litellm-response-cost`.",
      params: ModelPathParams,
      headers: invokeHeaders(false),
      body: { schema: InvokeModelBody },
      responses: { 200: { description: "The model's native answer.", schema: InvokeModelBody } },
    },
    modelCall,
    FAST,
  ),
  route(
    {
      ...model,
      method: "post",
      path: "/bedrock/model/{modelId}/invoke-with-response-stream",
      operationId: "invokeModelWithResponseStream",
      summary: "InvokeModelWithResponseStream: a model-native request, a streamed answer",
      description: "Bedrock Runtime's InvokeModelWithResponseStream (`messages.stream` in the Anthropic SDKs). " +
        "Errors found before the stream starts are ordinary error responses; later ones are exception frames.",
      params: ModelPathParams,
      headers: invokeHeaders(true),
      body: { schema: InvokeModelBody },
      responses: {
        200: {
          description: INVOKE_STREAM_DESCRIPTION,
          schema: InvokeModelStreamEvent,
          contentType: "application/vnd.amazon.eventstream",
        },
      },
    },
    modelCall,
    FAST,
  ),
  route(
    {
      ...model,
      method: "post",
      path: "/bedrock/model/{modelId}/count-tokens",
      operationId: "countTokens",
      summary: "CountTokens: how many input tokens a request would use",
      description:
        "Bedrock Runtime's CountTokens (`/count_tokens` is accepted too). Free: the call is logged with no " +
        "usage. A cross-region inference profile id (`us.anthropic…`) is sent upstream as the foundation model id " +
        "it names, the only form CountTokens accepts.",
      params: ModelPathParams,
      headers: ModelCallHeaders,
      body: { schema: CountTokensRequest },
      responses: { 200: { description: "The count.", schema: CountTokensResponse } },
    },
    modelCall,
    FAST,
  ),
  route(
    {
      ...passthrough,
      method: "post",
      path: "/bedrock/guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply",
      operationId: "applyGuardrail",
      summary: "ApplyGuardrail: check content against a guardrail",
      description: `Bedrock Runtime's ApplyGuardrail. ${PASSTHROUGH_AUTH}`,
      params: GuardrailPathParams,
      headers: ModelCallHeaders,
      body: { schema: ApplyGuardrailRequest },
      responses: { 200: { description: "The guardrail's verdict.", schema: ApplyGuardrailResponse } },
    },
    passthroughCall,
    BY_PREFIX,
  ),
  route({
    ...passthrough,
    method: "post",
    path: "/bedrock/knowledgebases/{knowledgeBaseId}/retrieve",
    operationId: "retrieve",
    summary: "Retrieve: query a knowledge base",
    description: `Bedrock Agent Runtime's Retrieve. ${PASSTHROUGH_AUTH}`,
    params: KnowledgeBasePathParams,
    headers: ModelCallHeaders,
    body: { schema: RetrieveRequest },
    responses: { 200: { description: "The retrieved chunks.", schema: RetrieveResponse } },
  }, passthroughCall),
  route({
    ...passthrough,
    method: "post",
    path: "/bedrock/retrieveAndGenerate",
    operationId: "retrieveAndGenerate",
    summary: "RetrieveAndGenerate: answer from a knowledge base",
    description: `Bedrock Agent Runtime's RetrieveAndGenerate. ${PASSTHROUGH_AUTH}`,
    headers: ModelCallHeaders,
    body: { schema: RetrieveAndGenerateRequest },
    responses: { 200: { description: "The answer and its citations.", schema: RetrieveAndGenerateResponse } },
  }, passthroughCall),
  route({
    ...passthrough,
    method: "post",
    path: "/bedrock/agents/{agentId}/agentAliases/{agentAliasId}/sessions/{sessionId}/text",
    operationId: "invokeAgent",
    summary: "InvokeAgent: talk to an agent, stream its answer",
    description: `Bedrock Agent Runtime's InvokeAgent. ${PASSTHROUGH_AUTH} The answer is an event stream ` +
      "(`application/vnd.amazon.eventstream`) relayed as it arrives: `chunk` events (`{bytes, attribution?}`, " +
      "bytes = base64 of answer text), `trace`, `returnControl` and `files` events, or one exception frame. " +
      "The session id comes back in `x-amz-bedrock-agent-session-id`.",
    params: AgentPathParams,
    headers: INVOKE_AGENT_HEADERS,
    body: { schema: InvokeAgentRequest },
    responses: {
      200: {
        description: "The agent's answer as an event stream.",
        schema: InvokeAgentEvent,
        contentType: "application/vnd.amazon.eventstream",
      },
    },
  }, passthroughCall),
];
