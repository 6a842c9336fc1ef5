/**
 * Review 2: `readBody` with a body watch (fixdoor, C1) races every chunk read against the body's one "cut" promise
 * (`orCut` → `Promise.race([reader.read(), slow])`). That promise stays pending while the body is read, and the front
 * door's reading keeps it reachable (`cut`), so each race leaves a reaction on it: ~400 bytes of heap per chunk,
 * whatever the chunk's size, until the body ends or is cut. A client sending a body as 1-byte chunks (HTTP/1.1 chunked
 * `1\r\nx\r\n`, h2 DATA frames) turns each wire byte into ~100 heap bytes the in-flight budget never counts (it counts
 * payload bytes). Bounded here: 300,000 one-byte chunks from an in-memory stream, a declared length so no chunk is
 * kept once half has arrived; the heap is compared with the same read without a watch.
 */
import assert from "node:assert/strict";
import { readBody } from "../server/api/body.ts";
import type { BodyWatch } from "../server/api/body_watch.ts";

const CHUNKS = 300_000;

function oneByteChunks(): Request {
  let sent = 0;
  const one = new Uint8Array([0x78]);
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent++ < CHUNKS) c.enqueue(one.slice());
      else c.close();
    },
  }, { highWaterMark: 0 });
  return new Request("http://x/", {
    method: "POST",
    body,
    headers: { "content-length": String(CHUNKS) },
  });
}

/** Heap growth from before the read to its end (the watch, if any, still holding the body's `cut`). */
async function growth(watch: BodyWatch | undefined): Promise<number> {
  const before = Deno.memoryUsage().heapUsed;
  const bytes = await readBody(oneByteChunks(), 20 * 1024 * 1024, { watch });
  assert.equal(bytes.byteLength, CHUNKS);
  return Deno.memoryUsage().heapUsed - before;
}

Deno.test("review2 body chunks: reading a body in tiny chunks under a watch takes no more memory than without", async () => {
  const held: Array<() => void> = []; // like the front door's Reading: `cut` reachable while the body is read
  const watch: BodyWatch = {
    start(cut) {
      held.push(cut);
      return { received() {}, done() {} };
    },
  };
  const plain = await growth(undefined);
  const watched = await growth(watch);
  const extra = watched - plain;
  assert.ok(
    extra < 32 * 1024 * 1024,
    `${(extra / 1e6).toFixed(0)} MB more heap for ${CHUNKS} bytes read under a watch (${(plain / 1e6).toFixed(0)} MB ` +
      `without): ~${Math.round(extra / CHUNKS)} bytes per chunk`,
  );
});
