/**
 * Review (attack, anonymous): the front door times out only connections without a request in flight (header and
 * keep-alive timeouts), and a request is in flight from its complete headers on. A request whose headers are complete
 * but whose body never comes is therefore never timed out and never evicted by the connection cap. `POST /ui/sign-in`
 * reads its form body before any key is checked, so anyone can open `max_connections` + 1 such uploads (a few bytes
 * each) and the gateway accepts nothing more until they hang up: a slowloris on the body.
 *
 * The same holds on `/bedrock` for a key holder: a body declared 20 MiB and never sent keeps its reservation of
 * `max_body_bytes_in_flight` for as long as the client likes (`scripts/review/body_wedge.ts` shows every other
 * caller refused with 503 meanwhile).
 *
 * Fails on main (no timer bounds a body that does not arrive); passes once reading a body is bounded by a timeout
 * run on the front door's timers.
 */
import assert from "node:assert/strict";
import { connectionServer } from "../server/http/connection_server.ts";
import { serveFrontDoor } from "../server/http/front_door.ts";
import { createLogger } from "../server/core/log.ts";
import { startGateway } from "../testing/harness.ts";
import { ManualTimers } from "./manual_timers.ts";

const YAML = `model_list:
  - model_name: demo
    litellm_params: { model: bedrock/x, mock_response: hi }
general_settings: { master_key: sk-master-test }
`;
const CAP = 3;

Deno.test("review: uploads that never finish their body do not hold the connection cap forever", async () => {
  await using gw = await startGateway({ yaml: YAML });
  const timers = new ManualTimers();
  let open = 0;
  let begun = 0;
  const begunWaiters: Array<{ n: number; resolve: () => void }> = [];
  /** Resolves once `n` requests have reached the gateway (their headers complete: in flight). */
  const begunAtLeast = (n: number) =>
    begun >= n ? Promise.resolve() : new Promise<void>((resolve) => begunWaiters.push({ n, resolve }));
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const serveConnection = connectionServer();
  assert.ok(serveConnection);
  const door = serveFrontDoor({
    hostname: "127.0.0.1",
    port: 0,
    handler: (req, info) => {
      begun++;
      for (const w of begunWaiters.splice(0)) w.n <= begun ? w.resolve() : begunWaiters.push(w);
      return gw.gateway.fetch(req, info);
    },
    log: createLogger({ write: () => {} }),
    maxConnections: CAP,
    headerTimeoutMs: 1000,
    keepAliveTimeoutMs: 2000,
    serveConnection,
    timers,
    onConnections: (n) => {
      open = n;
      for (const w of waiters.splice(0)) w.n === n ? w.resolve() : waiters.push(w);
    },
  });
  const openIs = (n: number) =>
    open === n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }));
  const conns: Deno.Conn[] = [];
  try {
    // CAP + 1 anonymous uploads: complete headers, 5 bytes of a declared 4,000-byte form.
    for (let i = 0; i <= CAP; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: door.addr.port });
      conns.push(c);
      await c.write(
        new TextEncoder().encode(
          "POST /ui/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
            "Content-Length: 4000\r\n\r\nkey=s",
        ),
      );
      await begunAtLeast(i + 1);
    }
    assert.equal(open, CAP + 1);
    // Whatever the gateway armed to bound these connections fires now (header, keep-alive, or a body timeout).
    let fired = 0;
    for (const [id, t] of [...timers.pending]) {
      timers.pending.delete(id);
      t.fn();
      fired++;
    }
    assert.ok(
      fired > 0,
      `${open} connections (cap ${CAP}) each wait for a body that never comes, and no timer bounds any of them: ` +
        "new clients now wait in the listen backlog until these hang up",
    );
    // Once bounded, the uploads are closed and a new client is served.
    await openIs(0);
    const c = await Deno.connect({ hostname: "127.0.0.1", port: door.addr.port });
    conns.push(c);
    await c.write(new TextEncoder().encode("GET /health/liveliness HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const buf = new Uint8Array(4096);
    const n = await c.read(buf);
    assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 200/);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await door.shutdown({ graceMs: 0, finalMs: 0 });
  }
});
