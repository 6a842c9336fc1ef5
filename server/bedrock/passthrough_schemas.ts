/**
 * @module
 * Zod schemas of the pass-through operations other than Converse: CountTokens, ApplyGuardrail (bedrock-runtime) and
 * Retrieve, RetrieveAndGenerate, InvokeAgent (bedrock-agent-runtime). They validate what the gateway must read or
 * what the service would reject anyway (required members, their types), and document the routes in `openapi.yaml`.
 *
 * The same rules as `schemas.ts`: every object is loose (Bedrock keeps adding fields, and the body is forwarded
 * byte for byte whatever the schema knows), enum-like strings are open unless the service's set is closed and
 * structural, and nothing deeper than the members the gateway or the service needs is checked.
 */
import { z } from "zod";
import { Message, oneMemberUnion, openEnum, SystemContentBlock, ToolConfiguration } from "./schemas.ts";

const Document = z.unknown().meta({ description: "Arbitrary JSON value." });
const Base64Blob = z.string().min(1).meta({ contentEncoding: "base64", description: "Base64-encoded bytes." });
const NonNegativeInt = z.int().min(0);

// ---------------------------------------------------------------------------------------------------- InvokeModel

/** InvokeModel bodies are the model's own format (Anthropic Messages, Titan, Llama, …): opaque to the gateway. */
export const InvokeModelBody = z.record(z.string(), Document).meta({
  id: "InvokeModelBody",
  description: "The model's native request or response JSON (for Claude: the Anthropic Messages API shape with " +
    "`anthropic_version`). Forwarded byte for byte; only checked to be JSON.",
});

/** One frame of an InvokeModelWithResponseStream answer, as the SDKs present it. */
export const InvokeModelStreamEvent = oneMemberUnion("stream event", {
  chunk: z.looseObject({
    bytes: Base64Blob.meta({
      description: "Base64 of one model-native stream event (JSON). The last one carries " +
        "`amazon-bedrock-invocationMetrics` {inputTokenCount, outputTokenCount, invocationLatency, firstByteLatency}.",
    }),
  }).meta({ id: "PayloadPart" }),
}, { id: "InvokeModelStreamEvent", description: "`chunk` events, or one exception frame that ends the stream." });

// ---------------------------------------------------------------------------------------------------- CountTokens

const ConverseTokensRequest = z.looseObject({
  messages: z.array(Message).optional(),
  system: z.array(SystemContentBlock).optional(),
  toolConfig: ToolConfiguration.optional(),
  additionalModelRequestFields: Document.optional(),
}).meta({ id: "ConverseTokensRequest" });

/** Body of `POST /model/{modelId}/count-tokens`. */
export const CountTokensRequest = z.looseObject({
  input: oneMemberUnion("input", {
    converse: ConverseTokensRequest,
    invokeModel: z.looseObject({ body: Base64Blob.meta({ description: "Base64 of an InvokeModel body." }) })
      .meta({ id: "InvokeModelTokensRequest" }),
  }, { id: "CountTokensInput", description: "Exactly one of `converse` or `invokeModel`." }),
}).meta({ id: "CountTokensRequest", title: "CountTokensRequest" });
export type CountTokensRequest = z.infer<typeof CountTokensRequest>;

export const CountTokensResponse = z.looseObject({ inputTokens: NonNegativeInt })
  .meta({ id: "CountTokensResponse", title: "CountTokensResponse" });

// ------------------------------------------------------------------------------------------------- ApplyGuardrail

/** Body of `POST /guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply`. */
export const ApplyGuardrailRequest = z.looseObject({
  source: z.enum(["INPUT", "OUTPUT"]).meta({ description: "Whether the content is model input or output." }),
  content: z.array(oneMemberUnion("guardrail content block", {
    text: z.looseObject({ text: z.string(), qualifiers: z.array(z.string()).optional() }),
    image: z.looseObject({ format: z.string(), source: z.looseObject({ bytes: Base64Blob }) }),
  }, { id: "GuardrailContentBlock", description: "`{text}` or `{image}`." })).min(1),
  outputScope: openEnum(["INTERVENTIONS", "FULL"], "How much of the assessment to return.").optional(),
}).meta({ id: "ApplyGuardrailRequest", title: "ApplyGuardrailRequest" });

export const ApplyGuardrailResponse = z.looseObject({
  usage: z.record(z.string(), Document).meta({ description: "Text units evaluated per policy (guardrail pricing)." }),
  action: openEnum(["NONE", "GUARDRAIL_INTERVENED"], "What the guardrail did."),
  actionReason: z.string().optional(),
  outputs: z.array(z.looseObject({ text: z.string().optional() })),
  assessments: z.array(z.record(z.string(), Document)),
  guardrailCoverage: Document.optional(),
}).meta({ id: "ApplyGuardrailResponse", title: "ApplyGuardrailResponse" });

// ------------------------------------------------------------------------------------------------- Agent runtime

/** Body of `POST /knowledgebases/{knowledgeBaseId}/retrieve`. */
export const RetrieveRequest = z.looseObject({
  retrievalQuery: z.looseObject({
    text: z.string().optional(),
    type: z.string().optional(),
  }).meta({ description: "`{text}` (or an image query)." }),
  retrievalConfiguration: Document.optional(),
  guardrailConfiguration: Document.optional(),
  nextToken: z.string().optional(),
}).meta({ id: "RetrieveRequest", title: "RetrieveRequest" });

export const RetrieveResponse = z.looseObject({
  retrievalResults: z.array(z.looseObject({
    content: z.record(z.string(), Document),
    location: Document.optional(),
    score: z.number().optional(),
    metadata: Document.optional(),
  })),
  guardrailAction: z.string().optional(),
  nextToken: z.string().optional(),
}).meta({ id: "RetrieveResponse", title: "RetrieveResponse" });

/** Body of `POST /retrieveAndGenerate`. */
export const RetrieveAndGenerateRequest = z.looseObject({
  input: z.looseObject({ text: z.string() }),
  retrieveAndGenerateConfiguration: Document.optional(),
  sessionConfiguration: Document.optional(),
  sessionId: z.string().optional(),
}).meta({ id: "RetrieveAndGenerateRequest", title: "RetrieveAndGenerateRequest" });

export const RetrieveAndGenerateResponse = z.looseObject({
  sessionId: z.string(),
  output: z.looseObject({ text: z.string() }),
  citations: z.array(Document).optional(),
  guardrailAction: z.string().optional(),
}).meta({ id: "RetrieveAndGenerateResponse", title: "RetrieveAndGenerateResponse" });

/** Body of `POST /agents/{agentId}/agentAliases/{agentAliasId}/sessions/{sessionId}/text`. */
export const InvokeAgentRequest = z.looseObject({
  inputText: z.string().optional(),
  sessionState: Document.optional(),
  endSession: z.boolean().optional(),
  enableTrace: z.boolean().optional(),
  memoryId: z.string().optional(),
  bedrockModelConfigurations: Document.optional(),
  streamingConfigurations: Document.optional(),
  promptCreationConfigurations: Document.optional(),
}).meta({ id: "InvokeAgentRequest", title: "InvokeAgentRequest" });

/** One frame of an InvokeAgent answer, as the SDKs present it. */
export const InvokeAgentEvent = oneMemberUnion("agent stream event", {
  chunk: z.looseObject({
    bytes: Base64Blob.meta({ description: "Base64 of a piece of the agent's answer text." }),
    attribution: z.looseObject({ citations: z.array(Document).optional() }).optional(),
  }).meta({ id: "AgentPayloadPart" }),
  trace: z.record(z.string(), Document).optional(),
  returnControl: z.record(z.string(), Document).optional(),
  files: z.record(z.string(), Document).optional(),
}, { id: "InvokeAgentEvent", description: "`chunk`, `trace`, `returnControl` or `files`." });
