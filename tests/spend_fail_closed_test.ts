/**
 * Fail closed, lose nothing: with KV refusing writes (a full disk), spend stays queued and is retried, readiness
 * answers 503 naming the cause, billable calls are refused with a Bedrock 503 once a few answered calls wait to be
 * billed, and everything lands exactly once when KV writes again.
 */
import assert from "node:assert/strict";
import { DISK_FULL, failingKv, nextTick } from "./failing_kv.ts";
import { CALL_COST_NANOS, kvSpendNanos, setupKeys } from "./keys_helpers.ts";

Deno.test("readiness answers 503 naming the cause while spend cannot be written, 200 once it lands", async () => {
  await using inner = await Deno.openKv(":memory:");
  const disk = failingKv(inner);
  await using t = await setupKeys({ kv: disk.kv, ledgerSleep: nextTick });
  const g = await t.generate({ max_budget: 1 });
  const ready = async () => {
    const res = await fetch(`${t.gw.url}/health/readiness`);
    return { status: res.status, body: await res.json() };
  };
  assert.deepEqual(await ready(), { status: 200, body: { status: "healthy", db: "connected" } });

  disk.state.failing = true;
  assert.equal((await t.converse(g.key)).status, 200);
  await disk.failedAtLeast(3);
  const failing = await ready();
  assert.equal(failing.status, 503);
  assert.equal(failing.body.status, "unhealthy");
  assert.equal(failing.body.db, "connected");
  assert.match(failing.body.cause, new RegExp(`spend cannot be written to KV since .*${DISK_FULL}`));
  assert.match(failing.body.cause, /1 answered calls wait to be billed/);

  disk.state.failing = false;
  await t.gw.gateway.flush();
  assert.deepEqual(await ready(), { status: 200, body: { status: "healthy", db: "connected" } });
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), CALL_COST_NANOS);
});
