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
