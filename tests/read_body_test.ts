/**
 * `readBody`: a declared length is checked before anything is read, a streamed body (no content-length) is counted
 * as it arrives and cut off at the limit, and a request without a body reads as empty.
 */
import assert from "node:assert/strict";
import { GatewayError } from "../server/core/errors.ts";
import { readBody } from "../server/api/body.ts";

const encoder = new TextEncoder();

function streamed(chunks: string[]): Request {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(encoder.encode(chunk));
      c.close();
    },
  });
  return new Request("http://gw/bedrock/model/m/converse", { method: "POST", body, duplex: "half" } as RequestInit);
}

Deno.test("readBody: declared length within the limit is read whole; over it is a 413 before any read", async () => {
  // A Request built in-process has no content-length header of its own: set it as a client's would arrive.
  const ok = new Request("http://gw/x", { method: "POST", body: '{"a":1}', headers: { "content-length": "7" } });
  assert.equal(new TextDecoder().decode(await readBody(ok, 10)), '{"a":1}');
  const big = new Request("http://gw/x", { method: "POST", body: "x".repeat(11), headers: { "content-length": "11" } });
  await assert.rejects(readBody(big, 10), (e) => e instanceof GatewayError && e.status === 413);
  assert.equal(big.bodyUsed, false, "refused on its content-length, unread");
});

Deno.test("readBody: a streamed body is joined across chunks, and cut off with a 413 past the limit", async () => {
  assert.equal(new TextDecoder().decode(await readBody(streamed(['{"a":', "1}"]), 10)), '{"a":1}');
  assert.equal(new TextDecoder().decode(await readBody(streamed(["one chunk"]), 10)), "one chunk");
  await assert.rejects(
    readBody(streamed(["12345", "67890", "1"]), 10),
    (e) => e instanceof GatewayError && e.status === 413 && e.type === "ValidationException",
  );
});

Deno.test("readBody: no body reads as empty", async () => {
  assert.equal((await readBody(new Request("http://gw/x", { method: "POST" }), 10)).byteLength, 0);
});

Deno.test("readBody: a large declared body is read into one buffer of its length, bytes intact", async () => {
  const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) & 0xff);
  const req = new Request("http://gw/x", {
    method: "POST",
    body: big,
    headers: { "content-length": String(big.length) },
  });
  const got = await readBody(req, 10 * 1024 * 1024);
  assert.equal(got.byteLength, big.byteLength);
  assert.equal(got.buffer.byteLength, big.byteLength, "one buffer of the declared length");
  assert.deepEqual(got, big);
});
