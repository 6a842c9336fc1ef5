/**
 * @module
 * What the gateway knows about one finished call: the single record that accounting (spend, spend logs,
 * metrics, request logs) is fed from. It never holds a raw key or an AWS secret.
 */
import type { GuardrailUnits } from "./guardrail_usage.ts";
import type { Usage } from "./usage.ts";

/** Model operations, then the pass-through operations that are not model calls (guardrails, agent runtime). */
export const CALL_TYPES = [
  "converse",
  "converse-stream",
  "invoke",
  "invoke-with-response-stream",
  "count-tokens",
  "apply-guardrail",
  "retrieve",
  "retrieve-and-generate",
  "invoke-agent",
] as const;

export type CallType = typeof CALL_TYPES[number];

export type CallStatus = "success" | "failure" | "client_disconnected";

/**
 * What a call is expected to use, judged from its request before it is sent (`bedrock/expected_usage.ts`): what
 * admission holds against budgets and limits while the call runs, and the input billed for a stream whose client
 * left mid-generation.
 */
export interface RequestEstimate {
  inputTokens: number;
  /** The output the request allows (`maxTokens`, `max_tokens`, …); undefined when it does not say. */
  maxOutputTokens?: number;
  /** Whether the call can cost anything (CountTokens, Retrieve and the agent runtime cannot). */
  billable: boolean;
  /** The pricing tier asked for (`pricingTier`: `standard`, `priority`, `flex`, …); standard when absent. */
  tier?: string;
  /** The request marks a prompt-cache checkpoint (`cachePoint`, `cache_control`): its input may be cache writes. */
  cacheWrites?: boolean;
  /** Guardrail policy units the call may be billed (ApplyGuardrail: every policy over its text and images). */
  guardrailUnits?: GuardrailUnits;
}

/**
 * What a request asked of the model, as OpenTelemetry's GenAI spans report it (`gen_ai.request.*`): only what the
 * request says, read while its validation parse is at hand (`bedrock/request_params.ts`).
 */
export interface RequestParams {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stopSequences?: string[];
}

/** Where an attempt went: a deployment of a model group (model calls), as metrics and traces name it. */
export interface AttemptTarget {
  /** The deployment id (`model_info.id`). */
  id: string;
  /** The model group (`model_name`) the deployment serves: the requested one, or a fallback. */
  modelName: string;
  /** The Bedrock model id sent upstream (LiteLLM's `litellm_model_name`). */
  bedrockModelId?: string;
  /** The upstream's origin (no path, no credentials); undefined for a mock deployment. */
  apiBase?: string;
}

/**
 * One upstream attempt of a call (`calls/attempts.ts`): where it went, when, and how it ended. Deployment metrics and
 * a trace's attempt spans are made from these at settlement.
 */
export interface AttemptRecord {
  /** Undefined for pass-through calls (one attempt at the pass-through account). */
  target?: AttemptTarget;
  /** Epoch ms the attempt began. */
  start: number;
  /** Epoch ms its answer's head (a stream: its first byte) came, or it failed; undefined until then. */
  end?: number;
  /**
   * The upstream's HTTP status; for an attempt no answer came to, the gateway's status for its failure (504 timed
   * out, 502 connection failed, 499 the client left); undefined when it was never sent (refused before sending: no
   * price for a budgeted call).
   */
  status?: number;
  /** An answer's head came from the upstream (a stream: its first byte); `status` is the upstream's. */
  answered?: boolean;
  /** Why it failed: Bedrock's exception name (`x-amzn-errortype`), or the gateway's (`ServiceUnavailableException`). */
  errorType?: string;
}

/** Who made the call, as far as accounting is concerned (hash only, never the raw key). */
export interface Caller {
  keyHash?: string;
  keyAlias?: string;
  userId?: string;
  teamId?: string;
}

export interface CallRecord {
  requestId: string;
  callType: CallType;
  /**
   * The `model_name` the client asked for; for pass-through calls that are not model calls, what they called
   * (`guardrail/{id}/{version}`, `knowledgebase/{id}`, `agent/{agentId}/{aliasId}`, `retrieveAndGenerate`).
   */
  modelName: string;
  /** The gateway route, for logs, when it is not `/bedrock/model/{modelName}/{callType}`. */
  route?: string;
  deploymentId?: string;
  bedrockModelId?: string;
  region?: string;
  apiBase?: string;
  caller: Caller;
  /** Epoch ms. */
  startTime: number;
  endTime: number;
  /** Epoch ms of the first upstream byte (streams) or of the upstream response (converse). */
  firstByteTime?: number;
  status: CallStatus;
  /** HTTP status the client got (200 for streams that failed mid-way). */
  httpStatus: number;
  /** Bedrock exception name when the call failed. */
  errorType?: string;
  errorMessage?: string;
  usage?: Usage;
  /** Guardrail policy units Bedrock reported (ApplyGuardrail's `usage`, a model call's guardrail trace). */
  guardrailUnits?: GuardrailUnits;
  /** A stream that ended without its `metadata` event: usage is what was seen, possibly none. */
  incomplete?: boolean;
  /**
   * `usage` is the gateway's estimate, not Bedrock's count: the client left a stream mid-generation (input from the
   * request, output from what was relayed) and the upstream was stopped before it reported usage.
   */
  usageEstimated?: boolean;
  retries: number;
  /** Every upstream attempt, in order (none for a call refused before its first). */
  attempts?: AttemptRecord[];
  /**
   * Why the model stopped (Bedrock's words: `end_turn`, `max_tokens`, `tool_use`, `stop_sequence`, …): Converse's
   * `stopReason`, a stream's `messageStop`, a native answer's `stop_reason` / `completionReason` / `finish_reason`.
   */
  stopReason?: string;
  /** The generation settings the request gave (max tokens, temperature, …), for traces. */
  requestParams?: RequestParams;
  /** The guardrail a model call asked Bedrock to apply (its identifier), for traces. */
  guardrailId?: string;
  /** The client's address and `User-Agent`, for LiteLLM's `client_ip` and `user_agent` metric labels. */
  clientIp?: string;
  userAgent?: string;
  requestTags?: string[];
  /** The Converse request's `requestMetadata` (string pairs the caller tags the call with). */
  requestMetadata?: Record<string, string>;
  /**
   * Bedrock's service tier for the call (`default`, `priority`, `flex`, `reserved`): what the answer says served it,
   * else what the request asked for; absent when neither says. Priced per tier.
   */
  serviceTier?: string;
  /** `performanceConfig.latency` likewise (`standard`, `optimized`); latency-optimized calls are priced apart. */
  performanceLatency?: string;
  /** Bedrock's own processing time (`metrics.latencyMs` of a Converse response), for detailed debug logs. */
  bedrockLatencyMs?: number;
  /** Only filled when `store_prompts_in_spend_logs` is on. */
  requestBody?: string;
  responseBody?: string;
}

/**
 * The accounting hook: called exactly once per call, after the response (or stream) has finished. Returns what the
 * call cost in nano-USD, priced once here (a non-stream answer sends it as `x-litellm-response-cost`).
 */
export type CallSink = (record: CallRecord) => bigint;
