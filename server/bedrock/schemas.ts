/**
 * @module
 * Zod v4 schemas for the AWS Bedrock Runtime Converse / ConverseStream wire shapes: the single source of truth
 * used to validate request bodies in the gateway and, through `z.toJSONSchema`, to generate `openapi.yaml` and
 * the SDK's TypeScript types.
 *
 * Design rules (facts from the shared Bedrock wire digest, `bedrock-wire.md` §3–§6):
 *
 * - Bedrock unions ("exactly one key" objects such as ContentBlock, ImageSource, ToolChoice, the stream event
 *   union) are modelled as ONE loose object whose known members are all optional, plus a check that exactly one
 *   non-null member is set. Compared with `z.union` this parses each block in a single pass (no trial of every
 *   branch), reports errors at the real path (`messages[0].content[1].image.format`) instead of an opaque
 *   "invalid union", and lets an unknown, newly released member (a new content kind) through untouched, while
 *   a known member is still fully validated.
 * - Every object is loose: unknown fields are kept in the parse output, because Bedrock keeps adding fields
 *   and the gateway forwards bodies it does not fully understand.
 * - Enum-like strings (media formats, stopReason, cache TTLs, tiers …) accept any string and document the
 *   known values, so a new format never breaks a call. The one exception is `Message.role`, which is
 *   structural: only `user` and `assistant` are valid in a conversation.
 * - What the service enforces structurally is enforced here: types, required members, numeric ranges and
 *   minimum lengths. Maximum lengths/counts and regex patterns are documented but not enforced (they have
 *   changed before: `stopSequences` went from 4 to 2500) — except `stopSequences ≤ 2500`, which is the
 *   current documented limit.
 * - Blobs are base64 strings and Documents are arbitrary JSON; neither is re-validated deeply because the body
 *   already came out of `JSON.parse` and a regex over megabytes of base64 would cost time on every request.
 *
 * @example
 * ```ts
 * import { ConverseRequest, formatZodIssues } from "./schemas.ts";
 *
 * const parsed = ConverseRequest.safeParse({ messages: [{ role: "bot", content: [] }] });
 * if (!parsed.success) console.log(formatZodIssues(parsed.error)); // messages[0].role: expected "user" | "assistant"
 * ```
 */

import { z } from "zod";

// ---------------------------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------------------------

/** A string field whose known values are documented but not enforced, so new Bedrock values pass through. */
export function openEnum(known: readonly string[], description: string) {
  return z.string().meta({
    description: `${description} Known values: ${
      known.join(", ")
    }. Other strings are accepted for forward compatibility.`,
    examples: [...known],
  });
}

/** Counts members that are set: botocore treats null members as unset ("one and only one member set"). */
function setMembers(value: Record<string, unknown>): string[] {
  const keys: string[] = [];
  for (const key in value) {
    if (Object.hasOwn(value, key) && value[key] !== undefined && value[key] !== null) keys.push(key);
  }
  return keys;
}

/**
 * A Bedrock union: an object with exactly one member set. Known members are validated by their schema; an
 * unknown member is accepted as long as it is the only one (a new kind must never break a call).
 */
export function oneMemberUnion<const Shape extends z.core.$ZodLooseShape>(
  name: string,
  shape: Shape,
  meta: { id?: string; description: string },
) {
  const known = Object.keys(shape).join(", ");
  return z.looseObject(shape).partial().check((ctx) => {
    const set = setMembers(ctx.value);
    if (set.length === 1) return;
    ctx.issues.push({
      code: "custom",
      input: ctx.value,
      message: set.length === 0
        ? `${name} must set exactly one member (${known}); got none`
        : `${name} must set exactly one member; got ${set.length}: ${set.join(", ")}`,
    });
  }).meta({ ...meta, minProperties: 1, maxProperties: 1 });
}

/** Arbitrary JSON ("Document" in the service model). Required-ness is still enforced by the parent object. */
const Document = z.unknown().meta({ id: "Document", description: "Arbitrary JSON value (Smithy Document)." });

/** A blob: base64 text on the wire. Only non-emptiness is checked (see module doc for why). */
const Base64Blob = z.string().min(1).meta({ contentEncoding: "base64", description: "Base64-encoded bytes." });

const NonNegativeInt = z.int().min(0);

const S3Location = z.looseObject({
  uri: z.string().min(1).meta({ description: "s3://bucket/key, ≤ 1024 chars." }),
  bucketOwner: z.string().optional().meta({ description: "12-digit AWS account id of the bucket owner." }),
}).meta({ id: "S3Location" });

const ErrorBlock = z.looseObject({ message: z.string().optional() }).meta({ id: "ErrorBlock" });

const IMAGE_FORMATS = ["png", "jpeg", "gif", "webp"] as const;
const DOCUMENT_FORMATS = ["pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"] as const;
const VIDEO_FORMATS = ["mkv", "mov", "mp4", "webm", "flv", "mpeg", "mpg", "wmv", "three_gp"] as const;
const AUDIO_FORMATS = [
  "mp3",
  "opus",
  "wav",
  "aac",
  "flac",
  "mp4",
  "ogg",
  "mkv",
  "mka",
  "x-aac",
  "m4a",
  "mpeg",
  "mpga",
  "pcm",
  "webm",
] as const;
const STOP_REASONS = [
  "end_turn",
  "tool_use",
  "max_tokens",
  "stop_sequence",
  "guardrail_intervened",
  "content_filtered",
  "malformed_model_output",
  "malformed_tool_use",
  "model_context_window_exceeded",
] as const;

const MediaSource = (id: string) =>
  oneMemberUnion("source", { bytes: Base64Blob, s3Location: S3Location }, {
    id,
    description: "Exactly one of `bytes` (base64) or `s3Location`.",
  });

const ImageSource = MediaSource("ImageSource");
const VideoSource = MediaSource("VideoSource");
const AudioSource = MediaSource("AudioSource");

const ImageBlock = z.looseObject({
  format: openEnum(IMAGE_FORMATS, "Image format."),
  source: ImageSource,
  error: ErrorBlock.optional(),
}).meta({ id: "ImageBlock" });

const DocumentContentBlock = oneMemberUnion("document content block", { text: z.string() }, {
  id: "DocumentContentBlock",
  description: "A chunk of document text.",
});

const DocumentSource = oneMemberUnion("document source", {
  bytes: Base64Blob,
  s3Location: S3Location,
  text: z.string(),
  content: z.array(DocumentContentBlock),
}, { id: "DocumentSource", description: "Exactly one of `bytes`, `s3Location`, `text` or `content`." });

const CitationsConfig = z.looseObject({ enabled: z.boolean() }).meta({ id: "CitationsConfig" });

const DocumentBlock = z.looseObject({
  format: openEnum(DOCUMENT_FORMATS, "Document format.").optional(),
  name: z.string().min(1).meta({ description: "Document name, 1–200 chars." }),
  source: DocumentSource,
  context: z.string().optional(),
  citations: CitationsConfig.optional(),
}).meta({ id: "DocumentBlock" });

const VideoBlock = z.looseObject({
  format: openEnum(VIDEO_FORMATS, "Video format."),
  source: VideoSource,
}).meta({ id: "VideoBlock" });

const AudioBlock = z.looseObject({
  format: openEnum(AUDIO_FORMATS, "Audio format."),
  source: AudioSource,
  error: ErrorBlock.optional(),
}).meta({ id: "AudioBlock" });

const ToolUseBlock = z.looseObject({
  toolUseId: z.string().min(1).meta({ description: "1–64 chars of [a-zA-Z0-9_.:-]." }),
  name: z.string().min(1).meta({ description: "Tool name, 1–64 chars of [a-zA-Z0-9_-]." }),
  input: Document.meta({ description: "Tool input, a JSON object." }),
  type: openEnum(["server_tool_use"], "Tool use type.").optional(),
}).meta({ id: "ToolUseBlock" });

const SearchResultContentBlock = z.looseObject({ text: z.string() }).meta({ id: "SearchResultContentBlock" });

const SearchResultBlock = z.looseObject({
  source: z.string(),
  title: z.string(),
  content: z.array(SearchResultContentBlock),
  citations: CitationsConfig.optional(),
}).meta({ id: "SearchResultBlock" });

const ToolResultContentBlock = oneMemberUnion("tool result content block", {
  json: Document,
  text: z.string(),
  image: ImageBlock,
  document: DocumentBlock,
  video: VideoBlock,
  searchResult: SearchResultBlock,
}, { id: "ToolResultContentBlock", description: "Exactly one of json, text, image, document, video, searchResult." });

const ToolResultBlock = z.looseObject({
  toolUseId: z.string().min(1),
  content: z.array(ToolResultContentBlock),
  status: openEnum(["success", "error"], "Tool result status.").optional(),
  type: z.string().optional(),
}).meta({ id: "ToolResultBlock" });

const GuardrailConverseContentBlock = oneMemberUnion("guardContent", {
  text: z.looseObject({
    text: z.string(),
    qualifiers: z.array(openEnum(["grounding_source", "query", "guard_content"], "Qualifier.")).optional(),
  }),
  image: z.looseObject({
    format: openEnum(["png", "jpeg"], "Image format."),
    source: oneMemberUnion("guardContent image source", { bytes: Base64Blob }, { description: "Base64 bytes." }),
  }),
}, { id: "GuardrailConverseContentBlock", description: "Content that the guardrail evaluates: text or image." });

const CachePointBlock = z.looseObject({
  type: openEnum(["default"], "Cache point type."),
  ttl: openEnum(["5m", "1h"], "Cache time to live.").optional(),
}).meta({ id: "CachePointBlock" });

const ReasoningContentBlock = oneMemberUnion("reasoningContent", {
  reasoningText: z.looseObject({ text: z.string(), signature: z.string().optional() }),
  redactedContent: Base64Blob,
}, { id: "ReasoningContentBlock", description: "Prior model reasoning, sent back unchanged." });

const TextMember = (name: string, id: string) =>
  oneMemberUnion(name, { text: z.string() }, { id, description: "A `{text}` union." });

const CitationSourceContent = TextMember("citation source content", "CitationSourceContent");
const CitationGeneratedContent = TextMember("citation generated content", "CitationGeneratedContent");

const DocumentRange = {
  documentIndex: NonNegativeInt.optional(),
  start: NonNegativeInt.optional(),
  end: NonNegativeInt.optional(),
};

const CitationLocation = oneMemberUnion("citation location", {
  web: z.looseObject({ url: z.string().optional(), domain: z.string().optional() }),
  documentChar: z.looseObject(DocumentRange),
  documentPage: z.looseObject(DocumentRange),
  documentChunk: z.looseObject(DocumentRange),
  searchResultLocation: z.looseObject({
    searchResultIndex: NonNegativeInt.optional(),
    start: NonNegativeInt.optional(),
    end: NonNegativeInt.optional(),
  }),
}, { id: "CitationLocation", description: "Where a citation points." });

const Citation = z.looseObject({
  title: z.string().optional(),
  source: z.string().optional(),
  sourceContent: z.array(CitationSourceContent).optional(),
  location: CitationLocation.optional(),
}).meta({ id: "Citation" });

const CitationsContentBlock = z.looseObject({
  content: z.array(CitationGeneratedContent).optional(),
  citations: z.array(Citation).optional(),
}).meta({ id: "CitationsContentBlock" });

const ToolReference = z.looseObject({
  type: z.string().optional(),
  name: z.string().optional(),
  serverName: z.string().optional(),
}).meta({ id: "ToolReference" });

const ToolAdditionBlock = z.looseObject({ tool: ToolReference }).meta({ id: "ToolAdditionBlock" });
const ToolRemovalBlock = z.looseObject({ tool: ToolReference }).meta({ id: "ToolRemovalBlock" });

// ---------------------------------------------------------------------------------------------------------------
// Content, messages, system
// ---------------------------------------------------------------------------------------------------------------

/** One block of message content: exactly one member set; unknown members (new Bedrock kinds) are accepted. */
export const ContentBlock = oneMemberUnion("content block", {
  text: z.string(),
  image: ImageBlock,
  document: DocumentBlock,
  video: VideoBlock,
  audio: AudioBlock,
  toolUse: ToolUseBlock,
  toolResult: ToolResultBlock,
  guardContent: GuardrailConverseContentBlock,
  cachePoint: CachePointBlock,
  reasoningContent: ReasoningContentBlock,
  citationsContent: CitationsContentBlock,
  searchResult: SearchResultBlock,
  toolAddition: ToolAdditionBlock,
  toolRemoval: ToolRemovalBlock,
}, {
  id: "ContentBlock",
  description: "Exactly one member set. Unknown members are passed through for forward compatibility.",
});
export type ContentBlock = z.infer<typeof ContentBlock>;

/** The roles a conversation turn may carry (`system` exists in the model enum but belongs in `system`). */
const ConversationRole = z.enum(["user", "assistant"], {
  // A missing role would otherwise read as a wrong value; formatZodIssues honours a "required" message.
  error: (issue) => (issue.input === undefined ? "required" : undefined),
}).meta({ id: "ConversationRole" });

/** One conversation turn. */
export const Message = z.looseObject({
  role: ConversationRole,
  content: z.array(ContentBlock),
}).meta({ id: "Message" });
export type Message = z.infer<typeof Message>;

/** One block of the top-level `system` prompt. */
export const SystemContentBlock = oneMemberUnion("system content block", {
  text: z.string().min(1),
  guardContent: GuardrailConverseContentBlock,
  cachePoint: CachePointBlock,
}, { id: "SystemContentBlock", description: "Exactly one of text (non-empty), guardContent, cachePoint." });
export type SystemContentBlock = z.infer<typeof SystemContentBlock>;

// ---------------------------------------------------------------------------------------------------------------
// Request configuration objects
// ---------------------------------------------------------------------------------------------------------------

/** Base inference parameters; model-specific ones go in `additionalModelRequestFields`. */
export const InferenceConfiguration = z.looseObject({
  maxTokens: z.int32().min(1).optional(),
  temperature: z.number().min(0).max(1).optional(),
  topP: z.number().min(0).max(1).optional(),
  stopSequences: z.array(z.string().min(1)).max(2500).optional(),
}).meta({ id: "InferenceConfiguration" });
export type InferenceConfiguration = z.infer<typeof InferenceConfiguration>;

const ToolSpecification = z.looseObject({
  name: z.string().min(1).meta({ description: "1–64 chars of [a-zA-Z0-9_-]." }),
  description: z.string().min(1).optional(),
  inputSchema: oneMemberUnion("inputSchema", { json: Document.meta({ description: "A JSON Schema object." }) }, {
    id: "ToolInputSchema",
    description: "`{json: <JSON Schema>}`.",
  }),
  strict: z.boolean().optional(),
}).meta({ id: "ToolSpecification" });

const Tool = oneMemberUnion("tool", {
  toolSpec: ToolSpecification,
  systemTool: z.looseObject({ name: z.string().min(1) }).meta({ id: "SystemTool" }),
  cachePoint: CachePointBlock,
}, { id: "Tool", description: "Exactly one of toolSpec, systemTool, cachePoint." });

const ToolChoice = oneMemberUnion("toolChoice", {
  auto: z.looseObject({}),
  any: z.looseObject({}),
  tool: z.looseObject({ name: z.string().min(1) }),
}, { id: "ToolChoice", description: "auto (default) | any | tool {name}." });

/** Tools the model may call. */
export const ToolConfiguration = z.looseObject({
  tools: z.array(Tool).min(1),
  toolChoice: ToolChoice.optional(),
}).meta({ id: "ToolConfiguration" });
export type ToolConfiguration = z.infer<typeof ToolConfiguration>;

const guardrailShape = {
  guardrailIdentifier: z.string().optional().meta({ description: '"", an id [a-z0-9]+, or a guardrail ARN.' }),
  guardrailVersion: z.string().optional().meta({ description: '"", "DRAFT" or 1–99999999.' }),
  trace: openEnum(["enabled", "disabled", "enabled_full"], "Guardrail trace.").optional(),
};

const GuardrailConfiguration = z.looseObject(guardrailShape).meta({ id: "GuardrailConfiguration" });

const GuardrailStreamConfiguration = z.looseObject({
  ...guardrailShape,
  streamProcessingMode: openEnum(["sync", "async"], "Guardrail stream processing mode.").optional(),
}).meta({ id: "GuardrailStreamConfiguration" });

const PromptVariableValues = TextMember("prompt variable", "PromptVariableValues");

const PerformanceConfiguration = z.looseObject({
  latency: openEnum(["standard", "optimized"], "Latency mode.").optional(),
}).meta({ id: "PerformanceConfiguration" });

const ServiceTier = z.looseObject({
  type: openEnum(["priority", "default", "flex", "reserved"], "Service tier."),
}).meta({ id: "ServiceTier" });

const OutputConfig = z.looseObject({
  textFormat: z.looseObject({
    type: openEnum(["json_schema"], "Output format type."),
    structure: oneMemberUnion("structure", {
      jsonSchema: z.looseObject({
        schema: z.string().meta({ description: "The JSON Schema, serialised as a string." }),
        name: z.string().optional(),
        description: z.string().optional(),
      }),
    }, { id: "OutputFormatStructure", description: "`{jsonSchema: {schema, name?, description?}}`." }),
  }).optional(),
  effort: z.string().optional().meta({ description: "Reasoning effort, ≤ 16 chars." }),
}).meta({ id: "OutputConfig" });

/** Fields shared by Converse and ConverseStream; only `guardrailConfig` differs. `modelId` travels in the path. */
const requestShape = {
  messages: z.array(Message).optional(),
  system: z.array(SystemContentBlock).optional(),
  inferenceConfig: InferenceConfiguration.optional(),
  toolConfig: ToolConfiguration.optional(),
  additionalModelRequestFields: Document.optional().meta({ description: "Model-native parameters, passed through." }),
  promptVariables: z.record(z.string(), PromptVariableValues).optional(),
  additionalModelResponseFieldPaths: z.array(z.string().min(1)).optional().meta({
    description: "JSON Pointers (0–10 items, each 1–256 chars) into the model-native response.",
  }),
  requestMetadata: z.record(z.string().min(1), z.string()).optional().meta({
    description: "1–16 entries used to filter invocation logs.",
  }),
  performanceConfig: PerformanceConfiguration.optional(),
  serviceTier: ServiceTier.optional(),
  outputConfig: OutputConfig.optional(),
};

/** Body of `POST /model/{modelId}/converse`. */
export const ConverseRequest = z.looseObject({
  ...requestShape,
  guardrailConfig: GuardrailConfiguration.optional(),
}).meta({ id: "ConverseRequest", title: "ConverseRequest" });
export type ConverseRequest = z.infer<typeof ConverseRequest>;

/** Body of `POST /model/{modelId}/converse-stream`. */
export const ConverseStreamRequest = z.looseObject({
  ...requestShape,
  guardrailConfig: GuardrailStreamConfiguration.optional(),
}).meta({ id: "ConverseStreamRequest", title: "ConverseStreamRequest" });
export type ConverseStreamRequest = z.infer<typeof ConverseStreamRequest>;

// ---------------------------------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------------------------------

const StopReason = openEnum(STOP_REASONS, "Why the model stopped.").meta({ id: "StopReason" });

/** Token counts; `inputTokens` excludes cached input, `totalTokens` includes cache reads and writes. */
export const TokenUsage = z.looseObject({
  inputTokens: NonNegativeInt,
  outputTokens: NonNegativeInt,
  totalTokens: NonNegativeInt,
  cacheReadInputTokens: NonNegativeInt.optional(),
  cacheWriteInputTokens: NonNegativeInt.optional(),
  cacheDetails: z.array(z.looseObject({
    ttl: openEnum(["5m", "1h"], "Cache time to live."),
    inputTokens: NonNegativeInt,
  })).optional(),
}).meta({ id: "TokenUsage" });
export type TokenUsage = z.infer<typeof TokenUsage>;

const ConverseMetrics = z.looseObject({ latencyMs: NonNegativeInt }).meta({ id: "ConverseMetrics" });

const ConverseTrace = z.looseObject({
  guardrail: z.looseObject({
    modelOutput: z.array(z.string()).optional(),
    inputAssessment: z.record(z.string(), Document).optional(),
    outputAssessments: z.record(z.string(), z.array(Document)).optional(),
    actionReason: z.string().optional(),
  }).optional(),
  promptRouter: z.looseObject({ invokedModelId: z.string().optional() }).optional(),
}).meta({ id: "ConverseTrace" });

/** Body of a successful Converse response. */
export const ConverseResponse = z.looseObject({
  output: oneMemberUnion("output", { message: Message }, { id: "ConverseOutput", description: "`{message}`." }),
  stopReason: StopReason,
  usage: TokenUsage,
  metrics: ConverseMetrics,
  additionalModelResponseFields: Document.optional(),
  trace: ConverseTrace.optional(),
  performanceConfig: PerformanceConfiguration.optional(),
  serviceTier: ServiceTier.optional(),
}).meta({ id: "ConverseResponse", title: "ConverseResponse" });
export type ConverseResponse = z.infer<typeof ConverseResponse>;

// ---------------------------------------------------------------------------------------------------------------
// ConverseStream events (payload JSON of each event-stream message; `p` padding passes through as unknown)
// ---------------------------------------------------------------------------------------------------------------

const ContentBlockIndex = NonNegativeInt;

/** First event of a stream. */
export const MessageStartEvent = z.looseObject({ role: ConversationRole }).meta({ id: "MessageStartEvent" });
export type MessageStartEvent = z.infer<typeof MessageStartEvent>;

const ContentBlockStart = oneMemberUnion("start", {
  toolUse: z.looseObject({
    toolUseId: z.string().min(1),
    name: z.string().min(1),
    type: openEnum(["server_tool_use"], "Tool use type.").optional(),
  }),
  toolResult: z.looseObject({
    toolUseId: z.string().min(1),
    type: z.string().optional(),
    status: openEnum(["success", "error"], "Tool result status.").optional(),
  }),
  image: z.looseObject({ format: openEnum(IMAGE_FORMATS, "Image format.") }),
}, { id: "ContentBlockStart", description: "Only tool and image blocks get a start event." });

/** Opens a tool-use, tool-result or image block (text and reasoning blocks get none). */
export const ContentBlockStartEvent = z.looseObject({
  contentBlockIndex: ContentBlockIndex,
  start: ContentBlockStart,
}).meta({ id: "ContentBlockStartEvent" });
export type ContentBlockStartEvent = z.infer<typeof ContentBlockStartEvent>;

const ContentBlockDelta = oneMemberUnion("delta", {
  text: z.string(),
  toolUse: z.looseObject({ input: z.string().meta({ description: "A fragment of the JSON tool input." }) }),
  reasoningContent: oneMemberUnion("reasoningContent delta", {
    text: z.string(),
    signature: z.string(),
    redactedContent: Base64Blob,
  }, { id: "ReasoningContentBlockDelta", description: "One of text, signature, redactedContent." }),
  citation: z.looseObject({
    title: z.string().optional(),
    source: z.string().optional(),
    sourceContent: z.array(z.looseObject({ text: z.string().optional() })).optional(),
    location: CitationLocation.optional(),
  }),
  toolResult: z.array(oneMemberUnion("toolResult delta", { text: z.string(), json: Document }, {
    id: "ToolResultBlockDelta",
    description: "One of text, json.",
  })),
  image: z.looseObject({ source: ImageSource.optional(), error: ErrorBlock.optional() }),
}, { id: "ContentBlockDelta", description: "Exactly one member set." });

/** A piece of content for block `contentBlockIndex`. */
export const ContentBlockDeltaEvent = z.looseObject({
  contentBlockIndex: ContentBlockIndex,
  delta: ContentBlockDelta,
}).meta({ id: "ContentBlockDeltaEvent" });
export type ContentBlockDeltaEvent = z.infer<typeof ContentBlockDeltaEvent>;

/** Closes block `contentBlockIndex`. */
export const ContentBlockStopEvent = z.looseObject({ contentBlockIndex: ContentBlockIndex }).meta({
  id: "ContentBlockStopEvent",
});
export type ContentBlockStopEvent = z.infer<typeof ContentBlockStopEvent>;

/** End of the model output. */
export const MessageStopEvent = z.looseObject({
  stopReason: StopReason,
  additionalModelResponseFields: Document.optional(),
}).meta({ id: "MessageStopEvent" });
export type MessageStopEvent = z.infer<typeof MessageStopEvent>;

/** Usage and latency; normally the last event. */
export const ConverseStreamMetadataEvent = z.looseObject({
  usage: TokenUsage,
  metrics: ConverseMetrics,
  trace: ConverseTrace.optional(),
  performanceConfig: PerformanceConfiguration.optional(),
  serviceTier: ServiceTier.optional(),
}).meta({ id: "ConverseStreamMetadataEvent" });
export type ConverseStreamMetadataEvent = z.infer<typeof ConverseStreamMetadataEvent>;

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/** JSON body of an HTTP error response (the error type itself travels in `x-amzn-ErrorType`). */
export const BedrockErrorBody = z.looseObject({
  message: z.string(),
  originalStatusCode: z.int().optional().meta({ description: "ModelErrorException only." }),
  resourceName: z.string().optional().meta({ description: "ModelErrorException only." }),
}).meta({ id: "BedrockErrorBody" });
export type BedrockErrorBody = z.infer<typeof BedrockErrorBody>;

const ExceptionBody = z.looseObject({ message: z.string() }).meta({ id: "StreamExceptionBody" });

const ModelStreamErrorExceptionBody = z.looseObject({
  message: z.string(),
  originalStatusCode: z.int().optional().meta({ description: "Status the model returned, 100–599." }),
  originalMessage: z.string().optional(),
}).meta({ id: "ModelStreamErrorExceptionBody" });

/**
 * One ConverseStream event in the AWS SDK's shape: an object whose single member is the `:event-type` (or
 * `:exception-type`) header and whose value is the payload.
 */
export const ConverseStreamEvent = oneMemberUnion("stream event", {
  messageStart: MessageStartEvent,
  contentBlockStart: ContentBlockStartEvent,
  contentBlockDelta: ContentBlockDeltaEvent,
  contentBlockStop: ContentBlockStopEvent,
  messageStop: MessageStopEvent,
  metadata: ConverseStreamMetadataEvent,
  internalServerException: ExceptionBody,
  modelStreamErrorException: ModelStreamErrorExceptionBody,
  validationException: ExceptionBody,
  throttlingException: ExceptionBody,
  serviceUnavailableException: ExceptionBody,
}, { id: "ConverseStreamEvent", description: "Exactly one member: the event or exception type." });
export type ConverseStreamEvent = z.infer<typeof ConverseStreamEvent>;

/** HTTP status and fault side of a modeled Bedrock Runtime exception. */
export interface BedrockExceptionInfo {
  readonly status: number;
  readonly fault: "client" | "server";
}

/**
 * Bedrock Runtime exceptions (service-2.json `error` traits). ServiceQuotaExceeded and Conflict are not raised by
 * Converse; ModelStreamErrorException only appears inside streams.
 */
export const BEDROCK_EXCEPTIONS = deepFreeze(
  {
    ValidationException: { status: 400, fault: "client" },
    AccessDeniedException: { status: 403, fault: "client" },
    ResourceNotFoundException: { status: 404, fault: "client" },
    ModelTimeoutException: { status: 408, fault: "client" },
    ModelErrorException: { status: 424, fault: "client" },
    ThrottlingException: { status: 429, fault: "client" },
    ModelNotReadyException: { status: 429, fault: "client" },
    InternalServerException: { status: 500, fault: "server" },
    ServiceUnavailableException: { status: 503, fault: "server" },
    ServiceQuotaExceededException: { status: 400, fault: "client" },
    ConflictException: { status: 400, fault: "client" },
    ModelStreamErrorException: { status: 424, fault: "client" },
  } as const satisfies Record<string, BedrockExceptionInfo>,
);
export type BedrockExceptionName = keyof typeof BEDROCK_EXCEPTIONS;

/** Freezes the table and its entries so no request handler can change a status by accident. */
function deepFreeze<T extends Record<string, object>>(table: T): T {
  for (const entry of Object.values(table)) Object.freeze(entry);
  return Object.freeze(table);
}

// ---------------------------------------------------------------------------------------------------------------
// Error messages
// ---------------------------------------------------------------------------------------------------------------

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `["messages", 0, "role"]` → `messages[0].role`; the empty path is the whole body. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "body";
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && IDENTIFIER.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function plural(n: number | bigint, unit: string): string {
  return `${n} ${unit}${n === 1 || n === 1n ? "" : "s"}`;
}

/** One issue as a short phrase, without zod's generic "Invalid input:" preamble. */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.message === "required") return "required";
  switch (issue.code) {
    case "invalid_type":
      // A missing required member reaches us as "expected <type>, received undefined" (or "nonoptional").
      if (issue.expected === "nonoptional" || issue.message.endsWith("received undefined")) return "required";
      return issue.message.replace(/^Invalid input: /, "");
    case "invalid_value":
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(" | ")}`;
    case "too_small": {
      const min = issue.minimum;
      if (issue.origin === "string") return min === 1 ? "must not be empty" : `must be at least ${plural(min, "char")}`;
      if (issue.origin === "array" || issue.origin === "set") return `must have at least ${plural(min, "item")}`;
      return `must be ${issue.inclusive ? ">=" : ">"} ${min}`;
    }
    case "too_big": {
      const max = issue.maximum;
      if (issue.origin === "string") return `must be at most ${plural(max, "char")}`;
      if (issue.origin === "array" || issue.origin === "set") return `must have at most ${plural(max, "item")}`;
      return `must be ${issue.inclusive ? "<=" : "<"} ${max}`;
    }
    case "invalid_key":
      return `invalid key: ${issue.issues.map(describeIssue).join(", ")}`;
    case "invalid_element":
      return `invalid value: ${issue.issues.map(describeIssue).join(", ")}`;
    default:
      return issue.message;
  }
}

/**
 * Turns a ZodError into the short message of a ValidationException: up to `maxIssues` issues as `path: problem`,
 * joined with "; ", e.g. `messages[0].role: expected "user" | "assistant"`.
 *
 * @example
 * ```ts
 * import { ConverseRequest, formatZodIssues } from "./schemas.ts";
 *
 * const r = ConverseRequest.safeParse({ inferenceConfig: { maxTokens: 0 } });
 * if (!r.success) formatZodIssues(r.error); // "inferenceConfig.maxTokens: must be >= 1"
 * ```
 */
export function formatZodIssues(error: z.ZodError, maxIssues = 5): string {
  const issues = error.issues;
  const parts = issues.slice(0, maxIssues).map((issue) => `${formatPath(issue.path)}: ${describeIssue(issue)}`);
  if (issues.length > maxIssues) parts.push(`and ${plural(issues.length - maxIssues, "more issue")}`);
  return parts.join("; ");
}
