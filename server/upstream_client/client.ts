/**
 * @module
 * A `fetch`-shaped HTTP/1.1 client on `Deno.connect` / `Deno.connectTls`, for the gateway's upstream calls, where
 * `fetch`'s own machinery was a large share of every call (docs/benchmarks.md).
 *
 * What it promises, in the order a call meets it:
 * - **Only what it speaks.** http(s) URLs given as strings or URLs, bodies given as bytes or a string, no proxy in
 *   the environment for the URL's scheme, an origin that speaks HTTP/1.1 over TLS. Anything else (a `Request`, a
 *   stream body, `HTTP(S)_PROXY`/`ALL_PROXY`, a framing header set by the caller, an HTTP/2-only server) goes to
 *   `fallback` (the real `fetch`) untouched.
 * - **TLS verified, always.** `Deno.connectTls` with ALPN `http/1.1` and the runtime's certificate checks; the only
 *   knob is extra trusted roots (`caCerts`, for tests). There is no option to skip verification.
 * - **Written once.** A request is never sent twice once any byte of it has been written. The one retry: a pooled
 *   connection that fails on the very first write (the server had closed it) is replaced by a fresh one.
 * - **Strict answers** (response_head.ts, chunked.ts): a head that could be read two ways is a typed
 *   {@link HttpClientError}, the connection closed, never pooled.
 * - **Streamed bodies.** The `Response` resolves at the head; its body is what has arrived, then each read as it
 *   comes (content-length, chunked or to the end of the connection), pulled only when the reader asks (a slow
 *   reader slows the socket, memory stays at one buffer). A body that arrived with its head is handed over whole.
 * - **Aborts** close the connection; a pending `fetch` rejects, and a body being read errors, with the signal's
 *   reason. An abort after the body was read changes nothing (the connection is back in the pool).
 * - **Keep-alive**: a connection goes back to its origin's pool only after its response was read to the end with
 *   nothing left over and no `connection: close` (pool.ts).
 * - **No redirects followed**: a 3xx is returned as it came (the gateway signs for one host and relays answers).
 */
import { ChunkedDecoder } from "./chunked.ts";
import { Connection } from "./connection.ts";
import { HttpClientError } from "./errors.ts";
import { Pool } from "./pool.ts";
import {
  bodyBytes,
  normalizeMethod,
  parseTarget,
  requestBytes,
  requestFields,
  requestHead,
  type Target,
} from "./request.ts";
import { HeadScanner, parseHead, type ResponseHead } from "./response_head.ts";

export interface HttpClientOptions {
  /** Where requests this client does not speak go (default: the global `fetch` when the client is made). */
  fallback?: typeof fetch;
  /** Extra trusted root certificates (PEM), in addition to the runtime's. Verification itself is always on. */
  caCerts?: string[];
  /** Idle keep-alive connections kept per origin (default 256). */
  maxIdlePerOrigin?: number;
  /** How long an idle connection is kept, in ms (default 30 s; a server's `Keep-Alive: timeout` may shorten it). */
  idleTimeoutMs?: number;
  /** Longest response head accepted, in bytes (default 16 KiB). */
  maxHeadBytes?: number;
  /** 1xx answers accepted before the final one (default 8). */
  maxInformational?: number;
  /** Clock for idle timeouts, ms (default `Date.now`). */
  now?: () => number;
  /** Environment lookup for proxy settings (default `Deno.env.get`; unreadable counts as set). */
  env?: (name: string) => string | undefined;
  /**
   * Opens a connection instead of `Deno.connect` / `Deno.connectTls` (tests wrap sockets to inject faults). Code
   * only, never configuration: the gateway always uses the default, whose TLS is always verified.
   */
  dial?: (target: { hostname: string; port: number; tls: boolean }) => Promise<Deno.Conn>;
}

/**
 * `fetch`'s options, and one this client adds: told once the whole request (head and body) has been written to the
 * connection — from then on the server may have it. `fetch` ignores it, and so do requests handed to `fallback`.
 */
export interface WrittenInit extends RequestInit {
  onRequestWritten?: () => void;
}

export interface HttpClient {
  /** Stands in for `fetch` (see the module doc for what it sends itself and what it hands to `fallback`). */
  fetch: typeof fetch;
  /** Idle connections in the pool (all origins). */
  readonly idleConnections: number;
  /** Closes every idle connection; connections in use close when their response is done. */
  close(): void;
}

const DEFAULT_HEAD_BYTES = 16 * 1024;
const MIN_BUFFER = 16 * 1024;
const HTTP_PROXY_VARS = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];
const HTTPS_PROXY_VARS = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
const MAX_CACHED_TARGETS = 256;
/** Thrown by `open` when the server refused ALPN `http/1.1` (an HTTP/2-only origin): the call goes to `fallback`. */
const HTTP2_ONLY = Symbol("http2-only");

function processEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return "(unreadable)"; // no env permission: a proxy may be set, so let fetch decide
  }
}

/** One buffer with all of `pieces` (a copy: the pieces are views into a connection's read buffer). */
function concat(pieces: Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (pieces.length === 1) return pieces[0].slice();
  let size = 0;
  for (const p of pieces) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Waits for `p` unless `signal` aborts first; a value that arrives after the abort goes to `late`. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined, late: (v: T) => void): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then((v) => {
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) late(v);
      else resolve(v);
    }, (e) => {
      signal.removeEventListener("abort", onAbort);
      reject(e);
    });
  });
}

/** Where one exchange stands; kept apart from the body stream so that the registry below never holds the stream. */
interface ExchangeState {
  /** Over (body read, failed, aborted or cancelled): its connection is back in the pool or closed. */
  settled: boolean;
  conn: Connection | undefined;
}

/** Closes the connection of a body stream that was dropped unread (a safety net: readers cancel or finish). */
const dropped = new FinalizationRegistry<ExchangeState>((state) => {
  if (!state.settled) state.conn?.close();
});

export function createHttpClient(opts: HttpClientOptions = {}): HttpClient {
  const fallback = opts.fallback ?? globalThis.fetch;
  const maxHead = opts.maxHeadBytes ?? DEFAULT_HEAD_BYTES;
  const bufferBytes = Math.max(maxHead, MIN_BUFFER);
  const maxInformational = opts.maxInformational ?? 8;
  const caCerts = opts.caCerts;
  const pool = new Pool({
    maxIdlePerOrigin: opts.maxIdlePerOrigin ?? 256,
    idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
    now: opts.now ?? Date.now,
  });
  const env = opts.env ?? processEnv;
  const proxied = {
    http: HTTP_PROXY_VARS.some((n) => env(n)),
    https: HTTPS_PROXY_VARS.some((n) => env(n)),
  };
  // Parsed targets by URL: the gateway calls the same few URLs over and over. `null`: not this client's.
  const targets = new Map<string, Target | null>();
  /** Origins that refused HTTP/1.1: their calls go to `fallback`. */
  const http2Only = new Set<string>();
  let closed = false;

  const targetOf = (url: string): Target | null => {
    let t = targets.get(url);
    if (t === undefined) {
      t = parseTarget(url) ?? null;
      if (t && (t.tls ? proxied.https : proxied.http)) t = null;
      if (targets.size >= MAX_CACHED_TARGETS) targets.clear();
      targets.set(url, t);
    }
    return t;
  };

  async function open(target: Target, signal: AbortSignal | undefined): Promise<Connection> {
    let socket: Deno.Conn;
    try {
      if (opts.dial) {
        const { hostname, port, tls } = target;
        socket = await untilAborted(opts.dial({ hostname, port, tls }), signal, (s) => s.close());
      } else if (target.tls) {
        const tls = await untilAborted(
          Deno.connectTls({ hostname: target.hostname, port: target.port, alpnProtocols: ["http/1.1"], caCerts }),
          signal,
          (s) => s.close(),
        );
        try {
          // Before anything is written: a refused ALPN (HTTP/2-only server) can still go to fetch.
          await untilAborted(tls.handshake(), signal, () => {});
        } catch (e) {
          tls.close();
          throw e;
        }
        socket = tls;
      } else {
        const tcp = await Deno.connect({ hostname: target.hostname, port: target.port, signal });
        // A request is one write (two for a large body): never held back waiting for an ACK (Nagle).
        tcp.setNoDelay(true);
        socket = tcp;
      }
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (/NoApplicationProtocol|no_application_protocol/i.test(String((e as Error)?.message))) throw HTTP2_ONLY;
      throw new HttpClientError("connect_failed", `cannot connect to ${target.host} (${(e as Error)?.name})`, {
        cause: e,
      });
    }
    return new Connection(socket, bufferBytes);
  }

  /** Reads the final response head (1xx skipped) from `conn`, leaving `conn.start` at the body. */
  async function readHead(conn: Connection, headRequest: boolean): Promise<ResponseHead> {
    const scanner = new HeadScanner();
    for (let informational = 0;; informational++) {
      scanner.reset();
      let end: number;
      while ((end = scanner.scan(conn.buf, conn.start, conn.end)) < 0) {
        if (conn.available >= maxHead) {
          throw new HttpClientError("head_too_large", `response head over ${maxHead} bytes`);
        }
        if (await conn.fill() === 0) {
          throw new HttpClientError("closed_before_response", "connection closed before a complete response head");
        }
      }
      if (end - conn.start > maxHead) {
        throw new HttpClientError("head_too_large", `response head over ${maxHead} bytes`);
      }
      const head = parseHead(conn.buf, conn.start, end, headRequest);
      conn.start = end;
      if (head.status >= 200) return head;
      if (head.status === 101) throw new HttpClientError("unexpected_informational", "101 without an upgrade request");
      if (informational >= maxInformational) {
        throw new HttpClientError("unexpected_informational", `more than ${maxInformational} 1xx answers`);
      }
    }
  }

  async function send(
    target: Target,
    method: string,
    parts: Uint8Array[],
    signal: AbortSignal | undefined,
    onWritten: (() => void) | undefined,
  ): Promise<Response> {
    let conn = pool.take(target.origin);
    let reused = conn !== undefined;
    const state: ExchangeState = { settled: false, conn };
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const onAbort = () => {
      conn?.close();
      if (controller && !state.settled) {
        state.settled = true;
        controller.error(signal!.reason);
      }
    };
    signal?.addEventListener("abort", onAbort);
    const release = (reusable: boolean) => {
      state.settled = true;
      signal?.removeEventListener("abort", onAbort);
      if (reusable && !closed && conn!.available === 0) pool.put(target.origin, conn!);
      else conn!.close();
    };
    const fail = (e: unknown, code: "truncated_body" | undefined): unknown => {
      state.settled = true;
      signal?.removeEventListener("abort", onAbort);
      conn?.close();
      if (signal?.aborted) return signal.reason;
      if (e instanceof HttpClientError) {
        return code && e.code === "closed_before_response" ? new HttpClientError(code, e.message, { cause: e }) : e;
      }
      return new HttpClientError(code ?? "closed_before_response", String((e as Error)?.message ?? e), { cause: e });
    };

    let head: ResponseHead;
    try {
      if (!conn) conn = await open(target, signal);
      conn.written = 0;
      try {
        for (const part of parts) await conn.write(part);
      } catch (e) {
        if (signal?.aborted) throw e;
        if (!reused || conn.written > 0) {
          throw new HttpClientError("write_failed", "connection failed while writing", { cause: e });
        }
        // A pooled connection the server had closed, and nothing of this request went out: once, on a fresh one.
        conn.close();
        conn = await open(target, signal);
        reused = false;
        conn.written = 0;
        try {
          for (const part of parts) await conn.write(part);
        } catch (e2) {
          throw new HttpClientError("write_failed", "connection failed while writing", { cause: e2 });
        }
      }
      onWritten?.();
      head = await readHead(conn, method === "HEAD");
      conn.keepAliveMs = head.keepAliveMs;
      const init = { status: head.status, statusText: head.statusText, headers: head.headers };
      if (head.framing === "none") {
        const res = new Response(null, init);
        release(head.reusable);
        return res;
      }
      let first: Uint8Array | undefined;
      let remaining = head.length;
      const decoder = head.framing === "chunked" ? new ChunkedDecoder() : undefined;
      if (head.framing === "length") {
        const n = Math.min(conn.available, remaining);
        if (n === remaining) {
          const res = new Response(conn.buf.slice(conn.start, conn.start + n), init);
          conn.start += n;
          release(head.reusable);
          return res;
        }
        if (n > 0) first = conn.buf.slice(conn.start, conn.start + n);
        conn.start += n;
        remaining -= n;
      } else if (decoder) {
        const pieces: Uint8Array[] = [];
        conn.start = decoder.decode(conn.buf, conn.start, conn.end, pieces);
        if (decoder.done) {
          const res = new Response(pieces.length ? concat(pieces) : new Uint8Array(0), init);
          release(head.reusable);
          return res;
        }
        if (pieces.length) first = concat(pieces);
      } else if (conn.available > 0) {
        first = conn.buf.slice(conn.start, conn.end);
        conn.start = conn.end;
      }

      const c = conn;
      const reusable = head.reusable;
      const framing = head.framing;
      const body = new ReadableStream<Uint8Array>({
        start(ctl) {
          controller = ctl;
        },
        async pull(ctl) {
          if (first) {
            ctl.enqueue(first);
            first = undefined;
            return;
          }
          try {
            while (!state.settled) {
              const n = await c.fill();
              if (state.settled) return; // aborted or cancelled meanwhile
              if (framing === "length") {
                if (n === 0) throw new HttpClientError("truncated_body", `connection closed ${remaining} bytes short`);
                const take = Math.min(c.available, remaining);
                ctl.enqueue(c.buf.slice(c.start, c.start + take));
                c.start += take;
                remaining -= take;
                if (remaining === 0) {
                  ctl.close();
                  release(reusable);
                }
                return;
              }
              if (decoder) {
                const pieces: Uint8Array[] = [];
                c.start = decoder.decode(c.buf, c.start, c.end, pieces);
                if (pieces.length) ctl.enqueue(concat(pieces));
                if (decoder.done) {
                  ctl.close();
                  release(reusable);
                  return;
                }
                if (n === 0) throw new HttpClientError("truncated_body", "connection closed before the last chunk");
                if (pieces.length) return;
                continue; // only framing arrived: read on
              }
              if (n === 0) {
                ctl.close();
                release(false);
                return;
              }
              ctl.enqueue(c.buf.slice(c.start, c.end));
              c.start = c.end;
              return;
            }
          } catch (e) {
            if (state.settled) return;
            ctl.error(fail(e, "truncated_body"));
          }
        },
        cancel() {
          if (state.settled) return;
          state.settled = true;
          signal?.removeEventListener("abort", onAbort);
          c.close();
        },
      }, { highWaterMark: 0 });
      state.conn = c;
      dropped.register(body, state);
      return new Response(body, init);
    } catch (e) {
      if (e === HTTP2_ONLY) {
        state.settled = true;
        signal?.removeEventListener("abort", onAbort);
        throw e;
      }
      throw fail(e, undefined);
    }
  }

  async function nativeFetch(input: string | URL | Request, init?: WrittenInit): Promise<Response> {
    if (input instanceof Request || (init && "client" in init && init.client !== undefined)) {
      return await fallback(input, init);
    }
    const target = targetOf(typeof input === "string" ? input : input.href);
    if (!target || http2Only.has(target.origin)) return await fallback(input, init);
    const method = normalizeMethod(init?.method ?? "GET");
    const fields = requestFields(init?.headers);
    const body = bodyBytes(init?.body);
    if (!fields || body === undefined) return await fallback(input, init);
    if (body && (method === "GET" || method === "HEAD")) {
      throw new TypeError("Request with GET/HEAD method cannot have body.");
    }
    const head = requestHead(
      method,
      target,
      fields,
      body,
      typeof init?.body === "string" ? "text/plain;charset=UTF-8" : undefined,
    );
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();
    try {
      return await send(target, method, requestBytes(head, body), signal, init?.onRequestWritten);
    } catch (e) {
      if (e !== HTTP2_ONLY) throw e;
      http2Only.add(target.origin);
      return await fallback(input, init);
    }
  }

  return {
    fetch: nativeFetch as typeof fetch,
    get idleConnections() {
      return pool.size;
    },
    close() {
      closed = true;
      pool.close();
    },
  };
}
