/**
 * @module
 * The attribute names the gateway's spans carry, in one place: OpenTelemetry's GenAI semantic conventions
 * (`gen_ai.*`, all still "Development": a rename upstream is a one-line change here), the general ones they lean on
 * (`error.type`, `server.*`, `http.*`, `user.id`), and the gateway's own (`gateway.*`).
 *
 * Cache writes are mid-rename: released semantic conventions (v1.40–v1.44) say
 * `gen_ai.usage.cache_creation.input_tokens`, the GenAI repository's newer text says
 * `gen_ai.usage.cache_write.input_tokens`; both are sent until the rename is released.
 */

export const GEN_AI = {
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  requestStream: "gen_ai.request.stream",
  requestMaxTokens: "gen_ai.request.max_tokens",
  requestTemperature: "gen_ai.request.temperature",
  requestTopP: "gen_ai.request.top_p",
  requestTopK: "gen_ai.request.top_k",
  requestStopSequences: "gen_ai.request.stop_sequences",
  responseModel: "gen_ai.response.model",
  responseFinishReasons: "gen_ai.response.finish_reasons",
  responseTimeToFirstChunk: "gen_ai.response.time_to_first_chunk",
  usageInputTokens: "gen_ai.usage.input_tokens",
  usageOutputTokens: "gen_ai.usage.output_tokens",
  usageCacheReadInputTokens: "gen_ai.usage.cache_read.input_tokens",
  /** Released name of cache writes (semantic conventions v1.40–v1.44). */
  usageCacheCreationInputTokens: "gen_ai.usage.cache_creation.input_tokens",
  /** The GenAI repository's newer name of cache writes. */
  usageCacheWriteInputTokens: "gen_ai.usage.cache_write.input_tokens",
  inputMessages: "gen_ai.input.messages",
  outputMessages: "gen_ai.output.messages",
  systemInstructions: "gen_ai.system_instructions",
  guardrailId: "aws.bedrock.guardrail.id",
} as const;

/** `gen_ai.provider.name` of every Bedrock span ("MUST be aws.bedrock"). */
export const PROVIDER_AWS_BEDROCK = "aws.bedrock";

export const GENERAL = {
  errorType: "error.type",
  serverAddress: "server.address",
  serverPort: "server.port",
  httpRequestMethod: "http.request.method",
  httpResponseStatusCode: "http.response.status_code",
  httpRoute: "http.route",
  userId: "user.id",
} as const;

export const GATEWAY = {
  requestId: "gateway.request_id",
  callType: "gateway.call_type",
  keyAlias: "gateway.key_alias",
  /** The 12-character prefix of the key's hash the logs and metrics use; never the key. */
  keyHash: "gateway.key_hash",
  teamId: "gateway.team_id",
  costUsd: "gateway.cost_usd",
  deployment: "gateway.deployment",
  retries: "gateway.retries",
  status: "gateway.status",
  serviceTier: "gateway.service_tier",
  usageEstimated: "gateway.usage_estimated",
  incomplete: "gateway.incomplete",
  attempt: "gateway.attempt",
  fallbackGroup: "gateway.fallback_group",
  refusal: "gateway.refusal",
} as const;
