/**
 * `chunkReader`: byte streams (what `fetch` bodies are) are read into one reused buffer and every chunk comes out
 * as its own copy; other streams are read as they are.
 */
import assert from "node:assert/strict";
import { chunkReader } from "../server/calls/chunk_reader.ts";

const bytes = (...xs: number[]) => new Uint8Array(xs);

/** A byte stream that serves the given chunks, one per pull (like a socket delivering packets). */
function byteStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++].slice());
      else {
        controller.close();
        controller.byobRequest?.respond(0); // a byte source ends a pending BYOB read this way
      }
    },
  });
}

Deno.test("chunkReader: a byte stream's chunks arrive in order, each an exact-size copy that stays intact", async () => {
  const reader = chunkReader(byteStream([bytes(1, 2, 3), bytes(4), bytes(5, 6)]));
  const got: Uint8Array[] = [];
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    got.push(r.value);
  }
  // Were the chunks views of the reused buffer, later reads would have overwritten the earlier ones.
  assert.deepEqual(got, [bytes(1, 2, 3), bytes(4), bytes(5, 6)]);
  assert.deepEqual(got.map((c) => c.buffer.byteLength), [3, 1, 2]);
});

Deno.test("chunkReader: a fetch body (a native byte stream) is read whole and unchanged", async () => {
  const payload = new Uint8Array(200_000).map((_, i) => i % 251);
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(payload));
  const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  const reader = chunkReader(res.body!);
  const parts: Uint8Array[] = [];
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    assert.ok(r.value.byteLength <= 64 * 1024);
    parts.push(r.value);
  }
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    joined.set(p, offset);
    offset += p.byteLength;
  }
  assert.deepEqual(joined, payload);
});

Deno.test("chunkReader: bodies of Responses built from strings, bytes and blobs are read whole", async () => {
  for (const body of ["hello", new Uint8Array(100_000).fill(7), new Blob(["abc"])]) {
    const expected = new Uint8Array(await new Response(body).arrayBuffer());
    const reader = chunkReader(new Response(body).body!);
    const parts: number[] = [];
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(...r.value);
    }
    assert.deepEqual(new Uint8Array(parts), expected);
  }
});

Deno.test("chunkReader: a stream that is not a byte stream is read with a default reader", async () => {
  const chunks = [bytes(9), bytes(8, 7)];
  const reader = chunkReader(ReadableStream.from(chunks));
  assert.deepEqual(await reader.read(), { done: false, value: chunks[0] });
  assert.deepEqual(await reader.read(), { done: false, value: chunks[1] });
  assert.equal((await reader.read()).done, true);
});

Deno.test("chunkReader: cancel reaches the source", async () => {
  let cancelled: unknown;
  const reader = chunkReader(
    new ReadableStream({
      type: "bytes",
      pull(controller) {
        controller.enqueue(bytes(1));
      },
      cancel(reason) {
        cancelled = reason;
      },
    }),
  );
  await reader.read();
  await reader.cancel("client gone");
  assert.equal(cancelled, "client gone");
});
