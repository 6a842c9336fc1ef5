/**
 * @module
 * Dependency-free codec for the AWS event-stream binary framing
 * (`application/vnd.amazon.eventstream`) used by Bedrock ConverseStream.
 *
 * Shared by the gateway (which parses every frame it relays to meter usage) and by the browser
 * SDK, so it deliberately uses only `Uint8Array`, `TextEncoder` and `TextDecoder` (plus
 * `DataView` for 64-bit values) — no runtime-specific APIs and no imports.
 *
 * Frame layout (big-endian): `total_length:u32 | headers_length:u32 | prelude_crc:u32 |
 * headers | payload | message_crc:u32`, where both CRCs are IEEE CRC32.
 *
 * @example
 * ```ts
 * import { EventStreamDecoder } from "./eventstream.ts";
 *
 * declare const chunk: Uint8Array;
 * const decoder = new EventStreamDecoder();
 * for (const msg of decoder.push(chunk)) console.log(msg.headers[":event-type"]);
 * ```
 */

/** The media type of an event-stream body. */
export const EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream";

/**
 * A decoded header value. Mapping from wire types: bool → `boolean`; byte/short/int → `number`;
 * long → `bigint` (lossless); bytes → `Uint8Array`; string → `string`; timestamp → `Date`;
 * uuid → canonical dashed lowercase hex `string` (same as `@smithy/eventstream-codec`).
 */
export type HeaderValue = string | number | boolean | Uint8Array | Date | bigint;

/** One decoded event-stream message. */
export interface EventStreamMessage {
  /** Header name → decoded value, in wire order. */
  headers: Record<string, HeaderValue>;
  /**
   * Payload bytes. When a frame arrived entirely inside one pushed chunk this is a view into
   * that chunk (no copy), so it shares — and keeps alive — the chunk's buffer.
   */
  payload: Uint8Array;
}

/** Thrown on CRC mismatch, malformed frames/headers, over-limit sizes or truncated streams. */
export class EventStreamError extends Error {
  /**
   * Creates the error.
   * @param message human-readable description of what was wrong with the frame
   */
  constructor(message: string) {
    super(message);
    this.name = "EventStreamError";
  }
}

/** prelude (12) + message CRC (4): the size of a frame with no headers and no payload. */
const OVERHEAD = 16;
const PRELUDE = 12;
/** Same limits as botocore: headers ≤ 128 KiB, payload ≤ 24 MiB. Checked before allocating. */
const MAX_HEADERS = 128 * 1024;
const MAX_PAYLOAD = 24 * 1024 * 1024;

/**
 * IEEE CRC32 lookup table (reflected polynomial 0xEDB88320). Built once at module load — it is
 * 256 × 8 cheap steps — and never exported, so nothing can mutate it.
 */
const TABLE: Int32Array = /* @__PURE__ */ (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC over `b[start..end)` without creating a subarray (the prelude check runs per frame). */
function crcRange(b: Uint8Array, start: number, end: number, prev: number): number {
  let c = ~prev;
  for (let i = start; i < end; i++) c = TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * IEEE/zlib CRC32 of `data`.
 * @param data bytes to checksum
 * @param prev CRC of preceding bytes, to checksum data incrementally (default 0)
 * @returns unsigned 32-bit CRC
 */
export function crc32(data: Uint8Array, prev = 0): number {
  return crcRange(data, 0, data.length, prev);
}

/** Big-endian u32 read; manual because a DataView per chunk/frame would be an allocation. */
function u32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

function putU32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

/**
 * UTF-8 decode. Header names/values are short ASCII (":event-type", "application/json"), where
 * a plain loop beats TextDecoder's per-call overhead; anything else goes to TextDecoder.
 */
function str(b: Uint8Array, start: number, end: number): string {
  if (end - start <= 32) {
    let s = "";
    for (let i = start; i < end; i++) {
      const c = b[i];
      if (c > 0x7f) return utf8Decoder.decode(b.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8Decoder.decode(b.subarray(start, end));
}

/**
 * Validates the 12-byte prelude at `b[off..off+12)` and returns the frame's total length.
 * Runs before any buffering so a bogus length can never make us allocate a huge buffer.
 */
function checkPrelude(b: Uint8Array, off: number): number {
  const total = u32(b, off);
  const hlen = u32(b, off + 4);
  if (crcRange(b, off, off + 8, 0) !== u32(b, off + 8)) {
    throw new EventStreamError("event-stream prelude CRC mismatch");
  }
  if (total < OVERHEAD) throw new EventStreamError(`event-stream frame too short: ${total} bytes`);
  if (hlen > MAX_HEADERS) throw new EventStreamError(`event-stream headers too large: ${hlen} bytes`);
  if (hlen > total - OVERHEAD) {
    throw new EventStreamError(`event-stream headers length ${hlen} exceeds frame length ${total}`);
  }
  if (total - hlen - OVERHEAD > MAX_PAYLOAD) {
    throw new EventStreamError(`event-stream payload too large: ${total - hlen - OVERHEAD} bytes`);
  }
  return total;
}

/** 16 uuid bytes → "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
function uuidString(b: Uint8Array, i: number): string {
  let s = "";
  for (let k = 0; k < 16; k++) {
    if (k === 4 || k === 6 || k === 8 || k === 10) s += "-";
    s += (b[i + k] < 16 ? "0" : "") + b[i + k].toString(16);
  }
  return s;
}

/** Fixed-size value widths per type byte (-1: length-prefixed, 0: no value). */
const WIDTH = [0, 0, 1, 2, 4, 8, -1, -1, 8, 16];

/** Decodes one complete, prelude-validated frame held exactly in `b` (b.length === total). */
function decodeFrame(b: Uint8Array): EventStreamMessage {
  const total = b.length;
  if (crcRange(b, 0, total - 4, 0) !== u32(b, total - 4)) {
    throw new EventStreamError("event-stream message CRC mismatch");
  }
  const end = PRELUDE + u32(b, 4);
  const headers: Record<string, HeaderValue> = {};
  let i = PRELUDE;
  while (i < end) {
    const nameLen = b[i++];
    // +1: the type byte must follow the name inside the header block.
    if (i + nameLen + 1 > end) throw new EventStreamError("event-stream header name truncated");
    const name = str(b, i, i + nameLen);
    i += nameLen;
    const type = b[i++];
    let width = WIDTH[type];
    if (width === undefined) throw new EventStreamError(`unknown event-stream header type ${type}`);
    if (width < 0) {
      if (i + 2 > end) throw new EventStreamError("event-stream header value truncated");
      width = (b[i] << 8) | b[i + 1];
      i += 2;
    }
    if (i + width > end) throw new EventStreamError("event-stream header value truncated");
    let value: HeaderValue;
    switch (type) {
      case 0:
        value = true;
        break;
      case 1:
        value = false;
        break;
      case 2:
        value = (b[i] << 24) >> 24; // sign-extend
        break;
      case 3:
        value = ((b[i] << 24) | (b[i + 1] << 16)) >> 16;
        break;
      case 4:
        value = u32(b, i) | 0;
        break;
      case 6:
        // Copy: header bytes are tiny, and a copy keeps callers from pinning a big chunk.
        value = b.slice(i, i + width);
        break;
      case 7:
        value = str(b, i, i + width);
        break;
      case 9:
        value = uuidString(b, i);
        break;
      default: {
        // 5 (long) and 8 (timestamp): the only values that need a DataView, so create it lazily.
        const v = new DataView(b.buffer, b.byteOffset + i, 8).getBigInt64(0);
        value = type === 5 ? v : new Date(Number(v));
      }
    }
    i += width;
    // Duplicate names are ambiguous (botocore rejects them too); silently keeping one would hide
    // a malformed or tampered frame.
    if (Object.hasOwn(headers, name)) throw new EventStreamError(`duplicate event-stream header ${name}`);
    if (name === "__proto__") {
      // Plain assignment would set the prototype instead of creating an own property.
      Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
    } else headers[name] = value;
  }
  return { headers, payload: b.subarray(end, total - 4) };
}

/**
 * Incremental decoder: push arbitrary network chunks, get complete messages.
 *
 * Frames that lie entirely within one chunk are decoded in place (payload is a subarray of the
 * chunk). Only a frame straddling chunks is copied, into a buffer allocated once at its exact
 * size as soon as its prelude is known; no reference to earlier chunks is retained.
 *
 * After a push throws, the stream has lost framing and the decoder keeps throwing.
 */
export class EventStreamDecoder {
  /** Scratch for a prelude split across chunks (we need all 12 bytes to know the frame size). */
  #head = new Uint8Array(PRELUDE);
  #headLen = 0;
  /** Buffer for the frame in progress (exact size), or null when none is partially received. */
  #frame: Uint8Array | null = null;
  #filled = 0;
  #error: unknown = null;

  /**
   * Feeds one chunk.
   * @param chunk next bytes of the stream (any size, may be empty)
   * @returns the messages completed by this chunk, in order (possibly none)
   * @throws {EventStreamError} on CRC mismatch, malformed frame or over-limit sizes
   */
  push(chunk: Uint8Array): EventStreamMessage[] {
    if (this.#error !== null) throw this.#error;
    try {
      return this.#push(chunk);
    } catch (e) {
      this.#error = e; // framing is lost: later bytes can't be resynchronised
      this.#frame = null; // release the partial buffer; it can never complete
      this.#headLen = 0;
      throw e;
    }
  }

  #push(chunk: Uint8Array): EventStreamMessage[] {
    const out: EventStreamMessage[] = [];
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      const frame = this.#frame;
      if (frame) {
        const take = Math.min(frame.length - this.#filled, n - off);
        frame.set(chunk.subarray(off, off + take), this.#filled);
        this.#filled += take;
        off += take;
        if (this.#filled < frame.length) break;
        this.#frame = null;
        out.push(decodeFrame(frame));
      } else if (this.#headLen > 0 || n - off < PRELUDE) {
        const take = Math.min(PRELUDE - this.#headLen, n - off);
        this.#head.set(chunk.subarray(off, off + take), this.#headLen);
        this.#headLen += take;
        off += take;
        if (this.#headLen < PRELUDE) break;
        this.#start(this.#head, 0, PRELUDE);
        this.#headLen = 0;
      } else {
        const total = checkPrelude(chunk, off);
        if (n - off >= total) {
          // Fast path: whole frame in this chunk — decode in place, no copy.
          out.push(decodeFrame(chunk.subarray(off, off + total)));
          off += total;
        } else {
          this.#start(chunk, off, n - off);
          off = n;
        }
      }
    }
    return out;
  }

  /** Begins buffering a straddling frame whose prelude starts at `src[off]`. */
  #start(src: Uint8Array, off: number, len: number): void {
    const total = checkPrelude(src, off);
    const frame = new Uint8Array(total);
    frame.set(src.subarray(off, off + len));
    this.#frame = frame;
    this.#filled = len;
  }

  /** Bytes buffered for an incomplete frame (0 when the stream ended on a frame boundary). */
  get pending(): number {
    return this.#frame ? this.#filled : this.#headLen;
  }
}

/** Encodes one type-7 (string) header entry: name_len | name | 7 | u16 len | value. */
function stringHeader(name: string, value: string): Uint8Array {
  const nb = utf8Encoder.encode(name);
  const vb = utf8Encoder.encode(value);
  if (nb.length > 255) throw new EventStreamError(`event-stream header name too long: ${name.slice(0, 40)}…`);
  // 32767, not 65535: aws-c-event-stream and smithy cap values at INT16_MAX, so stay within
  // what every peer accepts even though the wire length field is a u16.
  if (vb.length > 0x7fff) throw new EventStreamError(`event-stream header ${name} value too long`);
  const out = new Uint8Array(4 + nb.length + vb.length);
  out[0] = nb.length;
  out.set(nb, 1);
  let i = 1 + nb.length;
  out[i++] = 7;
  out[i++] = vb.length >>> 8;
  out[i++] = vb.length;
  out.set(vb, i);
  return out;
}

/** Assembles prelude + header blocks + payload + CRCs into one freshly allocated frame. */
function frame(blocks: Uint8Array[], payload: Uint8Array): Uint8Array {
  let hlen = 0;
  for (const b of blocks) hlen += b.length;
  if (hlen > MAX_HEADERS) throw new EventStreamError(`event-stream headers too large: ${hlen} bytes`);
  if (payload.length > MAX_PAYLOAD) {
    throw new EventStreamError(`event-stream payload too large: ${payload.length} bytes`);
  }
  const total = OVERHEAD + hlen + payload.length;
  const out = new Uint8Array(total);
  putU32(out, 0, total);
  putU32(out, 4, hlen);
  putU32(out, 8, crcRange(out, 0, 8, 0));
  let i = PRELUDE;
  for (const b of blocks) {
    out.set(b, i);
    i += b.length;
  }
  out.set(payload, i);
  putU32(out, total - 4, crcRange(out, 0, total - 4, 0));
  return out;
}

/**
 * Encodes one message with string (type 7) headers, in the object's key order.
 * @param headers header name → string value
 * @param payload message body
 * @returns the complete frame
 * @throws {EventStreamError} if a name/value or the frame exceeds the format's limits
 */
export function encodeMessage(headers: Record<string, string>, payload: Uint8Array): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const name in headers) {
    if (Object.hasOwn(headers, name)) blocks.push(stringHeader(name, headers[name]));
  }
  return frame(blocks, payload);
}

// The trailing two headers of every event/exception frame never change, so encode them once.
const CONTENT_TYPE = stringHeader(":content-type", "application/json");
const EVENT_TYPE = stringHeader(":message-type", "event");
const EXCEPTION_TYPE = stringHeader(":message-type", "exception");

/**
 * Encodes a Bedrock stream event: headers `:event-type`, `:content-type: application/json`,
 * `:message-type: event` (the order the service uses), payload = `JSON.stringify(payload)`.
 * @param eventType union member name, e.g. `contentBlockDelta`
 * @param payload event structure, serialised as JSON
 */
export function encodeEvent(eventType: string, payload: unknown): Uint8Array {
  return frame(
    [stringHeader(":event-type", eventType), CONTENT_TYPE, EVENT_TYPE],
    utf8Encoder.encode(JSON.stringify(payload)),
  );
}

/**
 * Encodes a modeled in-stream exception: headers `:exception-type`, `:content-type`,
 * `:message-type: exception`, payload = `JSON.stringify(payload)`.
 * @param exceptionType lowerCamel union member name, e.g. `throttlingException`
 * @param payload exception body, normally `{ message }`
 */
export function encodeException(exceptionType: string, payload: unknown): Uint8Array {
  return frame(
    [stringHeader(":exception-type", exceptionType), CONTENT_TYPE, EXCEPTION_TYPE],
    utf8Encoder.encode(JSON.stringify(payload)),
  );
}

/**
 * Decodes a byte stream (e.g. a `fetch` response body) into messages.
 *
 * The source is cancelled if the consumer stops early (`break` / `return()`) or decoding fails,
 * so the underlying connection is released instead of left dangling.
 * @param body the event-stream bytes
 * @throws {EventStreamError} on a corrupt frame, or if the stream ends mid-frame
 */
export async function* decodeStream(body: ReadableStream<Uint8Array>): AsyncIterableIterator<EventStreamMessage> {
  const reader = body.getReader();
  const decoder = new EventStreamDecoder();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const msg of decoder.push(value)) yield msg;
    }
    finished = true;
    if (decoder.pending) {
      throw new EventStreamError(`event stream ended mid-frame (${decoder.pending} bytes pending)`);
    }
  } finally {
    if (finished) reader.releaseLock();
    // Cancel rejects if the stream already errored; that error was (or will be) surfaced already.
    else await reader.cancel().catch(() => {});
  }
}
