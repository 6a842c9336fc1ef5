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

Deno.test("readBody with a lease: a declared length is reserved before reading (503 unread), a streamed body as it arrives", async () => {
  const budget = createBodyBudget({ maxBytes: 10 });
  const holder = budget.lease();
  holder.reserve(5);
  const declared = new Request("http://gw/x", {
    method: "POST",
    body: "x".repeat(8),
    headers: { "content-length": "8" },
  });
  await assert.rejects(readBody(declared, 100, budget.lease()), (e) => e instanceof GatewayError && e.status === 503);
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
  await assert.rejects(readBody(streamed, 100, refused), (e) => e instanceof GatewayError && e.status === 503);
  assert.equal(budget.inFlight, 8, "its first chunk fitted; the second did not");
  refused.release();
  holder.release();
  assert.equal(budget.inFlight, 0);
  const lease = budget.lease();
  const ok = new Request("http://gw/x", { method: "POST", body: "12345678", headers: { "content-length": "8" } });
  assert.equal((await readBody(ok, 100, lease)).byteLength, 8);
  assert.equal(budget.inFlight, 8);
  lease.release();
  assert.equal(budget.inFlight, 0);
});
