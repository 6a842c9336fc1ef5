/**
 * Spend-log pages: rows packed per start-time second within Deno KV's value limit (the size bound holds against
 * V8's own serialization), index entries per key and user, exactly-once pages across an ambiguous commit, and
 * `/spend/logs` queries over many pages, seconds and instances answering exactly what a plain in-memory filter
 * and sort of the same rows answers (filters, time windows, pages, request ids, filtered summaries).
 */
import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { createLogger } from "../server/core/log.ts";
import type { CallRecord } from "../server/core/call_record.ts";
import type { Quote } from "../server/pricing/cost.ts";
import { SPEND_LOG_BY_KEY, SPEND_LOG_BY_USER, SPEND_LOG_PAGE } from "../server/spend/kv_layout.ts";
import { createLedger, type Ledger, type LedgerKv } from "../server/kv/ledger.ts";
import { querySpendLogs } from "../server/spend/log_query.ts";
import { type SpendLogRow, SpendLogsQuery } from "../server/spend/schemas.ts";
import { spendLogRow } from "../server/spend/spend_log.ts";
import { createSpendLogPages, PAGE_BYTES } from "../server/spend/spend_log_pages.ts";
import { createUuidV7 } from "../server/core/uuidv7.ts";
import { seededRandom } from "../testing/seeded_random.ts";

/** A logger of the test's own, and the lines it wrote (never shared between tests). */
function capturedLog() {
  const logs: string[] = [];
  return { logs, log: createLogger({ write: (l) => logs.push(l) }) };
}
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const HOUR = 3_600_000;
const quote: Quote = { nanos: 1234n, unpriced: [] };
const hash = (c: string) => c.repeat(64);

function record(requestId: string, startTime: number, caller: CallRecord["caller"] = {}): CallRecord {
  return {
    requestId,
    callType: "converse",
    modelName: "claude",
    caller,
    startTime,
    endTime: startTime + 5,
    status: "success",
    httpStatus: 200,
    retries: 0,
    usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 },
  };
}

/** A KV that records each atomic operation's `set` keys and lets `commit` hold or fail it. */
function recordingKv(
  kv: Deno.Kv,
  sets: Deno.KvKey[][],
  commit: (real: () => Promise<Deno.KvCommitResult | Deno.KvCommitError>) => Promise<
    Deno.KvCommitResult | Deno.KvCommitError
  > = (real) => real(),
): LedgerKv {
  return {
    get: kv.get.bind(kv) as Deno.Kv["get"],
    atomic() {
      const inner = kv.atomic();
      const keys: Deno.KvKey[] = [];
      const proxy: Deno.AtomicOperation = new Proxy(inner, {
        get(target, prop) {
          if (prop === "commit") {
            return () => {
              sets.push(keys);
              return commit(() => target.commit());
            };
          }
          const v = Reflect.get(target, prop);
          if (typeof v !== "function") return v;
          return (...args: unknown[]) => {
            if (prop === "set") keys.push(args[0] as Deno.KvKey);
            v.apply(target, args);
            return proxy;
          };
        },
      });
      return proxy;
    },
  };
}

async function allPages(kv: Deno.Kv): Promise<Array<Deno.KvEntry<SpendLogRow[]>>> {
  const out: Array<Deno.KvEntry<SpendLogRow[]>> = [];
  for await (const e of kv.list<SpendLogRow[]>({ prefix: [SPEND_LOG_PAGE] })) out.push(e);
  return out;
}

Deno.test("one batch: rows grouped per start second into pages, one index entry per key and user, with the sums", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const sets: Deno.KvKey[][] = [];
  const ledger = createLedger({ kv: recordingKv(kv, sets), instanceId: "inst", log });
  const pages = createSpendLogPages({ ledger, retentionMs: HOUR, log });
  const a = { keyHash: hash("a"), userId: "alice" }, b = { keyHash: hash("b"), userId: "bob" };
  // Two seconds, interleaved in arrival order; key a in both, key b only in the second.
  pages.add(record("r1", T0 + 100, a), quote);
  pages.add(record("r2", T0 + 1500, b), quote);
  pages.add(record("r3", T0 + 900, a), quote);
  pages.add(record("r4", T0 + 1999, a), quote);
  pages.add(record("r5", T0 + 1001, {}), quote);
  assert.deepEqual(pages.stats(), { pending: 5, dropped: 0 });
  ledger.add([{ key: ["spend", "k"], amount: 5n }]);
  await ledger.flush();
  assert.deepEqual(pages.stats(), { pending: 0, dropped: 0 });

  // One atomic commit: marker, watermark, two pages and their index entries (the sum is not a set).
  assert.equal(sets.length, 1);
  const s = T0 / 1000;
  assert.deepEqual(sets[0].slice(2), [
    [SPEND_LOG_PAGE, s, "inst", 1],
    [SPEND_LOG_BY_KEY, hash("a"), s, "inst", 1],
    [SPEND_LOG_BY_USER, "alice", s, "inst", 1],
    [SPEND_LOG_PAGE, s + 1, "inst", 2],
    [SPEND_LOG_BY_KEY, hash("b"), s + 1, "inst", 2],
    [SPEND_LOG_BY_USER, "bob", s + 1, "inst", 2],
    [SPEND_LOG_BY_KEY, hash("a"), s + 1, "inst", 2],
    [SPEND_LOG_BY_USER, "alice", s + 1, "inst", 2],
  ]);
  const stored = await allPages(kv);
  assert.deepEqual(stored.map((e) => e.value.map((r) => r.request_id)), [["r1", "r3"], ["r2", "r4", "r5"]]);
  assert.deepEqual(stored[0].value[0], spendLogRow(record("r1", T0 + 100, a), quote).row);
  assert.equal((await kv.get<Deno.KvU64>(["spend", "k"])).value?.value, 5n);
  await ledger.close();
});

Deno.test("a second's rows are split into several pages when they would pass the page size", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ledger = createLedger({ kv, instanceId: "inst", log, maxPendingCounters: 100_000 });
  const pages = createSpendLogPages({ ledger, retentionMs: HOUR, log });
  // Rows of ~9 KB (a stored 4 KB body of non-Latin-1 text): a few per 56 KiB page.
  const body = JSON.stringify({ text: "é漢".repeat(2000) });
  for (let i = 0; i < 40; i++) {
    pages.add({ ...record(`r${i}`, T0 + i, { keyHash: hash("a") }), requestBody: body }, quote);
  }
  await ledger.flush();
  const stored = await allPages(kv);
  assert.ok(stored.length >= 5, `${stored.length} pages`);
  assert.deepEqual(
    stored.flatMap((e) => e.value.map((r) => r.request_id)),
    Array.from({ length: 40 }, (_, i) => `r${i}`),
  );
  for (const e of stored) {
    assert.ok(e.value.length > 1, "pages are packed");
    assert.ok(serialize(e.value).length <= 64 * 1024, "within Deno KV's value limit");
  }
  // One index entry per page for the one key, none for users (the calls had none).
  const index: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix: [SPEND_LOG_BY_KEY] })) index.push(e.key);
  assert.equal(index.length, stored.length);
  for await (const _ of kv.list({ prefix: [SPEND_LOG_BY_USER] })) assert.fail("no user index entries");
  await ledger.close();
});

Deno.test("the row size bound holds against V8's serialization, so packed pages stay under 64 KiB", async () => {
  const { log } = capturedLog();
  const rand = seededRandom(7);
  const pick = (s: string, n: number) => Array.from({ length: n }, () => s[Math.floor(rand() * s.length)]).join("");
  const wide = "é漢😀a\u0000";
  // Worst cases for the estimate: two-byte strings at the schema's maximum lengths, a JSON body of tiny doubles
  // (each `-0,` becomes a 9-byte double), tags and metadata at their caps, an error message at its cap.
  const records: CallRecord[] = [
    { ...record("plain", T0), caller: { keyHash: hash("a") } },
    {
      ...record(pick(wide, 36), T0),
      caller: { keyHash: hash("f"), keyAlias: pick(wide, 256), userId: pick(wide, 256), teamId: pick(wide, 256) },
      modelName: pick(wide, 300),
      deploymentId: pick(wide, 300),
      bedrockModelId: pick(wide, 300),
      region: "us-west-2",
      apiBase: "https://" + pick("abc", 200),
      status: "failure",
      errorType: pick(wide, 100),
      errorMessage: pick(wide, 5000),
      requestTags: Array.from({ length: 40 }, () => pick(wide, 200)),
      requestMetadata: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, pick(wide, 20)])),
      requestBody: `[${Array(5000).fill("-0").join(",")}]`,
      responseBody: JSON.stringify({ output: pick(wide, 20_000) }),
      firstByteTime: T0 + 1,
    },
    // Measured: fits as parsed JSON (13.5 KB of doubles from 6 KB of text); the `-0` body above does not (kept as text).
    { ...record("floats", T0), requestBody: `[${Array(1500).fill("1.5").join(",")}]`, responseBody: "[[],[],[]]" },
    { ...record("nested", T0), requestBody: JSON.stringify(Array(5000).fill({})), responseBody: "not json é" },
  ];
  for (const r of records) {
    const { row, bytes } = spendLogRow(r, { nanos: 123_456_789n, unpriced: ["input", "cache_write"] });
    const actual = serialize(row).length;
    assert.ok(bytes >= actual, `${r.requestId.slice(0, 8)}: estimated ${bytes} < serialized ${actual}`);
  }
  // Through the pages and a real KV: nothing refused, nothing dropped.
  await using kv = await Deno.openKv(":memory:");
  const ledger = createLedger({ kv, instanceId: "inst", log, maxPendingCounters: 100_000 });
  const pages = createSpendLogPages({ ledger, retentionMs: HOUR, log });
  for (let i = 0; i < 60; i++) pages.add({ ...records[i % records.length], requestId: `r${i}` }, quote);
  await ledger.flush();
  assert.equal(ledger.stats().droppedRows, 0);
  const stored = await allPages(kv);
  assert.equal(stored.reduce((n, e) => n + e.value.length, 0), 60);
  for (const e of stored) assert.ok(serialize(e.value).length <= PAGE_BYTES + 1024);
  await ledger.close();
});

Deno.test("exactly once: a page commit that lands but reports an error is not written twice", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const sets: Deno.KvKey[][] = [];
  let attempts = 0;
  const ledger = createLedger({
    kv: recordingKv(kv, sets, async (real) => {
      attempts++;
      const result = await real();
      if (attempts === 1) throw new Error("connection reset after commit");
      return result;
    }),
    instanceId: "inst",
    log,
  });
  const pages = createSpendLogPages({ ledger, retentionMs: HOUR, log });
  for (let i = 0; i < 10; i++) {
    pages.add(record(`r${i}`, T0 + i * 300, { keyHash: hash("a") }), quote);
    ledger.add([{ key: ["spend", "a"], amount: 10n }]);
  }
  await ledger.flush();
  assert.equal(attempts, 2);
  // The retry (the sums alone: rows never hold them back) found its marker: the first attempt landed, pages and all,
  // so nothing landed twice and no page is set aside to be written again.
  assert.ok(sets[0].length > 2);
  assert.deepEqual(sets[1], sets[0].slice(0, 2), "marker and watermark only");
  assert.equal(ledger.stats().pendingRows, 0);
  assert.equal((await kv.get<Deno.KvU64>(["spend", "a"])).value?.value, 100n);
  const ids = (await allPages(kv)).flatMap((e) => e.value.map((r) => r.request_id));
  assert.deepEqual(ids, Array.from({ length: 10 }, (_, i) => `r${i}`));
  const rows = await querySpendLogs(kv, SpendLogsQuery.parse({ api_key: hash("a") })) as SpendLogRow[];
  assert.deepEqual(rows.map((r) => r.request_id), Array.from({ length: 10 }, (_, i) => `r${9 - i}`));
  // Later batches get fresh page numbers: a retried batch never overwrites another batch's page.
  pages.add(record("r10", T0, { keyHash: hash("a") }), quote);
  await ledger.flush();
  assert.equal((await allPages(kv)).length, 4);
  await ledger.close();
});

Deno.test("the call queue is bounded while KV is stuck: extra rows are dropped and counted, never their sums", async () => {
  const { log, logs } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  let release!: () => void;
  const stuck = new Promise<void>((r) => release = r);
  const ledger = createLedger({
    kv: recordingKv(kv, [], async (real) => {
      await stuck;
      return real();
    }),
    instanceId: "inst",
    log,
    flushIntervalMs: 0,
  });
  const pages = createSpendLogPages({ ledger, retentionMs: HOUR, log, maxPending: 5 });
  pages.add(record("r0", T0), quote);
  ledger.add([{ key: ["n"], amount: 1n }]);
  const first = ledger.flush(); // its commit is now held
  for (let i = 1; i <= 8; i++) {
    pages.add(record(`r${i}`, T0), quote);
    ledger.add([{ key: ["n"], amount: 1n }]);
  }
  assert.deepEqual(pages.stats(), { pending: 5, dropped: 3 });
  assert.ok(logs.some((l) => l.includes("row queue full")));
  release();
  await first;
  await ledger.flush();
  assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 9n);
  const ids = (await allPages(kv)).flatMap((e) => e.value.map((r) => r.request_id)).sort();
  assert.deepEqual(ids, ["r0", "r1", "r2", "r3", "r4", "r5"]);
  await ledger.close();
});

/** The reference answer: every row filtered and sorted in memory, as one KV key per row ordered them. */
function expected(rows: SpendLogRow[], f: { key?: string; user?: string; id?: string; from?: number; to?: number }) {
  return rows
    .filter((r) => {
      const at = Date.parse(r.startTime);
      return (f.key === undefined || r.api_key === f.key) && (f.user === undefined || r.user === f.user) &&
        (f.id === undefined || r.request_id === f.id) && at >= (f.from ?? 0) && at <= (f.to ?? Infinity);
    })
    .sort((a, b) =>
      Date.parse(b.startTime) - Date.parse(a.startTime) ||
      (a.request_id < b.request_id ? 1 : a.request_id > b.request_id ? -1 : 0)
    )
    .map((r) => r.request_id);
}

Deno.test("/spend/logs over many pages, seconds, batches and two instances: same answers as a plain filter", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const rand = seededRandom(42);
  const ledgers: Ledger[] = [
    createLedger({ kv, instanceId: "i1", log, maxPendingCounters: 100_000 }),
    createLedger({ kv, instanceId: "i2", log, maxPendingCounters: 100_000 }),
  ];
  // Small pages (~4 rows each), so every second holds several pages from several batches and both instances.
  const writers = ledgers.map((ledger) => createSpendLogPages({ ledger, retentionMs: HOUR, log, pageBytes: 8192 }));
  const keys = [hash("a"), hash("b"), hash("c")], users = ["alice", "bob", undefined];
  const all: SpendLogRow[] = [];
  let clock = 0;
  const v7 = createUuidV7(() => clock);
  for (let batch = 0; batch < 12; batch++) {
    for (let i = 0; i < 25; i++) {
      // Start times over ~20 seconds, many sharing a millisecond; arrival order unrelated to start order.
      const start = T0 + Math.floor(rand() * 20) * 1000 + Math.floor(rand() * 4) * 250;
      // Ids: most UUIDv7 made up to 1.5 s before the start, some before a clock step back; some other ids.
      const kind = rand();
      clock = kind < 0.1 ? start + 1500 : start - Math.floor(rand() * 1500);
      const id = kind < 0.8 ? v7() : `req-${batch}-${i}`;
      const caller = { keyHash: keys[Math.floor(rand() * 3)], userId: users[Math.floor(rand() * 3)] };
      const r = record(id, start, caller);
      writers[Math.floor(rand() * 2)].add(r, quote);
      all.push(spendLogRow(r, quote).row);
    }
    await Promise.all(ledgers.map((l) => l.flush()));
  }
  const pageCount = (await allPages(kv)).length;
  assert.ok(pageCount >= 80, `${pageCount} pages`);

  const ids = async (q: Record<string, string>) =>
    ((await querySpendLogs(kv, SpendLogsQuery.parse(q))) as SpendLogRow[]).map((r) => r.request_id);
  const iso = (ms: number) => new Date(ms).toISOString();
  const cases: Array<[Record<string, string>, Parameters<typeof expected>[1]]> = [
    [{}, {}],
    [{ api_key: keys[0] }, { key: keys[0] }],
    [{ api_key: keys[2] }, { key: keys[2] }],
    [{ user_id: "bob" }, { user: "bob" }],
    [{ user_id: "alice", api_key: keys[1] }, { user: "alice", key: keys[1] }],
    [{ user_id: "nobody" }, { user: "nobody" }],
    [{ start_date: iso(T0 + 3000), end_date: iso(T0 + 7250), summarize: "false" }, { from: T0 + 3000, to: T0 + 7250 }],
    [{ start_date: iso(T0 + 3001), end_date: iso(T0 + 7249), summarize: "false" }, { from: T0 + 3001, to: T0 + 7249 }],
    [{ api_key: keys[1], start_date: iso(T0 + 5500) }, { key: keys[1], from: T0 + 5500 }],
    [{ user_id: "bob", end_date: iso(T0 + 9000) }, { user: "bob", to: T0 + 9000 }],
  ];
  for (const [q, f] of cases) {
    const want = expected(all, f);
    assert.deepEqual(await ids({ ...q, page_size: "1000" }), want, JSON.stringify(q));
    // Paged newest first: pages of 7 put together are the whole answer, in order.
    const paged: string[] = [];
    for (let page = 1;; page++) {
      const got = await ids({ ...q, page_size: "7", page: String(page) });
      paged.push(...got);
      if (got.length < 7) break;
    }
    assert.deepEqual(paged, want, `paged ${JSON.stringify(q)}`);
  }
  // Every row by its request id (UUIDv7 ids from the seconds around their time, others by the fallback scan),
  // with and without a filter it fails.
  for (const row of all) {
    assert.deepEqual(await ids({ request_id: row.request_id }), [row.request_id]);
    const other = keys.find((k) => k !== row.api_key)!;
    assert.deepEqual(await ids({ request_id: row.request_id, api_key: other }), []);
  }
  clock = T0 + 5000;
  assert.deepEqual(await ids({ request_id: v7() }), [], "a UUIDv7 nobody used");
  assert.deepEqual(await ids({ request_id: "req-none" }), []);
  // Filtered summaries add up the same rows.
  const summary = await querySpendLogs(
    kv,
    SpendLogsQuery.parse({ start_date: "2025-06-01", end_date: "2025-06-01", user_id: "alice" }),
  );
  const alices = expected(all, { user: "alice" }).length;
  assert.deepEqual(summary, [{
    startTime: "2025-06-01",
    spend: alices * 1234 / 1e9,
    users: { alice: alices * 1234 / 1e9 },
    models: { claude: alices * 1234 / 1e9 },
    ...Object.fromEntries(
      keys.map((k) => [k, expected(all, { user: "alice", key: k }).length * 1234 / 1e9]).filter(([, v]) => v !== 0),
    ),
  }]);
  await Promise.all(ledgers.map((l) => l.close()));
});

Deno.test("request id lookup: a row whose call started well after its id was made is still found", async () => {
  const { log } = capturedLog();
  await using kv = await Deno.openKv(":memory:");
  const ledger = createLedger({ kv, instanceId: "inst", log });
  const pages = createSpendLogPages({ ledger, retentionMs: HOUR, log });
  let clock = T0;
  const v7 = createUuidV7(() => clock);
  const late = v7(); // admitted 45 s later (a slow KV read): read forward from the id's second
  clock = T0 + 10_000;
  const early = v7(); // the clock stepped back 1.9 s before the call started
  pages.add(record(late, T0 + 45_000), quote);
  pages.add(record(early, T0 + 8_100), quote);
  for (let i = 0; i < 30; i++) pages.add(record(`other${i}`, T0 + i * 2000), quote);
  await ledger.flush();
  for (const id of [late, early]) {
    const rows = await querySpendLogs(kv, SpendLogsQuery.parse({ request_id: id })) as SpendLogRow[];
    assert.deepEqual(rows.map((r) => r.request_id), [id]);
  }
  // A time filter that excludes the row excludes it here too.
  const none = await querySpendLogs(
    kv,
    SpendLogsQuery.parse({ request_id: late, end_date: new Date(T0).toISOString() }),
  );
  assert.deepEqual(none, []);
  await ledger.close();
});
