/**
 * @module
 * Reading a request body with a size cap, before anything else looks at it, so an oversized upload is refused
 * with a 413 without being buffered whole. With a {@link BodyLease} the bytes are also reserved against the budget
 * of all bodies in flight (a 503 when it is spent: a declared length before any read, a streamed body as it
 * arrives), and a large body waits for its turn to be validated.
 */
import { GatewayError } from "../core/errors.ts";
import type { BodyLease } from "./body_budget.ts";

const tooLarge = (limit: number) =>
  new GatewayError(413, "ValidationException", `request body exceeds the gateway limit of ${limit} bytes`, {
    litellmType: "request_too_large",
  });

/** From this size on, a body with a declared length is read into one buffer of that length. */
const LARGE_BODY = 1024 * 1024;

/**
 * Reads a body of a known length into one buffer of that length. `arrayBuffer()` gathers the chunks and then copies
 * them into a second buffer: for ten 20 MiB bodies at once that is ~200 MiB held twice at the peak.
 */
async function readInto(req: Request, length: number): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(length);
  let offset = 0;
  const reader = req.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    // The runtime holds a body to its declared length; this only guards the copy.
    if (offset + value.byteLength > length) {
      reader.cancel().catch(() => {});
      throw new GatewayError(400, "ValidationException", "request body is longer than its Content-Length");
    }
    out.set(value, offset);
    offset += value.byteLength;
  }
  return offset === length ? out : out.subarray(0, offset);
}

export async function readBody(req: Request, limit: number, lease?: BodyLease): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = await readWithin(req, limit, lease);
  if (lease) await lease.turn(bytes.byteLength);
  return bytes;
}

async function readWithin(req: Request, limit: number, lease?: BodyLease): Promise<Uint8Array<ArrayBuffer>> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (declared !== null) lease?.reserve(Number(declared));
  // With a declared length within the limit the runtime enforces it, so one read is enough. Checked before
  // `req.body`: reading that property builds the body's ReadableStream, and the read then goes through it, several
  // times slower (docs/benchmarks.md).
  if (declared !== null) {
    const length = Number(declared);
    return length >= LARGE_BODY ? await readInto(req, length) : new Uint8Array(await req.arrayBuffer());
  }
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  const reader = req.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    try {
      lease?.reserve(value.byteLength);
    } catch (e) {
      reader.cancel().catch(() => {});
      throw e;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
