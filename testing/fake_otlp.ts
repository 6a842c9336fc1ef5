/**
 * @module
 * A fake OpenTelemetry collector for tests: an OTLP/HTTP receiver on 127.0.0.1 that keeps what it is sent.
 *
 * Traces are decoded from both OTLP/HTTP encodings Deno's exporter speaks — `http/json` (`application/json`) and
 * `http/protobuf` (`application/x-protobuf`, decoded by a small hand-written reader of the OTLP trace messages) — into
 * {@link OtlpSpan}s with plain attribute values, so a test asserts on `span.attributes["gen_ai.usage.input_tokens"]`
 * without caring how it travelled. Logs and metrics (`/v1/logs`, `/v1/metrics`) are accepted and kept as raw
 * requests only. Every request body is kept, so a test can scan all of it for secrets ({@link FakeOtlp.rawText}).
 *
 * Waiting is bounded: {@link FakeOtlp.waitForSpans} resolves as soon as enough spans have arrived and rejects with
 * what did arrive once its deadline passes, so a broken exporter fails a test instead of hanging it. The deadline's
 * timer is injectable (`timers`), so the deadline path itself is tested without waiting.
 *
 * Deno exports spans from a batch processor: a span can take up to ~2 × `OTEL_BSP_SCHEDULE_DELAY` (default 5 s; measured
 * 4–10 s) to arrive, and whatever is queued is flushed when the process exits normally (`Deno.exit`, end of script,
 * an uncaught error; not SIGKILL or an unhandled SIGTERM). Give a long-running child `OTEL_BSP_SCHEDULE_DELAY=100`.
 * Tests that run a gateway with `OTEL_DENO=true` run it as a child process: Deno reads the OTel variables once, at
 * start-up (see docs/observability.md).
 *
 * @example
 * ```ts
 * import { startFakeOtlp } from "./fake_otlp.ts";
 * await using otlp = await startFakeOtlp();
 * const env = { OTEL_DENO: "true", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint };
 * // … run a child process with `env` …
 * const [span] = await otlp.waitForSpans(1, { where: (s) => s.name === "chat demo" });
 * console.log(span.attributes["gen_ai.usage.input_tokens"]);
 * ```
 */

import { Arrivals, type ArrivalWait, type DeadlineTimers } from "./arrivals.ts";

/** An attribute value as a test wants to see it (OTLP int64 values become numbers, bytes stay bytes). */
export type OtlpValue = string | number | boolean | null | Uint8Array | OtlpValue[] | { [key: string]: OtlpValue };

/** How a value travelled: OTLP's `AnyValue` case. Deno sends every JS number as `double`, for example. */
export type OtlpValueType = "string" | "bool" | "int" | "double" | "array" | "kvlist" | "bytes" | "empty";

export type OtlpSpanKind = "unspecified" | "internal" | "server" | "client" | "producer" | "consumer";

export type OtlpStatusCode = "unset" | "ok" | "error";

export interface OtlpEvent {
  name: string;
  timeUnixNano: bigint;
  attributes: Record<string, OtlpValue>;
}

export interface OtlpLink {
  traceId: string;
  spanId: string;
  attributes: Record<string, OtlpValue>;
}

/** One received span, decoded. Ids are lowercase hex; a root span's `parentSpanId` is "". */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  /** W3C trace flags in the low 8 bits (1 = sampled); Deno sets bit 8 (`0x100`, "parent is remote" known) too. */
  flags: number;
  name: string;
  kind: OtlpSpanKind;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, OtlpValue>;
  /** The wire type of each attribute, for tests about types (an int token count sent as a double, say). */
  attributeTypes: Record<string, OtlpValueType>;
  /**
   * Keys sent more than once (`attributes` keeps the last value). OTLP requires unique keys, but Deno 2.9 appends
   * when an attribute is set again, so a value "overwritten" to redact it is still exported.
   */
  duplicateAttributeKeys: string[];
  events: OtlpEvent[];
  links: OtlpLink[];
  status: { code: OtlpStatusCode; message: string };
  scope: { name: string; version: string };
  /** The resource's attributes (`service.name`, …). */
  resource: Record<string, OtlpValue>;
  /** How this span arrived. */
  protocol: "json" | "protobuf";
}

/** One HTTP request the receiver got, whatever its path. */
export interface OtlpRequest {
  path: string;
  contentType: string;
  headers: Headers;
  body: Uint8Array;
}

export interface FakeOtlpOptions {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Deadline of {@link FakeOtlp.waitForSpans} when the call gives none, ms (default 10 000). */
  defaultTimeoutMs?: number;
  /** The deadline's timer (default `setTimeout`); tests inject manual timers to fire it at will. */
  timers?: DeadlineTimers;
}

export type WaitOptions = ArrivalWait<OtlpSpan>;

export interface FakeOtlp extends AsyncDisposable {
  /** Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (`http://127.0.0.1:PORT`; the exporter appends `/v1/traces`). */
  readonly endpoint: string;
  /** Spans received so far, in arrival order. */
  readonly spans: readonly OtlpSpan[];
  /** Every request received so far (traces, logs, metrics, anything else). */
  readonly requests: readonly OtlpRequest[];
  /**
   * Resolves with the first `count` spans `where` accepts once that many have arrived; rejects after the deadline
   * with a message listing the span names that did arrive.
   */
  waitForSpans(count: number, opts?: WaitOptions): Promise<OtlpSpan[]>;
  /** Every request body received so far, decoded as UTF-8 and joined: protobuf strings are UTF-8 too, so a secret
   * sent in any signal and either encoding shows up here. */
  rawText(): string;
  close(): Promise<void>;
}

const KINDS: readonly OtlpSpanKind[] = ["unspecified", "internal", "server", "client", "producer", "consumer"];
const STATUS_CODES: readonly OtlpStatusCode[] = ["unset", "ok", "error"];

/** Starts the receiver on 127.0.0.1. */
export function startFakeOtlp(opts: FakeOtlpOptions = {}): Promise<FakeOtlp> {
  const spans = new Arrivals<OtlpSpan>(
    "fake OTLP",
    (got) => got.map((s) => s.name).join(", "),
    opts.timers,
    opts.defaultTimeoutMs,
  );
  const requests: OtlpRequest[] = [];

  const server = Deno.serve({ hostname: "127.0.0.1", port: opts.port ?? 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const contentType = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    const body = new Uint8Array(await req.arrayBuffer());
    // A copy: the request's own headers are unreadable once its response has been sent.
    requests.push({ path, contentType, headers: new Headers(req.headers), body });
    const json = contentType === "application/json";
    if (req.method !== "POST" || (!json && contentType !== "application/x-protobuf")) {
      return new Response("expected a POST of application/json or application/x-protobuf", { status: 415 });
    }
    if (path === "/v1/traces") {
      try {
        spans.push(...(json ? decodeJsonTraces(body) : decodeProtobufTraces(body)));
      } catch (e) {
        return new Response(`undecodable trace export: ${(e as Error).message}`, { status: 400 });
      }
    }
    // OTLP/HTTP's success answer: an empty Export*ServiceResponse in the request's encoding.
    return json
      ? new Response("{}", { headers: { "content-type": "application/json" } })
      : new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
  });

  const decoder = new TextDecoder();
  return Promise.resolve({
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    spans: spans.items,
    requests,
    waitForSpans: (count, wait) => spans.wait(count, wait),
    rawText: () => requests.map((r) => decoder.decode(r.body)).join("\n"),
    close: () => server.shutdown(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// OTLP/JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): ids as hex strings, enums as
// integers, 64-bit integers as decimal strings (numbers accepted too), field names in lowerCamelCase.

type Json = Record<string, unknown>;

const list = (v: unknown): Json[] => (Array.isArray(v) ? v as Json[] : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const nanos = (v: unknown): bigint => (typeof v === "string" || typeof v === "number" ? BigInt(v) : 0n);

function jsonValue(v: unknown): [OtlpValue, OtlpValueType] {
  const a = (v ?? {}) as Json;
  if ("stringValue" in a) return [str(a.stringValue), "string"];
  if ("boolValue" in a) return [a.boolValue === true, "bool"];
  if ("intValue" in a) return [Number(a.intValue), "int"];
  if ("doubleValue" in a) return [Number(a.doubleValue), "double"];
  if ("arrayValue" in a) return [list((a.arrayValue as Json)?.values).map((x) => jsonValue(x)[0]), "array"];
  if ("kvlistValue" in a) return [jsonAttributes((a.kvlistValue as Json)?.values).values, "kvlist"];
  if ("bytesValue" in a) return [Uint8Array.from(atob(str(a.bytesValue)), (c) => c.charCodeAt(0)), "bytes"];
  return [null, "empty"];
}

function jsonAttributes(v: unknown) {
  const values: Record<string, OtlpValue> = {};
  const types: Record<string, OtlpValueType> = {};
  const duplicates: string[] = [];
  for (const kv of list(v)) {
    const key = str(kv.key);
    if (key in types && !duplicates.includes(key)) duplicates.push(key);
    [values[key], types[key]] = jsonValue(kv.value);
  }
  return { values, types, duplicates };
}

const enumOf = <T>(names: readonly T[], v: unknown): T => {
  if (typeof v === "number") return names[v] ?? names[0];
  // Some exporters send enum names (`SPAN_KIND_CLIENT`, `STATUS_CODE_ERROR`).
  const name = str(v).replace(/^(SPAN_KIND|STATUS_CODE)_/, "").toLowerCase();
  return names.find((n) => n === name) ?? names[0];
};

function decodeJsonTraces(body: Uint8Array): OtlpSpan[] {
  const request = JSON.parse(new TextDecoder().decode(body)) as Json;
  const out: OtlpSpan[] = [];
  for (const rs of list(request.resourceSpans)) {
    const resource = jsonAttributes((rs.resource as Json | undefined)?.attributes).values;
    for (const ss of list(rs.scopeSpans)) {
      const scope = (ss.scope ?? {}) as Json;
      for (const s of list(ss.spans)) {
        const { values, types, duplicates } = jsonAttributes(s.attributes);
        const status = (s.status ?? {}) as Json;
        out.push({
          traceId: str(s.traceId).toLowerCase(),
          spanId: str(s.spanId).toLowerCase(),
          parentSpanId: str(s.parentSpanId).toLowerCase(),
          traceState: str(s.traceState),
          flags: typeof s.flags === "number" ? s.flags : 0,
          name: str(s.name),
          kind: enumOf(KINDS, s.kind),
          startTimeUnixNano: nanos(s.startTimeUnixNano),
          endTimeUnixNano: nanos(s.endTimeUnixNano),
          attributes: values,
          attributeTypes: types,
          duplicateAttributeKeys: duplicates,
          events: list(s.events).map((e) => ({
            name: str(e.name),
            timeUnixNano: nanos(e.timeUnixNano),
            attributes: jsonAttributes(e.attributes).values,
          })),
          links: list(s.links).map((l) => ({
            traceId: str(l.traceId).toLowerCase(),
            spanId: str(l.spanId).toLowerCase(),
            attributes: jsonAttributes(l.attributes).values,
          })),
          status: { code: enumOf(STATUS_CODES, status.code), message: str(status.message) },
          scope: { name: str(scope.name), version: str(scope.version) },
          resource,
          protocol: "json",
        });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// OTLP/protobuf: ExportTraceServiceRequest and the messages below it (opentelemetry-proto `trace/v1/trace.proto`,
// `common/v1/common.proto`, `resource/v1/resource.proto`). Only the fields a test reads are decoded; unknown fields
// are skipped by wire type, as protobuf readers must.

/** One protobuf field: its number and its raw value by wire type. */
type Field =
  | { n: number; wire: 0; v: bigint }
  | { n: number; wire: 1; v: DataView }
  | { n: number; wire: 2; v: Uint8Array }
  | { n: number; wire: 5; v: DataView };

function* fields(buf: Uint8Array): Generator<Field> {
  let i = 0;
  const varint = (): bigint => {
    let result = 0n, shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error("truncated varint");
      const b = buf[i++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 63n) throw new Error("varint too long");
    }
  };
  const take = (n: number) => {
    if (i + n > buf.length) throw new Error("truncated field");
    const v = buf.subarray(i, i + n);
    i += n;
    return v;
  };
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (i < buf.length) {
    const tag = Number(varint());
    const n = tag >>> 3, wire = tag & 7;
    if (wire === 0) yield { n, wire, v: varint() };
    else if (wire === 1) yield { n, wire, v: view(take(8)) };
    else if (wire === 2) yield { n, wire, v: take(Number(varint())) };
    else if (wire === 5) yield { n, wire, v: view(take(4)) };
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const bytesOf = (f: Field) => (f.wire === 2 ? f.v : new Uint8Array(0));
const textOf = (f: Field) => utf8.decode(bytesOf(f));
const u64Of = (f: Field) => (f.wire === 1 ? f.v.getBigUint64(0, true) : 0n);
const u32Of = (f: Field) => (f.wire === 5 ? f.v.getUint32(0, true) : f.wire === 0 ? Number(f.v) : 0);
const varintOf = (f: Field) => (f.wire === 0 ? f.v : 0n);

/** AnyValue: 1 string, 2 bool, 3 int64, 4 double, 5 ArrayValue{1 values}, 6 KeyValueList{1 values}, 7 bytes. */
function protoValue(buf: Uint8Array): [OtlpValue, OtlpValueType] {
  let out: [OtlpValue, OtlpValueType] = [null, "empty"];
  for (const f of fields(buf)) {
    if (f.n === 1) out = [textOf(f), "string"];
    else if (f.n === 2) out = [varintOf(f) !== 0n, "bool"];
    else if (f.n === 3) out = [Number(BigInt.asIntN(64, varintOf(f))), "int"];
    else if (f.n === 4 && f.wire === 1) out = [f.v.getFloat64(0, true), "double"];
    else if (f.n === 5) {
      const values: OtlpValue[] = [];
      for (const g of fields(bytesOf(f))) if (g.n === 1) values.push(protoValue(bytesOf(g))[0]);
      out = [values, "array"];
    } else if (f.n === 6) out = [protoAttributes(fields(bytesOf(f)), 1).values, "kvlist"];
    else if (f.n === 7) out = [bytesOf(f).slice(), "bytes"];
  }
  return out;
}

/** The `repeated KeyValue` field numbered `n` of a message (KeyValue: 1 key, 2 value). */
function protoAttributes(msg: Iterable<Field>, n: number) {
  const values: Record<string, OtlpValue> = {};
  const types: Record<string, OtlpValueType> = {};
  const duplicates: string[] = [];
  for (const f of msg) {
    if (f.n !== n) continue;
    let key = "", value: [OtlpValue, OtlpValueType] = [null, "empty"];
    for (const g of fields(bytesOf(f))) {
      if (g.n === 1) key = textOf(g);
      else if (g.n === 2) value = protoValue(bytesOf(g));
    }
    if (key in types && !duplicates.includes(key)) duplicates.push(key);
    [values[key], types[key]] = value;
  }
  return { values, types, duplicates };
}

/** Span: 1 trace_id, 2 span_id, 3 trace_state, 4 parent_span_id, 5 name, 6 kind, 7 start, 8 end, 9 attributes,
 * 11 events, 13 links, 15 status, 16 flags. */
function protoSpan(buf: Uint8Array, scope: OtlpSpan["scope"], resource: OtlpSpan["resource"]): OtlpSpan {
  const all = [...fields(buf)];
  const span: OtlpSpan = {
    traceId: "",
    spanId: "",
    parentSpanId: "",
    traceState: "",
    flags: 0,
    name: "",
    kind: "unspecified",
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: {},
    attributeTypes: {},
    duplicateAttributeKeys: [],
    events: [],
    links: [],
    status: { code: "unset", message: "" },
    scope,
    resource,
    protocol: "protobuf",
  };
  const { values, types, duplicates } = protoAttributes(all, 9);
  span.attributes = values;
  span.attributeTypes = types;
  span.duplicateAttributeKeys = duplicates;
  for (const f of all) {
    if (f.n === 1) span.traceId = hex(bytesOf(f));
    else if (f.n === 2) span.spanId = hex(bytesOf(f));
    else if (f.n === 3) span.traceState = textOf(f);
    else if (f.n === 4) span.parentSpanId = hex(bytesOf(f));
    else if (f.n === 5) span.name = textOf(f);
    else if (f.n === 6) span.kind = KINDS[Number(varintOf(f))] ?? "unspecified";
    else if (f.n === 7) span.startTimeUnixNano = u64Of(f);
    else if (f.n === 8) span.endTimeUnixNano = u64Of(f);
    else if (f.n === 16) span.flags = u32Of(f);
    else if (f.n === 11) {
      // Event: 1 time_unix_nano, 2 name, 3 attributes.
      const e = [...fields(bytesOf(f))];
      span.events.push({
        timeUnixNano: e.filter((g) => g.n === 1).map(u64Of)[0] ?? 0n,
        name: e.filter((g) => g.n === 2).map(textOf)[0] ?? "",
        attributes: protoAttributes(e, 3).values,
      });
    } else if (f.n === 13) {
      // Link: 1 trace_id, 2 span_id, 4 attributes.
      const l = [...fields(bytesOf(f))];
      span.links.push({
        traceId: hex(l.filter((g) => g.n === 1).map(bytesOf)[0] ?? new Uint8Array()),
        spanId: hex(l.filter((g) => g.n === 2).map(bytesOf)[0] ?? new Uint8Array()),
        attributes: protoAttributes(l, 4).values,
      });
    } else if (f.n === 15) {
      // Status: 2 message, 3 code.
      for (const g of fields(bytesOf(f))) {
        if (g.n === 2) span.status.message = textOf(g);
        else if (g.n === 3) span.status.code = STATUS_CODES[Number(varintOf(g))] ?? "unset";
      }
    }
  }
  return span;
}

/** ExportTraceServiceRequest{1 ResourceSpans{1 Resource{1 attributes}, 2 ScopeSpans{1 scope{1 name, 2 version},
 * 2 spans}}}. */
function decodeProtobufTraces(body: Uint8Array): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  for (const rs of fields(body)) {
    if (rs.n !== 1) continue;
    const parts = [...fields(bytesOf(rs))];
    const resourceField = parts.find((f) => f.n === 1);
    const resource = resourceField ? protoAttributes(fields(bytesOf(resourceField)), 1).values : {};
    for (const ss of parts) {
      if (ss.n !== 2) continue;
      const scopeParts = [...fields(bytesOf(ss))];
      const scope = { name: "", version: "" };
      for (const f of scopeParts) {
        if (f.n !== 1) continue;
        for (const g of fields(bytesOf(f))) {
          if (g.n === 1) scope.name = textOf(g);
          else if (g.n === 2) scope.version = textOf(g);
        }
      }
      for (const f of scopeParts) if (f.n === 2) out.push(protoSpan(bytesOf(f), scope, resource));
    }
  }
  return out;
}
