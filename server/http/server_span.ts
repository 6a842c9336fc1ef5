/**
 * @module
 * What the gateway adds to Deno's own HTTP server span (with OpenTelemetry tracing on): its route, so the span is
 * named `POST /key/{key}/regenerate` rather than `POST` and Deno's HTTP metrics get an `http.route`; and, for a
 * refused request, why (`gateway.refusal`, and `error.type` for 4xx: Deno sets `error.type` itself on 5xx answers, and
 * an attribute set twice is exported twice). Deno's span records the request's full URL by itself,
 * before the gateway sees the request: docs/observability.md says what that means for raw keys in URLs.
 */
import { GATEWAY, GENERAL } from "../core/semconv.ts";
import { activeSpan } from "../core/telemetry.ts";

export interface ServerSpans {
  /** Names the request's server span after its route pattern (`/bedrock/model/{modelId}/converse`). */
  route(method: string, route: string): void;
  /** Notes on the request's server span why it was refused. */
  refused(status: number, errorType: string, reason: string): void;
}

/** Acts on the span active in the request's handler: Deno's server span. Call each once per request. */
export function createServerSpans(): ServerSpans {
  return {
    route(method, route) {
      const span = activeSpan();
      if (!span?.isRecording()) return;
      span.updateName(`${method} ${route}`);
      span.setAttribute(GENERAL.httpRoute, route);
    },
    refused(status, errorType, reason) {
      const span = activeSpan();
      if (!span?.isRecording()) return;
      span.setAttribute(GATEWAY.refusal, reason);
      if (status < 500) span.setAttribute(GENERAL.errorType, errorType);
    },
  };
}
