import assert from "node:assert/strict";
import { EventStreamCodec, Int64, type MessageHeaders } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { Crc32 } from "@aws-crypto/crc32";
import {
  crc32,
  decodeStream,
  encodeEvent,
  encodeException,
  encodeMessage,
  EventStreamDecoder,
  EventStreamError,
  type EventStreamMessage,
  type HeaderValue,
} from "../wire/eventstream.ts";

const smithy = new EventStreamCodec(toUtf8, fromUtf8);
const enc = new TextEncoder();
const dec = new TextDecoder();

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string): Uint8Array =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (h) => parseInt(h, 16));
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
};
/** Deterministic PRNG (mulberry32) so "random" data and chunk sizes are reproducible. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** Copies payloads into fresh arrays so comparisons don't depend on view offsets. */
const norm = (msgs: EventStreamMessage[]) =>
  msgs.map((m) => ({ headers: m.headers, payload: Uint8Array.from(m.payload) }));

function decodeAll(stream: Uint8Array, chunkSizes: (i: number) => number): EventStreamMessage[] {
  const d = new EventStreamDecoder();
  const out: EventStreamMessage[] = [];
  let n = 0;
  for (let off = 0; off < stream.length; n++) {
    const size = chunkSizes(n);
    // slice (copy) so the decoder cannot rely on chunks being views of one buffer
    out.push(...d.push(stream.slice(off, off + size)));
    off += size;
  }
  assert.equal(d.pending, 0);
  return out;
}

function decodeOne(frame: Uint8Array): EventStreamMessage {
  const msgs = new EventStreamDecoder().push(frame);
  assert.equal(msgs.length, 1);
  return msgs[0];
}

/** Builds a frame with arbitrary header bytes and correct CRCs (for malformed-header tests). */
function rawFrame(headerBytes: Uint8Array, payload = new Uint8Array()): Uint8Array {
  const total = 16 + headerBytes.length + payload.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, total);
  dv.setUint32(4, headerBytes.length);
  dv.setUint32(8, crc32(out.subarray(0, 8)));
  out.set(headerBytes, 12);
  out.set(payload, 12 + headerBytes.length);
  dv.setUint32(total - 4, crc32(out.subarray(0, total - 4)));
  return out;
}

/** A 12-byte prelude with a valid CRC for the given lengths. */
function prelude(total: number, hlen: number): Uint8Array {
  const out = new Uint8Array(12);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, total);
  dv.setUint32(4, hlen);
  dv.setUint32(8, crc32(out.subarray(0, 8)));
  return out;
}

Deno.test("crc32 matches @aws-crypto/crc32 and chains via prev", () => {
  const rnd = prng(1);
  for (const len of [0, 1, 3, 8, 255, 4096]) {
    const data = Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256));
    const ref = new Crc32().update(data).digest();
    assert.equal(crc32(data), ref);
    const cut = Math.floor(len / 3);
    assert.equal(crc32(data.subarray(cut), crc32(data.subarray(0, cut))), ref);
  }
  assert.equal(crc32(enc.encode("123456789")), 0xcbf43926); // the standard CRC-32 check value
});

Deno.test("empty message test vector", () => {
  const b = encodeMessage({}, new Uint8Array());
  assert.equal(hex(b), "00000010" + "00000000" + "05c248eb" + "7d98c8ff");
  const m = decodeOne(b);
  assert.deepEqual(m.headers, {});
  assert.equal(m.payload.length, 0);
});

Deno.test("messageStop worked example from the reference (122 bytes)", () => {
  const h = (name: string, value: string) =>
    concat(Uint8Array.of(name.length), enc.encode(name), Uint8Array.of(7, 0, value.length), enc.encode(value));
  const expected = concat(
    unhex("0000007a 00000051 ca2c4665"),
    h(":event-type", "messageStop"),
    h(":content-type", "application/json"),
    h(":message-type", "event"),
    enc.encode('{"stopReason":"end_turn"}'),
    unhex("5fbf09fc"),
  );
  assert.equal(expected.length, 122);
  assert.deepEqual(encodeEvent("messageStop", { stopReason: "end_turn" }), expected);
  assert.deepEqual(
    encodeMessage(
      { ":event-type": "messageStop", ":content-type": "application/json", ":message-type": "event" },
      enc.encode('{"stopReason":"end_turn"}'),
    ),
    expected,
  );
  const m = decodeOne(expected);
  assert.deepEqual(m.headers, {
    ":event-type": "messageStop",
    ":content-type": "application/json",
    ":message-type": "event",
  });
  assert.equal(dec.decode(m.payload), '{"stopReason":"end_turn"}');
});

Deno.test("encodeException headers and payload", () => {
  const b = encodeException("throttlingException", { message: "slow down" });
  const m = decodeOne(b);
  assert.deepEqual(m.headers, {
    ":exception-type": "throttlingException",
    ":content-type": "application/json",
    ":message-type": "exception",
  });
  assert.deepEqual(JSON.parse(dec.decode(m.payload)), { message: "slow down" });
  const s = smithy.decode(b);
  assert.deepEqual(s.headers[":message-type"], { type: "string", value: "exception" });
});

Deno.test("smithy-encoded messages with every header type decode identically", () => {
  const ts = new Date(1_700_000_000_123);
  const headers: MessageHeaders = {
    t: { type: "boolean", value: true },
    f: { type: "boolean", value: false },
    byte: { type: "byte", value: -7 },
    byteMax: { type: "byte", value: 127 },
    short: { type: "short", value: -1234 },
    int: { type: "integer", value: -2_000_000_000 },
    intPos: { type: "integer", value: 2_147_483_647 },
    long: { type: "long", value: Int64.fromNumber(-9_007_199_254_740_991) },
    longPos: { type: "long", value: Int64.fromNumber(1234567890123) },
    bin: { type: "binary", value: Uint8Array.of(0, 1, 254, 255) },
    emptyBin: { type: "binary", value: new Uint8Array() },
    str: { type: "string", value: "héllo wörld ✓ — a longer non-ascii string to skip the fast path" },
    ascii: { type: "string", value: "application/json" },
    ts: { type: "timestamp", value: ts },
    uuid: { type: "uuid", value: "0a1b2c3d-4e5f-6789-abcd-ef0123456789" },
    ":event-type": { type: "string", value: "contentBlockDelta" },
  };
  const payload = enc.encode('{"contentBlockIndex":0,"delta":{"text":"Hi"}}');
  const bytes = smithy.encode({ headers, body: payload });
  const m = decodeOne(bytes);
  const expected: Record<string, HeaderValue> = {
    t: true,
    f: false,
    byte: -7,
    byteMax: 127,
    short: -1234,
    int: -2_000_000_000,
    intPos: 2_147_483_647,
    long: -9_007_199_254_740_991n,
    longPos: 1234567890123n,
    bin: Uint8Array.of(0, 1, 254, 255),
    emptyBin: new Uint8Array(),
    str: "héllo wörld ✓ — a longer non-ascii string to skip the fast path",
    ascii: "application/json",
    ts,
    uuid: "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    ":event-type": "contentBlockDelta",
  };
  assert.deepEqual(m.headers, expected);
  assert.deepEqual(Object.keys(m.headers), Object.keys(headers)); // wire order kept
  assert.deepEqual(Uint8Array.from(m.payload), payload);

  // and the decoded values agree with smithy's own decoding of the same bytes
  const s = smithy.decode(bytes);
  for (const [name, hv] of Object.entries(s.headers)) {
    const ours = m.headers[name];
    if (hv.type === "long") assert.equal(ours, BigInt(hv.value.toString()));
    else if (hv.type === "timestamp") assert.equal((ours as Date).getTime(), hv.value.getTime());
    else assert.deepEqual(ours, hv.value);
  }
});

Deno.test("our encodings decode with smithy and match smithy byte-for-byte", () => {
  const cases: [Record<string, string>, Uint8Array][] = [
    [{}, new Uint8Array()],
    [
      { ":event-type": "messageStart", ":content-type": "application/json", ":message-type": "event" },
      enc.encode(
        '{"role":"assistant","p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"}',
      ),
    ],
    [{ ":message-type": "error", ":error-code": "InternalFailure", ":error-message": "ünïcode ✓" }, new Uint8Array()],
    [{ big: "x".repeat(32_767) }, Uint8Array.from({ length: 100_000 }, (_, i) => i & 0xff)],
  ];
  for (const [headers, payload] of cases) {
    const ours = encodeMessage(headers, payload);
    const smithyHeaders: MessageHeaders = {};
    for (const [k, v] of Object.entries(headers)) smithyHeaders[k] = { type: "string", value: v };
    assert.deepEqual(ours, smithy.encode({ headers: smithyHeaders, body: payload }));
    const s = smithy.decode(ours);
    assert.deepEqual(s.headers, smithyHeaders);
    assert.deepEqual(Uint8Array.from(s.body), payload);
  }
  const ev = encodeEvent("metadata", { usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8 } });
  const s = smithy.decode(ev);
  assert.deepEqual(s.headers, {
    ":event-type": { type: "string", value: "metadata" },
    ":content-type": { type: "string", value: "application/json" },
    ":message-type": { type: "string", value: "event" },
  });
  assert.deepEqual(JSON.parse(toUtf8(s.body)), { usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8 } });
});

// A realistic stream, with the service's `p` padding field and one large frame.
const P = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const events: [string, unknown][] = [
  ["messageStart", { role: "assistant", p: P.slice(0, 9) }],
  ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Hi" }, p: P.slice(0, 36) }],
  ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: "é✓".repeat(5000) }, p: P }],
  ["contentBlockStop", { contentBlockIndex: 0, p: P.slice(0, 3) }],
  ["messageStop", { stopReason: "end_turn", p: P.slice(0, 17) }],
  ["metadata", { usage: { inputTokens: 10, outputTokens: 20, totalTokens: 30 }, metrics: { latencyMs: 42 }, p: "a" }],
];
const frames = events.map(([t, p]) => encodeEvent(t, p));
const stream = concat(...frames, encodeException("throttlingException", { message: "Too many requests" }));
const expected = norm(new EventStreamDecoder().push(stream));

Deno.test("expected stream messages are what was encoded", () => {
  assert.equal(expected.length, events.length + 1);
  events.forEach(([type, payload], i) => {
    assert.equal(expected[i].headers[":event-type"], type);
    assert.deepEqual(JSON.parse(dec.decode(expected[i].payload)), payload);
  });
  assert.equal(expected.at(-1)?.headers[":exception-type"], "throttlingException");
});

Deno.test("chunking: 1 byte at a time, odd sizes, random sizes, packed — all identical", () => {
  assert.deepEqual(norm(decodeAll(stream, () => 1)), expected);
  for (const size of [2, 7, 9, 11, 12, 13, 16, 4096]) {
    assert.deepEqual(norm(decodeAll(stream, () => size)), expected, `chunk size ${size}`);
  }
  const rnd = prng(42);
  for (let round = 0; round < 20; round++) {
    assert.deepEqual(norm(decodeAll(stream, () => 1 + Math.floor(rnd() * 300))), expected, `round ${round}`);
  }
  // frame-aligned chunks
  const d = new EventStreamDecoder();
  const aligned = frames.flatMap((f) => d.push(f));
  assert.equal(d.pending, 0);
  assert.deepEqual(norm(aligned), expected.slice(0, frames.length));
});

Deno.test("chunking: 3 frames packed in one chunk decode as views of that chunk (no copy)", () => {
  const chunk = concat(frames[0], frames[1], frames[4]);
  const d = new EventStreamDecoder();
  const msgs = d.push(chunk);
  assert.equal(d.pending, 0);
  assert.deepEqual(norm(msgs), [expected[0], expected[1], expected[4]]);
  for (const m of msgs) assert.equal(m.payload.buffer, chunk.buffer);
});

Deno.test("pending reports the partial frame and reaches 0 on a boundary", () => {
  const d = new EventStreamDecoder();
  assert.equal(d.pending, 0);
  assert.deepEqual(d.push(frames[1].subarray(0, 5)), []);
  assert.equal(d.pending, 5);
  assert.deepEqual(d.push(frames[1].subarray(5, 30)), []);
  assert.equal(d.pending, 30);
  const got = d.push(concat(frames[1].subarray(30), frames[2].subarray(0, 20)));
  assert.deepEqual(norm(got), [expected[1]]);
  assert.equal(d.pending, 20);
  assert.deepEqual(norm(d.push(frames[2].subarray(20))), [expected[2]]);
  assert.equal(d.pending, 0);
  assert.deepEqual(d.push(new Uint8Array()), []);
  assert.equal(d.pending, 0);
});

Deno.test("corruption: flipped payload byte → message CRC error (whole and chunked)", () => {
  const bad = frames[1].slice();
  bad[bad.length - 10] ^= 0x01;
  assert.throws(
    () => new EventStreamDecoder().push(bad),
    (e) => e instanceof EventStreamError && /message CRC/.test(e.message),
  );
  const d = new EventStreamDecoder();
  assert.throws(() => {
    for (let i = 0; i < bad.length; i++) d.push(bad.subarray(i, i + 1));
  }, EventStreamError);
  // the decoder stays failed: framing is lost
  assert.throws(() => d.push(frames[0]), EventStreamError);
  // flipping the message CRC itself is detected the same way
  const badCrc = frames[0].slice();
  badCrc[badCrc.length - 1] ^= 0x80;
  assert.throws(() => new EventStreamDecoder().push(badCrc), /message CRC/);
});

Deno.test("corruption: flipped prelude byte → prelude CRC error, before buffering the frame", () => {
  for (const pos of [0, 3, 5, 7, 9]) {
    const bad = frames[2].slice();
    bad[pos] ^= 0x04;
    assert.throws(
      () => new EventStreamDecoder().push(bad),
      (e) => e instanceof EventStreamError && /prelude CRC/.test(e.message),
    );
    // only the 12 prelude bytes are needed to detect it
    assert.throws(() => new EventStreamDecoder().push(bad.subarray(0, 12)), /prelude CRC/);
  }
});

Deno.test("limits: too short, oversized headers/payload, headers longer than frame", () => {
  const cases: [Uint8Array, RegExp][] = [
    [prelude(15, 0), /too short/],
    [prelude(0, 0), /too short/],
    [prelude(16 + 128 * 1024 + 1, 128 * 1024 + 1), /headers too large/],
    [prelude(16 + 24 * 1024 * 1024 + 1, 0), /payload too large/],
    [prelude(0xffffffff, 0), /payload too large/],
    [prelude(20, 5), /exceeds frame length/],
  ];
  for (const [pre, re] of cases) {
    assert.throws(() => new EventStreamDecoder().push(pre), (e) => e instanceof EventStreamError && re.test(e.message));
    // also when the prelude itself straddles chunks
    const d = new EventStreamDecoder();
    d.push(pre.subarray(0, 6));
    assert.throws(() => d.push(pre.subarray(6)), re);
  }
  // the largest allowed sizes are accepted at the prelude stage (frame then just pends)
  const d = new EventStreamDecoder();
  assert.deepEqual(d.push(prelude(16 + 128 * 1024 + 24 * 1024 * 1024, 128 * 1024)), []);
  assert.equal(d.pending, 12);

  assert.throws(() => encodeMessage({ h: "x".repeat(0x8000) }, new Uint8Array()), EventStreamError);
  assert.throws(() => encodeMessage({ ["n".repeat(256)]: "v" }, new Uint8Array()), EventStreamError);
  assert.throws(() => encodeMessage({}, new Uint8Array(24 * 1024 * 1024 + 1)), EventStreamError);
});

Deno.test("malformed headers with valid CRCs are rejected", () => {
  const name = (s: string) => concat(Uint8Array.of(s.length), enc.encode(s));
  const cases: [Uint8Array, RegExp][] = [
    [concat(name("abc"), Uint8Array.of(10)), /unknown .*header type 10/],
    [concat(name("abc"), Uint8Array.of(7, 0, 9), enc.encode("short")), /value truncated/],
    [concat(name("abc"), Uint8Array.of(4, 0, 0)), /value truncated/],
    [concat(name("abc"), Uint8Array.of(6, 0)), /value truncated/],
    [Uint8Array.of(9, 0x61, 0x62), /name truncated/],
    [name("abc"), /name truncated/], // no type byte
    [concat(name("a"), Uint8Array.of(0), name("a"), Uint8Array.of(1)), /duplicate/],
  ];
  for (const [hdrs, re] of cases) {
    assert.throws(
      () => new EventStreamDecoder().push(rawFrame(hdrs)),
      (e) => e instanceof EventStreamError && re.test(e.message),
    );
  }
  // "__proto__" becomes an own property, not a prototype swap
  const m = decodeOne(rawFrame(concat(name("__proto__"), Uint8Array.of(0))));
  assert.equal(Object.getPrototypeOf(m.headers), Object.prototype);
  assert.ok(Object.hasOwn(m.headers, "__proto__"));
  assert.deepEqual(Object.keys(m.headers), ["__proto__"]);
});

function sourceStream(chunks: Uint8Array[]): { body: ReadableStream<Uint8Array>; cancelled: () => unknown } {
  let i = 0;
  let cancelReason: unknown = undefined;
  let wasCancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (i < chunks.length) ctrl.enqueue(chunks[i++]);
      else ctrl.close();
    },
    cancel(reason) {
      wasCancelled = true;
      cancelReason = reason;
    },
  }, { highWaterMark: 0 });
  return { body, cancelled: () => wasCancelled ? cancelReason ?? true : false };
}

const chunked = (b: Uint8Array, size: number) =>
  Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.slice(i * size, (i + 1) * size));

Deno.test("decodeStream yields all messages and does not cancel a fully read source", async () => {
  const src = sourceStream(chunked(stream, 13));
  const got: EventStreamMessage[] = [];
  for await (const m of decodeStream(src.body)) got.push(m);
  assert.deepEqual(norm(got), expected);
  assert.equal(src.cancelled(), false);
  assert.equal(src.body.locked, false); // lock released so the body is reusable/inspectable
});

Deno.test("decodeStream cancels the source when the consumer breaks early", async () => {
  const src = sourceStream(chunked(stream, 7));
  const got: EventStreamMessage[] = [];
  for await (const m of decodeStream(src.body)) {
    got.push(m);
    if (got.length === 2) break;
  }
  assert.deepEqual(norm(got), expected.slice(0, 2));
  assert.notEqual(src.cancelled(), false);

  // explicit return() on the iterator does the same
  const src2 = sourceStream([stream]);
  const it = decodeStream(src2.body);
  assert.equal((await it.next()).done, false);
  await it.return?.();
  assert.notEqual(src2.cancelled(), false);
});

Deno.test("decodeStream: corrupt frame rejects and cancels; truncated stream rejects", async () => {
  const bad = stream.slice();
  bad[frames[0].length + 40] ^= 0xff; // inside the second frame
  const src = sourceStream(chunked(bad, 9));
  const got: EventStreamMessage[] = [];
  await assert.rejects(async () => {
    for await (const m of decodeStream(src.body)) got.push(m);
  }, EventStreamError);
  assert.equal(got.length, 1);
  assert.notEqual(src.cancelled(), false);

  const truncated = sourceStream([stream.slice(0, frames[0].length + 5)]);
  await assert.rejects(async () => {
    for await (const _ of decodeStream(truncated.body)) { /* drain */ }
  }, /ended mid-frame/);
});
