/**
 * @module
 * Traces through Deno's built-in OpenTelemetry (`OTEL_DENO=true` and the standard `OTEL_EXPORTER_OTLP_*` variables,
 * read by Deno once at start-up) and `@opentelemetry/api`: with tracing on, Deno registers its tracer provider with
 * the API and its exporter sends what the gateway's spans say; with it off, {@link runtimeTracer} gives no tracer
 * and the gateway makes no span at all (not even the API's no-op ones).
 *
 * A {@link Tracer} is a dependency like the clock: built once in `gateway.ts`, injected where spans are made
 * (`calls/call_span.ts`, the app's edge), so in-process tests pass a recording one.
 */
import { ProxyTracerProvider, type Span, trace, type Tracer } from "@opentelemetry/api";

export type { Span, Tracer };

/** The instrumentation scope the gateway's spans are exported under. */
export const TRACER_NAME = "converse-gateway";

/**
 * Deno's tracer when its OpenTelemetry tracing is on, else undefined. Deno replaces the API's own (proxy, no-op)
 * tracer provider only when it exports traces (`OTEL_DENO` or `OTEL_DENO_TRACING`, and not `OTEL_SDK_DISABLED`).
 */
export function runtimeTracer(version?: string): Tracer | undefined {
  return trace.getTracerProvider() instanceof ProxyTracerProvider ? undefined : trace.getTracer(TRACER_NAME, version);
}

/** The span active where this is called (Deno's HTTP server span, inside a request's handler), if any. */
export function activeSpan(): Span | undefined {
  return trace.getActiveSpan();
}

/**
 * An integer attribute value: OTLP's `intValue`. Deno exports every JS number as a double, a `bigint` as an int,
 * and the GenAI conventions type token counts as ints (the API's types know only `number`).
 */
export const int = (n: number): number => BigInt(Math.trunc(n)) as unknown as number;
