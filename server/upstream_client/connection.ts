/**
 * @module
 * One client connection: the socket, its read buffer, and the single read that may be in flight on it.
 *
 * Reads go into the connection's own buffer (`buf[start, end)` holds what has arrived and is not yet consumed), so
 * a connection holds at most one buffer: 16 KiB, grown once to 64 KiB while a large body streams through it. At
 * most one read is in flight, and it may be started before anyone needs its bytes: an idle pooled connection keeps
 * one pending so that the server closing it (or sending bytes it should not) is noticed at once, and the next
 * request on it simply awaits that same read for its response.
 */
import { HttpClientError } from "./errors.ts";

/** Largest the read buffer grows to while a body streams (Deno's own read size for `fetch` bodies). */
const MAX_BUFFER = 64 * 1024;
/** A settled read: bytes read (> 0), or one of these. */
const EOF = -1;
const FAILED = -2;

export class Connection {
  buf: Uint8Array;
  /** First unconsumed byte in `buf`. */
  start = 0;
  /** End of the bytes read so far. */
  end = 0;
  /** Request bytes written on this connection for the current request (0: nothing of it was sent). */
  written = 0;
  /** Set once closed; a closed connection is never used again. */
  closed = false;
  /** While pooled: when it was put back (client clock, ms). */
  idleSince = 0;
  /** How long it may stay idle, when the server said (`Keep-Alive: timeout`). */
  keepAliveMs: number | undefined;
  /** True while it sits in the pool (set by the pool). */
  idle = false;
  /** Set when the read started while idle settled: the server closed or sent stray bytes; never reuse. */
  stale = false;

  #pending: Promise<number> | undefined;
  #readError: unknown;
  #grow = false;

  constructor(readonly socket: Deno.Conn, readonly bufferBytes: number) {
    this.buf = new Uint8Array(bufferBytes);
  }

  /** Drops a buffer grown by a large body back to its first size (the pool does so before keeping it idle). */
  shrink(): void {
    if (this.buf.length > this.bufferBytes && this.start === this.end && !this.#pending) {
      this.buf = new Uint8Array(this.bufferBytes);
      this.start = this.end = 0;
    }
  }

  /** Starts a read now, if none is in flight (the pool does so for idle connections); `onSettled` runs once it ends. */
  watch(onSettled: () => void): void {
    (this.#pending ?? this.#startRead()).then(onSettled);
  }

  /**
   * Waits for more bytes (the read in flight, or a new one) and appends them after `end`. Resolves with the count,
   * 0 at end of stream; rejects with an {@link HttpClientError} when the socket fails or was closed.
   */
  async fill(): Promise<number> {
    const n = await (this.#pending ?? this.#startRead());
    this.#pending = undefined;
    if (n === EOF) return 0;
    if (n === FAILED) {
      throw new HttpClientError("closed_before_response", "connection failed", { cause: this.#readError });
    }
    this.#grow = this.end + n === this.buf.length && this.buf.length < MAX_BUFFER;
    this.end += n;
    return n;
  }

  /** Bytes read and not yet consumed. */
  get available(): number {
    return this.end - this.start;
  }

  /** Writes all of `bytes`; `written` counts what the socket accepted, so a failure says whether any of it went. */
  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      const n = await this.socket.write(bytes.subarray(off));
      off += n;
      this.written += n;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket.close();
    } catch { /* already closed by the runtime */ }
  }

  #startRead(): Promise<number> {
    if (this.start === this.end) this.start = this.end = 0;
    if (this.#grow || (this.end === this.buf.length && this.start > 0)) {
      // Room at the end: move the unconsumed bytes to the front, into a larger buffer after a read that filled it.
      if (this.#grow) {
        const next = new Uint8Array(Math.min(this.buf.length * 4, MAX_BUFFER));
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      } else this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
      this.#grow = false;
    }
    if (this.end === this.buf.length) {
      // The parsers bound every line below the buffer's size, so this is a bug, not a server's doing.
      return Promise.resolve(this.#fail(new RangeError("read buffer full")));
    }
    const p = this.socket.read(this.buf.subarray(this.end)).then(
      (n) => n === null ? EOF : n,
      (e) => this.#fail(e),
    );
    this.#pending = p;
    return p;
  }

  #fail(e: unknown): number {
    this.#readError = e;
    return FAILED;
  }
}
