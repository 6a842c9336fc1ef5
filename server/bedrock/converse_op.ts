/**
 * @module
 * Converse and ConverseStream: a validated Converse JSON body; usage, and the service tier that served, in the answer
 * (or the stream's `metadata` event).
 */
import { validation } from "../core/errors.ts";
import { mockConverseBody, mockUsage } from "./mock.ts";
import { mockStreamBody } from "./mock_stream.ts";
import { guardrailUse, type ModelOperationSpec, parseJsonBody, reparse } from "./operation.ts";
import { jsonObject } from "../core/json.ts";
import { ConverseRequest, ConverseStreamRequest, formatZodIssues } from "./schemas.ts";
import { requestedTierOfConverse, tierOfConverse } from "./service_tier.ts";
import { EVENT_STREAM_CONTENT_TYPE } from "../../wire/eventstream.ts";
import { traceGuardrailUnits } from "../core/guardrail_usage.ts";
import { readUsage } from "../core/usage.ts";
import { estimateRequest } from "./expected_usage.ts";
import { requestParams } from "./request_params.ts";

export function converseOperation(stream: boolean): ModelOperationSpec {
  const schema = stream ? ConverseStreamRequest : ConverseRequest;
  return {
    stream,
    streamUsage: "metadata",
    prepare(body, _headers, limits) {
      const json = parseJsonBody(body, limits);
      const checked = schema.safeParse(json);
      if (!checked.success) throw validation(`Malformed input request: ${formatZodIssues(checked.error)}`);
      const guardrail = checked.data.guardrailConfig;
      return {
        json: reparse(body),
        requestMetadata: checked.data.requestMetadata,
        guardrail: guardrailUse(guardrail?.guardrailIdentifier, guardrail?.guardrailVersion),
        tier: requestedTierOfConverse(json),
        params: requestParams(json),
        estimate: estimateRequest(json),
      };
    },
    answer(_headers, body) {
      const parsed = jsonObject(body);
      if (!parsed) return { problem: "upstream response was not JSON" };
      const metrics = parsed.metrics as { latencyMs?: unknown } | undefined;
      return {
        usage: readUsage(parsed.usage),
        latencyMs: typeof metrics?.latencyMs === "number" ? metrics.latencyMs : undefined,
        guardrailUnits: traceGuardrailUnits((parsed.trace as { guardrail?: unknown } | undefined)?.guardrail),
        tier: tierOfConverse(parsed),
        stopReason: typeof parsed.stopReason === "string" ? parsed.stopReason : undefined,
      };
    },
    mock(text, request, requestId) {
      const usage = mockUsage(request.json?.(), text);
      if (stream) {
        return new Response(mockStreamBody(text, usage), {
          headers: { "content-type": EVENT_STREAM_CONTENT_TYPE, "x-amzn-requestid": requestId },
        });
      }
      return new Response(mockConverseBody(text, usage), {
        headers: { "content-type": "application/json", "x-amzn-requestid": requestId },
      });
    },
  };
}
