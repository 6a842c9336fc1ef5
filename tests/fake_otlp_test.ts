/**
 * @module
 * The fake OTLP receiver against the real thing: spans made through `@opentelemetry/api` in a child process with
 * `OTEL_DENO=true` and exported by Deno's own exporter, in both encodings; plus its decoding and deadline on their own.
 */
import assert from "node:assert/strict";
import { type OtlpSpan, startFakeOtlp } from "../testing/fake_otlp.ts";
import { ManualTimers } from "./manual_timers.ts";

const root = new URL("..", import.meta.url).pathname;

/** Runs `otel_span_script.ts` with Deno's OTel on, exporting to `endpoint`; its stdout line (the parent's ids). */
async function emit(endpoint: string, protocol: "http/json" | "http/protobuf", traceparent?: string) {
  // Only this test's OTel settings: none inherited from the machine (a TRACES_ENDPOINT would redirect the spans).
  const env = Object.fromEntries(Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("OTEL_")));
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    // No permissions: the exporter is the runtime's, not the script's.
    args: ["run", "--no-prompt", "tests/otel_span_script.ts", ...(traceparent ? [traceparent] : [])],
    cwd: root,
    clearEnv: true,
    env: { ...env, OTEL_DENO: "true", OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
  }).output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, err);
  return JSON.parse(new TextDecoder().decode(stdout).trim()) as { traceId: string; spanId: string };
}

const byName = (spans: OtlpSpan[], name: string) => spans.find((s) => s.name === name)!;

/** What both encodings must agree on (ids and times differ from run to run). */
const shape = (s: OtlpSpan) => ({
  name: s.name,
  kind: s.kind,
  attributes: s.attributes,
  attributeTypes: s.attributeTypes,
  duplicateAttributeKeys: s.duplicateAttributeKeys,
  events: s.events.map((e) => ({ name: e.name, attributes: e.attributes })),
  status: s.status,
  scope: s.scope,
  sampled: (s.flags & 0xff) === 1,
  serviceName: s.resource["service.name"],
});

Deno.test("fake OTLP receives Deno's http/json export of an @opentelemetry/api span tree from a child process", async () => {
  await using otlp = await startFakeOtlp();
  const ids = await emit(otlp.endpoint, "http/json");
  const spans = await otlp.waitForSpans(2);

  const parent = byName(spans, "chat demo-model");
  const attempt = byName(spans, "attempt demo-deployment");
  assert.equal(parent.protocol, "json");
  assert.deepEqual([parent.traceId, parent.spanId, parent.parentSpanId], [ids.traceId, ids.spanId, ""]);
  assert.equal(attempt.traceId, parent.traceId);
  assert.equal(attempt.parentSpanId, parent.spanId);
  assert.equal(parent.kind, "client");
  assert.equal(parent.attributes["gen_ai.provider.name"], "aws.bedrock");
  assert.deepEqual(parent.attributes["gen_ai.request.stop_sequences"], ["END", "STOP"]);
  assert.equal(parent.attributes["gen_ai.request.stream"], false);
  assert.equal(parent.attributes["gen_ai.usage.input_tokens"], 12);
  // Deno 2.9 sends every JS number as an OTLP double, integers included (see docs/observability.md).
  assert.equal(parent.attributeTypes["gen_ai.usage.input_tokens"], "double");
  assert.equal(parent.attributes["gen_ai.usage.output_tokens"], 34);
  assert.equal(parent.attributeTypes["gen_ai.usage.output_tokens"], "int");
  // Set twice: Deno sends both values (the last one wins in `attributes`).
  assert.deepEqual(parent.duplicateAttributeKeys, ["gen_ai.request.model"]);
  assert.equal(parent.attributes["gen_ai.request.model"], "demo-model-v2");
  assert.deepEqual(attempt.duplicateAttributeKeys, []);
  assert.deepEqual(parent.attributes["gen_ai.response.finish_reasons"], ["end_turn"]);
  assert.deepEqual(parent.events.map((e) => e.name), ["gen_ai.client.inference.operation.details"]);
  assert.deepEqual(parent.status, { code: "unset", message: "" });
  assert.deepEqual(attempt.status, { code: "error", message: "Too many requests" });
  assert.equal(attempt.attributes["error.type"], "ThrottlingException");
  assert.deepEqual(parent.scope, { name: "fake-otlp-test", version: "1.2.3" });
  assert.equal(parent.resource["process.runtime.name"], "deno");
  assert.ok(parent.endTimeUnixNano >= parent.startTimeUnixNano);
  assert.ok(otlp.requests.some((r) => r.path === "/v1/traces" && r.contentType === "application/json"));
  assert.ok(otlp.rawText().includes("demo-model"));
});

Deno.test("fake OTLP decodes Deno's http/protobuf export to the same spans as its http/json export", async () => {
  await using json = await startFakeOtlp();
  await using proto = await startFakeOtlp();
  await Promise.all([emit(json.endpoint, "http/json"), emit(proto.endpoint, "http/protobuf")]);
  const [fromJson, fromProto] = await Promise.all([json.waitForSpans(2), proto.waitForSpans(2)]);

  assert.ok(proto.requests.some((r) => r.path === "/v1/traces" && r.contentType === "application/x-protobuf"));
  assert.ok(fromProto.every((s) => s.protocol === "protobuf"));
  for (const name of ["chat demo-model", "attempt demo-deployment"]) {
    assert.deepEqual(shape(byName(fromProto, name)), shape(byName(fromJson, name)));
  }
  const parent = byName(fromProto, "chat demo-model");
  assert.equal(byName(fromProto, "attempt demo-deployment").parentSpanId, parent.spanId);
  assert.match(parent.traceId, /^[0-9a-f]{32}$/);
  assert.match(parent.spanId, /^[0-9a-f]{16}$/);
});

Deno.test("a span started from an extracted traceparent continues that trace", async () => {
  await using otlp = await startFakeOtlp();
  const traceId = "0af7651916cd43dd8448eb211c80319c", callerSpan = "b7ad6b7169203331";
  await emit(otlp.endpoint, "http/json", `00-${traceId}-${callerSpan}-01`);
  const parent = byName(await otlp.waitForSpans(2), "chat demo-model");
  assert.equal(parent.traceId, traceId);
  assert.equal(parent.parentSpanId, callerSpan);
});

Deno.test("waitForSpans rejects at its deadline, naming the spans that did arrive", async () => {
  const timers = new ManualTimers();
  await using otlp = await startFakeOtlp({ timers });
  await post(otlp.endpoint, "application/json", JSON.stringify(traceBody("only-one")));
  const waiting = otlp.waitForSpans(2, { timeoutMs: 5000 });
  assert.equal(timers.fire(5000), 1);
  await assert.rejects(waiting, /fake OTLP: 2 matching item\(s\) not received within 5000 ms; received: only-one/);
  assert.equal(timers.pending.size, 0);
});

Deno.test("waitForSpans resolves with spans that arrive after it was called, and clears its deadline", async () => {
  const timers = new ManualTimers();
  await using otlp = await startFakeOtlp({ timers });
  const waiting = otlp.waitForSpans(1, { where: (s) => s.name === "wanted" });
  await post(otlp.endpoint, "application/json", JSON.stringify(traceBody("other")));
  await post(otlp.endpoint, "application/json", JSON.stringify(traceBody("wanted")));
  assert.deepEqual((await waiting).map((s) => s.name), ["wanted"]);
  assert.equal(timers.pending.size, 0);
});

Deno.test("OTLP/JSON values decode to plain values with their wire types", async () => {
  await using otlp = await startFakeOtlp();
  const body = traceBody("typed", [
    { key: "i", value: { intValue: "9007199254740991" } },
    { key: "n", value: { intValue: 7 } },
    { key: "d", value: { doubleValue: 0.25 } },
    { key: "b", value: { boolValue: true } },
    { key: "a", value: { arrayValue: { values: [{ stringValue: "x" }, { intValue: "2" }] } } },
    { key: "kv", value: { kvlistValue: { values: [{ key: "inner", value: { stringValue: "v" } }] } } },
    { key: "bytes", value: { bytesValue: btoa("hi") } },
    { key: "empty", value: {} },
    { key: "d", value: { doubleValue: 0.5 } },
  ]);
  assert.equal((await post(otlp.endpoint, "application/json", JSON.stringify(body))).status, 200);
  const [span] = await otlp.waitForSpans(1);
  assert.deepEqual(
    { ...span.attributes, bytes: new TextDecoder().decode(span.attributes.bytes as Uint8Array) },
    { i: 9007199254740991, n: 7, d: 0.5, b: true, a: ["x", 2], kv: { inner: "v" }, bytes: "hi", empty: null },
  );
  assert.deepEqual(span.duplicateAttributeKeys, ["d"]);
  assert.deepEqual(span.attributeTypes, {
    i: "int",
    n: "int",
    d: "double",
    b: "bool",
    a: "array",
    kv: "kvlist",
    bytes: "bytes",
    empty: "empty",
  });
  assert.equal(span.kind, "server");
  assert.deepEqual(span.status, { code: "error", message: "boom" });
});

Deno.test("OTLP/protobuf values Deno never sends (kvlist, bytes, negative ints) decode too", async () => {
  await using otlp = await startFakeOtlp();
  // ExportTraceServiceRequest{resource_spans{scope_spans{scope{name}, spans{…}}}}, hand-encoded.
  const kv = (key: string, value: Uint8Array) => msg([1, str(key)], [2, value]);
  const attributes = [
    kv("neg", msg([3, varint(-5n)])),
    kv("bytes", msg([7, new Uint8Array([1, 2, 3])])),
    kv("kv", msg([6, msg([1, kv("inner", msg([1, str("v")]))])])),
    kv("dup", msg([2, varint(0n)])),
    kv("dup", msg([2, varint(1n)])),
  ];
  const span = msg(
    [1, new Uint8Array(16).fill(0xab)],
    [2, new Uint8Array(8).fill(0xcd)],
    [5, str("proto-typed")],
    [6, varint(2n)],
    ...attributes.map((a): [number, Uint8Array] => [9, a]),
    [15, msg([2, str("boom")], [3, varint(2n)])],
  );
  const body = msg([1, msg([2, msg([1, msg([1, str("hand")])], [2, span])])]);
  assert.equal((await post(otlp.endpoint, "application/x-protobuf", body)).status, 200);
  const [s] = await otlp.waitForSpans(1);
  assert.deepEqual(
    { name: s.name, kind: s.kind, traceId: s.traceId, spanId: s.spanId, scope: s.scope.name, status: s.status },
    {
      name: "proto-typed",
      kind: "server",
      traceId: "ab".repeat(16),
      spanId: "cd".repeat(8),
      scope: "hand",
      status: { code: "error", message: "boom" },
    },
  );
  assert.deepEqual({ ...s.attributes, bytes: [...(s.attributes.bytes as Uint8Array)] }, {
    neg: -5,
    bytes: [1, 2, 3],
    kv: { inner: "v" },
    dup: true,
  });
  assert.deepEqual(s.attributeTypes, { neg: "int", bytes: "bytes", kv: "kvlist", dup: "bool" });
  assert.deepEqual(s.duplicateAttributeKeys, ["dup"]);
});

/** Protobuf writing for the test above: length-delimited fields (wire type 2) whose values are bytes or varints. */
function msg(...fields: [number, Uint8Array][]): Uint8Array<ArrayBuffer> {
  const parts: number[] = [];
  for (const [n, value] of fields) {
    // A varint value is marked by `varint()` below; everything else is length-delimited.
    const isVarint = varints.has(value);
    parts.push(...varint(BigInt((n << 3) | (isVarint ? 0 : 2))));
    if (!isVarint) parts.push(...varint(BigInt(value.length)));
    parts.push(...value);
  }
  return new Uint8Array(parts);
}
const varints = new WeakSet<Uint8Array>();
function varint(v: bigint): Uint8Array {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    const b = Number(u & 0x7fn);
    u >>= 7n;
    out.push(u ? b | 0x80 : b);
  } while (u);
  const bytes = new Uint8Array(out);
  varints.add(bytes);
  return bytes;
}
const str = (s: string) => new TextEncoder().encode(s);

Deno.test("the receiver answers 400 to undecodable traces and 415 to other content types, keeping both", async () => {
  await using otlp = await startFakeOtlp();
  const bad = await post(otlp.endpoint, "application/x-protobuf", new Uint8Array([0x0a, 0xff]));
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /undecodable trace export: truncated/);
  const other = await post(otlp.endpoint, "text/plain", "hello");
  assert.equal(other.status, 415);
  await other.body?.cancel();
  assert.equal(otlp.spans.length, 0);
  assert.equal(otlp.requests.length, 2);
});

async function post(
  endpoint: string,
  contentType: string,
  body: string | Uint8Array<ArrayBuffer>,
  path = "/v1/traces",
) {
  const res = await fetch(endpoint + path, { method: "POST", headers: { "content-type": contentType }, body });
  if (res.status === 200) await res.body?.cancel();
  return res;
}

function traceBody(name: string, attributes: unknown[] = []) {
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "test" } }] },
      scopeSpans: [{
        scope: { name: "hand" },
        spans: [{
          traceId: "5B8EFFF798038103D269B633813FC60C",
          spanId: "EEE19B7EC3C1B174",
          name,
          kind: 2,
          startTimeUnixNano: "1544712660000000000",
          endTimeUnixNano: "1544712661000000000",
          attributes,
          status: { code: 2, message: "boom" },
        }],
      }],
    }],
  };
}
