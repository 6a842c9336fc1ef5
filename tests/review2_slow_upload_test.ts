/**
 * Review 2: fixdoor's body timeout with its defaults (`body_timeout_ms` 30 s, `body_min_bytes_per_second` 64 KiB)
 * cuts legitimate uploads on slow links. A body arriving steadily at 32 KiB/s (256 kbit/s: a weak mobile or satellite
 * uplink, a congested hotel Wi-Fi) gets its 408 after ~60 s, whatever its size beyond ~1.9 MiB — a Converse request
 * carrying a 3 MiB PDF never gets through, and the AWS SDKs retry the 408 (`RequestTimeoutException`), uploading it
 * again to be cut again. Apache's `mod_reqtimeout` (whose rule this follows) defaults to `MinRate=500` bytes/s;
 * nginx's `client_body_timeout` is 60 s between two reads. Real sockets on 127.0.0.1; time is moved by hand.
 */
import assert from "node:assert/strict";
import { connectionServer } from "../server/http/connection_server.ts";
import { serveFrontDoor, type Timers } from "../server/http/front_door.ts";
import { createLogger } from "../server/core/log.ts";
import type { GatewayError } from "../server/core/errors.ts";
import { readBody } from "../server/api/body.ts";
import type { ServeInfo } from "../server/api/body_watch.ts";

/** Timers with a clock the test moves; `runDue()` runs those due by now. */
class SteppedTimers implements Timers {
  #next = 1;
  time = 0;
  readonly pending = new Map<number, { due: number; fn: () => void }>();
  set(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.pending.set(id, { due: this.time + ms, fn });
    return id;
  }
  clear(id: unknown): void {
    this.pending.delete(id as number);
  }
  now(): number {
    return this.time;
  }
  runDue(): void {
    for (const [id, t] of [...this.pending]) {
      if (t.due <= this.time && this.pending.delete(id)) t.fn();
    }
  }
}

const DEFAULT_BODY_TIMEOUT_MS = 30_000; // server/config/load.ts
const DEFAULT_MIN_RATE = 64 * 1024;

Deno.test("review2 slow upload: a 3 MiB body arriving steadily at 256 kbit/s is read, not cut with a 408", async () => {
  const timers = new SteppedTimers();
  const serveConnection = connectionServer();
  assert.ok(serveConnection);
  let arrived = 0;
  const door = serveFrontDoor({
    hostname: "127.0.0.1",
    port: 0,
    log: createLogger({ write: () => {} }),
    maxConnections: 10,
    headerTimeoutMs: 30_000,
    keepAliveTimeoutMs: 75_000,
    bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS,
    bodyMinBytesPerSecond: DEFAULT_MIN_RATE,
    serveConnection,
    timers,
    handler: async (req: Request, info: ServeInfo) => {
      const watch = info.body!;
      try {
        const bytes = await readBody(req, 20 * 1024 * 1024, {
          watch: {
            start(cut) {
              const r = watch.start(cut);
              return { received: (n) => (r.received(n), arrived += n), done: () => r.done() };
            },
          },
        });
        return new Response(`read ${bytes.byteLength}`);
      } catch (e) {
        return new Response((e as Error).message, { status: (e as GatewayError).status ?? 500 });
      }
    },
  });
  const CHUNK = 32 * 1024; // one second's worth at 256 kbit/s
  const LENGTH = 3 * 1024 * 1024;
  const c = await Deno.connect({ hostname: "127.0.0.1", port: door.addr.port });
  const response = (async () => {
    let text = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await c.read(buf).catch(() => null);
      if (n === null) return text;
      text += new TextDecoder().decode(buf.subarray(0, n));
      if (/\r\n\r\n[^]*(read \d+|slowly[^]*)$/.test(text)) return text;
    }
  })();
  let answered = false;
  response.then(() => answered = true);
  await c.write(new TextEncoder().encode(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${LENGTH}\r\n\r\n`));
  const chunk = new Uint8Array(CHUNK).fill(0x61);
  for (let sent = 0; sent < LENGTH && !answered; sent += CHUNK) {
    await c.write(chunk).catch(() => {});
    // Wait until the reader has taken this second's bytes, then let the second pass.
    for (let i = 0; i < 1000 && arrived < sent + CHUNK && !answered; i++) await new Promise((r) => setTimeout(r, 0));
    timers.time += 1000;
    timers.runDue();
  }
  const text = await response;
  c.close();
  await door.shutdown({ graceMs: 0 });
  assert.match(text.split("\r\n")[0], /^HTTP\/1\.1 200/, `cut after ${arrived} bytes, t=${timers.time / 1000} s`);
});
