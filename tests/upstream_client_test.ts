/**
 * The native upstream client (server/upstream_client) on plain TCP: against the SigV4-verifying fake Bedrock through
 * the gateway's own signed sender (converse, the event stream byte for byte as it arrives, errors, aborts, reuse),
 * against a scripted raw server (keep-alive rules, framing), and on in-memory sockets for the faults a real socket
 * cannot produce on cue (a stale pooled connection failing before or after its write). No timers, no sleeps.
 */
import assert from "node:assert/strict";
import { createHttpClient, HttpClientError, type WrittenInit } from "../server/upstream_client/mod.ts";
import { Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { startRawServer } from "./raw_http_server.ts";
import { manualClock } from "../testing/seeded_random.ts";
import {
  CONVERSE_BODY,
  deploymentAt,
  MemoryConn,
  OK_ANSWER,
  readAll,
  settle,
  signedUpstream,
} from "./upstream_client_helpers.ts";

const decoder = new TextDecoder();

// ------------------------------------------------------------------ against the fake Bedrock

Deno.test("native client: signed converse calls reach the fake and reuse one keep-alive connection", async () => {
  await using fake = await startFakeBedrock();
  const client = createHttpClient();
  const upstream = signedUpstream(client.fetch);
  try {
    for (let i = 0; i < 3; i++) {
      const res = await upstream.send({
        deployment: deploymentAt(fake.url),
        operation: "converse",
        body: CONVERSE_BODY,
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      const answer = await res.json() as { output: { message: { content: { text: string }[] } } };
      assert.equal(answer.output.message.content[0].text, "echo: hi");
    }
    assert.equal(fake.requests.length, 3);
    for (const r of fake.requests) {
      assert.equal(r.rejected, false, r.rejectReason);
      assert.equal(r.auth.kind, "sigv4");
      assert.equal(r.headers["accept-encoding"], "identity");
    }
    // Three sequential calls on fresh connections would leave three idle ones.
    assert.equal(client.idleConnections, 1);
  } finally {
    client.close();
  }
});

Deno.test("native client: converse-stream is relayed as it arrives, byte for byte", async () => {
  await using fake = await startFakeBedrock();
  const client = createHttpClient();
  const upstream = signedUpstream(client.fetch);
  try {
    const latch = new Latch();
    fake.enqueue({ kind: "stream", pauseAfterFirst: latch });
    const res = await upstream.send({
      deployment: deploymentAt(fake.url),
      operation: "converse-stream",
      body: CONVERSE_BODY,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/vnd.amazon.eventstream");
    const reader = res.body!.getReader();
    const first = await reader.read(); // the fake holds the rest until the latch: this proves nothing is buffered
    assert.equal(first.done, false);
    assert.deepEqual(first.value, fake.streamBytes[0].slice());
    latch.release();
    const rest = await readAll(
      new ReadableStream({
        pull: async (c) => {
          const r = await reader.read();
          if (r.done) c.close();
          else c.enqueue(r.value);
        },
      }),
    );
    const all = new Uint8Array(first.value!.length + rest.length);
    all.set(first.value!);
    all.set(rest, first.value!.length);
    assert.deepEqual(all, fake.streamBytes[0]);
    assert.equal(client.idleConnections, 1); // chunked body read to its end: the connection is reused
  } finally {
    client.close();
  }
});

Deno.test("native client: a stream cut into 7-byte writes and one packed into a single write arrive intact", async () => {
  await using fake = await startFakeBedrock();
  const client = createHttpClient();
  const upstream = signedUpstream(client.fetch);
  try {
    fake.enqueue({ kind: "stream", chunkSize: 7 }, { kind: "stream", packAll: true });
    for (let i = 0; i < 2; i++) {
      const res = await upstream.send({
        deployment: deploymentAt(fake.url),
        operation: "converse-stream",
        body: CONVERSE_BODY,
      });
      assert.deepEqual(await readAll(res.body), fake.streamBytes[i]);
    }
    assert.equal(client.idleConnections, 1);
  } finally {
    client.close();
  }
});

Deno.test("native client: Bedrock errors come back as responses with their status, headers and body", async () => {
  await using fake = await startFakeBedrock();
  const client = createHttpClient();
  const upstream = signedUpstream(client.fetch);
  try {
    fake.enqueue({ kind: "error", status: 429, type: "ThrottlingException", message: "slow down", retryAfter: "3" });
    const res = await upstream.send({ deployment: deploymentAt(fake.url), operation: "converse", body: CONVERSE_BODY });
    assert.equal(res.status, 429);
    assert.match(res.headers.get("x-amzn-errortype") ?? "", /^ThrottlingException:/);
    assert.equal(res.headers.get("retry-after"), "3");
    assert.deepEqual(await res.json(), { message: "slow down" });
    const ok = await upstream.send({ deployment: deploymentAt(fake.url), operation: "converse", body: CONVERSE_BODY });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    assert.equal(client.idleConnections, 1);
  } finally {
    client.close();
  }
});

Deno.test("native client: an abort mid-stream rejects the pending read with its reason and closes the connection", async () => {
  await using fake = await startFakeBedrock();
  const client = createHttpClient();
  const upstream = signedUpstream(client.fetch);
  const latch = new Latch(); // never released: only the abort ends this stream
  try {
    fake.enqueue({ kind: "stream", pauseAfterFirst: latch });
    const ac = new AbortController();
    const res = await upstream.send({
      deployment: deploymentAt(fake.url),
      operation: "converse-stream",
      body: CONVERSE_BODY,
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    const pending = reader.read();
    const reason = new DOMException("client went away", "AbortError");
    ac.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    const rec = await fake.whenAborted(0);
    assert.equal(rec.aborted, true);
    assert.equal(client.idleConnections, 0);
  } finally {
    latch.release();
    client.close();
  }
});

Deno.test("native client: an abort before the answer rejects the call with the signal's reason", async () => {
  await using fake = await startFakeBedrock();
  const client = createHttpClient();
  const upstream = signedUpstream(client.fetch);
  try {
    fake.enqueue({ kind: "hang" });
    const ac = new AbortController();
    const call = upstream.send({
      deployment: deploymentAt(fake.url),
      operation: "converse",
      body: CONVERSE_BODY,
      signal: ac.signal,
    });
    await fake.whenRequest(0);
    const reason = new DOMException("timed out", "TimeoutError");
    ac.abort(reason);
    await assert.rejects(call, (e) => e === reason);
    await fake.whenAborted(0);
    assert.equal(client.idleConnections, 0);
    // An already aborted signal: nothing is sent at all.
    await assert.rejects(
      client.fetch(`${fake.url}/model/x/converse`, { method: "POST", body: CONVERSE_BODY, signal: ac.signal }),
      (e) => e === reason,
    );
    assert.equal(fake.requests.length, 1);
  } finally {
    client.close();
  }
});

// ------------------------------------------------------------------ keep-alive rules, on a scripted server

Deno.test("native client: keep-alive reuse, and a fresh connection after connection: close or HTTP/1.0", async () => {
  await using server = startRawServer((req) => {
    if (req.head.startsWith("POST /close ")) {
      return { writes: ["HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"], then: "close" };
    }
    if (req.head.startsWith("POST /old ")) return { writes: ["HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"] };
    return { writes: [OK_ANSWER] };
  });
  const client = createHttpClient();
  try {
    const post = async (path: string) => {
      const res = await client.fetch(server.url + path, { method: "POST", body: "x" });
      assert.equal(await res.text(), "ok");
    };
    await post("/a");
    await post("/a");
    await post("/a");
    assert.equal(server.connections, 1);
    await post("/close");
    assert.equal(client.idleConnections, 0);
    await post("/a");
    assert.equal(server.connections, 2);
    await post("/old");
    assert.equal(client.idleConnections, 0);
    await post("/a");
    assert.equal(server.connections, 3);
    assert.equal(server.requests.length, 7);
    assert.match(server.requests[0].head, /^POST \/a HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    assert.match(server.requests[0].head, /\r\ncontent-length: 1\r\n/);
    assert.match(server.requests[0].head, /\r\ncontent-type: text\/plain;charset=UTF-8\r\n/);
  } finally {
    client.close();
  }
});

Deno.test("native client: HEAD, 204 and 304 have no body; 1xx answers are skipped; a body may run to the close", async () => {
  await using server = startRawServer((req) => {
    const path = req.head.split(" ")[1];
    switch (path) {
      case "/head":
        return { writes: ["HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"] };
      case "/204":
        return { writes: ["HTTP/1.1 204 No Content\r\n\r\n"] };
      case "/304":
        return { writes: ["HTTP/1.1 304 Not Modified\r\ncontent-length: 50\r\n\r\n"] };
      case "/continue":
        return {
          writes: ["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n", OK_ANSWER],
        };
      case "/eof":
        return { writes: ["HTTP/1.1 200 OK\r\n\r\n", "until ", "the end"], then: "close" };
      default:
        return { writes: [OK_ANSWER] };
    }
  });
  const client = createHttpClient();
  try {
    const head = await client.fetch(server.url + "/head", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "1000");
    assert.equal(head.body, null);
    const noContent = await client.fetch(server.url + "/204", { method: "POST", body: "x" });
    assert.equal(noContent.status, 204);
    assert.equal(noContent.body, null);
    const notModified = await client.fetch(server.url + "/304");
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body, null);
    const cont = await client.fetch(server.url + "/continue", { method: "POST", body: "x" });
    assert.equal(cont.status, 200);
    assert.equal(await cont.text(), "ok");
    assert.equal(server.connections, 1); // all of these left the connection reusable
    const eof = await client.fetch(server.url + "/eof", { method: "POST", body: "x" });
    assert.equal(await eof.text(), "until the end");
    assert.equal(client.idleConnections, 0);
  } finally {
    client.close();
  }
});

Deno.test("native client: a response followed by stray bytes is delivered, but its connection is not reused", async () => {
  // A smuggling shape: a second response hidden after the first one's declared length.
  const smuggled = "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nsmuggled!";
  await using server = startRawServer(() => ({
    writes: [`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok${smuggled}`],
  }));
  const client = createHttpClient();
  try {
    const res = await client.fetch(server.url, { method: "POST", body: "x" });
    assert.equal(await res.text(), "ok");
    assert.equal(client.idleConnections, 0);
    const again = await client.fetch(server.url, { method: "POST", body: "x" });
    assert.equal(await again.text(), "ok");
    assert.equal(server.connections, 2);
  } finally {
    client.close();
  }
});

Deno.test("native client: a malformed answer is a typed error and its connection is closed, not pooled", async () => {
  await using server = startRawServer(() => ({
    writes: ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"],
  }));
  const client = createHttpClient();
  try {
    await assert.rejects(
      client.fetch(server.url, { method: "POST", body: "x" }),
      (e) => e instanceof HttpClientError && e.code === "conflicting_framing",
    );
    assert.equal(client.idleConnections, 0);
    await server.whenClosed(0); // the client closed it
  } finally {
    client.close();
  }
});

Deno.test("native client: a body cut short by the server errors the body stream as truncated", async () => {
  await using server = startRawServer((req) =>
    req.head.startsWith("POST /chunked ")
      ? { writes: ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"], then: "close" }
      : { writes: ["HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf"], then: "close" }
  );
  const client = createHttpClient();
  try {
    for (const path of ["/length", "/chunked"]) {
      const res = await client.fetch(server.url + path, { method: "POST", body: "x" });
      await assert.rejects(res.arrayBuffer(), (e) => e instanceof HttpClientError && e.code === "truncated_body");
      assert.equal(client.idleConnections, 0);
    }
  } finally {
    client.close();
  }
});

Deno.test("native client: a header value with CR or LF is refused before anything is sent", async () => {
  await using server = startRawServer(() => ({ writes: [OK_ANSWER] }));
  const client = createHttpClient();
  try {
    await assert.rejects(
      client.fetch(server.url, { method: "POST", headers: { "x-a": "1\r\nx-injected: 2" }, body: "x" }),
      TypeError,
    );
    await assert.rejects(client.fetch(server.url, { headers: { "bad name": "1" } }), TypeError);
    await assert.rejects(client.fetch(`http://user:pw@127.0.0.1:${server.port}/`), TypeError);
    assert.equal(server.connections, 0);
  } finally {
    client.close();
  }
});

// ------------------------------------------------------------------ what goes to fetch instead

Deno.test("native client: proxies, Request objects, stream bodies, other schemes and framing headers go to fetch", async () => {
  await using server = startRawServer(() => ({ writes: [OK_ANSWER] }));
  const seen: string[] = [];
  const fallback = ((input: string | URL | Request) => {
    seen.push(input instanceof Request ? `Request ${input.url}` : String(input));
    return Promise.resolve(new Response("from fetch"));
  }) as typeof fetch;
  const viaHttpsProxy = createHttpClient({
    fallback,
    env: (n) => n === "HTTPS_PROXY" ? "http://proxy:3128" : undefined,
  });
  const viaHttpProxy = createHttpClient({ fallback, env: (n) => n === "http_proxy" ? "http://proxy:3128" : undefined });
  const viaAllProxy = createHttpClient({ fallback, env: (n) => n === "ALL_PROXY" ? "http://proxy:3128" : undefined });
  const direct = createHttpClient({ fallback, env: () => undefined });
  try {
    // HTTPS_PROXY only concerns https URLs: this plain-http call is sent natively.
    assert.equal(await (await viaHttpsProxy.fetch(server.url, { method: "POST", body: "x" })).text(), "ok");
    assert.equal(await (await viaHttpsProxy.fetch("https://bedrock.example/x")).text(), "from fetch");
    assert.equal(await (await viaHttpProxy.fetch(server.url)).text(), "from fetch");
    assert.equal(await (await viaAllProxy.fetch(server.url)).text(), "from fetch");
    assert.equal(await (await direct.fetch(new Request(server.url))).text(), "from fetch");
    const stream = new ReadableStream({ start: (c) => c.close() });
    assert.equal(await (await direct.fetch(server.url, { method: "POST", body: stream })).text(), "from fetch");
    assert.equal(await (await direct.fetch("data:text/plain,hi")).text(), "from fetch");
    assert.equal(await (await direct.fetch(server.url, { headers: { connection: "close" } })).text(), "from fetch");
    assert.equal(
      await (await direct.fetch(server.url, { headers: { "accept-encoding": "gzip" } })).text(),
      "from fetch",
    );
    assert.deepEqual(seen, [
      "https://bedrock.example/x",
      server.url,
      server.url,
      `Request ${server.url}/`,
      server.url,
      "data:text/plain,hi",
      server.url,
      server.url,
    ]);
    assert.equal(server.requests.length, 1);
  } finally {
    for (const c of [viaHttpsProxy, viaHttpProxy, viaAllProxy, direct]) c.close();
  }
});

// ------------------------------------------------------------------ faults on cue (in-memory sockets)

/** A client whose connections are in-memory sockets answering every request with `OK_ANSWER` by default. */
function memoryClient(opts: { idleTimeoutMs?: number; now?: () => number; maxIdlePerOrigin?: number } = {}) {
  const conns: MemoryConn[] = [];
  const client = createHttpClient({
    ...opts,
    env: () => undefined,
    dial: () => {
      const c = new MemoryConn();
      c.answer = () => OK_ANSWER;
      conns.push(c);
      return Promise.resolve(c.asConn());
    },
  });
  const post = async () => await (await client.fetch("http://upstream.test/x", { method: "POST", body: "x" })).text();
  return { client, conns, post };
}

Deno.test("native client: a pooled connection the server closed while idle is dropped before it is used", async () => {
  const { client, conns, post } = memoryClient();
  assert.equal(await post(), "ok");
  assert.equal(client.idleConnections, 1);
  conns[0].end(); // the server closes the idle connection
  await settle();
  assert.equal(client.idleConnections, 0);
  assert.equal(conns[0].closed, true);
  assert.equal(await post(), "ok");
  assert.equal(conns.length, 2);
  assert.equal(conns[0].writes.length, 1);
  client.close();
});

Deno.test("native client: a pooled connection failing on its first write is replaced once; the request goes out once", async () => {
  const { client, conns, post } = memoryClient();
  assert.equal(await post(), "ok");
  // The server had reset the connection: the next write fails with nothing written.
  conns[0].writeResult = () => new Deno.errors.BrokenPipe("broken pipe");
  assert.equal(await post(), "ok");
  assert.equal(conns.length, 2);
  assert.equal(conns[0].writes.length, 1); // only the first request
  assert.equal(conns[1].writes.length, 1);
  assert.equal(conns[0].closed, true);
  client.close();
});

Deno.test("native client: once any byte was written, a failure is never retried", async () => {
  const { client, conns, post } = memoryClient();
  assert.equal(await post(), "ok");
  // Part of the next request goes out, then the socket fails.
  conns[0].writeResult = (b, call) =>
    call === 1 ? 10 : call === 2 ? new Deno.errors.ConnectionReset("reset") : b.length;
  await assert.rejects(post(), (e) => e instanceof HttpClientError && e.code === "write_failed");
  assert.equal(conns.length, 1);
  // All of it goes out on a pooled connection, then the server closes without answering.
  assert.equal(await post(), "ok"); // a fresh connection
  conns[1].answer = () => undefined;
  const lost = post();
  await settle();
  conns[1].end();
  await assert.rejects(lost, (e) => e instanceof HttpClientError && e.code === "closed_before_response");
  assert.equal(conns.length, 2);
  assert.equal(conns[1].writes.length, 2);
  // A fresh connection whose first write fails: not retried either (nothing says it was stale).
  const fresh = memoryClient();
  fresh.client.close();
  const failing = createHttpClient({
    env: () => undefined,
    dial: () => {
      const c = new MemoryConn();
      c.writeResult = () => new Deno.errors.ConnectionRefused("refused");
      fresh.conns.push(c);
      return Promise.resolve(c.asConn());
    },
  });
  await assert.rejects(
    failing.fetch("http://upstream.test/x", { method: "POST", body: "x" }),
    (e) => e instanceof HttpClientError && e.code === "write_failed",
  );
  assert.equal(fresh.conns.length, 1);
  failing.close();
  client.close();
});

Deno.test("native client: says when a request was written whole — never while connecting, nor after part of it", async () => {
  const written: string[] = [];
  const init = (tag: string, signal?: AbortSignal): WrittenInit => ({
    method: "POST",
    body: "x",
    signal,
    onRequestWritten: () => written.push(tag),
  });
  // Written whole (head and body): told once, before the answer is read.
  const { client, conns } = memoryClient();
  conns.length = 0;
  let answered = false;
  const res = client.fetch("http://upstream.test/x", init("whole")).then((r) => (answered = true, r));
  await settle();
  assert.deepEqual(written, ["whole"]);
  assert.equal(await (await res).text(), "ok");
  assert.ok(answered);
  // Part of it written, then the socket fails: not told (Bedrock cannot act on half a request).
  conns[0].writeResult = (b, call) => call === 1 ? 3 : call === 2 ? new Deno.errors.ConnectionReset("reset") : b.length;
  await assert.rejects(client.fetch("http://upstream.test/x", init("part")));
  assert.deepEqual(written, ["whole"]);
  client.close();
  // A connection that never comes up (a blackholed endpoint), given up by its signal: not told.
  const connecting = new Latch();
  const blackhole = createHttpClient({
    env: () => undefined,
    dial: () => {
      connecting.release();
      return new Promise<Deno.Conn>(() => {});
    },
  });
  const ac = new AbortController();
  const pending = blackhole.fetch("http://upstream.test/x", init("blackhole", ac.signal));
  await connecting.wait();
  ac.abort(new DOMException("timed out", "TimeoutError"));
  await assert.rejects(pending, (e) => (e as DOMException).name === "TimeoutError");
  assert.deepEqual(written, ["whole"]);
  blackhole.close();
});

Deno.test("native client: idle connections expire (client timeout, server Keep-Alive) and the pool is bounded", async () => {
  const clock = manualClock(0);
  const { client, conns, post } = memoryClient({ idleTimeoutMs: 10_000, now: clock.now, maxIdlePerOrigin: 1 });
  assert.equal(await post(), "ok");
  clock.advance(9_999);
  assert.equal(await post(), "ok");
  assert.equal(conns.length, 1);
  clock.advance(10_000);
  assert.equal(await post(), "ok");
  assert.equal(conns.length, 2);
  assert.equal(conns[0].closed, true);
  // The server says it keeps idle connections 5 s: the client gives up on them 1 s earlier.
  conns[1].answer = () => "HTTP/1.1 200 OK\r\nkeep-alive: timeout=5\r\ncontent-length: 2\r\n\r\nok";
  assert.equal(await post(), "ok");
  clock.advance(4_000);
  assert.equal(await post(), "ok");
  assert.equal(conns.length, 3);
  // Two at once need two connections; only one is kept idle afterwards.
  assert.deepEqual(await Promise.all([post(), post()]), ["ok", "ok"]);
  assert.equal(client.idleConnections, 1);
  assert.equal(conns.filter((c) => c.closed).length, conns.length - 1);
  client.close();
  assert.equal(conns.every((c) => c.closed), true);
});

Deno.test("native client: an abort after the body was read leaves the pooled connection alone", async () => {
  const { client, conns } = memoryClient();
  const ac = new AbortController();
  const res = await client.fetch("http://upstream.test/x", { method: "POST", body: "x", signal: ac.signal });
  assert.equal(await res.text(), "ok");
  ac.abort();
  assert.equal(client.idleConnections, 1);
  assert.equal(conns[0].closed, false);
  // A body that arrives in pieces, cancelled by its reader: the connection goes.
  conns[0].answer = () => "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf";
  const partial = await client.fetch("http://upstream.test/x", { method: "POST", body: "x" });
  const reader = partial.body!.getReader();
  assert.equal(decoder.decode((await reader.read()).value), "half");
  await reader.cancel();
  assert.equal(conns[0].closed, true);
  assert.equal(client.idleConnections, 0);
  client.close();
});
