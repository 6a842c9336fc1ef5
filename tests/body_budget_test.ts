/**
 * The budget of request-body bytes held at once: reservations past it are refused with a 503 and Retry-After, leases
 * give back what they took, and large bodies are let through to validation one per event-loop turn.
 */
import assert from "node:assert/strict";
import { GatewayError } from "../server/core/errors.ts";
import { createBodyBudget } from "../server/api/body_budget.ts";
import { readBody } from "../server/api/body.ts";

Deno.test("body budget: reservations add up, the one that does not fit is a 503 with Retry-After, release frees", () => {
  const budget = createBodyBudget({ maxBytes: 100 });
  const a = budget.lease(), b = budget.lease();
  a.reserve(60);
  assert.throws(
    () => b.reserve(41),
    (e) => e instanceof GatewayError && e.status === 503 && e.options.retryAfter === 1,
  );
  assert.equal(budget.inFlight, 60, "a refused reservation takes nothing");
  b.reserve(40);
  assert.equal(budget.inFlight, 100);
  a.release();
  a.release(); // idempotent
  assert.equal(budget.inFlight, 40);
  b.release();
  assert.equal(budget.inFlight, 0);
});

Deno.test("body budget: large bodies take turns, one per scheduled turn; small ones never wait", async () => {
  const turns: Array<() => void> = [];
  const budget = createBodyBudget({ maxBytes: 1e9, largeBytes: 10, later: (fn) => turns.push(fn) });
  await budget.lease().turn(9); // small: resolves without a turn
  const order: string[] = [];
  const first = budget.lease().turn(10).then(() => order.push("first"));
  const second = budget.lease().turn(50).then(() => order.push("second"));
  await Promise.resolve();
  assert.deepEqual(order, []);
  assert.equal(turns.length, 1);
  turns.shift()!();
  await first;
  assert.deepEqual(order, ["first"], "one large body per turn");
  assert.equal(turns.length, 1, "the next one waits for another turn");
  turns.shift()!();
  await second;
  assert.deepEqual(order, ["first", "second"]);
  turns.shift()!(); // the queue is empty: the pump stops
  assert.equal(turns.length, 0);
});

Deno.test("readBody with a lease: a small declared length is reserved before reading (503 unread), a streamed body as it arrives", async () => {
  const budget = createBodyBudget({ maxBytes: 10 });
  const holder = budget.lease();
  holder.reserve(5);
  const declared = new Request("http://gw/x", {
    method: "POST",
    body: "x".repeat(8),
    headers: { "content-length": "8" },
  });
  await assert.rejects(
    readBody(declared, 100, { lease: budget.lease() }),
    (e) => e instanceof GatewayError && e.status === 503,
  );
  assert.equal(declared.bodyUsed, false, "refused on its content-length, unread");
  const chunks = ["abc", "def"];
  const streamed = new Request("http://gw/x", {
    method: "POST",
    body: new ReadableStream({
      start(c) {
        for (const s of chunks) c.enqueue(new TextEncoder().encode(s));
        c.close();
      },
    }),
    duplex: "half",
  } as RequestInit);
  const refused = budget.lease();
  await assert.rejects(
    readBody(streamed, 100, { lease: refused }),
    (e) => e instanceof GatewayError && e.status === 503,
  );
  assert.equal(budget.inFlight, 8, "its first chunk fitted; the second did not");
  refused.release();
  holder.release();
  assert.equal(budget.inFlight, 0);
  const lease = budget.lease();
  const ok = new Request("http://gw/x", { method: "POST", body: "12345678", headers: { "content-length": "8" } });
  assert.equal((await readBody(ok, 100, { lease: lease })).byteLength, 8);
  assert.equal(budget.inFlight, 8);
  lease.release();
  assert.equal(budget.inFlight, 0);
});

Deno.test("readBody with a lease: a large declared body reserves what has arrived, not its declared length", async () => {
  const budget = createBodyBudget({ maxBytes: 1024 * 1024 });
  let push!: (bytes: Uint8Array) => void;
  let end!: () => void;
  const declared = 1024 * 1024; // the whole budget, declared and not sent
  const req = new Request("http://gw/x", {
    method: "POST",
    headers: { "content-length": String(declared) },
    body: new ReadableStream<Uint8Array>({
      start(c) {
        push = (b) => c.enqueue(b);
        end = () => c.close();
      },
    }),
    duplex: "half",
  } as RequestInit);
  const lease = budget.lease();
  const read = readBody(req, 20 * 1024 * 1024, { lease });
  push(new Uint8Array(1000));
  while (budget.inFlight < 1000) await new Promise((r) => setTimeout(r, 0));
  assert.equal(budget.inFlight, 1000, "only the bytes that came");
  const other = budget.lease();
  other.reserve(declared - 1000); // everyone else still fits
  other.release();
  // Once half has arrived, the body's buffer is allocated whole, and reserved whole.
  push(new Uint8Array(declared / 2));
  while (budget.inFlight === 1000) await new Promise((r) => setTimeout(r, 0));
  assert.equal(budget.inFlight, declared);
  push(new Uint8Array(declared / 2 - 1000).fill(7));
  end();
  const bytes = await read;
  assert.equal(bytes.byteLength, declared);
  assert.equal(bytes[declared - 1], 7);
  lease.release();
  assert.equal(budget.inFlight, 0);
});
