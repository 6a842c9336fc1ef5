/**
 * @module
 * Serving HTTP on one accepted connection with Deno's own HTTP server (HTTP/1.1 and HTTP/2, the same native code
 * `Deno.serve` runs), so the gateway can own the accept loop and each connection's lifetime.
 *
 * `Deno.serve` owns its accept loop and has no option for a connection cap or header and keep-alive timeouts
 * (denoland/deno#3515; the `keepAliveTimeout` option of denoland/deno#34172 is not in Deno 2.9), and an accept error
 * such as EMFILE ends it (`Http: Too many open files` from `server.finished`). Deno 2.9 has no public API that serves
 * HTTP on a `Deno.Conn` (`Deno.serveHttp` was removed in Deno 2). `Deno.serve` itself is built on
 * `serveHttpOnConnection`, which Deno exposes on `Deno[Deno.internal]`: an internal entry point, not a stable API. It
 * is used only through {@link connectionServer}, which checks its shape and returns undefined when a Deno release no
 * longer has it, so the CLI falls back to plain `Deno.serve` (and says so) instead of failing. `tests/front_door_test.ts`
 * fails on a Deno without it, so an upgrade that removes it is seen in CI, not in production.
 */

/** A request handler with Deno's per-request info (`completed` settles when the response has been sent). */
export type ConnectionHandler = (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

/** One connection's HTTP server. */
export interface ConnectionServer {
  /** Settles when the connection is closed. */
  finished: Promise<void>;
  /**
   * Closes the connection at its next request boundary: at once when idle or mid-headers, else once the responses in
   * flight have been sent. After it, `signal` no longer closes the connection.
   */
  shutdown(): Promise<void>;
}

/** Serves `conn` until it closes, `shutdown()` is called, or `signal` aborts (which closes it at once, cutting responses). */
export type ServeConnection = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: ConnectionHandler,
  onError: (error: unknown) => Response | Promise<Response>,
) => ConnectionServer;

type InternalServe = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: ConnectionHandler,
  onError: (error: unknown) => Response | Promise<Response>,
  onListen: () => void,
) => ConnectionServer;

/** Deno's per-connection server, or undefined when this Deno does not have it. */
export function connectionServer(): ServeConnection | undefined {
  const internalSymbol = (Deno as unknown as { internal?: symbol }).internal;
  if (typeof internalSymbol !== "symbol") return undefined;
  const internals = (Deno as unknown as Record<symbol, Record<string, unknown> | undefined>)[internalSymbol];
  const serve = internals?.serveHttpOnConnection;
  if (typeof serve !== "function" || serve.length < 4) return undefined;
  return (conn, signal, handler, onError) => (serve as InternalServe)(conn, signal, handler, onError, () => {});
}
