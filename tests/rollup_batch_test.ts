/**
 * Roll-up sums merged in memory between ledger batches (`rollup_batch.ts`): the KV totals equal those of adding
 * every call's `rollupSums` one by one (the unmerged oracle), and `flush`/`close` write sums still in the batch.
 */
import assert from "node:assert/strict";
import { silentLogger as log } from "../server/core/log.ts";
import type { CallRecord } from "../server/core/call_record.ts";
import { createLedger } from "../server/kv/ledger.ts";
import { createRollupBatch } from "../server/spend/rollup_batch.ts";
import { rollupSums } from "../server/spend/rollups.ts";

const DAY = 86_400_000;

function record(i: number): CallRecord {
  return {
    requestId: `r${i}`,
    callType: "converse",
    modelName: i % 3 === 0 ? "claude" : "nova",
    deploymentId: `d${i % 2}`,
    caller: { keyHash: i % 4 === 0 ? undefined : `k${i % 5}`, userId: i % 2 ? "u1" : undefined, teamId: "t" },
    startTime: 1_750_000_000_000 + (i % 7 === 0 ? DAY : 0),
    endTime: 1_750_000_000_100,
    status: i % 6 === 0 ? "failure" : "success",
    httpStatus: i % 6 === 0 ? 500 : 200,
    usage: i % 6 === 0 ? undefined : {
      inputTokens: i,
      outputTokens: 2 * i,
      totalTokens: 3 * i + (i % 3),
      cacheReadInputTokens: i % 3,
      cacheWriteInputTokens: i % 2,
    },
    retries: 0,
  };
}

async function dump(kv: Deno.Kv): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for await (const e of kv.list<Deno.KvU64>({ prefix: ["spend_daily"] })) out.set(JSON.stringify(e.key), e.value.value);
  return out;
}

Deno.test("merged roll-ups write exactly the totals of adding every call's sums one by one", async () => {
  await using merged = await Deno.openKv(":memory:");
  await using oracle = await Deno.openKv(":memory:");
  const ledgerA = createLedger({ kv: merged, instanceId: "a", log });
  const ledgerB = createLedger({ kv: oracle, instanceId: "b", log });
  const batch = createRollupBatch(ledgerA);
  for (let i = 1; i <= 200; i++) {
    const cost = BigInt(i * 1000);
    batch.add(record(i), cost);
    ledgerB.add(rollupSums(record(i), cost));
    if (i === 120) await ledgerA.flush(); // a batch boundary in the middle: later calls start a fresh merge
  }
  await ledgerA.flush();
  await ledgerB.flush();
  const got = await dump(merged);
  const want = await dump(oracle);
  assert.ok(want.size > 50);
  assert.deepEqual(got, want);
  await ledgerA.close();
  await ledgerB.close();
});

Deno.test("close writes roll-ups still waiting in the batch", async () => {
  await using kv = await Deno.openKv(":memory:");
  const ledger = createLedger({ kv, instanceId: "a", log, flushIntervalMs: 60_000 });
  const batch = createRollupBatch(ledger);
  batch.add(record(1), 5n);
  batch.add(record(1), 7n);
  await ledger.close();
  const total = await kv.get<Deno.KvU64>(["spend_daily", "total", "2025-06-15", "", "spend"]);
  assert.equal(total.value?.value, 12n);
  assert.equal((await kv.get<Deno.KvU64>(["spend_daily", "key", "2025-06-15", "k1", "requests"])).value?.value, 2n);
});
