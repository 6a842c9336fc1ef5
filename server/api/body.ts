/**
 * @module
 * Reading a request body with a size cap, before anything else looks at it, so an oversized upload is refused
 * with a 413 without being buffered whole. With a {@link BodyLease} the bytes are also reserved against the budget
 * of all bodies in flight (a 503 when it is spent), as they arrive: a small body's declared length before it is read,
 * any other body chunk by chunk, so a client that declares 20 MiB and sends nothing holds nothing. A large body also
 * waits for its turn to be validated. With a {@link BodyWatch} (the CLI's front door gives one) a body that arrives
 * too slowly is cut with a 408.
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
  let cut: (() => void) | undefined;
  const slow = watch && new Promise<never>((_, reject) => cut = () => reject(tooSlow()));
  const reading = watch?.start(() => cut!());
  try {
    const bytes = await readWithin(req, limit, declared === null ? undefined : Number(declared), lease, slow, reading);
    reading?.done(); // arrived: waiting for a turn is not the client's doing
    if (lease) await lease.turn(bytes.byteLength);
    return bytes;
  } finally {
    reading?.done();
  }
}

/** `p`, or the watch's 408 when the body is cut first. */
const orCut = <T>(p: Promise<T>, slow: Promise<never> | undefined): Promise<T> => slow ? Promise.race([p, slow]) : p;

async function readWithin(
  req: Request,
  limit: number,
  length: number | undefined,
  lease: BodyLease | undefined,
  slow: Promise<never> | undefined,
  reading: BodyReading | undefined,
): Promise<Uint8Array<ArrayBuffer>> {
  // A small declared length: reserved, then one read (the runtime holds the body to its declared length). Checked
  // before `req.body`: reading that property builds the body's ReadableStream, and the read then goes through it,
  // several times slower (docs/benchmarks.md).
  if (length !== undefined && length < SMALL_BODY) {
    lease?.reserve(length);
    return new Uint8Array(await orCut(req.arrayBuffer(), slow));
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const max = length ?? limit;
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  /**
   * A declared length's buffer, allocated (and reserved) once half of it has arrived: one copy instead of gathering
   * chunks and copying them again (for ten 20 MiB bodies at once that is ~200 MiB held twice at the peak), and never
   * before the client has shown it sends the body.
   */
  let out: Uint8Array<ArrayBuffer> | undefined;
  try {
    for (;;) {
      const { done, value } = await orCut(reader.read(), slow);
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
        chunks.push(value);
        if (length !== undefined && (size + value.byteLength) * 2 >= length) {
          lease?.reserve(length - size - value.byteLength);
          out = new Uint8Array(length);
          let offset = 0;
          for (const c of chunks) {
            out.set(c, offset);
            offset += c.byteLength;
          }
          chunks.length = 0;
        }
      }
      size += value.byteLength;
    }
  } catch (e) {
    // A body cut for slowness is left unread, as a small one is (`arrayBuffer()` cannot be cancelled): the server
    // closes the connection once the 408 has been sent, where a cancelled body would have it wait for the rest.
    if ((e as GatewayError).status !== 408) reader.cancel().catch(() => {});
    throw e;
  }
  if (out) return size === out.byteLength ? out : out.subarray(0, size);
  if (chunks.length === 1) return chunks[0];
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    whole.set(c, offset);
    offset += c.byteLength;
  }
  return whole;
}
