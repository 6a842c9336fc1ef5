/**
 * @module
 * Parsing the `/bedrock/*` paths that are not model calls: ApplyGuardrail on bedrock-runtime, and Retrieve,
 * RetrieveAndGenerate and InvokeAgent on bedrock-agent-runtime.
 *
 * Ids are decoded exactly once and checked against the service's patterns (a bad id is a 400 that never reaches
 * AWS), then re-encoded the way the AWS SDKs encode a path label, so the upstream path is byte for byte what an SDK
 * would send for the same ids (a guardrail ARN's `:` and `/` become `%3A` and `%2F` whether or not the client
 * encoded them) and SigV4's canonical path matches what AWS computes.
 */
import type { z } from "zod";
import { validation } from "../core/errors.ts";
import type { CallType } from "../core/call_record.ts";
import {
  ApplyGuardrailRequest,
  InvokeAgentRequest,
  RetrieveAndGenerateRequest,
  RetrieveRequest,
} from "./passthrough_schemas.ts";
import { encodeModelId } from "../../wire/model_id.ts";

/** Which AWS endpoint an operation lives on. */
export type PassthroughApi = "runtime" | "agent-runtime";

export interface PassthroughRoute {
  callType: Extract<CallType, "apply-guardrail" | "retrieve" | "retrieve-and-generate" | "invoke-agent">;
  api: PassthroughApi;
  /** The AWS operation's name, for messages. */
  operation: "ApplyGuardrail" | "Retrieve" | "RetrieveAndGenerate" | "InvokeAgent";
  /** The path sent upstream, percent-encoded like the AWS SDKs do. */
  upstreamPath: string;
  /** `/bedrock/…` with the ids decoded: what `allowed_routes` patterns match and logs show. */
  route: string;
  /** What spend logs show as the call's model (`guardrail/{id}/{version}`, `agent/{agentId}/{aliasId}`, …). */
  label: string;
  /** The answer is an event stream (InvokeAgent). */
  stream: boolean;
  /** The body's schema. */
  schema: z.ZodType;
}

/** Id patterns from the service models (bedrock-runtime, bedrock-agent-runtime). */
const GUARDRAIL_ID = /^(?:[a-z0-9]+|arn:aws(?:-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail\/[a-z0-9]+)$/;
const GUARDRAIL_VERSION = /^(?:[1-9][0-9]{0,7}|DRAFT)$/;
const RESOURCE_ID = /^[0-9a-zA-Z]{1,10}$/;
const SESSION_ID = /^[0-9a-zA-Z._:-]{2,100}$/;

/**
 * The route a guardrail is granted by in `allowed_routes` (ids decoded): ApplyGuardrail's, which also covers the
 * guardrail's use inside Converse (`guardrailConfig`) and InvokeModel (`X-Amzn-Bedrock-GuardrailIdentifier`).
 */
export function guardrailRoute(identifier: string, version: string): string {
  return `/bedrock/guardrail/${identifier}/version/${version}/apply`;
}

function decode(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw validation(`${what} in the path is not valid percent-encoding`, what);
  }
}

function checked(value: string, pattern: RegExp, what: string, rule: string): string {
  if (!pattern.test(value)) throw validation(`Invalid ${what} "${value.slice(0, 200)}": ${rule}`, what);
  return value;
}

/**
 * `rest` is the raw (still encoded) path after `/bedrock`, starting with `/`. Undefined when it is none of these
 * operations (the caller answers 404); a ValidationException for an id that breaks the service's pattern.
 */
export function parsePassthroughPath(rest: string): PassthroughRoute | undefined {
  if (rest === "/retrieveAndGenerate") {
    return {
      callType: "retrieve-and-generate",
      api: "agent-runtime",
      operation: "RetrieveAndGenerate",
      upstreamPath: rest,
      route: "/bedrock/retrieveAndGenerate",
      label: "retrieveAndGenerate",
      stream: false,
      schema: RetrieveAndGenerateRequest,
    };
  }
  const parts = rest.split("/");
  // Guardrail: the id may be an unencoded ARN with a `/`, so it is everything between `guardrail/` and `/version/`.
  if (parts[1] === "guardrail" && parts.length >= 6 && parts.at(-1) === "apply" && parts.at(-3) === "version") {
    const id = checked(
      decode(parts.slice(2, -3).join("/"), "guardrailIdentifier"),
      GUARDRAIL_ID,
      "guardrailIdentifier",
      "expected a guardrail id ([a-z0-9]+) or guardrail ARN",
    );
    const version = checked(
      decode(parts.at(-2)!, "guardrailVersion"),
      GUARDRAIL_VERSION,
      "guardrailVersion",
      "expected a version number or DRAFT",
    );
    return {
      callType: "apply-guardrail",
      api: "runtime",
      operation: "ApplyGuardrail",
      upstreamPath: `/guardrail/${encodeModelId(id)}/version/${encodeModelId(version)}/apply`,
      route: guardrailRoute(id, version),
      label: `guardrail/${id}/${version}`,
      stream: false,
      schema: ApplyGuardrailRequest,
    };
  }
  if (parts.length === 4 && parts[1] === "knowledgebases" && parts[3] === "retrieve") {
    const kb = checked(
      decode(parts[2], "knowledgeBaseId"),
      RESOURCE_ID,
      "knowledgeBaseId",
      "expected [0-9a-zA-Z]{1,10}",
    );
    return {
      callType: "retrieve",
      api: "agent-runtime",
      operation: "Retrieve",
      upstreamPath: `/knowledgebases/${kb}/retrieve`,
      route: `/bedrock/knowledgebases/${kb}/retrieve`,
      label: `knowledgebase/${kb}`,
      stream: false,
      schema: RetrieveRequest,
    };
  }
  if (
    parts.length === 8 && parts[1] === "agents" && parts[3] === "agentAliases" && parts[5] === "sessions" &&
    parts[7] === "text"
  ) {
    const agent = checked(decode(parts[2], "agentId"), RESOURCE_ID, "agentId", "expected [0-9a-zA-Z]{1,10}");
    const alias = checked(decode(parts[4], "agentAliasId"), RESOURCE_ID, "agentAliasId", "expected [0-9a-zA-Z]{1,10}");
    const session = checked(decode(parts[6], "sessionId"), SESSION_ID, "sessionId", "expected [0-9a-zA-Z._:-]{2,100}");
    return {
      callType: "invoke-agent",
      api: "agent-runtime",
      operation: "InvokeAgent",
      upstreamPath: `/agents/${agent}/agentAliases/${alias}/sessions/${encodeModelId(session)}/text`,
      route: `/bedrock/agents/${agent}/agentAliases/${alias}/sessions/${session}/text`,
      label: `agent/${agent}/${alias}`,
      stream: true,
      schema: InvokeAgentRequest,
    };
  }
  return undefined;
}
