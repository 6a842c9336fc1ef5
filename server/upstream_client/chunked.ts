/**
 * @module
 * Incremental decoder of the chunked transfer coding (RFC 9112 §7.1), strict and bounded.
 *
 * It is fed whatever bytes have arrived and hands out chunk data as soon as it is there (a chunk is never waited
 * for whole), so an event stream is relayed as it comes. A chunk-size line is hex digits (at most 13: the size
 * stays a safe integer) with optional extensions, which are checked for control characters and otherwise ignored;
 * chunk data must be followed by exactly CRLF; trailer fields are parsed like header fields and dropped, as `fetch`
 * drops them. Size lines and the trailer section are bounded, so a server cannot make the client buffer without
 * end.
 */
import { HttpClientError } from "./errors.ts";
import { latin1 } from "./latin1.ts";
import { parseFieldLine } from "./response_head.ts";

const CR = 13;
const LF = 10;
/** Longest chunk-size line, extensions included (the client keeps it in its read buffer until its CRLF arrives). */
export const MAX_CHUNK_LINE = 4096;
/** Longest trailer section. */
export const MAX_TRAILERS = 8192;

const SIZE_LINE = /^([0-9A-Fa-f]{1,13})(?:[\t ]*;[\t\x20-\x7e\x80-\xff]*)?$/;

/** Decoder states: a chunk-size line, chunk data, the CRLF after it, trailer lines, done. */
const State = { Size: 0, Data: 1, DataEnd: 2, Trailer: 3, Done: 4 } as const;
type State = typeof State[keyof typeof State];

export class ChunkedDecoder {
  #state: State = State.Size;
  /** Data bytes left in the current chunk. */
  #remaining = 0;
  #trailerBytes = 0;

  /** True once the last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Decodes `buf[start, end)`: pushes each run of chunk data onto `out` (views into `buf`: copy them before `buf`
   * is read into again) and returns how many bytes were consumed. Bytes it leaves unconsumed are an incomplete
   * line to be offered again with more after them; after {@link done} nothing more is consumed.
   */
  decode(buf: Uint8Array, start: number, end: number, out: Uint8Array[]): number {
    let i = start;
    while (i < end) {
      switch (this.#state) {
        case State.Size: {
          const lf = lineEnd(buf, i, end, MAX_CHUNK_LINE, "chunk_line_too_long");
          if (lf < 0) return i;
          const m = SIZE_LINE.exec(latin1(buf, i, lf - 1));
          if (!m) throw new HttpClientError("bad_chunk", "malformed chunk-size line");
          this.#remaining = parseInt(m[1], 16);
          this.#state = this.#remaining === 0 ? State.Trailer : State.Data;
          i = lf + 1;
          break;
        }
        case State.Data: {
          const n = Math.min(this.#remaining, end - i);
          out.push(buf.subarray(i, i + n));
          this.#remaining -= n;
          i += n;
          if (this.#remaining === 0) this.#state = State.DataEnd;
          break;
        }
        case State.DataEnd: {
          if (buf[i] !== CR) throw new HttpClientError("bad_chunk", "chunk data not followed by CRLF");
          if (i + 1 === end) return i;
          if (buf[i + 1] !== LF) throw new HttpClientError("bad_chunk", "chunk data not followed by CRLF");
          this.#state = State.Size;
          i += 2;
          break;
        }
        case State.Trailer: {
          const limit = MAX_TRAILERS - this.#trailerBytes;
          const lf = lineEnd(buf, i, end, limit, "chunk_line_too_long");
          if (lf < 0) return i;
          this.#trailerBytes += lf + 1 - i;
          if (lf - 1 === i) this.#state = State.Done;
          else parseFieldLine(latin1(buf, i, lf - 1));
          i = lf + 1;
          break;
        }
        case State.Done:
          return i;
      }
    }
    return i;
  }
}

/** Index of the LF ending the CRLF line that starts at `from`, or -1 if it has not all arrived. */
function lineEnd(buf: Uint8Array, from: number, end: number, limit: number, tooLong: "chunk_line_too_long"): number {
  const stop = Math.min(end, from + limit);
  for (let j = from; j < stop; j++) {
    const b = buf[j];
    if (b === LF) {
      if (j === from || buf[j - 1] !== CR) throw new HttpClientError("bad_chunk", "bare LF in chunked framing");
      return j;
    }
    if (b === CR && j + 1 < end && buf[j + 1] !== LF) {
      throw new HttpClientError("bad_chunk", "bare CR in chunked framing");
    }
  }
  if (end - from >= limit) throw new HttpClientError(tooLong, `line longer than ${limit} bytes`);
  return -1;
}
