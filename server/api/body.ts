/**
 * @module
 * Reading a request body with a size cap, before anything else looks at it, so an oversized upload is refused
 * with a 413 without being buffered whole. With a {@link BodyLease} the bytes are also reserved against the budget
 * of all bodies in flight (a 503 when it is spent), as they arrive: a small body's declared length before it is read,
 * any other body chunk by chunk, so a client that declares 20 MiB and sends nothing holds nothing. A large body also
 * waits for its turn to be validated. With a {@link BodyWatch} (the CLI's front door gives one) a body that arrives
 * too slowly is cut with a 408.
 *
 * Memory follows the bytes, not the chunks: a body sent a byte at a time (HTTP/1.1 chunks of one byte, h2 DATA frames)
 * costs no promise, closure or array per chunk. Small chunks are copied into blocks, and a cut is one callback set up
 * per body (it releases the reader, so the pending read fails) rather than a race on every read.
 */
import { GatewayError } from "../core/errors.ts";
import type { BodyLease } from "./body_budget.ts";
import type { BodyReading, BodyWatch } from "./body_watch.ts";

const tooLarge = (limit: number) =>
  new GatewayError(413, "ValidationException", `request body exceeds the gateway limit of ${limit} bytes`, {
    litellmType: "request_too_large",
  });

/** `RequestTimeoutException`: a transient error the AWS SDKs retry. */
const tooSlow = () =>
  new GatewayError(
    408,
    "RequestTimeoutException",
    "The request body arrived too slowly (general_settings.body_timeout_ms, body_min_bytes_per_second)",
    { litellmType: "timeout" },
  );

/**
 * Bodies declared smaller than this are read in one `arrayBuffer()` with their length reserved up front: the fast
 * path (a few KiB of Converse JSON), and a bound on what a stalled body can reserve. Larger ones are read chunk by
 * chunk, reserved as they arrive.
 */
const SMALL_BODY = 64 * 1024;
/** Chunks smaller than this are copied into blocks of this size, so each kept array holds at least this much. */
const BLOCK = 16 * 1024;

export interface ReadBodyOptions {
  /** This request's share of the bodies-in-flight budget. */
  lease?: BodyLease;
  /** The server's watch over slow bodies (`ServeInfo.body`). */
  watch?: BodyWatch;
}

export async function readBody(
  req: Request,
  limit: number,
  opts: ReadBodyOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const { lease, watch } = opts;
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (declared === "0") return new Uint8Array(0);
  const cut: Cut = { done: false };
  const reading = watch?.start(() => {
    cut.done = true;
    cut.onCut?.();
  });
  try {
    const bytes = await readWithin(req, limit, declared === null ? undefined : Number(declared), lease, cut, reading);
    reading?.done(); // arrived: waiting for a turn is not the client's doing
    if (lease) await lease.turn(bytes.byteLength);
    return bytes;
  } finally {
    reading?.done();
  }
}

/** A body's cut by the watch: whether it happened, and what stops the read under way. */
interface Cut {
  done: boolean;
  onCut?: () => void;
}

async function readWithin(
  req: Request,
  limit: number,
  length: number | undefined,
  lease: BodyLease | undefined,
  cut: Cut,
  reading: BodyReading | undefined,
): Promise<Uint8Array<ArrayBuffer>> {
  // A small declared length: reserved, then one read (the runtime holds the body to its declared length). Checked
  // before `req.body`: reading that property builds the body's ReadableStream, and the read then goes through it,
  // several times slower (docs/benchmarks.md).
  if (length !== undefined && length < SMALL_BODY) {
    lease?.reserve(length);
    if (!reading) return new Uint8Array(await req.arrayBuffer());
    // One race per body (`arrayBuffer()` cannot be released).
    const slow = new Promise<never>((_, reject) => cut.onCut = () => reject(tooSlow()));
    if (cut.done) throw tooSlow();
    return new Uint8Array(await Promise.race([req.arrayBuffer(), slow]));
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  // A cut releases the reader: the pending read (or the next one) fails, and is answered 408 below.
  cut.onCut = () => reader.releaseLock();
  const max = length ?? limit;
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  /** Where small chunks are gathered (`chunks` gets it once full, or before a large chunk). */
  let block: Uint8Array<ArrayBuffer> | undefined;
  let blockUsed = 0;
  const sealBlock = () => {
    if (!block || !blockUsed) return;
    chunks.push(blockUsed === block.byteLength ? block : block.slice(0, blockUsed));
    block = blockUsed === block.byteLength ? undefined : block;
    blockUsed = 0;
  };
  let size = 0;
  /**
   * A declared length's buffer, allocated (and reserved) once half of it has arrived: one copy instead of gathering
   * chunks and copying them again (for ten 20 MiB bodies at once that is ~200 MiB held twice at the peak), and never
   * before the client has shown it sends the body.
   */
  let out: Uint8Array<ArrayBuffer> | undefined;
  try {
    if (cut.done) throw tooSlow();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > max) {
        // The runtime holds a declared body to its length; this only guards the copy.
        throw length === undefined
          ? tooLarge(limit)
          : new GatewayError(400, "ValidationException", "request body is longer than its Content-Length");
      }
      reading?.received(value.byteLength);
      if (out) {
        out.set(value, size);
      } else {
        lease?.reserve(value.byteLength);
        if (value.byteLength >= BLOCK) {
          sealBlock();
          chunks.push(value);
        } else {
          if (block && blockUsed + value.byteLength > block.byteLength) sealBlock();
          block ??= new Uint8Array(BLOCK);
          block.set(value, blockUsed);
          blockUsed += value.byteLength;
        }
        if (length !== undefined && (size + value.byteLength) * 2 >= length) {
          sealBlock();
          lease?.reserve(length - size - value.byteLength);
          out = copyInto(new Uint8Array(length), chunks);
          chunks.length = 0;
          block = undefined;
        }
      }
      size += value.byteLength;
    }
  } catch (e) {
    // A body cut for slowness is left unread, as a small one is (`arrayBuffer()` cannot be cancelled): the server
    // closes the connection once the 408 has been sent, where a cancelled body would have it wait for the rest.
    if (cut.done) throw tooSlow();
    reader.cancel().catch(() => {});
    throw e;
  } finally {
    cut.onCut = undefined;
  }
  if (out) return size === out.byteLength ? out : out.subarray(0, size);
  sealBlock();
  return chunks.length === 1 ? chunks[0] : copyInto(new Uint8Array(size), chunks);
}

/** `out` with `chunks` copied into it one after another, from its start. */
function copyInto(out: Uint8Array<ArrayBuffer>, chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
