/**
 * Two gateway instances sharing one KV file: spend is exact under concurrency, budgets and rate limits are
 * shared, and admin changes made on one instance reach the other (keys with limits within
 * `key_counter_max_age_ms`, 1 s by default, or at once with 0; the rest within the cache TTL).
 */
import assert from "node:assert/strict";
import { FakeBedrock, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, type GatewayUnderTest, startGateway } from "../testing/harness.ts";
import { LEASE_IDLE_MS } from "../server/limits/holds.ts";
import { adminCall, callModel, Clock, ENV, PRICE_PARAMS } from "./keys_helpers.ts";

interface Pair extends AsyncDisposable {
  fake: FakeBedrock;
  a: GatewayUnderTest;
  b: GatewayUnderTest;
  clock: Clock;
  kvPath: string;
  /** Closes both instances (flushing their ledgers) and opens the shared KV for inspection. */
  closeAndOpenKv(): Promise<Deno.Kv>;
}

/** `extra`: more `general_settings` lines (indented two spaces). */
async function startPair(extra?: string): Promise<Pair> {
  const clock = new Clock();
  const fake = await startFakeBedrock({ now: () => new Date(clock.now()) });
  const kvPath = await Deno.makeTempFile({ suffix: ".sqlite" });
  const yaml = fakeConfig(fake.url, { models: [{ name: "claude", params: PRICE_PARAMS }], extra });
  const a = await startGateway({ yaml, env: ENV, kvPath, now: clock.now });
  const b = await startGateway({ yaml, env: ENV, kvPath, now: clock.now });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all([a.close(), b.close()]);
  };
  return {
    fake,
    a,
    b,
    clock,
    kvPath,
    async closeAndOpenKv() {
      await close();
      return await Deno.openKv(kvPath);
    },
    [Symbol.asyncDispose]: async () => {
      await close();
      await fake.close();
      await Deno.remove(kvPath).catch(() => {});
      for (const suffix of ["-wal", "-shm"]) await Deno.remove(kvPath + suffix).catch(() => {});
    },
  };
}

async function status(p: Promise<Response>): Promise<number> {
  const res = await p;
  await res.body?.cancel();
  return res.status;
}

Deno.test("200 concurrent calls over two instances: the key's spend equals the sum of billed calls exactly", async () => {
  await using t = await startPair();
  const g = (await adminCall(t.a.url, "POST", "/key/generate", {
    max_budget: 100,
    rpm_limit: 100_000,
    tpm_limit: 100_000_000,
  })).json;
  // Every call costs something different; every tenth fails upstream (an error the router does not retry) and
  // must bill nothing.
  let n = 0;
  t.fake.handler = () => {
    const i = n++;
    if (i % 10 === 9) return { kind: "error", status: 400, type: "ValidationException", message: "bad request" };
    return { kind: "converse", usage: { inputTokens: 10 + (i % 13), outputTokens: 1 + (i % 7) } };
  };
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => status(callModel((i % 2 ? t.b : t.a).url, g.key))),
  );
  assert.equal(results.filter((s) => s === 200).length, 180);
  assert.equal(results.filter((s) => s === 400).length, 20);
  assert.equal(t.fake.requests.length, 200);

  const calls = [...t.a.calls, ...t.b.calls];
  assert.equal(calls.length, 200);
  assert.ok(t.a.calls.length === 100 && t.b.calls.length === 100);
  let billed = 0n;
  let tokens = 0n;
  for (const c of calls) {
    if (c.status !== "success") continue;
    billed += BigInt(c.usage!.inputTokens) * 1000n + BigInt(c.usage!.outputTokens) * 2000n;
    tokens += BigInt(c.usage!.totalTokens);
  }
  // Before the final flush, each instance already counts its own unwritten spend.
  const info = await adminCall(t.b.url, "GET", `/key/info?key=${g.key}`);
  assert.ok(info.json.info.spend > 0);

  const kv = await t.closeAndOpenKv();
  try {
    const record = (await kv.get<{ id: string }>(["keys", g.token])).value!;
    let spend = 0n;
    for await (const e of kv.list<Deno.KvU64>({ prefix: ["key_spend", record.id] })) spend += e.value.value;
    assert.equal(spend, billed);
    const minute = BigInt(Math.floor(t.clock.now() / 60_000));
    const rpm = (await kv.get<Deno.KvU64>(["key_rpm", record.id])).value!.value;
    assert.equal(rpm >> 36n, minute);
    assert.equal(rpm & ((1n << 36n) - 1n), 200n);
    const tpm = (await kv.get<Deno.KvU64>(["key_tpm", record.id])).value!.value;
    assert.equal(tpm & ((1n << 36n) - 1n), tokens);
  } finally {
    kv.close();
  }
});

Deno.test("rpm_limit is shared by the instances; an idle instance's slice goes back", async () => {
  await using t = await startPair("  key_counter_max_age_ms: 0\n");
  const g = (await adminCall(t.a.url, "POST", "/key/generate", { rpm_limit: 4 })).json;
  assert.equal(await status(callModel(t.a.url, g.key)), 200);
  assert.equal(await status(callModel(t.a.url, g.key)), 200);
  // Idle for LEASE_IDLE_MS: a's upkeep gives back the unused room of its slice of the limit.
  t.clock.advance(LEASE_IDLE_MS);
  await t.a.gateway.flush();
  assert.equal(await status(callModel(t.b.url, g.key)), 200);
  assert.equal(await status(callModel(t.b.url, g.key)), 200);
  t.clock.advance(LEASE_IDLE_MS);
  await t.b.gateway.flush();
  assert.equal(await status(callModel(t.a.url, g.key)), 429);
  assert.equal(await status(callModel(t.b.url, g.key)), 429);
  t.clock.advance(60_000);
  assert.equal(await status(callModel(t.b.url, g.key)), 200);
});

Deno.test("admin changes on one instance: limited keys see them within 1 s, others within the cache TTL", async () => {
  await using t = await startPair();
  const plain = (await adminCall(t.a.url, "POST", "/key/generate", {})).json;
  const limited = (await adminCall(t.a.url, "POST", "/key/generate", { max_budget: 1 })).json;
  for (const key of [plain.key, limited.key]) {
    assert.equal(await status(callModel(t.b.url, key)), 200); // now cached on b
    const blockRes = await adminCall(t.a.url, "POST", "/key/block", { key });
    assert.equal(blockRes.status, 200, JSON.stringify(blockRes.json) + t.a.logs.join("\n"));
    assert.equal(await status(callModel(t.a.url, key)), 401); // a invalidated its own cache
  }
  // A key with a budget re-reads its record with its counters once its read is key_counter_max_age_ms (1 s) old.
  assert.equal(await status(callModel(t.b.url, limited.key)), 200);
  t.clock.advance(999);
  assert.equal(await status(callModel(t.b.url, limited.key)), 200);
  t.clock.advance(1);
  assert.equal(await status(callModel(t.b.url, limited.key)), 401);
  // A key without limits is served from b's cache until the TTL (2 s, injected clock) runs out.
  assert.equal(await status(callModel(t.b.url, plain.key)), 200);
  t.clock.advance(999);
  assert.equal(await status(callModel(t.b.url, plain.key)), 200);
  t.clock.advance(1);
  assert.equal(await status(callModel(t.b.url, plain.key)), 401);
  // Deleting works the same way.
  await adminCall(t.a.url, "POST", "/key/unblock", { key: plain.key });
  t.clock.advance(2_000);
  assert.equal(await status(callModel(t.b.url, plain.key)), 200);
  await adminCall(t.a.url, "POST", "/key/delete", { keys: [plain.key] });
  t.clock.advance(2_000);
  assert.equal(await status(callModel(t.b.url, plain.key)), 401);
});

Deno.test("key_counter_max_age_ms: 0: a limited key is blocked on the other instance at its next call", async () => {
  await using t = await startPair("  key_counter_max_age_ms: 0\n");
  const limited = (await adminCall(t.a.url, "POST", "/key/generate", { max_budget: 1 })).json;
  assert.equal(await status(callModel(t.b.url, limited.key)), 200);
  assert.equal((await adminCall(t.a.url, "POST", "/key/block", { key: limited.key })).status, 200);
  assert.equal(await status(callModel(t.b.url, limited.key)), 401);
});
