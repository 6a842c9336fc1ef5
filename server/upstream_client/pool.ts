/**
 * @module
 * Idle keep-alive connections, per origin: bounded in number, closed after an idle timeout, and dropped the moment
 * the server closes one (each idle connection keeps a read pending, see connection.ts).
 *
 * Only connections whose previous response was read to its end, with nothing left over, are put back; the most
 * recently used is taken first (it is the least likely to have been closed by the server), so the older ones run
 * into the idle timeout when fewer are needed. One timer, off the event loop's keep-alive (`Deno.unrefTimer`),
 * sweeps expired connections while any are idle.
 */
import type { Connection } from "./connection.ts";

export interface PoolOptions {
  /** Most idle connections kept per origin; more are closed on release. */
  maxIdlePerOrigin: number;
  /** Longest a connection stays idle before it is closed (shortened by a server's `Keep-Alive: timeout`). */
  idleTimeoutMs: number;
  now: () => number;
}

/** A server's keep-alive timeout is honoured with this margin, so the client closes first. */
const SERVER_TIMEOUT_MARGIN_MS = 1000;

export class Pool {
  #idle = new Map<string, Connection[]>();
  #count = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly opts: PoolOptions) {}

  /** Idle connections across all origins. */
  get size(): number {
    return this.#count;
  }

  /** An idle connection to `origin` that is still good, or undefined. */
  take(origin: string): Connection | undefined {
    const list = this.#idle.get(origin);
    if (!list) return undefined;
    const now = this.opts.now();
    while (list.length) {
      const conn = list.pop()!;
      this.#count--;
      conn.idle = false;
      if (conn.stale || conn.closed || now - conn.idleSince >= this.#timeout(conn)) {
        conn.close();
        continue;
      }
      return conn;
    }
    return undefined;
  }

  /** Takes back a connection whose last response was read to its end; closes it if it cannot be kept. */
  put(origin: string, conn: Connection): void {
    let list = this.#idle.get(origin);
    if (!list) this.#idle.set(origin, list = []);
    if (conn.closed || list.length >= this.opts.maxIdlePerOrigin || this.#timeout(conn) <= 0) {
      conn.close();
      return;
    }
    conn.shrink();
    conn.idle = true;
    conn.idleSince = this.opts.now();
    list.push(conn);
    this.#count++;
    // The server closing it, or bytes nobody asked for, end its idle read: it goes at once.
    conn.watch(() => {
      if (!conn.idle) return; // taken meanwhile: the new owner reads what this read brought
      conn.stale = true;
      this.#remove(origin, conn);
    });
    if (this.#timer === undefined) this.#arm();
  }

  /** Closes every idle connection and stops the sweep. */
  close(): void {
    for (const list of this.#idle.values()) for (const conn of list.splice(0)) conn.close();
    this.#count = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #timeout(conn: Connection): number {
    const server = conn.keepAliveMs === undefined ? Infinity : conn.keepAliveMs - SERVER_TIMEOUT_MARGIN_MS;
    return Math.min(this.opts.idleTimeoutMs, server);
  }

  #remove(origin: string, conn: Connection): void {
    const list = this.#idle.get(origin);
    const i = list ? list.indexOf(conn) : -1;
    if (i >= 0) {
      list!.splice(i, 1);
      this.#count--;
    }
    conn.idle = false;
    conn.close();
  }

  #arm(): void {
    const timer = this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const now = this.opts.now();
      for (const [origin, list] of this.#idle) {
        for (const conn of list.filter((c) => now - c.idleSince >= this.#timeout(c))) this.#remove(origin, conn);
      }
      if (this.#count > 0) this.#arm();
    }, this.opts.idleTimeoutMs);
    Deno.unrefTimer(timer);
  }
}
