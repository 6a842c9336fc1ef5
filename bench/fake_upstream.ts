/**
 * @module
 * A fast fake Bedrock Runtime for benchmarks, run as its own process (`deno run -A bench/fake_upstream.ts`) so it
 * never shares an event loop with what is measured. Unlike `testing/fake_bedrock.ts` it checks no signature and
 * scripts nothing: every answer is pre-encoded once at start-up, so its per-request cost is the floor of a Deno
 * HTTP server.
 *
 * `POST /model/{id}/converse` → a fixed Converse JSON answer. `POST /model/{id}/converse-stream` → an event stream
 * chosen by the model id:
 * - `bench.fixed`: 500 events (messageStart, 497 contentBlockDelta, messageStop, metadata), one chunk per event.
 * - `bench.gated`: the first event at once, the other 499 only after `POST /__release` (or 30 s): a proxy that
 *   buffers cannot deliver the first event before the release, so seeing it first proves relaying is unbuffered.
 *   The first event also goes out alone (the stream then waits), so its arrival time is the time to first event
 *   a client sees from a model, not the time Deno takes to flush a burst of queued events.
 * - `bench.big-{MiB}`: about that many MiB of 16 KiB contentBlockDelta events, then messageStop and metadata.
 *
 * Prints `listening {port}` on stdout once serving. `--port N` (default 0: any free port).
 */
import { encodeEvent } from "../wire/eventstream.ts";

export const STREAM_EVENTS = 500;
const GATE_CAP_MS = 30_000;
const BIG_TEXT = "x".repeat(16 * 1024);

const encoder = new TextEncoder();

/** The fixed Converse answer (208 bytes); `in_process.ts` and `hot_path_bench.ts` answer with it too. */
export const CONVERSE_ANSWER = JSON.stringify({
  output: { message: { role: "assistant", content: [{ text: "Hello from the benchmark fake." }] } },
  stopReason: "end_turn",
  usage: { inputTokens: 12, outputTokens: 7, totalTokens: 19 },
  metrics: { latencyMs: 1 },
});
const CONVERSE_BODY = encoder.encode(CONVERSE_ANSWER);

const metadataEvent = (outputTokens: number) =>
  encodeEvent("metadata", {
    usage: { inputTokens: 12, outputTokens, totalTokens: 12 + outputTokens },
    metrics: { latencyMs: 1 },
  });

/** The 500 frames of the standard stream, encoded once. */
const FIXED_FRAMES: Uint8Array[] = (() => {
  const deltas = STREAM_EVENTS - 3;
  const frames = [encodeEvent("messageStart", { role: "assistant" })];
  for (let i = 0; i < deltas; i++) {
    frames.push(encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text: ` tok${i}` } }));
  }
  frames.push(encodeEvent("messageStop", { stopReason: "end_turn" }), metadataEvent(deltas));
  return frames;
})();

const BIG_DELTA = encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text: BIG_TEXT } });

/**
 * Held streams wait here until `/__release`. A release opens every stream started before it, including one that
 * has not reached its gate yet (the client may release as soon as it sees the first event).
 */
let releases = 0;
const gates: Array<() => void> = [];

function releaseAll(): number {
  releases++;
  const n = gates.length;
  for (const open of gates.splice(0)) open();
  return n;
}

function gate(startedAt: number): Promise<void> {
  if (releases > startedAt) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, GATE_CAP_MS);
    gates.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function frameStream(frames: () => Iterator<Uint8Array>, gateAfterFirst: boolean): ReadableStream<Uint8Array> {
  const it = frames();
  const startedAt = releases;
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (gateAfterFirst && sent === 1) await gate(startedAt);
      const next = it.next();
      if (next.done) controller.close();
      else {
        sent++;
        controller.enqueue(next.value);
      }
    },
  }, { highWaterMark: 0 });
}

function* bigFrames(mib: number): Iterator<Uint8Array> {
  const count = Math.max(1, Math.round(mib * 1024 * 1024 / BIG_DELTA.byteLength));
  yield FIXED_FRAMES[0];
  for (let i = 0; i < count; i++) yield BIG_DELTA;
  yield FIXED_FRAMES[FIXED_FRAMES.length - 2];
  yield metadataEvent(count);
}

const STREAM_HEADERS = { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "bench" };
const JSON_HEADERS = { "content-type": "application/json", "x-amzn-requestid": "bench" };

async function handle(req: Request): Promise<Response> {
  const url = req.url;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const path = url.slice(pathStart);
  if (path === "/__release") return Response.json({ released: releaseAll() });
  // Read the body like a real server would (and so the connection can be reused).
  await req.arrayBuffer();
  if (path.endsWith("/converse")) return new Response(CONVERSE_BODY, { headers: JSON_HEADERS });
  if (path.endsWith("/converse-stream")) {
    const model = decodeURIComponent(path.slice("/model/".length, path.lastIndexOf("/")));
    if (model.startsWith("bench.big-")) {
      const mib = Number(model.slice("bench.big-".length));
      return new Response(frameStream(() => bigFrames(mib), false), { headers: STREAM_HEADERS });
    }
    return new Response(frameStream(() => FIXED_FRAMES[Symbol.iterator](), model === "bench.gated"), {
      headers: STREAM_HEADERS,
    });
  }
  return new Response(`{"message":"no route ${path}"}`, { status: 404, headers: JSON_HEADERS });
}

if (import.meta.main) {
  const portArg = Deno.args.indexOf("--port");
  const port = portArg >= 0 ? Number(Deno.args[portArg + 1]) : 0;
  Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => console.log(`listening ${port}`),
  }, handle);
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}
