/**
 * Holds and leases on their own: the grant decision (LiteLLM's rule over everything reserved, extra room at most half
 * of what is free), holds replaced by usage at settlement, slices of two instances on one KV never adding up past the
 * limit, a dead instance's slice reclaimed after it expires, an idle one given back, and a KV that cannot be asked.
 * Time is an injected clock; upkeep runs when the test calls it.
 */
import assert from "node:assert/strict";
import {
  createHolds,
  type Holds,
  type HoldTicket,
  LEASE_IDLE_MS,
  LEASE_TTL_MS,
  type Limit,
} from "../server/limits/holds.ts";
import { decideGrant, leaseKey, slicesOf } from "../server/limits/lease_record.ts";
import { createLedger, type Ledger } from "../server/kv/ledger.ts";
import { silentLogger } from "../server/core/log.ts";

Deno.test("grant: calls are admitted while what is settled and reserved before them is below the limit", () => {
  const base = { settled: 0n, others: 0n, used: 0n, keptRoom: 0n, limit: 100n, extra: 0n };
  // Holds of 30: the fourth starts at 90 < 100 and crosses; the fifth starts at 120.
  assert.deepEqual(decideGrant({ ...base, waiting: [30n, 30n, 30n, 30n, 30n] }).admitted, [
    true,
    true,
    true,
    true,
    false,
  ]);
  // One hold larger than the whole limit: admitted (nothing is reserved before it), as LiteLLM admits it.
  assert.deepEqual(decideGrant({ ...base, waiting: [500n, 1n] }), {
    take: 500n,
    admitted: [true, false],
    reserved: 500n,
  });
  // Others' slices and what is settled count before anything of ours.
  assert.deepEqual(decideGrant({ ...base, settled: 60n, others: 40n, waiting: [1n] }).admitted, [false]);
  // Extra room: at most half of what is free after the admitted calls.
  assert.equal(decideGrant({ ...base, used: 10n, waiting: [10n], extra: 1000n }).take, 20n + 40n);
  assert.equal(decideGrant({ ...base, used: 10n, waiting: [10n], extra: 5n }).take, 25n);
  // Kept room stays ours and counts as reserved.
  assert.equal(decideGrant({ ...base, used: 10n, keptRoom: 30n, waiting: [], extra: 1000n }).take, 40n + 30n);
});

Deno.test("lease record: slices of another window, and malformed ones, count for nothing", () => {
  const slices = { a: { amount: 5n, expires: 10 }, b: { amount: "x", expires: 10 } };
  assert.deepEqual(slicesOf({ window: 7, slices }, 7), { a: { amount: 5n, expires: 10 } });
  assert.deepEqual(slicesOf({ window: 6, slices }, 7), {});
  assert.deepEqual(slicesOf({ window: null, slices }, undefined), { a: { amount: 5n, expires: 10 } });
  assert.deepEqual(slicesOf(undefined, 7), {});
  assert.deepEqual(leaseKey(["key_spend", "k", 0]), ["limit_lease", "key_spend", "k", 0]);
});

interface Instance {
  holds: Holds;
  ledger: Ledger;
}

/** Instances on one KV, each with its own ledger, on one clock; timers never fire (upkeep runs when asked). */
function instances(kv: Deno.Kv, clock: { t: number }, ...ids: string[]): Instance[] {
  return ids.map((id) => {
    const ledger = createLedger({ kv, instanceId: id, log: silentLogger });
    const holds = createHolds({
      kv,
      ledger,
      now: () => clock.t,
      log: silentLogger,
      timers: { setTimeout: () => 0, clearTimeout: () => {} },
    });
    return { holds, ledger };
  });
}

const COUNTER = ["budget_counter", "k"];
const limitOf = (hold: bigint, limit = 100n): Limit[] => [{ scope: "budget:k", counter: COUNTER, limit, hold }];

async function place(i: Instance, hold: bigint, limit = 100n): Promise<HoldTicket | undefined> {
  const r = await i.holds.place(limitOf(hold, limit));
  return "refused" in r ? undefined : r;
}

/** What the call used, summed into the counter by the ledger (as admission does) and settled on its ticket. */
function settle(i: Instance, ticket: HoldTicket, amount: bigint) {
  i.ledger.add([{ key: COUNTER, amount }]);
  ticket.settle([{ counter: COUNTER, amount }]);
}

Deno.test("one instance: sequential calls cross the limit once, as in LiteLLM; holds give way to usage", async () => {
  await using kv = await Deno.openKv(":memory:");
  const clock = { t: 1_000_000 };
  const [a] = instances(kv, clock, "a");
  // Holds of 60 on a limit of 100; each call uses 30.
  for (let i = 0; i < 4; i++) {
    const ticket = await place(a, 60n);
    assert.ok(ticket, `call ${i + 1} admitted (settled ${30 * i} < 100)`);
    settle(a, ticket, 30n);
  }
  assert.equal(await place(a, 60n), undefined, "120 settled: refused");
  const refusal = await a.holds.place(limitOf(60n));
  assert.ok("refused" in refusal);
  assert.equal(refusal.reason, "full");
  assert.equal(refusal.settled, 120n);
  await a.holds.close();
  await a.ledger.close();
});

Deno.test("one instance: calls arriving together see each other's holds; the last admitted may cross", async () => {
  await using kv = await Deno.openKv(":memory:");
  const clock = { t: 1_000_000 };
  const [a] = instances(kv, clock, "a");
  const outcomes = await Promise.all(Array.from({ length: 10 }, () => a.holds.place(limitOf(30n))));
  const admitted = outcomes.filter((o) => !("refused" in o));
  assert.equal(admitted.length, 4); // 0, 30, 60, 90 in front of them
  for (const o of outcomes) if ("refused" in o) assert.equal(o.held, 120n);
  await a.holds.close();
  await a.ledger.close();
});

Deno.test("two instances: slices never add up past the limit; a dead one's slice is reclaimed once it expires", async () => {
  await using kv = await Deno.openKv(":memory:");
  const clock = { t: 1_000_000 };
  const [a, b] = instances(kv, clock, "a", "b");
  try {
    // a takes a slice for three calls (and some room), then dies with them in flight: never settles, never renews.
    const held = await Promise.all(Array.from({ length: 3 }, () => a.holds.place(limitOf(20n))));
    assert.ok(held.every((o) => !("refused" in o)));
    const aSlice = slicesOf((await kv.get(leaseKey(COUNTER))).value, undefined).a.amount;
    assert.ok(aSlice >= 60n, "a's slice covers its holds");
    // b gets what a's slice leaves, crossing the limit by one hold at most.
    const fromB = await Promise.all(Array.from({ length: 5 }, () => b.holds.place(limitOf(20n))));
    const bAdmitted = BigInt(fromB.filter((o) => !("refused" in o)).length);
    assert.ok(bAdmitted >= 1n && aSlice + 20n * bAdmitted <= 100n + 20n, `b admitted ${bAdmitted}`);
    // While a's slice lives, b cannot go past the limit.
    assert.equal(await place(b, 20n), undefined);
    // Once it has expired it counts for nothing: b may use all that b's own holds leave.
    clock.t += LEASE_TTL_MS;
    const after = await Promise.all(Array.from({ length: 6 }, () => b.holds.place(limitOf(20n))));
    assert.equal(after.filter((o) => !("refused" in o)).length, Number(5n - bAdmitted));
    for (const o of [...fromB, ...after]) if (!("refused" in o)) o.release();
  } finally {
    await b.holds.close();
    for (const i of [a, b]) await i.ledger.close();
  }
});

Deno.test("an idle instance gives its slice back at upkeep; one in use keeps it", async () => {
  await using kv = await Deno.openKv(":memory:");
  const clock = { t: 1_000_000 };
  const [a, b] = instances(kv, clock, "a", "b");
  const t1 = await place(a, 10n);
  settle(a, t1!, 10n);
  await a.ledger.flush();
  const [busy] = [await place(b, 10n)];
  assert.ok(busy);
  clock.t += LEASE_IDLE_MS;
  await a.holds.maintain();
  await b.holds.maintain();
  const slices = slicesOf((await kv.get(leaseKey(COUNTER))).value, undefined);
  assert.equal(slices.a, undefined, "a had nothing in flight: its slice went back");
  assert.ok(slices.b && slices.b.amount >= 10n, "b's call is in flight: its slice stays");
  // Near its expiry, a slice in use is renewed.
  clock.t = slices.b.expires - 4_000;
  await b.holds.maintain();
  const renewed = slicesOf((await kv.get(leaseKey(COUNTER))).value, undefined).b;
  assert.equal(renewed.expires, clock.t + LEASE_TTL_MS);
  busy!.release();
  await b.holds.close();
  assert.equal((await kv.get(leaseKey(COUNTER))).value, null, "nothing left after both are done");
  for (const i of [a, b]) await i.ledger.close();
});

Deno.test("a KV that cannot be read refuses the call as unavailable, naming the cause", async () => {
  await using kv = await Deno.openKv(":memory:");
  const ledger = createLedger({ kv, instanceId: "a", log: silentLogger });
  const broken = {
    getMany: () => Promise.reject(new Error("KV is gone")),
    atomic: () => kv.atomic(),
  } as unknown as Deno.Kv;
  const holds = createHolds({
    kv: broken,
    ledger,
    now: () => 0,
    log: silentLogger,
    timers: { setTimeout: () => 0, clearTimeout: () => {} },
  });
  const r = await holds.place(limitOf(1n));
  assert.ok("refused" in r);
  assert.equal(r.reason, "unavailable");
  assert.match(r.cause!, /KV is gone/);
  await ledger.close();
});
