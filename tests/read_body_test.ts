/**
 * `readBody`: a declared length is checked before anything is read, a streamed body (no content-length) is counted
 * as it arrives and cut off at the limit, a request without a body reads as empty, and a body sent in tiny chunks
 * costs heap for its bytes, not for its chunks (with or without the front door's watch).
 */
import assert from "node:assert/strict";
import { GatewayError } from "../server/core/errors.ts";
import { readBody } from "../server/api/body.ts";
import type { BodyWatch } from "../server/api/body_watch.ts";

const encoder = new TextEncoder();

function streamed(chunks: string[]): Request {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(encoder.encode(chunk));
      c.close();
    },
  });
  return new Request("http://gw/bedrock/model/m/converse", { method: "POST", body, duplex: "half" } as RequestInit);
}

Deno.test("readBody: declared length within the limit is read whole; over it is a 413 before any read", async () => {
  // A Request built in-process has no content-length header of its own: set it as a client's would arrive.
  const ok = new Request("http://gw/x", { method: "POST", body: '{"a":1}', headers: { "content-length": "7" } });
  assert.equal(new TextDecoder().decode(await readBody(ok, 10)), '{"a":1}');
  const big = new Request("http://gw/x", { method: "POST", body: "x".repeat(11), headers: { "content-length": "11" } });
  await assert.rejects(readBody(big, 10), (e) => e instanceof GatewayError && e.status === 413);
  assert.equal(big.bodyUsed, false, "refused on its content-length, unread");
});

Deno.test("readBody: a streamed body is joined across chunks, and cut off with a 413 past the limit", async () => {
  assert.equal(new TextDecoder().decode(await readBody(streamed(['{"a":', "1}"]), 10)), '{"a":1}');
  assert.equal(new TextDecoder().decode(await readBody(streamed(["one chunk"]), 10)), "one chunk");
  await assert.rejects(
    readBody(streamed(["12345", "67890", "1"]), 10),
    (e) => e instanceof GatewayError && e.status === 413 && e.type === "ValidationException",
  );
});

Deno.test("readBody: no body reads as empty", async () => {
  assert.equal((await readBody(new Request("http://gw/x", { method: "POST" }), 10)).byteLength, 0);
});

Deno.test("readBody: a large declared body is read into one buffer of its length, bytes intact", async () => {
  const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) & 0xff);
  const req = new Request("http://gw/x", {
    method: "POST",
    body: big,
    headers: { "content-length": String(big.length) },
  });
  const got = await readBody(req, 10 * 1024 * 1024);
  assert.equal(got.byteLength, big.byteLength);
  assert.equal(got.buffer.byteLength, big.byteLength, "one buffer of the declared length");
  assert.deepEqual(got, big);
});

const TINY_CHUNKS = 300_000;

/** A body of `TINY_CHUNKS` one-byte chunks (byte i is `i & 0xff`), pulled one at a time; optionally declared. */
function oneByteChunks(declared: boolean): Request {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent < TINY_CHUNKS) c.enqueue(new Uint8Array([sent++ & 0xff]));
      else c.close();
    },
  }, { highWaterMark: 0 });
  const headers: HeadersInit = declared ? { "content-length": String(TINY_CHUNKS) } : {};
  return new Request("http://gw/x", { method: "POST", body, headers, duplex: "half" } as RequestInit);
}

/** Heap growth from before the read to its end (the body returned still held), with its bytes checked. */
async function heapForTinyChunks(declared: boolean, watch?: BodyWatch): Promise<number> {
  const before = Deno.memoryUsage().heapUsed;
  const bytes = await readBody(oneByteChunks(declared), 20 * 1024 * 1024, { watch });
  const growth = Deno.memoryUsage().heapUsed - before;
  assert.equal(bytes.byteLength, TINY_CHUNKS);
  for (let i = 0; i < TINY_CHUNKS; i += 9973) assert.equal(bytes[i], i & 0xff);
  return growth;
}

Deno.test("readBody: a body read in one-byte chunks under a watch costs no more heap than without (no race per read)", async () => {
  const held: Array<() => void> = []; // like the front door's reading: `cut` stays reachable while the body is read
  const watch: BodyWatch = {
    start(cut) {
      held.push(cut);
      return { received() {}, done() {} };
    },
  };
  const plain = await heapForTinyChunks(true);
  const watched = await heapForTinyChunks(true, watch);
  const extra = watched - plain;
  assert.ok(
    extra < 8 * 1024 * 1024,
    `${(extra / 1e6).toFixed(0)} MB more heap for ${TINY_CHUNKS} one-byte chunks read under a watch ` +
      `(${(plain / 1e6).toFixed(0)} MB without): ~${Math.round(extra / TINY_CHUNKS)} bytes per chunk`,
  );
});

Deno.test("readBody: a streamed body of one-byte chunks is gathered into blocks: heap for its bytes, not per chunk", async () => {
  // Kept as 300,000 arrays of one byte it would take tens of MB (an object per chunk); gathered, about its size.
  const growth = await heapForTinyChunks(false);
  assert.ok(growth < 8 * 1024 * 1024, `${(growth / 1e6).toFixed(1)} MB of heap for ${TINY_CHUNKS} bytes`);
});

Deno.test("readBody: a cut just after a chunk arrived (no read pending) is a 408 at the next read, the rest left unread", async () => {
  let cut!: () => void;
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      pulls++;
      c.enqueue(new Uint8Array(20_000));
      if (pulls === 1) cut(); // cut while the reader handles this chunk
    },
  }, { highWaterMark: 0 });
  const req = new Request("http://gw/x", { method: "POST", body, duplex: "half" } as RequestInit);
  const watch: BodyWatch = {
    start(c) {
      cut = c;
      return { received() {}, done() {} };
    },
  };
  await assert.rejects(
    readBody(req, 1024 * 1024, { watch }),
    (e) => e instanceof GatewayError && e.status === 408 && e.type === "RequestTimeoutException",
  );
  assert.ok(pulls <= 2, `${pulls} chunks pulled after the cut`);
});
