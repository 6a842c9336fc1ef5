/**
 * The spend ledger on its own: batching, exactly-once commits across retries, windowed counters, and the
 * read-side view (snapshot + own unwritten sums) staying exact while a commit races a read.
 */
import assert from "node:assert/strict";
import { createLogger } from "../server/core/log.ts";
import { createLedger, keyId, type LedgerKv, windowedCount } from "../server/kv/ledger.ts";
import { failingKv, nextTick } from "./failing_kv.ts";
import { Latch } from "../testing/latch.ts";

type Commit = (real: () => Promise<Deno.KvCommitResult | Deno.KvCommitError>) => Promise<
  Deno.KvCommitResult | Deno.KvCommitError
>;

/** A KV whose atomic commits go through `commit` (to hold, fail or count them). */
function wrapKv(kv: Deno.Kv, commit: Commit): LedgerKv {
  return {
    get: kv.get.bind(kv) as Deno.Kv["get"],
    atomic() {
      const op = kv.atomic();
      const proxy: Deno.AtomicOperation = new Proxy(op, {
        get(target, prop) {
          if (prop === "commit") return () => commit(() => target.commit());
          const v = Reflect.get(target, prop);
          return typeof v === "function"
            ? (...args: unknown[]) => {
              v.apply(target, args);
              return proxy;
            }
            : v;
        },
      });
      return proxy;
    },
  };
}

/** A logger of the test's own, and the lines it wrote (never shared between tests). */
function capturedLog() {
  const logs: string[] = [];
  return { logs, log: createLogger({ write: (l) => logs.push(l) }) };
}

Deno.test("sums are batched: many adds, few commits, exact totals", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  let commits = 0;
  const ledger = createLedger({
    kv: wrapKv(kv, (real) => {
      commits++;
      return real();
    }),
    instanceId: "a",
    log,
  });
  for (let i = 1; i <= 100; i++) ledger.add([{ key: ["spend", "k1"], amount: BigInt(i) }, { key: ["n"], amount: 1n }]);
  await ledger.flush();
  assert.equal((await kv.get<Deno.KvU64>(["spend", "k1"])).value?.value, 5050n);
  assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 100n);
  assert.equal(commits, 1);
  ledger.add([{ key: ["n"], amount: 0n }, { key: ["n"], amount: -5n }]); // ignored
  await ledger.close();
  assert.equal(commits, 1);
});

Deno.test("the view counts own unwritten sums once, even while a commit races a read", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const before = new Latch();
  const after = new Latch();
  const landed = new Latch();
  const ledger = createLedger({
    kv: wrapKv(kv, async (real) => {
      await before.wait();
      const result = await real();
      landed.release();
      await after.wait(); // the commit is in KV, but the ledger has not heard back yet
      return result;
    }),
    instanceId: "a",
    log,
  });
  const key = ["spend", "x"];
  const observe = async () => {
    const [entry, watermark] = await kv.getMany([key, ledger.watermarkKey]);
    ledger.observe([{ key, entry }], watermark);
  };
  // Another instance has already written 100.
  await kv.atomic().sum(key, 100n).commit();
  await observe();
  assert.equal(ledger.total(key), 100n);

  ledger.add([{ key, amount: 7n }]);
  assert.equal(ledger.total(key), 107n, "queued sums count");
  const flushed = ledger.flush();
  // Read while the commit is held back: the snapshot cannot contain it; the view counts it once.
  await observe();
  assert.equal(ledger.total(key), 107n);
  // The commit lands in KV but the ledger has not been told: the watermark in the snapshot says it is contained.
  before.release();
  await landed.wait();
  await observe();
  assert.equal((await kv.get<Deno.KvU64>(key)).value?.value, 107n);
  assert.equal(ledger.total(key), 107n, "counted twice while the commit's reply was in flight");
  after.release();
  await flushed;
  await observe();
  assert.equal(ledger.total(key), 107n);
  // An older snapshot arriving late never moves the view backwards.
  ledger.observe([{ key, entry: { key, value: new Deno.KvU64(100n), versionstamp: "00000000000000000001" } }], {
    key: ledger.watermarkKey,
    value: null,
    versionstamp: null,
  });
  assert.equal(ledger.total(key), 107n);
  await ledger.close();
});

Deno.test("a commit that lands but reports an error is not applied twice", async () => {
  const { log, logs } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  let attempts = 0;
  const ledger = createLedger({
    kv: wrapKv(kv, async (real) => {
      attempts++;
      const result = await real();
      if (attempts === 1) throw new Error("connection reset after commit");
      return result;
    }),
    instanceId: "a",
    log,
  });
  ledger.add([{ key: ["c"], amount: 42n }]);
  await ledger.flush();
  assert.equal(attempts, 2);
  assert.equal((await kv.get<Deno.KvU64>(["c"])).value?.value, 42n);
  assert.ok(logs.some((l) => l.includes("commit failed, retrying")));
  await ledger.close();
});

Deno.test("a commit that fails before landing is retried until it does", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  let attempts = 0;
  const ledger = createLedger({
    kv: wrapKv(kv, (real) => {
      attempts++;
      if (attempts <= 2) return Promise.reject(new Error("database is locked"));
      return real();
    }),
    instanceId: "a",
    log,
  });
  ledger.add([{ key: ["c"], amount: 5n }]);
  ledger.add([{ key: ["c"], amount: 6n }]);
  await ledger.flush();
  assert.equal(attempts, 3);
  assert.equal((await kv.get<Deno.KvU64>(["c"])).value?.value, 11n);
  await ledger.close();
});

Deno.test("a KV that keeps failing: nothing is dropped, health says why and how many calls wait, then all lands once", async () => {
  await using kv = await Deno.openKv(":memory:");
  const disk = failingKv(kv);
  disk.state.failing = true;
  const lines: string[] = [];
  const ledger = createLedger({
    kv: disk.kv,
    instanceId: "a",
    log: createLogger({ write: (l) => lines.push(l) }),
    sleep: nextTick,
    now: () => 1_700_000_000_000,
  });
  assert.deepEqual(ledger.health(), { ok: true });
  for (let i = 0; i < 3; i++) {
    ledger.add([{ key: ["spend"], amount: 10n }], [{ key: ["row", i], value: { i }, bytes: 16 }]);
    ledger.noteCall();
  }
  await disk.failedAtLeast(20); // far past the few attempts after which the old ledger gave rows (and sums) up
  const health = ledger.health();
  assert.equal(health.ok, false);
  assert.deepEqual(health, {
    ok: false,
    since: 1_700_000_000_000,
    cause: "TypeError: database or disk is full",
    unwrittenCalls: 3,
  });
  // Calls keep being accounted while it fails: their sums merge into the queue.
  ledger.add([{ key: ["spend"], amount: 5n }, { key: ["tokens"], amount: 7n }]);
  ledger.noteCall();
  assert.equal(ledger.health().ok ? 0 : (ledger.health() as { unwrittenCalls: number }).unwrittenCalls, 4);
  assert.equal(ledger.total(["spend"]), 35n, "the view still counts every unwritten sum");

  disk.state.failing = false;
  await ledger.flush();
  assert.deepEqual(ledger.health(), { ok: true });
  assert.equal((await kv.get<Deno.KvU64>(["spend"])).value?.value, 35n);
  assert.equal((await kv.get<Deno.KvU64>(["tokens"])).value?.value, 7n);
  for (let i = 0; i < 3; i++) assert.deepEqual((await kv.get(["row", i])).value, { i }, "rows were kept too");
  assert.ok(lines.some((l) => l.includes("commits land again")));
  assert.ok(!lines.some((l) => l.includes("dropped")), "nothing dropped");
  await ledger.close();
});

Deno.test("close() waits a bounded time for a failing KV, then logs and returns exactly what it could not write", async () => {
  await using kv = await Deno.openKv(":memory:");
  const disk = failingKv(kv);
  disk.state.failing = true;
  const lines: string[] = [];
  const ledger = createLedger({
    kv: disk.kv,
    instanceId: "a",
    log: createLogger({ write: (l) => lines.push(l) }),
    sleep: nextTick,
  });
  ledger.add([{ key: ["key_spend", "k1", 0], amount: 20_000n }], [{ key: ["row", 1], value: 1, bytes: 8 }]);
  ledger.add([{ key: ["key_tpm", "k1"], amount: 15n, window: 7 }]);
  await disk.failedAtLeast(2); // the first batch is being retried
  ledger.add([{ key: ["key_spend", "k1", 0], amount: 1_000n }, { key: ["key_spend", "k2", 0], amount: 3n }]);
  const left = await ledger.close({ waitMs: 20 });
  const sorted = left.sums.map((u) => JSON.stringify([u.key, u.window ?? null, String(u.amount)])).sort();
  assert.deepEqual(
    sorted,
    [
      JSON.stringify([["key_spend", "k1", 0], null, "21000"]), // one line per counter: in flight and queued
      JSON.stringify([["key_spend", "k2", 0], null, "3"]),
      JSON.stringify([["key_tpm", "k1"], 7, "15"]),
    ].sort(),
  );
  assert.equal(left.rows, 1);
  const line = JSON.parse(lines.find((l) => l.includes("shutting down with spend not written"))!);
  assert.equal(line.level, "error");
  assert.equal(line.cause, "TypeError: database or disk is full");
  assert.equal(line.rows, 1);
  assert.deepEqual(
    line.sums.map((u: { key: unknown; amount: string }) => JSON.stringify([u.key, u.amount])).sort(),
    [
      JSON.stringify([["key_spend", "k1", 0], "21000"]),
      JSON.stringify([["key_spend", "k2", 0], "3"]),
      JSON.stringify([["key_tpm", "k1"], "15"]),
    ].sort(),
  );
  // The ledger has stopped: nothing lands later behind the log line's back.
  const attempts = disk.state.attempts;
  disk.state.failing = false;
  await nextTick();
  await nextTick();
  assert.equal(disk.state.attempts, attempts);
  assert.equal((await kv.get(["key_spend", "k1", 0])).value, null);
});

Deno.test("windowed counters: a newer window resets the count atomically; late writes land in the newer one", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ledger = createLedger({ kv, instanceId: "a", log });
  const key = ["rpm", "k"];
  ledger.add([{ key, amount: 3n, window: 5 }]);
  await ledger.flush();
  let value = (await kv.get<Deno.KvU64>(key)).value!.value;
  assert.equal(windowedCount(value, 5), 3n);
  // Within one batch, older windows are written first, so the newer window's reset wins.
  ledger.add([{ key, amount: 2n, window: 6 }, { key, amount: 4n, window: 5 }]);
  assert.equal(ledger.total(key, 6), 2n);
  await ledger.flush();
  value = (await kv.get<Deno.KvU64>(key)).value!.value;
  assert.equal(windowedCount(value, 6), 2n);
  // A straggler for an older window in a later batch is counted in the newer window (never lost).
  ledger.add([{ key, amount: 1n, window: 5 }]);
  await ledger.flush();
  value = (await kv.get<Deno.KvU64>(key)).value!.value;
  assert.equal(windowedCount(value, 6), 3n);
  assert.equal(windowedCount(value, 5), 0n);
  const [entry, watermark] = await kv.getMany([key, ledger.watermarkKey]);
  ledger.observe([{ key, entry }], watermark);
  assert.equal(ledger.total(key, 6), 3n);
  assert.equal(ledger.total(key, 7), 0n);
  await ledger.close();
});

Deno.test("a large batch is split into commits within Deno KV's mutation limit", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  let commits = 0;
  const ledger = createLedger({
    kv: wrapKv(kv, (real) => {
      commits++;
      return real();
    }),
    instanceId: "a",
    log,
    maxPendingCounters: 10_000,
  });
  const sums = Array.from({ length: 1200 }, (_, i) => ({ key: ["c", i], amount: BigInt(i + 1), window: 9 }));
  ledger.add(sums);
  await ledger.flush();
  assert.ok(commits >= 5, `only ${commits} commits for 2400 mutations`);
  let total = 0n;
  for await (const e of kv.list<Deno.KvU64>({ prefix: ["c"] })) total += windowedCount(e.value.value, 9);
  assert.equal(total, 1200n * 1201n / 2n);
  await ledger.close();
});

Deno.test("counters are told apart by every key part: strings, numbers, bigints, booleans, bytes", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ledger = createLedger({ kv, instanceId: "a", log });
  const keys: Deno.KvKey[] = [
    ["k", 1],
    ["k", "1"],
    ["k", 2n],
    ["k", true],
    ["k", new Uint8Array([1, 2])],
    ["k", new Uint8Array([1, 3])],
  ];
  keys.forEach((key, i) => ledger.add([{ key, amount: BigInt(i + 1) }]));
  // Unwritten sums first (the in-memory view), then what landed in KV.
  keys.forEach((key, i) => assert.equal(ledger.total(key), BigInt(i + 1)));
  await ledger.flush();
  for (const [i, key] of keys.entries()) assert.equal((await kv.get<Deno.KvU64>(key)).value?.value, BigInt(i + 1));
  await ledger.close();
});

Deno.test("committed sums nobody has read are forgotten after 30 s, oldest first, newer ones kept", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  let clock = 0;
  const ledger = createLedger({ kv, instanceId: "a", log, monotonic: () => clock });
  const key = ["rollup", "day"];
  const commitAt = async (t: number, amount: bigint) => {
    clock = t;
    ledger.add([{ key, amount }]);
    await ledger.flush();
  };
  await commitAt(0, 1n);
  await commitAt(10_000, 2n);
  await commitAt(20_000, 4n);
  // Never observed, so the view is this instance's own committed sums.
  assert.equal(ledger.total(key), 7n);
  await commitAt(35_000, 8n); // this drain forgets what committed before t = 5 s
  assert.equal(ledger.total(key), 14n);
  await commitAt(45_000, 16n); // ... and now what committed before t = 15 s
  assert.equal(ledger.total(key), 28n);
  assert.equal((await kv.get<Deno.KvU64>(key)).value?.value, 31n); // KV has everything
  await ledger.close();
});

Deno.test("keyId: distinct KV keys never share a counter id (types, separators, lengths, mixed encodings)", () => {
  const keys: Deno.KvKey[] = [
    [],
    ["a"],
    ["a", 1],
    ["a", "1"],
    ["a1"],
    ["a", ""],
    ["", "a"],
    ["s1:a"],
    ["a", "s1:b"],
    ["a", "b"],
    ["a;", 1],
    ["a", 1, 2],
    ["a", 12],
    ["a", 1.5],
    ["a", -1],
    ["a", 1n],
    ["a", true],
    ["a", "true"],
    ["a", new Uint8Array([1])],
    ["a", "[1]"],
    ['["a",1]'],
    ["key_spend", "k1", 1700000000000],
    ["key_spend", "k1", 1700000000001],
  ];
  const ids = keys.map(keyId);
  assert.equal(new Set(ids).size, keys.length, ids.join("\n"));
  // The same key always maps to the same id (a fresh array, as every call builds one).
  assert.equal(keyId(["key_spend", "k1", 1700000000000]), ids.at(-2));
});

Deno.test("after a quiet interval the first sums are written on the next turn; later ones wait for the interval", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  let commits = 0;
  let clock = 0;
  const ledger = createLedger({
    kv: wrapKv(kv, (real) => {
      commits++;
      return real();
    }),
    instanceId: "a",
    log,
    flushIntervalMs: 3_600_000, // an interval no test waits out
    monotonic: () => clock,
  });
  ledger.add([{ key: ["c"], amount: 1n }]);
  ledger.add([{ key: ["c"], amount: 2n }]); // same turn: same batch
  await nextTick();
  await nextTick();
  assert.equal(commits, 1);
  assert.equal((await kv.get<Deno.KvU64>(["c"])).value?.value, 3n);
  // Just written: the next sums wait for the interval (batched), until a flush.
  ledger.add([{ key: ["c"], amount: 4n }]);
  await nextTick();
  await nextTick();
  assert.equal(commits, 1);
  await ledger.flush();
  assert.equal(commits, 2);
  await nextTick(); // the round that flushed has ended
  // Quiet for an interval again: written at once.
  clock += 3_600_000;
  ledger.add([{ key: ["c"], amount: 8n }]);
  await nextTick();
  await nextTick();
  assert.equal(commits, 3);
  assert.equal((await kv.get<Deno.KvU64>(["c"])).value?.value, 15n);
  await ledger.close();
});
