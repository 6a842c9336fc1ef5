/**
 * The CLI's front door, over real sockets on 127.0.0.1 with its timers fired by hand: header and keep-alive timeouts
 * close idle and slow (slowloris) connections but never a response in flight; at the connection cap the longest-idle
 * connection makes room, and when all are busy new ones wait; accept errors (EMFILE) are logged once per burst and
 * never end the server; shutdown stops accepting and drains.
 */
import assert from "node:assert/strict";
import { connectionServer } from "../server/http/connection_server.ts";
import { type FrontDoorOptions, serveFrontDoor } from "../server/http/front_door.ts";
import { createLogger } from "../server/core/log.ts";
import { Latch } from "../testing/latch.ts";
import { ManualTimers } from "./manual_timers.ts";

const HEADER_MS = 1111;
const KEEP_ALIVE_MS = 2222;

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
