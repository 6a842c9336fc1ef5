/**
 * Review (billing exactly once, shutdown): `endStreams()` (the end of a shutdown's drain) aborts the relay's
 * `shutdown` signal, whose handler only flags `stopping` and stops the upstream (`server/calls/stream_relay.ts`,
 * `onShutdown`); the stream is ended, and the call settled, only by the relay's next `pull`. A client that is not
 * reading (its socket full, or simply slow) never asks for one, so its call is still unsettled when the gateway closes
 * its ledger and exits: Bedrock's answer is never billed. `scripts/review/never_read_shutdown.ts` shows it with the
 * real CLI and SIGTERM (no row, no spend). This is the same at the unit level, deterministic.
 * Fails on main; passes once the shutdown settles a stream at once (billing its estimate) whether or not it is read.
 */
import assert from "node:assert/strict";
import { encodeEvent } from "../wire/eventstream.ts";
import { relayStream } from "../server/calls/stream_relay.ts";
import type { CallRecord } from "../server/core/call_record.ts";

const delta = (text: string) => encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text } });

Deno.test("review: a shutdown settles a stream whose client is not reading", async () => {
  const frames = [encodeEvent("messageStart", { role: "assistant" }), delta("Hello"), delta(" world")];
  const upstream = new ReadableStream<Uint8Array>({
    pull(c) {
      const next = frames.shift();
      if (next) c.enqueue(next);
    },
  }, { highWaterMark: 0 });
  const record: CallRecord = {
    requestId: "r",
    callType: "converse-stream",
    modelName: "claude",
    caller: {},
    startTime: 0,
    endTime: 0,
    status: "failure",
    httpStatus: 200,
    retries: 0,
  };
  const finished: CallRecord[] = [];
  const client = new AbortController();
  const shutdown = new AbortController();
  const upstreamAbort = new AbortController();
  const response = relayStream(upstream, {}, {
    record,
    clientSignal: client.signal,
    upstreamAbort,
    onClientAbort: () => {},
    finish: () => finished.push({ ...record }),
    storeResponse: false,
    idleTimeoutMs: 0,
    inputEstimate: 100,
    shutdown: shutdown.signal,
  });
  const reader = response.body!.getReader();
  await reader.read(); // messageStart relayed; the client reads nothing more (no pull is pending)
  shutdown.abort(); // endStreams(): the drain is over
  await new Promise((r) => setTimeout(r, 0)); // one turn of the event loop
  const settledAtShutdown = finished.length;
  await reader.cancel(); // the connection goes (here, after the ledger would have closed)
  assert.equal(settledAtShutdown, 1, "the call was not settled by the shutdown: only the client's leaving settles it");
  assert.equal(finished[0].usageEstimated, true);
  assert.equal(finished.length, 1);
});
