/**
 * @module
 * The CLI's HTTP server: its own accept loop over `Deno.listen`, each accepted connection served by Deno's HTTP
 * server (`connection_server.ts`), so that the gateway decides what `Deno.serve` cannot:
 *
 * - **Accept errors never end the process.** EMFILE/ENFILE (descriptors exhausted) and any other accept failure is
 *   logged once per burst, the loop backs off (10 ms doubling to 1 s) and accepts again when descriptors free up;
 *   open connections keep being served meanwhile. Connections that arrive meanwhile wait in the listen backlog.
 * - **A cap on open connections** (`max_connections`). Past the cap, each new connection closes the one idle the
 *   longest (no request in flight: it never sent one, or finished its last) to make room, so a flood of idle
 *   connections cannot lock callers out; else one waiting for its body, the body furthest behind the minimum rate
 *   (a stalled upload, never one arriving ahead of it). When every other connection has a request in flight,
 *   accepting pauses until one closes (new clients wait in the listen backlog, they are not refused). At most one
 *   connection beyond the cap is open at a time.
 * - **A header timeout** (`header_timeout_ms`): from accept until the first request's headers are complete.
 * - **A keep-alive timeout** (`keep_alive_timeout_ms`): from a response's last byte until the next request's headers
 *   are complete. Between the two, a connection sending headers a byte at a time (slowloris) or nothing at all is
 *   closed.
 * - **A body timeout** (`body_timeout_ms`, `body_min_bytes_per_second`): a request body being read must arrive within
 *   the timeout plus one second per `body_min_bytes_per_second` bytes received, so a body sent a few bytes and then
 *   nothing (a slowloris on the body) is cut: its reader answers 408 and the connection is closed once that is sent.
 *   The body readers tell the front door when a read starts, what arrived and when it is over (`ServeInfo.body`,
 *   `api/body_watch.ts`); the deadlines are checked by one timer, armed for the earliest, never per chunk.
 *
 * A response, however long (a stream), is never cut by a timeout or the cap: only connections with no request in
 * flight are closed (a request is in flight from its complete headers until its response's last byte has been sent:
 * Deno's `info.completed`), and connections whose requests all wait for their bodies (counted as idle by the cap:
 * their bodies are cut, a 408 is answered, then they close).
 * `shutdown` stops accepting and closes each connection as soon as it is idle, within a grace period; then it lets the
 * caller end what is left (the gateway's streams get an error event) and closes the rest outright.
 *
 * @example
 * ```ts
 * import { createLogger } from "../core/log.ts";
 * import { connectionServer } from "./connection_server.ts";
 * import { serveFrontDoor } from "./front_door.ts";
 *
 * declare const handler: (req: Request) => Promise<Response>;
 * declare const endStreams: () => void;
 * const serveConnection = connectionServer();
 * if (serveConnection) {
 *   const door = serveFrontDoor({ hostname: "127.0.0.1", port: 0, handler, log: createLogger(),
 *     maxConnections: 1000, headerTimeoutMs: 30_000, keepAliveTimeoutMs: 75_000, bodyTimeoutMs: 30_000,
 *     bodyMinBytesPerSecond: 500, serveConnection });
 *   await door.shutdown({ graceMs: 25_000, onGraceOver: endStreams });
 * }
 * ```
 */
import type { BodyReading, BodyWatch, ServeInfo } from "../api/body_watch.ts";
import type { Logger } from "../core/log.ts";
import type { ConnectionServer, ServeConnection } from "./connection_server.ts";

/** Timers and their clock, injected so tests decide when a timeout fires (and what time it is then). */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(id: unknown): void;
  /** Monotonic milliseconds. */
  now(): number;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
};

export interface FrontDoorOptions {
  hostname: string;
  port: number;
  /**
   * Gets Deno's connection info too (the UI's sign-in limiter reads the client's address from it), with the body
   * watch its body readers report to.
   */
  handler: (req: Request, info: ServeInfo) => Response | Promise<Response>;
  /** Answer for a handler that throws (the gateway's handler does not). */
  onError?: (error: unknown) => Response | Promise<Response>;
  log: Logger;
  maxConnections: number;
  headerTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** How long a request body may take to arrive, before {@link bodyMinBytesPerSecond} extends it. */
  bodyTimeoutMs: number;
  /** Each this many bytes of a body received extend its deadline by a second. */
  bodyMinBytesPerSecond: number;
  /** Deno's per-connection server (`connectionServer()`). */
  serveConnection: ServeConnection;
  timers?: Timers;
  /** Opens the listener (tests wrap it to inject accept errors). */
  listen?: (opts: Deno.TcpListenOptions) => Deno.Listener;
  /** Told the number of open connections after each accept and close (tests wait on it). */
  onConnections?: (open: number) => void;
}

export interface ShutdownOptions {
  /** How long in-flight requests may finish before `onGraceOver` runs. */
  graceMs: number;
  /** Runs once when the grace period ends with connections still open (the gateway ends its streams here). */
  onGraceOver?: () => void;
  /** After `onGraceOver`, how long connections get to write what it produced before they are closed outright. */
  finalMs?: number;
}

export interface ShutdownReport {
  /** Connections that were still open when the grace period ended. */
  leftAfterGrace: number;
  /** Connections closed outright at the end. */
  forced: number;
}

export interface FrontDoor {
  addr: Deno.NetAddr;
  /** Open connections now. */
  readonly connections: number;
  /** Stops accepting, drains within `graceMs`, then ends what is left; resolves when every connection is closed. */
  shutdown(opts: ShutdownOptions): Promise<ShutdownReport>;
}

interface Connection {
  id: number;
  server: ConnectionServer;
  abort: AbortController;
  inFlight: number;
  /** Requests of `inFlight` waiting for their bodies. */
  reading: number;
  /** A body was cut: the connection closes once its requests are answered (the rest of the body is never read). */
  closeAfter: boolean;
  /** What its requests' body readers report to. */
  watch: BodyWatch;
  timer?: unknown;
  closing: boolean;
}

/** One body being read, and when it started. */
interface Reading extends BodyReading {
  conn: Connection;
  start: number;
  bytes: number;
  cut: () => void;
}

const FIRST_BACKOFF_MS = 10;
/** How long a connection whose body was cut may take to close by itself before it is closed outright. */
const CUT_LINGER_MS = 1000;
const MAX_BACKOFF_MS = 1000;

export function serveFrontDoor(opts: FrontDoorOptions): FrontDoor {
  const { log, maxConnections, headerTimeoutMs, keepAliveTimeoutMs, serveConnection } = opts;
  const { bodyTimeoutMs, bodyMinBytesPerSecond } = opts;
  const timers = opts.timers ?? realTimers;
  const listener = (opts.listen ?? Deno.listen)({ hostname: opts.hostname, port: opts.port, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  const onError = opts.onError ?? (() => new Response("Internal Server Error", { status: 500 }));

  const open = new Map<number, Connection>();
  /** Connections with no request in flight, the longest idle first (Map order: re-inserted when they go idle). */
  const idle = new Map<number, Connection>();
  let nextId = 0;
  let accepting = true;
  /** Shutting down: a connection closes as soon as it has no request in flight. */
  let draining = false;
  /** Woken when a connection closes (a slot frees up, or the drain may be over). */
  const waiters: Array<() => void> = [];
  const changed = () => new Promise<void>((resolve) => waiters.push(resolve));
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };

  /**
   * Closes a connection with no request in flight: Deno's graceful close, which closes it at once (a response that
   * has just completed is flushed first; closing outright could cut its last bytes).
   */
  const close = (c: Connection) => {
    if (c.closing) return;
    c.closing = true;
    if (c.timer !== undefined) timers.clear(c.timer);
    c.timer = undefined;
    c.server.shutdown().catch(() => {});
  };

  /**
   * A connection whose body was cut, its answers (the 408) sent: Deno's server closes it itself (the rest of the body
   * will not be read), and its graceful close would wait for that body. Closed outright if still open after a while.
   */
  const cutOff = (c: Connection) => {
    c.closing = true;
    if (c.timer !== undefined) timers.clear(c.timer);
    c.timer = timers.set(() => {
      c.timer = undefined;
      if (open.has(c.id)) c.abort.abort();
    }, CUT_LINGER_MS);
  };

  const goIdle = (c: Connection, timeoutMs: number) => {
    idle.set(c.id, c);
    if (c.closing) return;
    if (draining) return close(c);
    c.timer = timers.set(() => close(c), timeoutMs);
  };

  const begin = (c: Connection) => {
    c.inFlight++;
    idle.delete(c.id);
    if (c.timer !== undefined) timers.clear(c.timer);
    c.timer = undefined;
  };

  const end = (c: Connection) => {
    if (--c.inFlight > 0 || !open.has(c.id)) return;
    if (c.closeAfter) cutOff(c);
    else goIdle(c, keepAliveTimeoutMs);
  };

  /** Bodies being read, oldest first. */
  const readings = new Set<Reading>();
  /**
   * The one timer checking body deadlines while bodies are read: armed for the earliest, and never more than
   * `bodyTimeoutMs` ahead, so a body that starts later (its deadline that far ahead, as it has received nothing) is
   * never checked after its deadline, however far the bytes of others pushed theirs.
   */
  let sweep: unknown;
  const deadline = (r: Reading) => r.start + bodyTimeoutMs + r.bytes * 1000 / bodyMinBytesPerSecond;
  const stopReading = (r: Reading): boolean => {
    if (!readings.delete(r)) return false;
    r.conn.reading--;
    return true;
  };
  /** Cuts a body: its reader answers 408, and the connection closes once its requests are answered. */
  const cutBody = (r: Reading) => {
    if (!stopReading(r)) return;
    r.conn.closeAfter = true;
    r.cut();
  };
  const armSweep = (at: number) => {
    sweep = timers.set(runSweep, Math.max(0, at - timers.now()));
  };
  function runSweep() {
    sweep = undefined;
    const now = timers.now();
    let next = Infinity;
    for (const r of readings) {
      const at = deadline(r);
      if (at <= now) cutBody(r);
      else next = Math.min(next, at);
    }
    if (next !== Infinity) armSweep(Math.min(next, now + bodyTimeoutMs));
  }
  /** A body read starting on `c`: watched until it reports done (the sweep is armed no later than its deadline). */
  const startReading = (c: Connection, cut: () => void): BodyReading => {
    const r: Reading = {
      conn: c,
      start: timers.now(),
      bytes: 0,
      cut,
      received(bytes) {
        r.bytes += bytes;
      },
      done() {
        stopReading(r);
      },
    };
    readings.add(r);
    c.reading++;
    if (sweep === undefined) armSweep(deadline(r));
    return r;
  };

  const track = (conn: Deno.Conn): Connection => {
    const abort = new AbortController();
    const c = { id: nextId++, abort, inFlight: 0, reading: 0, closeAfter: false, closing: false } as Connection;
    c.watch = { start: (cut) => startReading(c, cut) };
    c.server = serveConnection(conn, abort.signal, (req, info) => {
      begin(c);
      // Settles when the response (a stream's last byte included) has been sent, or the client went away.
      info.completed.then(() => end(c), () => end(c));
      return opts.handler(req, { remoteAddr: info.remoteAddr, completed: info.completed, body: c.watch });
    }, onError);
    open.set(c.id, c);
    goIdle(c, headerTimeoutMs);
    opts.onConnections?.(open.size);
    c.server.finished.catch(() => {}).finally(() => {
      if (c.timer !== undefined) timers.clear(c.timer);
      open.delete(c.id);
      idle.delete(c.id);
      notify();
      opts.onConnections?.(open.size);
    });
    return c;
  };

  /**
   * Closes the connection idle the longest (other than `newcomer`); else cuts the bodies of a connection whose
   * requests all wait for theirs (it closes once their 408s are sent): the one with the body furthest behind the
   * minimum rate (the earliest deadline), so a stalled upload goes before one that is arriving, whichever started
   * first. False when all others are busy or closing.
   */
  const evictIdle = (newcomer: Connection): boolean => {
    for (const c of idle.values()) {
      if (c !== newcomer && !c.closing) {
        close(c);
        return true;
      }
    }
    let behind: Reading | undefined;
    for (const r of readings) {
      const c = r.conn;
      if (c === newcomer || c.closing || c.closeAfter || c.reading !== c.inFlight) continue;
      if (!behind || deadline(r) < deadline(behind)) behind = r;
    }
    if (!behind) return false;
    for (const other of readings) if (other.conn === behind.conn) cutBody(other);
    return true;
  };

  const acceptLoop = async () => {
    let failures = 0;
    let backoff = FIRST_BACKOFF_MS;
    let capped = false;
    while (accepting) {
      // Over the cap with nothing idle to close: accept nothing until a connection closes (clients wait in the
      // listen backlog). Checked before accepting, so at most one connection beyond the cap is ever open.
      if (open.size > maxConnections) {
        await changed();
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (!accepting) break;
        if (failures++ === 0) {
          log.error("accepting connections failed; serving open connections and retrying", {
            error: (e as Error).name,
            message: (e as Error).message,
            open_connections: open.size,
          });
        }
        await new Promise<void>((resolve) => timers.set(resolve, backoff));
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      if (failures > 0) {
        log.info("accepting connections again", { failed_accepts: failures, open_connections: open.size });
        failures = 0;
        backoff = FIRST_BACKOFF_MS;
      }
      const newcomer = track(conn);
      if (open.size > maxConnections && !evictIdle(newcomer) && !capped) {
        capped = true;
        log.warn("connection cap reached with every connection busy: new connections wait", {
          max_connections: maxConnections,
        });
      } else if (open.size <= maxConnections) {
        capped = false;
      }
    }
  };
  const loop = acceptLoop();

  return {
    addr,
    get connections() {
      return open.size;
    },
    async shutdown({ graceMs, onGraceOver, finalMs = 2000 }) {
      accepting = false;
      listener.close();
      notify();
      await loop;
      draining = true;
      for (const c of open.values()) if (c.inFlight === 0) close(c);
      const waitAll = async (ms: number) => {
        let over = false;
        const timer = timers.set(() => {
          over = true;
          notify();
        }, ms);
        while (open.size > 0 && !over) await changed();
        timers.clear(timer);
      };
      await waitAll(graceMs);
      const leftAfterGrace = open.size;
      if (leftAfterGrace > 0) {
        onGraceOver?.();
        await waitAll(finalMs);
      }
      // Still busy after all that: closed outright, responses cut. Not waited for: the process is about to exit.
      const forced = open.size;
      for (const c of open.values()) c.abort.abort();
      if (sweep !== undefined) timers.clear(sweep);
      sweep = undefined;
      return { leftAfterGrace, forced };
    },
  };
}
