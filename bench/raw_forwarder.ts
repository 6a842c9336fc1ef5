/**
 * @module
 * An experiment, not part of the gateway: the bare forwarder with Deno's `fetch` replaced by a minimal HTTP/1.1
 * keep-alive client on `Deno.connect` (plain TCP, `content-length` answers only: enough for the fake's converse).
 * It shows how much of the bare forwarder's per-call cost is `fetch` itself; `bench/raw_compare.ts` runs both.
 * A production client would also need TLS, chunked answers (event streams), stale-connection retries, proxies and
 * aborts: see docs/benchmarks.md for the numbers and why the gateway does not do this (yet).
 *
 * `deno run -A bench/raw_forwarder.ts --upstream http://127.0.0.1:PORT`; prints `listening {port}`.
 */

interface Conn {
  conn: Deno.Conn;
  buf: Uint8Array;
  len: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Index just past the `\r\n\r\n` ending the head, or -1. */
function headEnd(b: Uint8Array, n: number): number {
  for (let i = 3; i < n; i++) if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) return i + 1;
  return -1;
}

function createClient(upstream: URL) {
  const idle: Conn[] = [];
  const connect = async (): Promise<Conn> => ({
    conn: await Deno.connect({ hostname: upstream.hostname, port: Number(upstream.port) }),
    buf: new Uint8Array(16 * 1024),
    len: 0,
  });
  const fill = async (c: Conn) => {
    if (c.len === c.buf.length) {
      const bigger = new Uint8Array(c.buf.length * 2);
      bigger.set(c.buf);
      c.buf = bigger;
    }
    const n = await c.conn.read(c.buf.subarray(c.len));
    if (n === null) throw new Error("upstream closed the connection");
    c.len += n;
  };
  return async function post(path: string, body: Uint8Array, contentType: string) {
    const c = idle.pop() ?? await connect();
    const head = encoder.encode(
      `POST ${path} HTTP/1.1\r\nhost: ${upstream.host}\r\ncontent-type: ${contentType}\r\n` +
        `content-length: ${body.length}\r\n\r\n`,
    );
    const out = new Uint8Array(head.length + body.length);
    out.set(head);
    out.set(body, head.length);
    for (let off = 0; off < out.length;) off += await c.conn.write(out.subarray(off));
    c.len = 0;
    let end = -1;
    while (end < 0) {
      await fill(c);
      end = headEnd(c.buf, c.len);
    }
    const text = decoder.decode(c.buf.subarray(0, end));
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? NaN);
    if (!Number.isFinite(length)) throw new Error("only content-length answers are supported");
    while (c.len - end < length) await fill(c);
    const answer = {
      status: Number(text.slice(9, 12)),
      contentType: /\r\ncontent-type:\s*([^\r]+)/i.exec(text)?.[1] ?? "application/octet-stream",
      body: c.buf.slice(end, end + length),
    };
    idle.push(c);
    return answer;
  };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--upstream");
  if (i < 0) {
    console.error("usage: raw_forwarder.ts --upstream URL");
    Deno.exit(2);
  }
  const post = createClient(new URL(Deno.args[i + 1]));
  Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(`listening ${port}`) },
    async (req) => {
      const url = req.url;
      const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
      const r = await post(path, new Uint8Array(await req.arrayBuffer()), req.headers.get("content-type") ?? "");
      return new Response(r.body, { status: r.status, headers: { "content-type": r.contentType } });
    },
  );
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}
