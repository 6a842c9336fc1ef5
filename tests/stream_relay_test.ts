/**
 * Unit tests of the stream relay and its tap, with a scripted upstream (the test decides every chunk) and manual
 * clock (the test moves time, fires a stall by hand and checks that no timer is left armed). No network, no sleeps.
 */
import assert from "node:assert/strict";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { encodeEvent, encodeException, encodeMessage } from "../wire/eventstream.ts";
import type { WatchdogClock } from "../server/calls/watchdog.ts";
import { awaitFirstChunk, relayStream } from "../server/calls/stream_relay.ts";
import { exceptionName, StreamTap } from "../server/calls/stream_tap.ts";
import type { CallRecord } from "../server/core/call_record.ts";

const smithy = new EventStreamCodec(toUtf8, fromUtf8);

// ------------------------------------------------------------------ fixtures

/** An upstream body the test feeds by hand; counts the relay's reads and sees its cancel. */
class ScriptedUpstream {
  readonly stream: ReadableStream<Uint8Array>;
  pulls = 0;
  cancelReason: unknown = undefined;
  cancelled = false;
  #controller!: ReadableStreamDefaultController<Uint8Array>;

  /** `available`: chunks handed out one per read, like a socket that already has them; more can be pushed. */
  constructor(opts: { erroredBy?: AbortSignal; available?: Uint8Array[] } = {}) {
    const available = [...(opts.available ?? [])];
    this.stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: (c) => {
        this.pulls++;
        for (const resolve of this.#onPull.splice(0)) resolve();
        const next = available.shift();
        if (next) c.enqueue(next);
      },
      cancel: (reason) => {
        this.cancelled = true;
        this.cancelReason = reason;
      },
    }, { highWaterMark: 0 });
    // Like fetch: aborting the request errors its body.
    opts.erroredBy?.addEventListener("abort", () => this.error(opts.erroredBy!.reason), { once: true });
  }

  #onPull: Array<() => void> = [];

  /** Resolves when the relay next waits on this upstream with nothing available to read. */
  nextPull(): Promise<void> {
    return new Promise((resolve) => this.#onPull.push(resolve));
  }

  push(...chunks: Uint8Array[]): void {
    for (const c of chunks) this.#controller.enqueue(c);
  }

  end(): void {
    this.#controller.close();
  }

  error(e: unknown): void {
    try {
      this.#controller.error(e);
    } catch { /* already closed */ }
  }
}

/** A clock whose time moves only when the test says so; `fire()` jumps to the armed timer's deadline. */
class ManualClock implements WatchdogClock {
  time = 0;
  readonly active = new Map<number, { due: number; fn: () => void }>();
  armed = 0;
  #next = 1;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.active.set(id, { due: this.time + ms, fn });
    this.armed++;
    return id;
  }

  clearTimeout(id: unknown): void {
    this.active.delete(id as number);
  }

  /** Lets time pass up to the one armed timer's deadline, and runs it. */
  fire(): void {
    assert.equal(this.active.size, 1, "exactly one timer is armed");
    const [[id, { due, fn }]] = [...this.active];
    this.active.delete(id);
    this.time = Math.max(this.time, due);
    fn();
  }
}

function newRecord(): CallRecord {
  return {
    requestId: "req-1",
    callType: "converse-stream",
    modelName: "claude",
    caller: {},
    startTime: 0,
    endTime: 0,
    status: "failure",
    httpStatus: 200,
    retries: 0,
  };
}

interface Harness {
  upstream: ScriptedUpstream;
  timers: ManualClock;
  record: CallRecord;
  finished: CallRecord[];
  client: AbortController;
  upstreamAbort: AbortController;
  response: Response;
  reader: ReadableStreamDefaultReader<Uint8Array>;
}

interface RelayOptions {
  idleTimeoutMs?: number;
  /** Input tokens estimated from the request (billed, with the output relayed, when the client leaves mid-way). */
  inputEstimate?: number;
  /** Receives the read that goes on after the client left. */
  background?: (task: Promise<void>) => void;
  storeResponse?: boolean;
  /** Abort errors the upstream body, like fetch does. */
  upstreamErrorsOnAbort?: boolean;
  available?: Uint8Array[];
  /** Aborts when the gateway stops (`endStreams()`). */
  shutdown?: AbortSignal;
  /** Longest wait for the client to ask for the next chunk (`stream_send_timeout_ms`). */
  sendTimeoutMs?: number;
}

function relay(opts: RelayOptions = {}): Harness {
  const client = new AbortController();
  const upstreamAbort = new AbortController();
  const upstream = new ScriptedUpstream({
    erroredBy: opts.upstreamErrorsOnAbort ? upstreamAbort.signal : undefined,
    available: opts.available,
  });
  const timers = new ManualClock();
  const record = newRecord();
  const finished: CallRecord[] = [];
  const onClientAbort = () => upstreamAbort.abort(new DOMException("client disconnected", "AbortError"));
  client.signal.addEventListener("abort", onClientAbort, { once: true });
  const response = relayStream(upstream.stream, { "x-amzn-requestid": "up-1" }, {
    record,
    clientSignal: client.signal,
    upstreamAbort,
    onClientAbort,
    finish: () => finished.push({ ...record }),
    storeResponse: opts.storeResponse ?? false,
    idleTimeoutMs: opts.idleTimeoutMs ?? 1000,
    clock: timers,
    inputEstimate: opts.inputEstimate,
    usageGraceMs: 5000,
    background: opts.background,
    shutdown: opts.shutdown,
    sendTimeoutMs: opts.sendTimeoutMs,
  });
  return { upstream, timers, record, finished, client, upstreamAbort, response, reader: response.body!.getReader() };
}

const usageEvent = (u: Record<string, number>) => encodeEvent("metadata", { usage: u, metrics: { latencyMs: 3 } });
const START = encodeEvent("messageStart", { role: "assistant" });
const delta = (text: string) => encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text } });
const STREAM = [
  START,
  delta("Hello"),
  delta(" world"),
  encodeEvent("contentBlockStop", { contentBlockIndex: 0 }),
  encodeEvent("messageStop", { stopReason: "end_turn" }),
  usageEvent({ inputTokens: 11, outputTokens: 2, totalTokens: 1013, cacheReadInputTokens: 1000 }),
];
const USAGE = {
  inputTokens: 11,
  outputTokens: 2,
  totalTokens: 1013,
  cacheReadInputTokens: 1000,
  cacheWriteInputTokens: 0,
};

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

function decodeFrames(bytes: Uint8Array) {
  const out = [];
  for (let off = 0; off < bytes.length;) {
    const total = new DataView(bytes.buffer, bytes.byteOffset + off, 4).getUint32(0);
    const m = smithy.decode(bytes.subarray(off, off + total));
    out.push({
      headers: Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, v.value])),
      payload: JSON.parse(toUtf8(m.body)),
    });
    off += total;
  }
  return out;
}

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
  return out;
}

// ------------------------------------------------------------------ relaying

Deno.test("relay: chunks pass through unchanged, one upstream read per client read, nothing read ahead", async () => {
  // Every chunk is available at once, so a relay that read ahead would pull more than the client asked for.
  const h = relay({ available: STREAM });
  assert.equal(h.response.status, 200);
  assert.equal(h.response.headers.get("content-type"), "application/vnd.amazon.eventstream");
  assert.equal(h.response.headers.get("x-amzn-requestid"), "up-1");
  await Promise.resolve();
  assert.equal(h.upstream.pulls, 0, "nothing is read before the client asks");
  for (let i = 0; i < STREAM.length; i++) {
    const r = await h.reader.read();
    assert.equal(r.value, STREAM[i], "the very same chunk object, not a copy");
    assert.equal(h.upstream.pulls, i + 1);
  }
  const waiting = h.upstream.nextPull();
  const end = h.reader.read();
  await waiting;
  h.upstream.end();
  assert.equal((await end).done, true);
  assert.equal(h.finished.length, 1);
  assert.equal(h.record.status, "success");
  assert.deepEqual(h.record.usage, USAGE);
  assert.equal(h.record.incomplete, undefined);
  assert.equal(h.timers.armed, 1, "one idle timer for the whole stream, not one per chunk");
  assert.equal(h.timers.active.size, 0, "and it was cleared at the end");
  assert.equal(h.client.signal.aborted, false);
});

Deno.test("relay: frames fed 1 byte at a time, and all packed in one chunk, are metered the same", async () => {
  const bytes = concat(STREAM);
  for (
    const chunks of [Array.from(bytes, (b) => Uint8Array.of(b)), [bytes.slice()], [bytes.slice(0, 5), bytes.slice(5)]]
  ) {
    const h = relay();
    h.upstream.push(...chunks);
    h.upstream.end();
    const got = await drain(h.reader);
    assert.deepEqual(concat(got), bytes);
    assert.equal(got.length, chunks.length, "chunk boundaries are kept, not re-assembled");
    assert.deepEqual(h.record.usage, USAGE);
    assert.equal(h.record.status, "success");
    assert.equal(h.finished.length, 1);
  }
});

Deno.test("relay: three frames packed into one chunk, the rest split across chunks", async () => {
  const packed = concat(STREAM.slice(0, 3));
  const rest = concat(STREAM.slice(3));
  const h = relay();
  h.upstream.push(packed, rest.slice(0, 7), rest.slice(7, 50), rest.slice(50));
  h.upstream.end();
  assert.deepEqual(concat(await drain(h.reader)), concat([packed, rest]));
  assert.deepEqual(h.record.usage, USAGE);
});

Deno.test("relay: an upstream exception frame is relayed untouched and recorded as a failure", async () => {
  const h = relay();
  const exception = encodeException("throttlingException", { message: "Too many tokens" });
  h.upstream.push(START, delta("Hi"), exception);
  h.upstream.end();
  const got = await drain(h.reader);
  assert.deepEqual(concat(got), concat([START, delta("Hi"), exception]));
  assert.equal(h.record.status, "failure");
  assert.equal(h.record.errorType, "ThrottlingException");
  assert.equal(h.record.errorMessage, "Too many tokens");
  assert.equal(h.record.incomplete, true);
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: an exception event mid-stream is billed the estimate, like a stream the gateway cuts", async () => {
  const h = relay({ inputEstimate: 40 });
  h.upstream.push(START, delta("Hello"), encodeException("modelStreamErrorException", { message: "boom" }));
  h.upstream.end();
  await drain(h.reader);
  assert.equal(h.record.status, "failure");
  assert.equal(h.record.errorType, "ModelStreamErrorException");
  assert.equal(h.record.usageEstimated, true);
  assert.deepEqual(h.record.usage, {
    inputTokens: 40,
    outputTokens: 2, // "Hello" relayed
    totalTokens: 42,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: an upstream that ends cleanly mid-generation: an internalServerException frame, a failure, the estimate billed", async () => {
  const h = relay({ inputEstimate: 40 });
  h.upstream.push(START, delta("Hello"));
  h.upstream.end();
  const frames = decodeFrames(concat(await drain(h.reader)));
  assert.deepEqual(frames.map((f) => f.headers[":event-type"] ?? f.headers[":exception-type"]), [
    "messageStart",
    "contentBlockDelta",
    "internalServerException",
  ]);
  assert.match(frames[2].payload.message, /ended before the answer was complete/);
  assert.equal(h.record.status, "failure");
  assert.equal(h.record.errorType, "InternalServerException");
  assert.equal(h.record.incomplete, true);
  assert.equal(h.record.usageEstimated, true);
  assert.equal(h.record.usage?.inputTokens, 40);
  assert.equal(h.record.usage?.outputTokens, 2);
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: an upstream that ends after messageStop without its usage event ends as Bedrock's did, billed the estimate", async () => {
  const h = relay({ inputEstimate: 40 });
  const frames = STREAM.slice(0, 5); // up to messageStop, no metadata
  h.upstream.push(...frames);
  h.upstream.end();
  assert.deepEqual(concat(await drain(h.reader)), concat(frames));
  assert.equal(h.record.status, "success");
  assert.equal(h.record.incomplete, true);
  assert.equal(h.record.usageEstimated, true);
  assert.equal(h.record.usage?.inputTokens, 40);
  assert.equal(h.record.usage?.outputTokens, 3); // "Hello world": 11 characters
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: an unmodeled `error` frame is recorded with its code and message", async () => {
  const h = relay();
  h.upstream.push(
    START,
    encodeMessage(
      { ":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom" },
      new Uint8Array(),
    ),
  );
  h.upstream.end();
  await drain(h.reader);
  assert.equal(h.record.status, "failure");
  assert.equal(h.record.errorType, "InternalFailure");
  assert.equal(h.record.errorMessage, "boom");
});

Deno.test("relay: a stream that is not parseable is still relayed byte-exact; the record says so", async () => {
  const h = relay();
  const junk = new TextEncoder().encode("this is not an event stream at all, just text");
  h.upstream.push(junk, STREAM[0]);
  h.upstream.end();
  assert.deepEqual(concat(await drain(h.reader)), concat([junk, STREAM[0]]));
  assert.match(h.record.errorMessage ?? "", /not parseable/);
  assert.equal(h.record.incomplete, true);
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: an upstream that ends inside a frame is relayed as is and recorded as an incomplete failure", async () => {
  const h = relay();
  h.upstream.push(START, STREAM[1].slice(0, 9));
  h.upstream.end();
  assert.deepEqual(concat(await drain(h.reader)), concat([START, STREAM[1].slice(0, 9)]));
  assert.equal(h.record.status, "failure");
  assert.equal(h.record.incomplete, true);
  assert.match(h.record.errorMessage ?? "", /mid-frame \(9 bytes/);
});

Deno.test("relay: prompts stored → the streamed text becomes the response body", async () => {
  const h = relay({ storeResponse: true });
  h.upstream.push(...STREAM);
  h.upstream.end();
  await drain(h.reader);
  assert.equal(h.record.responseBody, "Hello world");
  const off = relay();
  off.upstream.push(...STREAM);
  off.upstream.end();
  await drain(off.reader);
  assert.equal(off.record.responseBody, undefined);
});

// ------------------------------------------------------------------ stalls

Deno.test("relay: a mid-stream stall appends an internalServerException frame, aborts the upstream, clears timers", async () => {
  const h = relay({ idleTimeoutMs: 250 });
  h.upstream.push(START, delta("Hi"));
  const got = [(await h.reader.read()).value!, (await h.reader.read()).value!];
  const armed = h.upstream.nextPull();
  const waiting = h.reader.read(); // the upstream has nothing more: the idle timer is armed
  await armed;
  h.timers.fire();
  const frame = (await waiting).value!;
  assert.equal((await h.reader.read()).done, true);
  const [decoded] = decodeFrames(frame);
  assert.deepEqual(decoded.headers, {
    ":exception-type": "internalServerException",
    ":content-type": "application/json",
    ":message-type": "exception",
  });
  assert.match(decoded.payload.message, /stalled: no data for 250 ms/);
  assert.deepEqual(Object.keys(decoded.payload), ["message"]);
  assert.deepEqual(concat(got), concat([START, delta("Hi")]));
  // The upstream request is aborted and its body cancelled.
  assert.equal(h.upstreamAbort.signal.aborted, true);
  assert.equal((h.upstreamAbort.signal.reason as DOMException).name, "TimeoutError");
  assert.equal(h.upstream.cancelled, true);
  assert.equal(h.record.status, "failure");
  assert.equal(h.record.errorType, "InternalServerException");
  assert.match(h.record.errorMessage ?? "", /stream_timeout/);
  assert.equal(h.record.incomplete, true);
  assert.equal(h.finished.length, 1);
  assert.equal(h.timers.active.size, 0);
});

Deno.test("relay: a stall mid-generation bills the estimate of what Bedrock generated before the cut", async () => {
  const h = relay({ idleTimeoutMs: 250, inputEstimate: 50 });
  h.upstream.push(START, delta("Hello, wonderful"));
  await h.reader.read();
  await h.reader.read();
  const armed = h.upstream.nextPull();
  const waiting = h.reader.read();
  await armed;
  h.timers.fire();
  await waiting;
  assert.equal(h.record.status, "failure");
  assert.equal(h.record.usageEstimated, true);
  assert.deepEqual(h.record.usage, {
    inputTokens: 50,
    outputTokens: 4, // 16 characters relayed
    totalTokens: 54,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: a stall also ends a stream whose upstream body errors on abort (like fetch)", async () => {
  const h = relay({ upstreamErrorsOnAbort: true });
  h.upstream.push(START);
  await h.reader.read();
  const armed = h.upstream.nextPull();
  const waiting = h.reader.read();
  await armed;
  h.timers.fire();
  const [decoded] = decodeFrames((await waiting).value!);
  assert.equal(decoded.headers[":exception-type"], "internalServerException");
  assert.equal((await h.reader.read()).done, true);
  assert.equal(h.record.errorType, "InternalServerException");
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: a stall inside a frame cannot carry a frame; the client's stream is broken off", async () => {
  const h = relay();
  h.upstream.push(START, STREAM[1].slice(0, 20));
  await h.reader.read();
  await h.reader.read();
  const armed = h.upstream.nextPull();
  const waiting = h.reader.read();
  await armed;
  h.timers.fire();
  await assert.rejects(waiting, (e: DOMException) => e.name === "TimeoutError");
  assert.equal(h.record.status, "failure");
  assert.equal(h.record.errorType, "InternalServerException");
  assert.equal(h.upstream.cancelled, true);
  assert.equal(h.finished.length, 1);
  assert.equal(h.timers.active.size, 0);
});

Deno.test("relay: a stall after the metadata event just ends the stream; the call succeeded", async () => {
  const h = relay();
  h.upstream.push(...STREAM);
  for (let i = 0; i < STREAM.length; i++) await h.reader.read();
  const armed = h.upstream.nextPull();
  const waiting = h.reader.read();
  await armed;
  h.timers.fire();
  assert.equal((await waiting).done, true);
  assert.equal(h.record.status, "success");
  assert.deepEqual(h.record.usage, USAGE);
  assert.equal(h.upstreamAbort.signal.aborted, true, "the idle upstream connection is still released");
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: a slow client is not a stalled upstream; idle time counts from the start of each wait", async () => {
  const h = relay({ idleTimeoutMs: 1000 });
  h.upstream.push(START);
  await h.reader.read(); // t=0: the first wait arms the timer (due 1000); the data was already there
  h.timers.fire(); // t=1000 while the client holds back: nobody waits on upstream, so no stall and no re-arm
  assert.equal(h.timers.active.size, 0);
  assert.equal(h.upstreamAbort.signal.aborted, false);

  h.timers.time = 1500;
  const pulled = h.upstream.nextPull();
  const waiting = h.reader.read(); // a wait from t=1500 arms a timer due at 2500
  await pulled;
  h.timers.time = 2200; // data after 700 ms
  h.upstream.push(delta("b"));
  assert.deepEqual((await waiting).value, delta("b"));

  const pulled2 = h.upstream.nextPull();
  const waiting2 = h.reader.read(); // a new wait from t=2200; the timer due at 2500 is still armed
  await pulled2;
  h.timers.fire(); // t=2500: only 300 ms into this wait, so it is re-armed for the remaining 700
  assert.equal(h.upstreamAbort.signal.aborted, false);
  assert.equal(h.timers.active.size, 1);
  h.timers.fire(); // t=3200: this wait reached 1000 ms
  assert.equal(h.timers.time, 3200);
  const [frame] = decodeFrames((await waiting2).value!);
  assert.equal(frame.headers[":exception-type"], "internalServerException");
  assert.equal(h.upstreamAbort.signal.aborted, true);
  assert.equal(h.finished.length, 1);
  assert.equal(h.timers.active.size, 0);
  assert.equal(h.timers.armed, 3);
});

Deno.test("relay: a shutdown ends a stream whose client is not reading at once: settled, billed, a frame left for a reader", async () => {
  const shutdown = new AbortController();
  const h = relay({ inputEstimate: 100, shutdown: shutdown.signal });
  h.upstream.push(START, delta("Hello"));
  await h.reader.read(); // messageStart relayed; the client asks for nothing more
  shutdown.abort(); // endStreams(): the drain is over
  assert.equal(h.finished.length, 1, "settled by the shutdown itself, not by a read that never comes");
  assert.equal(h.finished[0].status, "failure");
  assert.equal(h.finished[0].errorType, "ServiceUnavailableException");
  assert.equal(h.finished[0].usageEstimated, true);
  assert.equal(h.finished[0].usage?.inputTokens, 100);
  assert.equal(h.upstreamAbort.signal.aborted, true);
  assert.equal(h.timers.active.size, 0);
  // A client that reads again gets a well-formed exception, then the end.
  const [frame] = decodeFrames((await h.reader.read()).value!);
  assert.equal(frame.headers[":exception-type"], "serviceUnavailableException");
  assert.equal((await h.reader.read()).done, true);
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: a shutdown after the usage event ends the stream as a success, billed the exact usage", async () => {
  const shutdown = new AbortController();
  const h = relay({ inputEstimate: 100, shutdown: shutdown.signal });
  h.upstream.push(...STREAM);
  for (let i = 0; i < STREAM.length; i++) await h.reader.read();
  shutdown.abort(); // the upstream had not closed yet
  assert.equal(h.finished.length, 1);
  assert.equal(h.record.status, "success");
  assert.deepEqual(h.record.usage, USAGE);
  assert.equal(h.record.usageEstimated, undefined);
  assert.equal((await h.reader.read()).done, true);
});

Deno.test("relay: a client that takes nothing for stream_send_timeout_ms is cut: upstream stopped, its stream errored, billed", async () => {
  const h = relay({ inputEstimate: 50, idleTimeoutMs: 0, sendTimeoutMs: 30_000 });
  h.upstream.push(START, delta("Hello"), delta(" world"));
  await h.reader.read(); // t=0: the wait for the client's next read starts (its timer due at 30,000)
  h.timers.time = 20_000;
  await h.reader.read(); // a slow client, still within the limit: its wait starts again at 20,000
  h.timers.fire(); // t=30,000: only 10,000 into this wait, re-armed for the rest
  assert.equal(h.upstreamAbort.signal.aborted, false);
  assert.equal(h.finished.length, 0);
  h.timers.fire(); // t=50,000: 30,000 without a read
  assert.equal(h.timers.time, 50_000);
  assert.equal(h.upstreamAbort.signal.aborted, true);
  assert.equal((h.upstreamAbort.signal.reason as DOMException).name, "TimeoutError");
  assert.equal(h.upstream.cancelled, true);
  await assert.rejects(h.reader.read(), (e: DOMException) => e.name === "TimeoutError");
  assert.equal(h.finished.length, 1);
  assert.equal(h.record.status, "client_disconnected");
  assert.match(h.record.errorMessage ?? "", /did not read the stream for 30000 ms/);
  assert.equal(h.record.usageEstimated, true);
  assert.deepEqual(h.record.usage, {
    inputTokens: 50,
    outputTokens: 2, // "Hello" relayed; " world" never read from upstream
    totalTokens: 52,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
  assert.equal(h.timers.active.size, 0);
});

Deno.test("relay: the send timeout never counts time spent waiting on upstream", async () => {
  const h = relay({ idleTimeoutMs: 0, sendTimeoutMs: 1000 });
  h.upstream.push(START);
  await h.reader.read(); // t=0: the client's wait starts; timer due at 1000
  const pulled = h.upstream.nextPull();
  const waiting = h.reader.read(); // the client asks: now the relay waits on upstream, not on the client
  await pulled;
  h.timers.fire(); // t=1000, the relay still waiting on Bedrock: not the client's fault, nothing cut
  assert.equal(h.upstreamAbort.signal.aborted, false);
  assert.equal(h.timers.active.size, 0, "no timer while nobody waits on the client");
  h.upstream.push(...STREAM.slice(1));
  h.upstream.end();
  assert.deepEqual((await waiting).value, STREAM[1]);
  await drain(h.reader);
  assert.equal(h.record.status, "success");
  assert.equal(h.finished.length, 1);
  assert.equal(h.timers.active.size, 0);
});

Deno.test("relay: an idle timeout of 0 (mock streams) arms no timer", async () => {
  const h = relay({ idleTimeoutMs: 0 });
  h.upstream.push(...STREAM);
  h.upstream.end();
  await drain(h.reader);
  assert.equal(h.timers.armed, 0);
});

// ------------------------------------------------------------------ broken upstream, client gone

Deno.test("relay: an upstream that breaks on a frame boundary ends with an internalServerException frame", async () => {
  const h = relay();
  h.upstream.push(START);
  await h.reader.read();
  const waiting = h.reader.read();
  h.upstream.error(new TypeError("connection reset"));
  const [decoded] = decodeFrames((await waiting).value!);
  assert.equal(decoded.headers[":exception-type"], "internalServerException");
  assert.match(decoded.payload.message, /broke off mid-way \(TypeError\)/);
  assert.equal((await h.reader.read()).done, true);
  assert.equal(h.record.status, "failure");
  assert.equal(h.finished.length, 1);
  assert.equal(h.timers.active.size, 0);
});

Deno.test("relay: an upstream that breaks inside a frame errors the client's stream", async () => {
  const h = relay();
  h.upstream.push(START.slice(0, 10));
  await h.reader.read();
  const waiting = h.reader.read();
  const cause = new TypeError("connection reset");
  h.upstream.error(cause);
  await assert.rejects(waiting, (e) => e === cause);
  assert.equal(h.record.status, "failure");
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: the client cancelling mid-stream cancels the upstream at once and records client_disconnected", async () => {
  const h = relay();
  const metadataFirst = usageEvent({ inputTokens: 7, outputTokens: 1, totalTokens: 8 });
  h.upstream.push(metadataFirst);
  await h.reader.read();
  const armed = h.upstream.nextPull();
  const waiting = h.reader.read(); // pending upstream read, idle timer armed
  await armed;
  assert.equal(h.timers.active.size, 1);
  await h.reader.cancel(new DOMException("client went away", "AbortError"));
  assert.equal((await waiting).done, true);
  assert.equal(h.upstream.cancelled, true);
  assert.equal(h.upstreamAbort.signal.aborted, true);
  assert.equal(h.record.status, "client_disconnected");
  assert.deepEqual(h.record.usage, {
    inputTokens: 7,
    outputTokens: 1,
    totalTokens: 8,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
  assert.equal(h.finished.length, 1);
  assert.equal(h.timers.active.size, 0, "no timer survives the client");
});

Deno.test("relay: the client's request signal aborting mid-read is recorded once as client_disconnected", async () => {
  const h = relay({ upstreamErrorsOnAbort: true });
  h.upstream.push(START);
  await h.reader.read();
  const armed = h.upstream.nextPull();
  const waiting = h.reader.read();
  await armed;
  h.client.abort();
  assert.equal((await waiting).done, true, "the client's stream is closed: nobody reads it any more");
  await h.reader.cancel().catch(() => {}); // what the server does next; must not record twice
  assert.equal(h.record.status, "client_disconnected");
  assert.equal(h.record.incomplete, true);
  assert.equal(h.finished.length, 1);
  assert.equal(h.timers.active.size, 0);
});

Deno.test("relay: the client listener is removed when the stream ends", async () => {
  const h = relay();
  h.upstream.push(...STREAM);
  h.upstream.end();
  await drain(h.reader);
  h.client.abort(); // after the end: nothing may happen any more
  assert.equal(h.upstreamAbort.signal.aborted, false);
  assert.equal(h.record.status, "success");
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: the client leaving after messageStop: read on (relaying nothing) and billed the exact usage", async () => {
  const tasks: Promise<void>[] = [];
  const h = relay({ inputEstimate: 50, background: (task) => tasks.push(task) });
  h.upstream.push(...STREAM.slice(0, 5)); // through messageStop
  for (let i = 0; i < 5; i++) await h.reader.read();
  const armed = h.upstream.nextPull();
  const waiting = h.reader.read(); // the relay waits on the upstream for the metadata event
  await armed;
  await h.reader.cancel(new DOMException("client went away", "AbortError"));
  assert.equal((await waiting).done, true);
  assert.equal(tasks.length, 1, "a read goes on in the background");
  assert.equal(h.upstreamAbort.signal.aborted, false, "the upstream is not stopped");
  assert.equal(h.finished.length, 0, "not accounted before its usage");
  assert.equal(h.timers.active.size, 2, "the idle watchdog and the usage grace");
  h.upstream.push(STREAM[5]);
  h.upstream.end();
  await tasks[0];
  assert.equal(h.finished.length, 1);
  assert.equal(h.record.status, "client_disconnected");
  assert.deepEqual(h.record.usage, USAGE);
  assert.equal(h.record.usageEstimated, undefined);
  assert.equal(h.record.incomplete, undefined);
  assert.equal(h.timers.active.size, 0, "no timer left");
});

Deno.test("relay: no usage event within the grace after the client left: the upstream is stopped, an estimate billed", async () => {
  const tasks: Promise<void>[] = [];
  const h = relay({ inputEstimate: 50, idleTimeoutMs: 0, background: (task) => tasks.push(task) });
  h.upstream.push(...STREAM.slice(0, 5));
  for (let i = 0; i < 5; i++) await h.reader.read();
  await h.reader.cancel();
  assert.equal(tasks.length, 1);
  h.timers.fire(); // 5 s pass without the metadata event
  await tasks[0];
  assert.equal(h.upstreamAbort.signal.aborted, true);
  assert.match((h.upstreamAbort.signal.reason as DOMException).message, /no usage event within 5000 ms/);
  assert.equal(h.record.status, "client_disconnected");
  assert.equal(h.record.usageEstimated, true);
  assert.equal(h.record.incomplete, true);
  // 50 input tokens estimated from the request; "Hello" + " world" relayed: 11 characters, 3 tokens.
  assert.deepEqual(h.record.usage, {
    inputTokens: 50,
    outputTokens: 3,
    totalTokens: 53,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
  assert.equal(h.finished.length, 1);
  assert.equal(h.timers.active.size, 0);
});

Deno.test("relay: the client leaving mid-generation stops the upstream at once and bills input and relayed output", async () => {
  const h = relay({ inputEstimate: 50, background: () => assert.fail("no read goes on mid-generation") });
  h.upstream.push(START, delta("Hello, wonderful"));
  await h.reader.read();
  await h.reader.read();
  await h.reader.cancel();
  assert.equal(h.upstreamAbort.signal.aborted, true);
  assert.equal(h.upstream.cancelled, true);
  assert.equal(h.record.usageEstimated, true);
  assert.deepEqual(h.record.usage, {
    inputTokens: 50,
    outputTokens: 4, // 16 characters
    totalTokens: 54,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  });
  assert.equal(h.finished.length, 1);
});

Deno.test("relay: without an input estimate (streams that bill nothing) a hang-up bills nothing", async () => {
  const h = relay();
  h.upstream.push(START, delta("Hello"));
  await h.reader.read();
  await h.reader.read();
  await h.reader.cancel();
  assert.equal(h.record.usage, undefined);
  assert.equal(h.record.usageEstimated, undefined);
});

Deno.test("tap: Anthropic chunks: message_start's input, deltas' output, generation ended at the stop reason", () => {
  const record = newRecord();
  const tap = new StreamTap(record, { keepText: false, usageFrom: "invocationMetrics" });
  const chunk = (event: object) => encodeEvent("chunk", { bytes: btoa(JSON.stringify(event)) });
  tap.push(chunk({
    type: "message_start",
    message: { usage: { input_tokens: 900, cache_read_input_tokens: 100, output_tokens: 1 } },
  }));
  tap.push(chunk({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "12345678" } }));
  tap.push(
    chunk({ type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"a":1}' } }),
  );
  assert.equal(tap.generationEnded, false);
  assert.deepEqual(tap.estimatedUsage(7), {
    inputTokens: 900,
    outputTokens: 4, // 8 + 7 characters
    totalTokens: 1004,
    cacheReadInputTokens: 100,
    cacheWriteInputTokens: 0,
  });
  tap.push(chunk({ type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 12 } }));
  assert.equal(tap.generationEnded, true);
  assert.equal(tap.estimatedUsage(7).outputTokens, 12, "Anthropic's own running count when it is more");
  assert.equal(tap.sawMetadata, false);
});

// ------------------------------------------------------------------ first byte

Deno.test("awaitFirstChunk: waits for the first byte, then replays it and streams the rest", async () => {
  const upstream = new ScriptedUpstream();
  const head = new Response(upstream.stream, { status: 200, headers: { "x-amzn-requestid": "r" } });
  const primed = awaitFirstChunk(head);
  let resolved = false;
  primed.then(() => resolved = true);
  await Promise.resolve();
  upstream.push(new Uint8Array()); // an empty chunk is not a first byte
  await Promise.resolve();
  assert.equal(resolved, false);
  upstream.push(STREAM[0]);
  const { response: res } = await primed;
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-amzn-requestid"), "r");
  upstream.push(STREAM[1]);
  upstream.end();
  assert.deepEqual(concat(await drain(res.body!.getReader())), concat([STREAM[0], STREAM[1]]));
});

Deno.test("awaitFirstChunk: error responses pass untouched; a failing first read rejects; cancel reaches upstream", async () => {
  const err = new Response('{"message":"no"}', { status: 429 });
  assert.equal((await awaitFirstChunk(err)).response, err);

  const broken = new ScriptedUpstream();
  const pending = awaitFirstChunk(new Response(broken.stream));
  broken.error(new DOMException("timed out", "TimeoutError"));
  await assert.rejects(pending, (e: DOMException) => e.name === "TimeoutError");

  const upstream = new ScriptedUpstream();
  upstream.push(STREAM[0]);
  const { response: res } = await awaitFirstChunk(new Response(upstream.stream));
  await res.body!.cancel("bye");
  assert.equal(upstream.cancelled, true);
  assert.equal(upstream.cancelReason, "bye");
});

Deno.test("awaitFirstChunk: an abort ends the wait with its reason and cancels a body that ignores the signal", async () => {
  const upstream = new ScriptedUpstream(); // never sends, never looks at any signal
  const attempt = new AbortController();
  const pending = awaitFirstChunk(new Response(upstream.stream), attempt.signal);
  await upstream.nextPull(); // waiting for the first byte
  const reason = new DOMException("timed out", "TimeoutError");
  attempt.abort(reason);
  await assert.rejects(pending, (e) => e === reason);
  assert.equal(upstream.cancelled, true);
  assert.equal(upstream.cancelReason, reason);

  const late = new ScriptedUpstream();
  const aborted = new AbortController();
  aborted.abort(new DOMException("client disconnected", "AbortError"));
  await assert.rejects(
    awaitFirstChunk(new Response(late.stream), aborted.signal),
    (e: DOMException) => e.name === "AbortError",
  );
  assert.equal(late.cancelled, true);
});

Deno.test("awaitFirstChunk → relayStream: the relay reads the upstream directly, starting with the first chunk", async () => {
  const upstream = new ScriptedUpstream({ available: STREAM });
  const primed = await awaitFirstChunk(new Response(upstream.stream));
  assert.equal(upstream.pulls, 1);
  const record = newRecord();
  const finished: CallRecord[] = [];
  const upstreamAbort = new AbortController();
  const timers = new ManualClock();
  const response = relayStream(primed.upstream!, {}, {
    record,
    clientSignal: new AbortController().signal,
    upstreamAbort,
    onClientAbort: () => {},
    finish: () => finished.push({ ...record }),
    storeResponse: false,
    idleTimeoutMs: 1000,
    clock: timers,
  });
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.equal(first.value, STREAM[0], "the first chunk itself, not a copy through the wrapper");
  assert.equal(upstream.pulls, 1, "the first chunk needs no upstream read");
  assert.equal(timers.armed, 0, "nor an idle wait");
  for (let i = 1; i < STREAM.length; i++) {
    assert.equal((await reader.read()).value, STREAM[i]);
    assert.equal(upstream.pulls, i + 1, "one upstream read per client read");
  }
  const end = reader.read();
  await upstream.nextPull();
  upstream.end();
  assert.equal((await end).done, true);
  assert.equal(finished.length, 1);
  assert.equal(record.status, "success");
  assert.deepEqual(record.usage, USAGE);
  assert.equal(timers.active.size, 0);

  // The client leaving right after the first chunk cancels the upstream through the reader the relay took over.
  const second = new ScriptedUpstream({ available: STREAM });
  const res = relayStream((await awaitFirstChunk(new Response(second.stream))).upstream!, {}, {
    record: newRecord(),
    clientSignal: new AbortController().signal,
    upstreamAbort: new AbortController(),
    onClientAbort: () => {},
    finish: () => {},
    storeResponse: false,
    idleTimeoutMs: 0,
  });
  const r = res.body!.getReader();
  assert.equal((await r.read()).value, STREAM[0]);
  await r.cancel("bye");
  assert.equal(second.cancelled, true);
  assert.equal(second.cancelReason, "bye");
});

// ------------------------------------------------------------------ the tap alone

Deno.test("tap: exception member names become exception classes", () => {
  assert.equal(exceptionName("throttlingException"), "ThrottlingException");
  assert.equal(exceptionName("modelStreamErrorException"), "ModelStreamErrorException");
});

Deno.test("tap: a metadata event without usage leaves the call incomplete; a second tap is independent", () => {
  const record = newRecord();
  const tap = new StreamTap(record, { keepText: false });
  tap.push(encodeEvent("metadata", { metrics: { latencyMs: 1 } }));
  assert.equal(tap.atFrameBoundary, true);
  tap.close();
  assert.equal(record.incomplete, true);
  assert.equal(record.usage, undefined);
});
