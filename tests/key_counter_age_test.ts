/**
 * `key_counter_max_age_ms` (key_cache.ts): at 0 a budgeted key's record and counters are read on every request;
 * with a max age (the config's default is 1000 ms) they are reused that long, while this instance's own spend
 * still counts at once.
 */
import assert from "node:assert/strict";
import { createKeyCache } from "../server/keys/key_cache.ts";
import { recordKey, spendKey } from "../server/keys/kv_layout.ts";
import type { KeyRecord } from "../server/keys/record.ts";
import { createLogger } from "../server/core/log.ts";
import { createLedger } from "../server/kv/ledger.ts";

const HASH = "ab".repeat(32);
const RECORD: KeyRecord = {
  id: "key-1",
  hash: HASH,
  keyName: "sk-...abcd",
  models: [],
  maxBudget: 1,
  budgetAnchor: 0,
  metadata: {},
  blocked: false,
  createdAt: 0,
  updatedAt: 0,
};

/** A real in-memory KV whose `getMany` calls are counted. */
function counting(kv: Deno.Kv): { kv: Deno.Kv; reads: () => number } {
  let reads = 0;
  const wrapped = new Proxy(kv, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (prop === "getMany") {
        return (...args: Parameters<Deno.Kv["getMany"]>) => {
          reads++;
          return target.getMany(...args);
        };
      }
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { kv: wrapped, reads: () => reads };
}

async function setup(counterMaxAgeMs?: number) {
  const real = await Deno.openKv(":memory:");
  await real.set(recordKey(HASH), RECORD);
  await real.set(spendKey(RECORD.id, 0), new Deno.KvU64(5n));
  const { kv, reads } = counting(real);
  let time = 1000;
  const ledger = createLedger({ kv: real, instanceId: "i", log: createLogger({ write: () => {} }) });
  const cache = createKeyCache({ kv, ledger, ttlMs: 2000, counterMaxAgeMs, now: () => time });
  return {
    real,
    cache,
    ledger,
    reads,
    advance: (ms: number) => time += ms,
    [Symbol.asyncDispose]: async () => {
      await ledger.close();
      real.close();
    },
  };
}

Deno.test("key_counter_max_age_ms 0: a budgeted key's record and counters are read on every request", async () => {
  await using t = await setup(0);
  await t.cache.resolve(HASH); // first sight: the record, then its counters
  const first = t.reads();
  for (let i = 1; i <= 3; i++) {
    assert.equal((await t.cache.resolve(HASH))?.id, "key-1");
    assert.equal(t.reads(), first + i, "one getMany (record + counters) per request");
  }
});

Deno.test("key_counter_max_age_ms: reads reused within the age, own spend exact, re-read after it", async () => {
  await using t = await setup(100);
  await t.cache.resolve(HASH);
  const first = t.reads();
  assert.equal(t.ledger.total(spendKey(RECORD.id, 0)), 5n);

  // Within the age: no read, and this instance's own spend is in the total at once.
  t.ledger.add([{ key: spendKey(RECORD.id, 0), amount: 7n }]);
  t.advance(99);
  assert.equal((await t.cache.resolve(HASH))?.id, "key-1");
  assert.equal(t.reads(), first);
  assert.equal(t.ledger.total(spendKey(RECORD.id, 0)), 12n);

  // Another instance's spend shows up once the age has passed and the counters are read again.
  await t.ledger.flush();
  await t.real.atomic().sum(spendKey(RECORD.id, 0), 100n).commit();
  t.advance(1);
  await t.cache.resolve(HASH);
  assert.equal(t.reads(), first + 1);
  assert.equal(t.ledger.total(spendKey(RECORD.id, 0)), 112n);

  // This instance's admin changes still take effect at once.
  t.cache.invalidate(HASH);
  await t.cache.resolve(HASH);
  assert.ok(t.reads() > first + 1);
});
