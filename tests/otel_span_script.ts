/**
 * @module
 * A child process for `fake_otlp_test.ts`: makes a GenAI-shaped parent span with a failed child "attempt" through
 * `npm:@opentelemetry/api` (as the gateway will), then exits, so Deno's built-in exporter flushes them to
 * `OTEL_EXPORTER_OTLP_ENDPOINT`. With a `traceparent` as its first argument, the parent span continues that trace.
 * It also pins two Deno 2.9 export behaviours the gateway must work with: a JS number is sent as an OTLP double (a
 * bigint as an int), and setting an attribute again appends a duplicate key rather than replacing it.
 * Prints the parent's trace and span ids as one JSON line on stdout.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("fake-otlp-test", "1.2.3");
const incoming = Deno.args[0];
const parentContext = incoming ? propagation.extract(context.active(), { traceparent: incoming }) : context.active();

const parent = tracer.startSpan("chat demo-model", {
  kind: SpanKind.CLIENT,
  attributes: {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "aws.bedrock",
    "gen_ai.request.model": "demo-model",
    "gen_ai.request.temperature": 0.5,
    "gen_ai.request.stop_sequences": ["END", "STOP"],
    "gen_ai.request.stream": false,
  },
}, parentContext);
const attempt = tracer.startSpan(
  "attempt demo-deployment",
  { kind: SpanKind.CLIENT, attributes: { "gateway.attempt": 1 } },
  trace.setSpan(parentContext, parent),
);
attempt.setAttribute("error.type", "ThrottlingException");
attempt.setStatus({ code: SpanStatusCode.ERROR, message: "Too many requests" });
attempt.end();
// A bigint is exported as an OTLP int (the API's types say number; Deno's exporter takes both).
const asInt = (n: number) => BigInt(n) as unknown as number;
parent.setAttributes({
  "gen_ai.usage.input_tokens": 12,
  "gen_ai.usage.output_tokens": asInt(34),
  "gen_ai.response.finish_reasons": ["end_turn"],
  "gateway.cost_usd": 0.000123,
});
// Set again: Deno appends a second value instead of replacing the first.
parent.setAttribute("gen_ai.request.model", "demo-model-v2");
parent.addEvent("gen_ai.client.inference.operation.details", { "gen_ai.output.type": "text" });
parent.end();

const { traceId, spanId } = parent.spanContext();
console.log(JSON.stringify({ traceId, spanId }));
