/**
 * The CLI's front door, over real sockets on 127.0.0.1 with its timers fired by hand: header and keep-alive timeouts
 * close idle and slow (slowloris) connections but never a response in flight; a body that stops arriving is cut (408);
 * at the connection cap the longest-idle connection (or the body furthest behind its rate) makes room, and when all are busy
 * new ones wait; accept errors (EMFILE) are logged once per burst and
 * never end the server; shutdown stops accepting and drains.
 */
import assert from "node:assert/strict";
import { connectionServer } from "../server/http/connection_server.ts";
import { type FrontDoorOptions, serveFrontDoor } from "../server/http/front_door.ts";
import { createLogger } from "../server/core/log.ts";
import type { GatewayError } from "../server/core/errors.ts";
import { readBody } from "../server/api/body.ts";
import { DEFAULT_BODY_MIN_BYTES_PER_SECOND, DEFAULT_BODY_TIMEOUT_MS } from "../server/config/load.ts";
import type { ServeInfo } from "../server/api/body_watch.ts";
import { Latch } from "../testing/latch.ts";
import { startGateway } from "../testing/harness.ts";
import { ManualTimers } from "./manual_timers.ts";

const HEADER_MS = 1111;
const KEEP_ALIVE_MS = 2222;
const BODY_MS = 3333;
/** Bytes per second that extend a body's deadline. */
const BODY_RATE = 1000;

function start(opts: Partial<FrontDoorOptions> = {}) {
  const timers = new ManualTimers();
  const logs: string[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let open = 0;
  const serveConnection = connectionServer();
  assert.ok(serveConnection, "this Deno has no per-connection HTTP server: the front door falls back to Deno.serve");
  const door = serveFrontDoor({
    hostname: "127.0.0.1",
    port: 0,
    handler: () => new Response("ok"),
    log: createLogger({ write: (l) => logs.push(l) }),
    maxConnections: 100,
    headerTimeoutMs: HEADER_MS,
    keepAliveTimeoutMs: KEEP_ALIVE_MS,
    bodyTimeoutMs: BODY_MS,
    bodyMinBytesPerSecond: BODY_RATE,
    serveConnection,
    timers,
    onConnections: (n) => {
      open = n;
      for (const w of waiters.splice(0)) w.n === n ? w.resolve() : waiters.push(w);
    },
    ...opts,
  });
  /** Resolves when exactly `n` connections are open. */
  const openIs = (n: number) =>
    open === n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }));
  return { door, timers, logs, openIs, port: door.addr.port };
}

const connect = (port: number) => Deno.connect({ hostname: "127.0.0.1", port });
const send = (c: Deno.Conn, text: string) => c.write(new TextEncoder().encode(text));
const GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/** Reads one HTTP/1.1 response with a content-length body (enough for these handlers). */
async function readResponse(c: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  for (;;) {
    const head = text.indexOf("\r\n\r\n");
    if (head >= 0) {
      const len = Number(/content-length: (\d+)/i.exec(text.slice(0, head))?.[1] ?? 0);
      if (text.length >= head + 4 + len) return text;
    }
    const n = await c.read(buf);
    if (n === null) return text;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

/** Resolves when the peer closed the connection (read returns end of stream, or a reset). */
async function closedByServer(c: Deno.Conn): Promise<boolean> {
  const buf = new Uint8Array(1024);
  try {
    while ((await c.read(buf)) !== null) { /* drain whatever came before the close */ }
  } catch {
    // reset
  }
  return true;
}

Deno.test("front door: this Deno has the per-connection server it needs", () => {
  assert.ok(connectionServer());
});

Deno.test("header timeout: connections that send nothing or never finish their headers are closed; others served", async () => {
  const t = start();
  const silent = await connect(t.port);
  const slowloris = await connect(t.port);
  await send(slowloris, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a");
  await t.openIs(2);
  assert.equal(t.timers.fire(HEADER_MS), 2);
  assert.ok(await closedByServer(silent));
  assert.ok(await closedByServer(slowloris));
  silent.close();
  slowloris.close();
  await t.openIs(0);
  const good = await connect(t.port);
  await send(good, GET);
  assert.match(await readResponse(good), /^HTTP\/1\.1 200/);
  good.close();
  await t.door.shutdown({ graceMs: 0 });
});

Deno.test("keep-alive timeout: counted from the last response; each request re-arms it", async () => {
  const t = start();
  const c = await connect(t.port);
  await send(c, GET);
  assert.match(await readResponse(c), /200/);
  assert.equal(t.timers.fire(HEADER_MS), 0, "the header timer ended with the first request");
  await send(c, GET);
  assert.match(await readResponse(c), /200/, "kept alive: a second request on the same connection");
  // The request's `completed` settles just after the response: wait until the keep-alive timer is armed.
  await t.timers.armed(KEEP_ALIVE_MS);
  assert.equal(t.timers.fire(KEEP_ALIVE_MS), 1);
  assert.ok(await closedByServer(c));
  c.close();
  await t.door.shutdown({ graceMs: 0 });
});

Deno.test("a response in flight (a stream) is never timed out; the keep-alive timer starts after its last byte", async () => {
  const latch = new Latch();
  const t = start({
    handler: () =>
      new Response(
        new ReadableStream({
          async start(controller) {
            controller.enqueue(new TextEncoder().encode("first "));
            await latch.wait();
            controller.enqueue(new TextEncoder().encode("last"));
            controller.close();
          },
        }),
      ),
  });
  const c = await connect(t.port);
  await send(c, GET);
  const buf = new Uint8Array(4096);
  const n = await c.read(buf);
  assert.match(new TextDecoder().decode(buf.subarray(0, n!)), /first/);
  assert.equal(
    t.timers.fire(HEADER_MS) + t.timers.fire(KEEP_ALIVE_MS),
    0,
    "no timer runs while a request is in flight",
  );
  latch.release();
  let rest = "";
  while (!rest.includes("last")) rest += new TextDecoder().decode(buf.subarray(0, (await c.read(buf))!));
  await t.timers.armed(KEEP_ALIVE_MS);
  assert.equal(t.timers.fire(KEEP_ALIVE_MS), 1);
  assert.ok(await closedByServer(c));
  c.close();
  await t.door.shutdown({ graceMs: 0 });
});

Deno.test("connection cap: a new connection closes the longest-idle one; with all busy, accepting pauses", async () => {
  const gate = new Latch();
  let calls = 0;
  const t = start({
    maxConnections: 2,
    handler: async () => {
      const i = calls++;
      if (i < 3) await gate.wait();
      return new Response(`answer ${i}`);
    },
  });
  const idleA = await connect(t.port);
  await t.openIs(1);
  const idleB = await connect(t.port);
  await t.openIs(2);
  const third = await connect(t.port); // past the cap: A, idle the longest, is closed to make room
  assert.ok(await closedByServer(idleA));
  idleA.close();
  await t.openIs(2);
  await send(third, GET);
  await send(idleB, GET);
  while (calls < 2) await new Promise((r) => setTimeout(r, 0));
  // Both have a request in flight: the next connection is the one allowed past the cap, and then accepting pauses.
  const fourth = await connect(t.port);
  await t.openIs(3);
  const fifth = await connect(t.port);
  await send(fourth, GET);
  await send(fifth, GET);
  while (calls < 3) await new Promise((r) => setTimeout(r, 0));
  assert.ok(t.logs.some((l) => l.includes("connection cap reached with every connection busy")));
  gate.release();
  for (const c of [third, idleB, fourth]) assert.match(await readResponse(c), /answer [012]/);
  assert.equal(calls, 3, "the fifth was not accepted while the others stayed open");
  third.close(); // below the cap again: the fifth is accepted and served
  assert.match(await readResponse(fifth), /answer 3/);
  for (const c of [idleB, fourth, fifth]) c.close();
  await t.door.shutdown({ graceMs: 0 });
});

Deno.test("accept errors (EMFILE): logged once per burst, retried with backoff, open connections kept, then served", async () => {
  let failing = 0;
  let realAccepts = 0;
  const t = start({
    listen: (o) => {
      const real = Deno.listen(o);
      return new Proxy(real, {
        get(target, prop) {
          if (prop === "accept") {
            return async () => {
              if (failing > 0) {
                failing--;
                throw new Error("Too many open files (os error 24)");
              }
              const conn = await target.accept();
              // After the second connection, the next five accepts fail, as when descriptors run out.
              if (++realAccepts === 2) failing = 5;
              return conn;
            };
          }
          const v = Reflect.get(target, prop, target);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
    },
  });
  const kept = await connect(t.port);
  const second = await connect(t.port);
  await t.openIs(2);
  for (let fired = 0; fired < 5;) {
    const backoff = [...t.timers.pending.values()].find((p) => p.ms !== HEADER_MS && p.ms !== KEEP_ALIVE_MS);
    if (backoff) fired += t.timers.fire(backoff.ms);
    else await new Promise((r) => setTimeout(r, 0));
  }
  await send(kept, GET);
  assert.match(await readResponse(kept), /200/, "connections open during the burst are served throughout");
  const after = await connect(t.port);
  await send(after, GET);
  assert.match(await readResponse(after), /200/, "accepting again once descriptors are back");
  const failed = t.logs.filter((l) => l.includes("accepting connections failed"));
  assert.equal(failed.length, 1, t.logs.join("\n"));
  assert.match(failed[0], /Too many open files/);
  const again = t.logs.filter((l) => l.includes("accepting connections again"));
  assert.equal(again.length, 1);
  assert.equal(JSON.parse(again[0]).failed_accepts, 5);
  for (const c of [kept, second, after]) c.close();
  await t.door.shutdown({ graceMs: 0 });
});

Deno.test("shutdown: stops accepting, closes idle connections at once, lets a request in flight finish", async () => {
  const latch = new Latch();
  const entered = new Latch();
  const t = start({
    handler: async () => {
      entered.release();
      await latch.wait();
      return new Response("finished");
    },
  });
  const idle = await connect(t.port);
  const busy = await connect(t.port);
  await send(busy, GET);
  await t.openIs(2);
  await entered.wait();
  let graceOver = false;
  const done = t.door.shutdown({ graceMs: 5000, onGraceOver: () => (graceOver = true) });
  assert.ok(await closedByServer(idle));
  await assert.rejects(connect(t.port), "no new connections");
  latch.release();
  assert.match(await readResponse(busy), /finished/);
  busy.close();
  idle.close();
  const report = await done;
  assert.deepEqual(report, { leftAfterGrace: 0, forced: 0 });
  assert.equal(graceOver, false);
});

Deno.test("shutdown: after the grace period onGraceOver runs, then what is left is closed outright", async () => {
  const entered = new Latch();
  const t = start({
    handler: () => {
      entered.release();
      return new Promise<Response>(() => {}); // never answers
    },
  });
  const stuck = await connect(t.port);
  await send(stuck, GET);
  await entered.wait();
  let graceOver = 0;
  const done = t.door.shutdown({ graceMs: 3333, finalMs: 4444, onGraceOver: () => graceOver++ });
  await t.timers.armed(3333);
  t.timers.fire(3333);
  await t.timers.armed(4444);
  assert.equal(graceOver, 1);
  t.timers.fire(4444);
  assert.deepEqual(await done, { leftAfterGrace: 1, forced: 1 });
  assert.ok(await closedByServer(stuck));
  stuck.close();
});

Deno.test("the handler gets Deno's connection info (the client's address)", async () => {
  const t = start({ handler: (_req, info) => new Response((info.remoteAddr as Deno.NetAddr).hostname) });
  const c = await connect(t.port);
  await send(c, GET);
  assert.match(await readResponse(c), /\r\n\r\n127\.0\.0\.1$/);
  c.close();
  await t.door.shutdown({ graceMs: 0 });
});

/**
 * A handler that reads the body as the gateway does (`readBody` with the front door's watch): 200 with its length,
 * or the reader's error status (408 for a body cut). `arrived` counts the bytes the watch was told of.
 */
function bodyReader(limit = 1024 * 1024) {
  const state = { arrived: 0, readers: 0 };
  const handler = async (req: Request, info: ServeInfo) => {
    const watch = info.body!;
    state.readers++;
    try {
      const bytes = await readBody(req, limit, {
        watch: {
          start(cut) {
            const reading = watch.start(cut);
            return {
              received(n) {
                reading.received(n);
                state.arrived += n;
              },
              done: () => reading.done(),
            };
          },
        },
      });
      return new Response(`read ${bytes.byteLength}`);
    } catch (e) {
      return new Response((e as Error).message, { status: (e as GatewayError).status ?? 500 });
    }
  };
  return { state, handler };
}

const until = async (ok: () => boolean) => {
  while (!ok()) await new Promise((r) => setTimeout(r, 0));
};

Deno.test("body timeout: a body that stops arriving is cut after body_timeout_ms with a 408, and its connection closed", async () => {
  // A small declared body (read in one go) and a large one (read chunk by chunk).
  for (const length of [4000, 200_000]) {
    const reader = bodyReader();
    const t = start({ handler: reader.handler });
    const c = await connect(t.port);
    await send(c, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\nkey=s`);
    await t.timers.armed(BODY_MS); // one timer for the body's deadline, armed when its read started
    assert.equal(t.timers.fire(BODY_MS), 1);
    // Read chunk by chunk, the 5 bytes that came extended the deadline by 5 ms (at 1,000 bytes per second).
    if (length > 64 * 1024) assert.equal(t.timers.fire(5), 1);
    assert.match(await readResponse(c), /^HTTP\/1\.1 408 [^]*body arrived too slowly/);
    assert.ok(await closedByServer(c));
    await t.openIs(0);
    c.close();
    await t.door.shutdown({ graceMs: 0 });
  }
});

Deno.test("body timeout: each body_min_bytes_per_second bytes received extend the deadline by a second", async () => {
  const reader = bodyReader();
  const t = start({ handler: reader.handler });
  const c = await connect(t.port);
  // Chunked: read chunk by chunk, each reported to the watch (a small declared length is read in one go).
  await send(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" + "x".repeat(5000) + "\r\n");
  await until(() => reader.state.arrived === 5000);
  await t.timers.armed(BODY_MS);
  t.timers.fire(BODY_MS);
  // 5,000 bytes at 1,000 per second: 5 s more from the start, nothing cut. The sweep is re-armed no further than
  // body_timeout_ms ahead (a body starting meanwhile is checked by its deadline), then for the rest.
  assert.ok(t.timers.has(BODY_MS), "re-armed, at most body_timeout_ms ahead");
  assert.equal(t.timers.fire(BODY_MS), 1);
  assert.ok(t.timers.has(5000 - BODY_MS), "re-armed for the extended deadline");
  await send(c, "a\r\n0123456789\r\n0\r\n\r\n");
  assert.match(await readResponse(c), /^HTTP\/1\.1 200 [^]*read 5010$/);
  // Over: the sweep finds nothing to cut and arms nothing more.
  t.timers.fire(5000 - BODY_MS);
  assert.equal(t.timers.pending.size, 1, "only the keep-alive timer");
  assert.ok(t.timers.has(KEEP_ALIVE_MS));
  c.close();
  await t.door.shutdown({ graceMs: 0 });
});

Deno.test("body timeout defaults (Apache's MinRate=500): a 3 MiB body arriving at 256 kbit/s is read; a stalled one is still cut", async () => {
  const reader = bodyReader(20 * 1024 * 1024);
  const t = start({
    handler: reader.handler,
    bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS,
    bodyMinBytesPerSecond: DEFAULT_BODY_MIN_BYTES_PER_SECOND,
  });
  const SECOND = 32 * 1024; // a second's worth at 256 kbit/s (a weak mobile uplink)
  const LENGTH = 3 * 1024 * 1024;
  const c = await connect(t.port);
  const answer = readResponse(c);
  let answered = false;
  answer.then(() => answered = true);
  await send(c, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${LENGTH}\r\n\r\n`);
  for (let sent = 0; sent < LENGTH && !answered; sent += SECOND) {
    await c.write(new Uint8Array(SECOND).fill(0x61));
    await until(() => reader.state.arrived >= sent + SECOND || answered);
    t.timers.advance(1000);
    t.timers.runDue();
  }
  assert.match(await answer, /^HTTP\/1\.1 200 [^]*read 3145728$/, `t=${t.timers.now() / 1000} s`);

  // A body that stops after a few bytes is cut once the base timeout (plus a few ms for its bytes) is over, though
  // another body's bytes had pushed its own deadline (and the sweep) far ahead.
  const stalled = await connect(t.port);
  await send(stalled, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\nkey=s");
  await until(() => reader.state.readers === 2);
  t.timers.advance(DEFAULT_BODY_TIMEOUT_MS + 10);
  t.timers.runDue();
  let cut = "";
  readResponse(stalled).then((r) => cut = r);
  for (let i = 0; i < 500 && !cut; i++) await new Promise((r) => setTimeout(r, 0));
  assert.match(cut, /^HTTP\/1\.1 408 /, "the stalled body was not cut at its deadline");
  for (const x of [c, stalled]) x.close();
  await t.door.shutdown({ graceMs: 0 });
});

Deno.test("connection cap: a connection whose request waits for its body makes room like an idle one (its body is cut)", async () => {
  const reader = bodyReader();
  const t = start({ maxConnections: 2, handler: reader.handler });
  const stalled: Deno.Conn[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await connect(t.port);
    await send(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\nkey=s");
    stalled.push(c);
    await until(() => reader.state.readers === i + 1);
  }
  const fresh = await connect(t.port); // past the cap: the oldest upload's body is cut, it closes
  assert.match(await readResponse(stalled[0]), /^HTTP\/1\.1 408 /);
  assert.ok(await closedByServer(stalled[0]));
  await t.openIs(2);
  await send(fresh, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok");
  assert.match(await readResponse(fresh), /read 2$/);
  for (const c of [...stalled, fresh]) c.close();
  await t.door.shutdown({ graceMs: 0 });
});

Deno.test("connection cap: the body furthest behind its rate is cut to make room, not an upload arriving ahead of it that started first", async () => {
  const arrived = new Map<string, number>();
  let readers = 0;
  const t = start({
    maxConnections: 3,
    handler: async (req: Request, info: ServeInfo) => {
      const who = req.headers.get("x-who")!;
      readers++;
      try {
        const bytes = await readBody(req, 2 * 1024 * 1024, {
          watch: {
            start(cut) {
              const reading = info.body!.start(cut);
              return {
                received: (n) => (reading.received(n), arrived.set(who, (arrived.get(who) ?? 0) + n)),
                done: () => reading.done(),
              };
            },
          },
        });
        return new Response(`read ${bytes.byteLength}`);
      } catch (e) {
        return new Response((e as Error).message, { status: (e as GatewayError).status ?? 500 });
      }
    },
  });
  // A legitimate 1 MiB upload, half of it sent (and read) already.
  const legit = await connect(t.port);
  await send(legit, `POST / HTTP/1.1\r\nHost: x\r\nX-Who: legit\r\nContent-Length: ${1 << 20}\r\n\r\n`);
  await legit.write(new Uint8Array(1 << 19));
  await until(() => (arrived.get("legit") ?? 0) >= 1 << 19);
  // Two stalled uploads opened after it: 5 bytes of 200,000 each.
  const stalled: Deno.Conn[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await connect(t.port);
    await send(c, `POST / HTTP/1.1\r\nHost: x\r\nX-Who: s${i}\r\nContent-Length: 200000\r\n\r\nkey=s`);
    stalled.push(c);
    await until(() => readers === i + 2);
  }
  const extra = await connect(t.port); // past the cap: one body is cut
  const legitAnswer = readResponse(legit);
  const firstCut = await Promise.race([
    legitAnswer.then((r) => ["legit", r]),
    readResponse(stalled[0]).then((r) => ["s0", r]),
    readResponse(stalled[1]).then((r) => ["s1", r]),
  ]);
  assert.notEqual(firstCut[0], "legit", `the upload arriving was cut: ${firstCut[1]}`);
  assert.match(firstCut[1], /^HTTP\/1\.1 408 /);
  // The legitimate upload goes on and is read whole.
  await legit.write(new Uint8Array(1 << 19));
  assert.match(await legitAnswer, /^HTTP\/1\.1 200 [^]*read 1048576$/);
  for (const c of [legit, ...stalled, extra]) c.close();
  await t.door.shutdown({ graceMs: 0 });
});

Deno.test("anonymous sign-in uploads that stall are cut by the body timeout: they cannot hold the connection cap", async () => {
  await using gw = await startGateway({
    yaml: `model_list:
  - model_name: demo
    litellm_params: { model: bedrock/x, mock_response: hi }
general_settings: { master_key: sk-master-test }
`,
  });
  const CAP = 3;
  let begun = 0;
  const t = start({
    maxConnections: CAP,
    handler: (req, info) => {
      begun++;
      return gw.gateway.fetch(req, info);
    },
  });
  const uploads: Deno.Conn[] = [];
  // CAP uploads to the sign-in form (read before any key is known): complete headers, 5 bytes of 4,000.
  for (let i = 0; i < CAP; i++) {
    const c = await connect(t.port);
    uploads.push(c);
    await send(
      c,
      "POST /ui/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
        "Content-Length: 4000\r\n\r\nkey=s",
    );
    await until(() => begun === i + 1);
  }
  await t.timers.armed(BODY_MS);
  assert.equal(t.timers.fire(BODY_MS), 1, "one timer for every body's deadline");
  for (const c of uploads) assert.match(await readResponse(c), /^HTTP\/1\.1 408 /);
  await t.openIs(0);
  const c = await connect(t.port);
  await send(c, "GET /health/liveliness HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assert.match(await readResponse(c), /^HTTP\/1\.1 200/);
  for (const u of [...uploads, c]) u.close();
  await t.door.shutdown({ graceMs: 0 });
});
