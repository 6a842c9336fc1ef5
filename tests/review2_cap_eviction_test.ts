/**
 * Review 2: at the connection cap, fixdoor makes room by cutting the bodies of the *oldest* connection whose requests
 * all wait for their bodies — whatever their progress. An anonymous client that opens stalled uploads (the sign-in
 * form is read before any key) after a legitimate large upload has started, then one connection more, gets the
 * legitimate upload cut with a 408 while its own stalled ones stay. Cycling connections, it cuts every long upload.
 * Real sockets on 127.0.0.1; no timer fires.
 */
import assert from "node:assert/strict";
import { connectionServer } from "../server/http/connection_server.ts";
import { serveFrontDoor } from "../server/http/front_door.ts";
import { createLogger } from "../server/core/log.ts";
import type { GatewayError } from "../server/core/errors.ts";
import { readBody } from "../server/api/body.ts";
import type { ServeInfo } from "../server/api/body_watch.ts";
import { ManualTimers } from "./manual_timers.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

async function readHead(c: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n")) {
    const n = await c.read(buf).catch(() => null);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text.split("\r\n")[0];
}

Deno.test("review2 cap eviction: a progressing upload is not the one cut to make room; a stalled one is", async () => {
  const serveConnection = connectionServer();
  assert.ok(serveConnection);
  const arrived = new Map<string, number>();
  let readers = 0;
  const door = serveFrontDoor({
    hostname: "127.0.0.1",
    port: 0,
    log: createLogger({ write: () => {} }),
    maxConnections: 3,
    headerTimeoutMs: 30_000,
    keepAliveTimeoutMs: 75_000,
    bodyTimeoutMs: 30_000,
    bodyMinBytesPerSecond: 65_536,
    serveConnection,
    timers: new ManualTimers(),
    handler: async (req: Request, info: ServeInfo) => {
      const who = req.headers.get("x-who")!;
      readers++;
      const w = info.body!;
      try {
        const bytes = await readBody(req, 20 * 1024 * 1024, {
          watch: {
            start(cut) {
              const r = w.start(cut);
              return {
                received: (n) => (r.received(n), arrived.set(who, (arrived.get(who) ?? 0) + n)),
                done: () => r.done(),
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
  const port = door.addr.port;
  const enc = new TextEncoder();
  // A legitimate 1 MiB upload, half of it sent (and read) already.
  const legit = await Deno.connect({ hostname: "127.0.0.1", port });
  await legit.write(enc.encode(`POST / HTTP/1.1\r\nHost: x\r\nX-Who: legit\r\nContent-Length: ${1 << 20}\r\n\r\n`));
  await legit.write(new Uint8Array(1 << 19));
  while ((arrived.get("legit") ?? 0) < 1 << 19) await tick();
  // Two stalled uploads opened after it: 5 bytes of 200,000 each.
  const stalled: Deno.Conn[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await c.write(enc.encode(`POST / HTTP/1.1\r\nHost: x\r\nX-Who: s${i}\r\nContent-Length: 200000\r\n\r\nkey=s`));
    stalled.push(c);
    while (readers < i + 2) await tick();
  }
  // One connection more, past the cap: someone's body is cut.
  const extra = await Deno.connect({ hostname: "127.0.0.1", port });
  const firstCut = await Promise.race([
    readHead(legit).then((h) => ["legit", h]),
    readHead(stalled[0]).then((h) => ["s0", h]),
    readHead(stalled[1]).then((h) => ["s1", h]),
  ]);
  for (const c of [legit, ...stalled, extra]) c.close();
  await door.shutdown({ graceMs: 0 });
  assert.notEqual(firstCut[0], "legit", `the progressing upload was cut: ${firstCut[1]}`);
});
