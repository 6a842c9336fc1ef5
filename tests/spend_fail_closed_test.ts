/**
 * Fail closed, lose nothing: with KV refusing writes (a full disk), spend stays queued and is retried, readiness
 * answers 503 naming the cause, billable calls are refused with a Bedrock 503 once a few answered calls wait to be
 * billed, and everything lands exactly once when KV writes again.
 */
import assert from "node:assert/strict";
import { MAX_UNWRITTEN_CALLS } from "../server/keys/admission.ts";
import { createLogger } from "../server/core/log.ts";
import { DISK_FULL, failingKv, nextTick } from "./failing_kv.ts";
import { MASTER_KEY } from "../testing/harness.ts";
import { Latch } from "../testing/latch.ts";
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
  // A first call takes this instance's slice of the key's budget (a KV write), with room for more.
  assert.equal((await t.converse(g.key)).status, 200);
  await t.gw.gateway.flush();

  disk.state.failing = true;
  assert.equal((await t.converse(g.key)).status, 200, "admitted from the slice's room, without KV");
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
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), 2n * CALL_COST_NANOS);
});

Deno.test("while spend cannot be written, billable calls are refused with a Bedrock 503 past a few unbilled ones", async () => {
  await using inner = await Deno.openKv(":memory:");
  const disk = failingKv(inner);
  await using t = await setupKeys({ kv: disk.kv, ledgerSleep: nextTick });
  const g = await t.generate({ max_budget: 1 });
  assert.equal((await t.converse(g.key)).status, 200); // takes a slice of the budget with room to spare
  await t.gw.gateway.flush();

  disk.state.failing = true;
  assert.equal((await t.converse(g.key)).status, 200);
  await disk.failedAtLeast(1); // the ledger has found out
  const answered = [];
  for (let i = 0; i < 10; i++) {
    const res = await t.converse(g.key);
    const body = await res.json();
    answered.push(res.status);
    if (res.status === 503) {
      assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], "ServiceUnavailableException");
      assert.match(body.message, /cannot record spend right now .*database or disk is full.*4 answered calls wait/);
      assert.equal(res.headers.get("retry-after"), "5");
    }
  }
  // 1 + MAX_UNWRITTEN_CALLS - 1 more answered while failing, then refused.
  assert.deepEqual(answered, [200, 200, 200, 503, 503, 503, 503, 503, 503, 503]);
  assert.equal((await t.converse(MASTER_KEY)).status, 503, "the master key's calls are billed too");
  // A call that cannot cost anything is still served.
  const count = await fetch(`${t.gw.url}/bedrock/model/claude/count-tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${g.key}`, "content-type": "application/json" },
    body: JSON.stringify({ input: { converse: { messages: [{ role: "user", content: [{ text: "Hi" }] }] } } }),
  });
  assert.equal(count.status, 200);
  await count.body?.cancel();
  assert.equal(t.fake.requests.length, 6);

  disk.state.failing = false;
  await t.gw.gateway.flush();
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), 5n * CALL_COST_NANOS, "every answered call billed once");
  assert.equal((await t.converse(g.key)).status, 200);
});

Deno.test("shutdown while KV still fails: bounded wait, every unwritten sum logged; after restart only those are missing", async () => {
  const kvPath = await Deno.makeTempFile({ suffix: ".sqlite" });
  const clean = async () => {
    for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(kvPath + suffix).catch(() => {});
  };
  try {
    const inner = await Deno.openKv(kvPath);
    const disk = failingKv(inner);
    const lines: string[] = [];
    const t = await setupKeys({
      kv: disk.kv,
      ledgerSleep: nextTick,
      closeWaitMs: 50,
      log: createLogger({ write: (l) => lines.push(l) }),
    });
    const g = await t.generate({ max_budget: 1, key_alias: "app" });
    assert.equal((await t.converse(g.key)).status, 200);
    await t.gw.gateway.flush();
    disk.state.failing = true;
    let answered = 0;
    for (let i = 0; i < 20; i++) {
      const res = await t.converse(g.key);
      await res.body?.cancel();
      if (res.status === 200) answered++;
      if (i === 0) await disk.failedAtLeast(1);
    }
    assert.equal(answered, MAX_UNWRITTEN_CALLS);
    await t[Symbol.asyncDispose](); // what SIGTERM does, the disk still full
    inner.close();

    const line = JSON.parse(lines.find((l) => l.includes("shutting down with spend not written"))!);
    assert.equal(line.cause, `TypeError: ${DISK_FULL}`);
    assert.equal(line.rows, MAX_UNWRITTEN_CALLS, "their spend-log rows, counted");
    const id = await (async () => {
      await using kv = await Deno.openKv(kvPath);
      return (await kv.get<{ id: string }>(["keys", g.token])).value!.id;
    })();
    const spend = line.sums.find((u: { key: unknown[] }) => u.key[0] === "key_spend" && u.key[1] === id);
    assert.equal(spend.amount, String(BigInt(MAX_UNWRITTEN_CALLS) * CALL_COST_NANOS), "logged exactly, by counter");

    // Space is back; a restarted gateway on the same KV sees the calls written before the failure.
    await using kv = await Deno.openKv(kvPath);
    assert.equal(await kvSpendNanos(kv, g.token), CALL_COST_NANOS);
  } finally {
    await clean();
  }
});

/** A KV whose commits fail with SQLite's full-disk error while `full` is set and they write a spend-log page. */
function nearlyFullKv(inner: Deno.Kv) {
  const state = { full: false, refused: 0 };
  /** Released once the ledger has decided: a fourth refused attempt (kept retrying), or a commit without rows. */
  const decided = new Latch();
  const kv = new Proxy(inner, {
    get(target, prop) {
      if (prop !== "atomic") {
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      }
      return () => {
        const op = target.atomic();
        let big = false;
        const proxy: Deno.AtomicOperation = new Proxy(op, {
          get(o, p) {
            if (p === "commit") {
              return () => {
                if (state.full && big) {
                  if (++state.refused >= 4) decided.release();
                  return Promise.reject(new TypeError(DISK_FULL));
                }
                if (state.refused > 0) decided.release();
                return o.commit();
              };
            }
            const v = Reflect.get(o, p);
            if (typeof v !== "function") return v;
            return (...args: unknown[]) => {
              if (p === "set" && (args[0] as Deno.KvKey)[0] === "spend_log_page") big = true;
              v.apply(o, args);
              return proxy;
            };
          },
        });
        return proxy;
      };
    },
  });
  return { kv, state, decided };
}

Deno.test("a nearly full disk (room for the sums, not for a page of rows): /spend answers, readiness holds; the call's row is written at its next try", async () => {
  await using inner = await Deno.openKv(":memory:");
  const disk = nearlyFullKv(inner);
  const rowTry = new Latch();
  // The rows' wait (a second or more) ends when the test says; the ledger's short retry waits are one turn.
  await using t = await setupKeys({ kv: disk.kv, ledgerSleep: (ms) => ms >= 1000 ? rowTry.wait() : nextTick() });
  disk.state.full = true;
  const res = await t.converse(MASTER_KEY);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await disk.decided.wait();
  // Reads of spend do not wait for the row: the call's spend is written, its row waits for room.
  const during = await t.admin("GET", "/spend/logs");
  assert.equal(during.status, 200);
  assert.deepEqual(during.json, []);
  assert.equal(await fetch(`${t.gw.url}/health/readiness`).then((r) => (r.body?.cancel(), r.status)), 200);
  const refusedWhileFull = disk.state.refused;
  disk.state.full = false; // space is back
  rowTry.release();
  await nextTick();
  await t.gw.gateway.flush();
  const rows = (await t.admin("GET", "/spend/logs")).json;
  assert.ok(refusedWhileFull > 0);
  assert.equal(rows.length, 1, `the call's row is gone after ${refusedWhileFull} refused commits`);
});
