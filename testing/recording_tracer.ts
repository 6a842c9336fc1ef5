/**
 * @module
 * An `@opentelemetry/api` tracer that keeps its spans in memory, for in-process tests of what the gateway's spans
 * say (`createGateway({ tracer })`): names, kinds, parents, attributes (each `setAttribute` call is kept, so a test
 * can assert that no key was set twice — Deno's exporter would send both), status, start and end times. No SDK, no
 * exporter, no global registration. A span's parent is the span in the context it was started with.
 *
 * @example
 * ```ts
 * import { RecordingTracer } from "./recording_tracer.ts";
 * const tracer = new RecordingTracer();
 * tracer.startSpan("chat claude", { attributes: { "gen_ai.request.model": "claude" } }).end();
 * console.log(tracer.spans[0].attributes["gen_ai.request.model"]);
 * ```
 */
import {
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type Link,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  trace,
  TraceFlags,
  type Tracer,
} from "@opentelemetry/api";

export interface RecordedSpan {
  name: string;
  kind: SpanKind;
  spanId: string;
  traceId: string;
  /** The parent's span id; "" for a root. */
  parentSpanId: string;
  attributes: Record<string, AttributeValue>;
  /** Keys set more than once (Deno would export each setting). */
  duplicateKeys: string[];
  status: SpanStatus;
  startTime?: TimeInput;
  endTime?: TimeInput;
  ended: boolean;
  /** How many times `end()` was called. */
  endCalls: number;
}

const hex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

class RecordingSpan implements Span {
  readonly #context: SpanContext;
  constructor(readonly record: RecordedSpan) {
    this.#context = { traceId: record.traceId, spanId: record.spanId, traceFlags: TraceFlags.SAMPLED };
  }
  spanContext(): SpanContext {
    return this.#context;
  }
  setAttribute(key: string, value: AttributeValue): this {
    if (key in this.record.attributes) this.record.duplicateKeys.push(key);
    this.record.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    for (const [k, v] of Object.entries(attributes)) if (v !== undefined) this.setAttribute(k, v);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(_link: Link): this {
    return this;
  }
  addLinks(_links: Link[]): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.record.status = status;
    return this;
  }
  updateName(name: string): this {
    this.record.name = name;
    return this;
  }
  end(endTime?: TimeInput): void {
    this.record.endCalls++;
    if (this.record.ended) return;
    this.record.ended = true;
    this.record.endTime = endTime;
  }
  isRecording(): boolean {
    return !this.record.ended;
  }
  recordException(_exception: Exception): void {}
}

export class RecordingTracer implements Tracer {
  readonly spans: RecordedSpan[] = [];

  startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
    const parent = context ? trace.getSpanContext(context) : undefined;
    const record: RecordedSpan = {
      name,
      kind: options.kind ?? SpanKind.INTERNAL,
      spanId: hex(8),
      traceId: parent?.traceId ?? hex(16),
      parentSpanId: parent?.spanId ?? "",
      attributes: {},
      duplicateKeys: [],
      status: { code: SpanStatusCode.UNSET },
      startTime: options.startTime,
      ended: false,
      endCalls: 0,
    };
    this.spans.push(record);
    const span = new RecordingSpan(record);
    if (options.attributes) span.setAttributes(options.attributes);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args.at(-1) as F;
    const options = (args.length > 1 ? args[0] : {}) as SpanOptions;
    return fn(this.startSpan(name, options)) as ReturnType<F>;
  }

  /** The spans named `name`. */
  named(name: string): RecordedSpan[] {
    return this.spans.filter((s) => s.name === name);
  }

  /** The children of `parent`, in the order they were started. */
  childrenOf(parent: RecordedSpan): RecordedSpan[] {
    return this.spans.filter((s) => s.parentSpanId === parent.spanId);
  }
}
