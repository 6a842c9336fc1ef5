/**
 * The native upstream client over TLS, against a certificate authority made for this test (tls_certs.ts, openssl):
 * the fake Bedrock served over HTTPS (converse, a byte-exact event stream, one connection reused), certificates
 * the client must refuse (unknown CA, another host's name) before any byte of the request is sent, and an
 * HTTP/2-only server, which refuses ALPN `http/1.1` and so goes to `fetch`.
 */
import assert from "node:assert/strict";
import { createHttpClient, HttpClientError } from "../server/upstream_client/mod.ts";
import { startFakeBedrock } from "../testing/fake_bedrock.ts";
import { makeTestPki, type TestPki } from "./tls_certs.ts";
import { CONVERSE_BODY, deploymentAt, readAll, signedUpstream } from "./upstream_client_helpers.ts";

let pki: Promise<TestPki> | undefined;
const testPki = () => pki ??= makeTestPki();

Deno.test("native client over TLS: converse and a byte-exact stream on one verified, reused connection", async () => {
  const { ca, local } = await testPki();
  await using fake = await startFakeBedrock({ tls: local });
  assert.match(fake.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const client = createHttpClient({ caCerts: [ca] });
  const upstream = signedUpstream(client.fetch);
  try {
    const res = await upstream.send({ deployment: deploymentAt(fake.url), operation: "converse", body: CONVERSE_BODY });
    assert.equal(res.status, 200);
    assert.equal((await res.json() as { stopReason: string }).stopReason, "end_turn");
    fake.enqueue({ kind: "stream", chunkSize: 13 });
    const stream = await upstream.send({
      deployment: deploymentAt(fake.url),
      operation: "converse-stream",
      body: CONVERSE_BODY,
    });
    assert.deepEqual(await readAll(stream.body), fake.streamBytes[0]);
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests.every((r) => !r.rejected && r.headers["accept-encoding"] === "identity"), true);
    assert.equal(client.idleConnections, 1);
  } finally {
    client.close();
  }
});

Deno.test("native client over TLS: a certificate from an unknown CA, or for another host, is refused before sending", async () => {
  const { ca, local, otherHost } = await testPki();
  await using trusted = await startFakeBedrock({ tls: local });
  await using misnamed = await startFakeBedrock({ tls: otherHost });
  const noCa = createHttpClient(); // the runtime's roots only: the test CA is unknown to them
  const withCa = createHttpClient({ caCerts: [ca] });
  try {
    await assert.rejects(
      signedUpstream(noCa.fetch).send({
        deployment: deploymentAt(trusted.url),
        operation: "converse",
        body: CONVERSE_BODY,
      }),
      // upstream.ts turns the client's error into the gateway's typed 502.
      (e) => (e as { status?: number }).status === 502,
    );
    await assert.rejects(
      noCa.fetch(`${trusted.url}/model/x/converse`, { method: "POST", body: CONVERSE_BODY }),
      (e) => e instanceof HttpClientError && e.code === "connect_failed" && /UnknownIssuer/.test(String(e.cause)),
    );
    await assert.rejects(
      withCa.fetch(`${misnamed.url}/model/x/converse`, { method: "POST", body: CONVERSE_BODY }),
      (e) => e instanceof HttpClientError && e.code === "connect_failed" && /not valid for name/.test(String(e.cause)),
    );
    assert.equal(trusted.requests.length, 0);
    assert.equal(misnamed.requests.length, 0);
    assert.equal(noCa.idleConnections + withCa.idleConnections, 0);
  } finally {
    noCa.close();
    withCa.close();
  }
});

Deno.test("native client over TLS: an HTTP/2-only server refuses http/1.1, so the call goes to fetch", async () => {
  const { ca, local } = await testPki();
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...local, alpnProtocols: ["h2"] });
  let accepted = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      accepted++;
      await conn.handshake().catch(() => {}); // fails: no protocol in common
      conn.close();
    }
  })().catch(() => {});
  const calls: string[] = [];
  const fallback = ((input: string | URL | Request) => {
    calls.push(String(input));
    return Promise.resolve(new Response("via fetch"));
  }) as typeof fetch;
  const client = createHttpClient({ caCerts: [ca], fallback, env: () => undefined });
  const url = `https://127.0.0.1:${listener.addr.port}/model/x/converse`;
  try {
    assert.equal(await (await client.fetch(url, { method: "POST", body: CONVERSE_BODY })).text(), "via fetch");
    // Remembered: the next call goes to fetch without trying TLS again.
    assert.equal(await (await client.fetch(url, { method: "POST", body: CONVERSE_BODY })).text(), "via fetch");
    assert.deepEqual(calls, [url, url]);
    assert.equal(accepted, 1);
  } finally {
    client.close();
    listener.close();
    await serving;
  }
});
