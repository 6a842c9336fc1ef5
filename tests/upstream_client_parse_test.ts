/**
 * The native upstream client's parsers on their own: what a strict parser must still accept (so strictness never
 * costs a valid Bedrock answer), and the incremental paths (a head or a chunked body arriving one byte at a time).
 */
import assert from "node:assert/strict";
import { ChunkedDecoder } from "../server/upstream_client/chunked.ts";
import { HttpClientError } from "../server/upstream_client/errors.ts";
import { HeadScanner, parseHead } from "../server/upstream_client/response_head.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function head(text: string, headRequest = false) {
  const buf = bytes(text);
  const end = new HeadScanner().scan(buf, 0, buf.length);
  assert.ok(end > 0, "complete head");
  return parseHead(buf, 0, end, headRequest);
}

Deno.test("response head: valid shapes a strict parser must accept", () => {
  const h = head(
    "HTTP/1.1 200 OK\r\nContent-Type:application/json\r\nX-Amzn-RequestId: \t abc \t\r\nx-obs: caf\xe9\xa0\r\n" +
      "Content-Length: 0042\r\nKeep-Alive: timeout=5, max=100\r\n\r\n",
  );
  assert.equal(h.status, 200);
  assert.equal(h.statusText, "OK");
  assert.deepEqual(h.headers, [
    ["content-type", "application/json"],
    ["x-amzn-requestid", "abc"],
    ["x-obs", "caf\xe9\xa0"], // obs-text kept byte for byte, 0xA0 not trimmed
    ["content-length", "0042"],
    ["keep-alive", "timeout=5, max=100"],
  ]);
  assert.equal(h.framing, "length");
  assert.equal(h.length, 42);
  assert.equal(h.reusable, true);
  assert.equal(h.keepAliveMs, 5000);
  // No reason phrase; chunked in any case; `close` among other connection options.
  const c = head("HTTP/1.1 503\r\nTransfer-Encoding: Chunked\r\nConnection: keep-alive, Close\r\n\r\n");
  assert.equal(c.statusText, "");
  assert.equal(c.framing, "chunked");
  assert.equal(c.reusable, false);
  // Neither length nor coding: to the end of the connection, never reused.
  assert.deepEqual([head("HTTP/1.1 200 OK\r\n\r\n").framing, head("HTTP/1.1 200 OK\r\n\r\n").reusable], ["eof", false]);
  // HEAD, 204 and 304 have no body whatever the fields say; HTTP/1.0 is never reused.
  assert.equal(head("HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", true).framing, "none");
  assert.equal(head("HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n").framing, "none");
  assert.equal(head("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n").reusable, false);
});

Deno.test("response head: the scanner finds the end across reads and refuses bare CR/LF as soon as it sees them", () => {
  const text = bytes("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  const scanner = new HeadScanner();
  let end = -1;
  for (let n = 1; n <= text.length && end < 0; n++) end = scanner.scan(text, 0, n);
  assert.equal(end, text.length - 2);
  for (const bad of ["HTTP/1.1 200 OK\n", "HTTP/1.1 200 OK\rX", "HTTP/1.1 200 OK\r\nx: y\n\r\n"]) {
    assert.throws(
      () => new HeadScanner().scan(bytes(bad), 0, bad.length),
      (e) => e instanceof HttpClientError && e.code === "bad_line",
    );
  }
});

Deno.test("chunked decoder: byte by byte and all at once give the same data; extensions and trailers are dropped", () => {
  const wire = bytes("5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-checksum: 1\r\n\r\n");
  const whole = new ChunkedDecoder();
  const pieces: Uint8Array[] = [];
  assert.equal(whole.decode(wire, 0, wire.length, pieces), wire.length);
  assert.equal(whole.done, true);
  const text = (ps: Uint8Array[]) => ps.map((p) => String.fromCharCode(...p)).join("");
  assert.equal(text(pieces), "helloabcdefghijklmnopqrstuvwxyz");

  // One byte more each time, unconsumed bytes offered again, as the client does with its read buffer.
  const slow = new ChunkedDecoder();
  const slowPieces: Uint8Array[] = [];
  let start = 0;
  for (let end = 1; end <= wire.length; end++) {
    const out: Uint8Array[] = [];
    start = slow.decode(wire, start, end, out);
    slowPieces.push(...out.map((p) => p.slice()));
  }
  assert.equal(slow.done, true);
  assert.equal(start, wire.length);
  assert.equal(text(slowPieces), "helloabcdefghijklmnopqrstuvwxyz");
});
