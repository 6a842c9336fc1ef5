/**
 * Spend-log rows in the ledger's batches: written with their sums and their TTL, split to fit Deno KV's limits,
 * bounded when KV falls behind, and never able to hold the billing sums (nor a flush waiting for them) back: rows KV
 * has no room for are set aside and tried again on their own backoff.
 */
import assert from "node:assert/strict";
import { createLogger } from "../server/core/log.ts";
import { createLedger, type LedgerKv, type LedgerRow } from "../server/kv/ledger.ts";
import { Latch } from "../testing/latch.ts";
import { nextTick } from "./failing_kv.ts";

interface Op {
  sets: Array<{ key: Deno.KvKey; options?: { expireIn?: number } }>;
  sums: number;
}

/** A KV that records each atomic operation's sets and sums, and lets `commit` hold or fail it. */
function recordingKv(
  kv: Deno.Kv,
  ops: Op[],
  commit: (op: Op, real: () => Promise<Deno.KvCommitResult | Deno.KvCommitError>) => Promise<
    Deno.KvCommitResult | Deno.KvCommitError
  > = (_, real) => real(),
): LedgerKv {
  return {
    get: kv.get.bind(kv) as Deno.Kv["get"],
    atomic() {
      const inner = kv.atomic();
      const op: Op = { sets: [], sums: 0 };
      const proxy: Deno.AtomicOperation = new Proxy(inner, {
        get(target, prop) {
          if (prop === "commit") {
            return () => {
              ops.push(op);
              return commit(op, () => target.commit());
            };
          }
          const v = Reflect.get(target, prop);
          if (typeof v !== "function") return v;
          return (...args: unknown[]) => {
            if (prop === "set") op.sets.push({ key: args[0] as Deno.KvKey, options: args[2] as { expireIn?: number } });
            if (prop === "sum") op.sums++;
            v.apply(target, args);
            return proxy;
          };
        },
      });
      return proxy;
    },
  };
}

/** A recording KV whose commits writing a spend-log row fail with `message` (while `refusing()` says so). */
const refusingRows = (kv: Deno.Kv, ops: Op[], message: string, refusing = () => true) =>
  recordingKv(kv, ops, (op, real) => {
    if (refusing() && op.sets.some((s) => s.key[0] === "spend_log")) throw new TypeError(message);
    return real();
  });

/** A logger of the test's own, and the lines it wrote (never shared between tests). */
function capturedLog() {
  const logs: string[] = [];
  return { logs, log: createLogger({ write: (l) => logs.push(l) }) };
}
const row = (i: number, bytes = 100): LedgerRow => ({
  key: ["spend_log", i],
  value: { i, pad: "x".repeat(bytes) },
  expireIn: 3_600_000,
  bytes: bytes + 32,
});

Deno.test("rows are written with their sums in one atomic batch, with their TTL", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ops: Op[] = [];
  const ledger = createLedger({ kv: recordingKv(kv, ops), instanceId: "a", log });
  ledger.add([{ key: ["spend", "k"], amount: 5n }], [row(1), row(2)]);
  ledger.add([{ key: ["spend", "k"], amount: 7n }], [row(3)]);
  await ledger.flush();
  assert.equal(ops.length, 1);
  const rowSets = ops[0].sets.filter((s) => s.key[0] === "spend_log");
  assert.deepEqual(rowSets.map((s) => s.key[1]), [1, 2, 3]);
  assert.ok(rowSets.every((s) => s.options?.expireIn === 3_600_000));
  assert.equal(ops[0].sums, 1);
  assert.equal((await kv.get<Deno.KvU64>(["spend", "k"])).value?.value, 12n);
  assert.deepEqual((await kv.get(["spend_log", 3])).value, { i: 3, pad: "x".repeat(100) });
  assert.deepEqual(ledger.stats(), { pendingCounters: 0, pendingRows: 0, droppedRows: 0 });
  await ledger.close();
});

Deno.test("large rows are split over several commits that each fit Deno KV's limits", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ops: Op[] = [];
  const ledger = createLedger({ kv: recordingKv(kv, ops), instanceId: "a", log, maxPendingCounters: 10_000 });
  // 40 rows of ~50 KB: 2 MB in all, far over one atomic operation's 800 KiB.
  for (let i = 0; i < 40; i++) ledger.add([{ key: ["n"], amount: 1n }], [row(i, 50_000)]);
  await ledger.flush();
  assert.ok(ops.length >= 4, `${ops.length} commits`);
  for (let i = 0; i < 40; i++) assert.ok((await kv.get(["spend_log", i])).versionstamp, `row ${i}`);
  assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 40n);
  await ledger.close();
});

Deno.test("the row queue is bounded: while KV is stuck, extra rows are dropped and counted; sums never", async () => {
  const { log, logs } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ops: Op[] = [];
  const stuck = new Latch();
  const ledger = createLedger({
    kv: recordingKv(kv, ops, async (_, real) => {
      await stuck.wait();
      return real();
    }),
    instanceId: "a",
    log,
    maxPendingRows: 10,
    flushIntervalMs: 0,
  });
  ledger.add([{ key: ["n"], amount: 1n }], [row(0)]);
  const first = ledger.flush(); // this batch's commit is now held
  for (let i = 1; i <= 20; i++) ledger.add([{ key: ["n"], amount: 1n }], [row(i)]);
  assert.deepEqual(ledger.stats(), { pendingCounters: 1, pendingRows: 10, droppedRows: 10 });
  assert.ok(logs.some((l) => l.includes("row queue full")));
  stuck.release();
  await first;
  await ledger.flush();
  assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 21n);
  const stored: unknown[] = [];
  for await (const e of kv.list({ prefix: ["spend_log"] })) stored.push(e.key[1]);
  assert.deepEqual(stored, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await ledger.close();
});

Deno.test("rows KV refuses as such (too large) are dropped at the first refusal; their sums still land, once", async () => {
  const { log, logs } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ops: Op[] = [];
  const ledger = createLedger({
    kv: refusingRows(kv, ops, "Value too large"),
    instanceId: "a",
    log,
  });
  ledger.add([{ key: ["spend", "k"], amount: 9n }], [row(1)]);
  await ledger.flush();
  assert.equal((await kv.get<Deno.KvU64>(["spend", "k"])).value?.value, 9n);
  assert.equal((await kv.get(["spend_log", 1])).versionstamp, null);
  assert.equal(ledger.stats().droppedRows, 1);
  assert.equal(ops.length, 2); // one refused attempt with the row, one without
  assert.ok(logs.some((l) => l.includes("dropped the rows of a batch KV refuses")));
  await ledger.close();
});

/** A sleep the test ends by hand: `waits` holds each pending one with the time asked for. */
function handSleep() {
  const waits: Array<{ ms: number; end: () => void }> = [];
  const sleep = (ms: number) => new Promise<void>((end) => waits.push({ ms, end }));
  return { waits, sleep };
}

Deno.test("rows KV has no room for are set aside within maxPendingRows: flush() resolves with their sums; the rows are written once at their next try", async () => {
  const { log, logs } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ops: Op[] = [];
  let full = true;
  const held = new Latch();
  const { waits, sleep } = handSleep();
  const ledger = createLedger({
    kv: recordingKv(kv, ops, async (op, real) => {
      if (ops.length === 1) await held.wait(); // the first commit waits while newer rows arrive
      if (full && op.sets.some((s) => s.key[0] === "spend_log")) throw new TypeError("database or disk is full");
      return real();
    }),
    instanceId: "a",
    log,
    maxPendingRows: 3,
    sleep,
  });
  ledger.add([{ key: ["spend", "k"], amount: 9n }], [row(1), row(2), row(3)]);
  const flushed = ledger.flush();
  ledger.add([], [row(4), row(5)]); // queued while the first batch is being written
  held.release();
  await flushed; // the sums landed without the rows: a flush does not wait for rows set aside
  assert.equal((await kv.get<Deno.KvU64>(["spend", "k"])).value?.value, 9n);
  assert.equal((await kv.get(["spend_log", 1])).versionstamp, null);
  // The rows went aside ahead of the newer ones, which no longer fit.
  assert.deepEqual(ledger.stats(), { pendingCounters: 0, pendingRows: 3, droppedRows: 2 });
  assert.equal(logs.filter((l) => l.includes("spend-log rows set aside")).length, 1);
  assert.ok(ledger.health().ok, "the sums land: readiness has nothing to say about rows");
  assert.deepEqual(waits.map((w) => w.ms), [1000], "their next try waits a second");

  full = false; // room again
  waits[0].end();
  await nextTick();
  await ledger.flush(); // the rows are queued again: this flush takes them
  const stored: unknown[] = [];
  for await (const e of kv.list({ prefix: ["spend_log"] })) stored.push(e.key[1]);
  assert.deepEqual(stored, [1, 2, 3]);
  assert.equal((await kv.get<Deno.KvU64>(["spend", "k"])).value?.value, 9n, "the sums were written once");
  assert.equal(ledger.stats().pendingRows, 0);
  assert.ok(logs.some((l) => l.includes("rows set aside are written again")));
  assert.ok(!logs.some((l) => l.includes("dropped the rows of a batch KV refuses")));
  assert.deepEqual(await ledger.close(), { sums: [], rows: 0 });
});

Deno.test("flush() resolves once the sums are written, though KV has no room for the rows", async () => {
  await using kv = await Deno.openKv(":memory:");
  const ops: Op[] = [];
  const ledger = createLedger({
    kv: refusingRows(kv, ops, "database or disk is full"),
    instanceId: "a",
    log: capturedLog().log,
    sleep: () => Promise.resolve(),
  });
  ledger.add([{ key: ["spend", "k"], amount: 9n }], [row(1)]);
  let flushed = false;
  const flushing = ledger.flush().then(() => flushed = true);
  for (let i = 0; i < 200 && !flushed; i++) await nextTick();
  assert.equal((await kv.get<Deno.KvU64>(["spend", "k"])).value?.value, 9n, "the sums were written");
  assert.ok(flushed, `flush() still waiting after ${ops.length} commits`);
  await flushing;
  assert.deepEqual(await ledger.close({ waitMs: 0 }), { sums: [], rows: 1 });
});

Deno.test("a disk that stays full for rows: tried at most once a simulated second, backing off; no marker rewritten; one warning; readiness steady", async () => {
  const { log, logs } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ops: Op[] = [];
  let full = true;
  let clock = 0;
  const ledger = createLedger({
    kv: refusingRows(kv, ops, "database or disk is full", () => full),
    instanceId: "a",
    log,
    maxPendingRows: 1000,
    monotonic: () => clock,
    now: () => clock,
    // Time passes only while the ledger waits (and 10 ms per call below): commits per simulated second are counted.
    sleep: (ms) => {
      clock += ms;
      return nextTick();
    },
  });
  const withRows = (from: number) => ops.slice(from).filter((o) => o.sets.some((s) => s.key[0] === "spend_log"));
  const markers = (from: number) => ops.slice(from).filter((o) => o.sets.some((s) => s.key[0] === "ledger_batch"));
  /** Settles `p` within a bounded number of turns, or fails (a flush that hangs must not hang the test). */
  const soon = async (p: Promise<void>, what: string) => {
    let done = false;
    p.then(() => done = true);
    for (let i = 0; i < 100 && !done; i++) await nextTick();
    assert.ok(done, what);
  };

  // Busy: a call every 10 ms, each with its row; every /spend read's flush resolves.
  const CALLS = 300;
  for (let i = 0; i < CALLS; i++) {
    clock += 10;
    ledger.add([{ key: ["spend", "k"], amount: 1n }], [row(i)]);
    await soon(ledger.flush(), `flush ${i} still waiting after ${ops.length} commits`);
    assert.ok(ledger.health().ok, `readiness flapped at call ${i}`);
  }
  assert.equal((await kv.get<Deno.KvU64>(["spend", "k"])).value?.value, BigInt(CALLS));
  assert.ok(markers(0).length <= CALLS + withRows(0).length, `${markers(0).length} marker commits for ${CALLS} calls`);
  assert.ok(withRows(0).length <= 1 + clock / 1000, `${withRows(0).length} row commits in ${clock / 1000} s`);

  // Idle: only the rows' tries, alone (no marker, no watermark), waits growing.
  const idleFrom = ops.length, idleStart = clock;
  for (let i = 0; i < 50; i++) await nextTick();
  const idle = ops.slice(idleFrom);
  assert.ok(idle.length >= 1, "the rows are still tried");
  assert.equal(markers(idleFrom).length, 0, "no batch marker or watermark committed without sums");
  assert.ok(idle.length <= 1 + (clock - idleStart) / 1000, `${idle.length} commits in ${(clock - idleStart) / 1000} s`);
  assert.ok(clock - idleStart >= 30_000 * (idle.length - 5), "the wait grows to 30 s");
  assert.ok(ledger.health().ok);
  assert.equal(logs.filter((l) => l.includes("spend-log rows set aside")).length, 1, "one warning per episode");
  assert.ok(!logs.some((l) => l.includes("commit failed") || l.includes("commits land again")));
  assert.deepEqual(ledger.stats(), { pendingCounters: 0, pendingRows: CALLS, droppedRows: 0 });

  // Room again: close() tries them once more, and they are written.
  full = false;
  assert.deepEqual(await ledger.close(), { sums: [], rows: 0 });
  let stored = 0;
  for await (const _ of kv.list({ prefix: ["spend_log"] })) stored++;
  assert.equal(stored, CALLS);
});

Deno.test("close() with the disk still full for rows: tried once more, then logged and returned as lost", async () => {
  const { log, logs } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ops: Op[] = [];
  const { sleep } = handSleep();
  const ledger = createLedger({
    kv: refusingRows(kv, ops, "database or disk is full"),
    instanceId: "a",
    log,
    sleep,
  });
  ledger.add([{ key: ["spend", "k"], amount: 4n }], [row(1), row(2)]);
  await ledger.flush();
  const before = ops.length;
  assert.deepEqual(await ledger.close(), { sums: [], rows: 2 });
  assert.equal(ops.length, before + 1, "one last try, rows alone");
  assert.ok(logs.some((l) => l.includes("spend-log rows KV could not write; they are lost") && l.includes('"rows":2')));
  assert.equal((await kv.get<Deno.KvU64>(["spend", "k"])).value?.value, 4n);
});

Deno.test("a row's index entries commit with it, also when a batch is split; rows from collectors count as they say", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ops: Op[] = [];
  const ledger = createLedger({ kv: recordingKv(kv, ops), instanceId: "a", log, maxPendingCounters: 10_000 });
  // 30 pages of ~40 KB, each holding 3 log rows and pointed at by two index entries: several commits.
  const page = (i: number): LedgerRow => ({
    ...row(i, 40_000),
    index: [["idx_a", i], ["idx_b", "x", i]],
    count: 3,
  });
  ledger.addLater(() => ({ sums: [{ key: ["n"], amount: 30n }], rows: Array.from({ length: 30 }, (_, i) => page(i)) }));
  assert.equal(ledger.stats().pendingRows, 0, "collected only when the batch is taken");
  await ledger.flush();
  assert.ok(ops.length >= 2, `${ops.length} commits`);
  for (const op of ops) {
    for (const s of op.sets.filter((s) => s.key[0] === "spend_log")) {
      const i = s.key[1];
      const keys = op.sets.map((x) => JSON.stringify(x.key));
      assert.ok(keys.includes(JSON.stringify(["idx_a", i])) && keys.includes(JSON.stringify(["idx_b", "x", i])));
    }
  }
  for (let i = 0; i < 30; i++) {
    assert.equal((await kv.get(["idx_b", "x", i])).value, true);
    assert.ok((await kv.get(["spend_log", i])).versionstamp);
  }
  assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 30n);
  await ledger.close();

  // A page KV refuses is dropped with all the rows it holds.
  const refusing = createLedger({
    kv: recordingKv(kv, [], (op, real) => {
      if (op.sets.some((s) => s.key[0] === "spend_log")) throw new TypeError("Value too large");
      return real();
    }),
    instanceId: "b",
    log,
  });
  refusing.add([{ key: ["n"], amount: 1n }], [page(99)]);
  assert.equal(refusing.stats().pendingRows, 3);
  await refusing.flush();
  assert.equal(refusing.stats().droppedRows, 3);
  assert.equal((await kv.get(["idx_a", 99])).versionstamp, null);
  assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 31n);
  await refusing.close();
});
