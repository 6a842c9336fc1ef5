/**
 * @module
 * A scripted HTTP/1.1 server on raw TCP (127.0.0.1, OS-assigned port) for client tests: it reads each request
 * (head and content-length body) and writes whatever bytes the test scripts, exactly, malformed or not; then keeps
 * the connection for the next request, closes it, or holds it. It counts connections so tests can see reuse.
 */

export interface RawRequest {
  /** Request head as text (request line and fields, without the empty line). */
  head: string;
  body: Uint8Array;
  /** 0-based index of the connection it came on. */
  connection: number;
}

/** What to do with a request: write these bytes (each element one write), then keep, close or hold. */
export interface RawAnswer {
  writes: Array<Uint8Array | string>;
  /** After writing: `keep` (default) waits for the next request, `close` closes, `hold` does nothing more. */
  then?: "keep" | "close" | "hold";
}

export interface RawServer extends AsyncDisposable {
  url: string;
  port: number;
  requests: RawRequest[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Resolves once connection `index` has ended (the client closed it, or the server did). */
  whenClosed(index: number): Promise<void>;
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function headEnd(b: Uint8Array, n: number): number {
  for (let i = 3; i < n; i++) if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) return i + 1;
  return -1;
}

export function startRawServer(answer: (req: RawRequest) => RawAnswer): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: RawRequest[] = [];
  const conns = new Set<Deno.Conn>();
  const closed: Array<{ promise: Promise<void>; resolve: () => void }> = [];
  const closedAt = (i: number) => {
    while (closed.length <= i) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => resolve = r);
      closed.push({ promise, resolve });
    }
    return closed[i];
  };
  let count = 0;
  const tasks: Promise<void>[] = [];

  const serve = async (conn: Deno.Conn, index: number) => {
    let buf = new Uint8Array(64 * 1024);
    let len = 0;
    const fill = async () => {
      if (len === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(len));
      if (n === null) return false;
      len += n;
      return true;
    };
    try {
      while (true) {
        let end: number;
        while ((end = headEnd(buf, len)) < 0) if (!await fill()) return;
        const head = decoder.decode(buf.subarray(0, end - 4));
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        while (len < end + length) if (!await fill()) return;
        const req = { head, body: buf.slice(end, end + length), connection: index };
        buf.copyWithin(0, end + length, len);
        len -= end + length;
        requests.push(req);
        const a = answer(req);
        for (const w of a.writes) {
          const bytes = typeof w === "string" ? encoder.encode(w) : w;
          for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
        }
        if (a.then === "close") return;
        if (a.then === "hold") {
          // Wait for the client to go away (or the server to close).
          while (await conn.read(new Uint8Array(1024)) !== null);
          return;
        }
      }
    } catch {
      // the client reset or closed the connection
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed already */ }
      closedAt(index).resolve();
    }
  };

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const index = count++;
        conns.add(conn);
        tasks.push(serve(conn, index));
      }
    } catch { /* listener closed */ }
  })();

  const close = async () => {
    try {
      listener.close();
    } catch { /* closed already */ }
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
    await accepting;
    await Promise.all(tasks);
  };
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return count;
    },
    whenClosed: (i) => closedAt(i).promise,
    close,
    [Symbol.asyncDispose]: close,
  };
}
