/**
 * @module
 * Reading a response body chunk by chunk without allocating a 64 KiB buffer per read.
 *
 * A `fetch` body in Deno is a byte stream over a native resource. Read with a default reader, every `read()`
 * auto-allocates a fresh 64 KiB buffer, however few bytes arrive: a Bedrock event stream arrives as hundreds of
 * ~100-byte events, so relaying one cost ~64 KiB of garbage per event and most of the relay's CPU went to
 * allocating and collecting it (measured with `deno task bench`, see docs/benchmarks.md). Here one buffer is
 * read into again and again (a BYOB reader) and each chunk is copied out at its exact size, because the copy is
 * handed on (enqueued to the client) while the buffer is reused. The buffer starts at 16 KiB (a waiting stream
 * holds it, so a thousand idle streams hold 16 MiB, not 64) and doubles up to 64 KiB, Deno's own read size,
 * whenever a read fills it. Streams that are not byte streams (e.g. a `Response` built from a JS `ReadableStream`,
 * as tests inject) are read with a default reader, unchanged.
 */

const FIRST_READ_SIZE = 16 * 1024;
/** Same as Deno's own auto-allocation, so large transfers read as before. */
const MAX_READ_SIZE = 64 * 1024;

export interface ChunkReader {
  /** The next chunk (a fresh array the caller owns), or `done`. */
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /** Cancels the stream (releases the connection). */
  cancel(reason?: unknown): Promise<void>;
}

export function chunkReader(body: ReadableStream<Uint8Array>): ChunkReader {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    const reader = body.getReader();
    return { read: () => reader.read(), cancel: (reason) => reader.cancel(reason) };
  }
  let buffer: ArrayBuffer | undefined;
  let size = FIRST_READ_SIZE;
  return {
    async read() {
      // The read transfers (detaches) `buffer`; a successful one hands it back as the result's buffer.
      const lent = buffer ?? new ArrayBuffer(size);
      buffer = undefined;
      const result = await byob.read(new Uint8Array(lent));
      if (result.done) return { done: true, value: undefined };
      const filled = result.value.byteLength === lent.byteLength;
      if (filled && size < MAX_READ_SIZE) size *= 2; // next read gets a fresh, larger buffer
      else buffer = result.value.buffer as ArrayBuffer;
      return { done: false, value: result.value.slice() };
    },
    cancel: (reason) => byob.cancel(reason),
  };
}
