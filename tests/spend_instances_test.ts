/**
 * Two gateway instances on one KV file: 500 concurrent calls, and every total (rows, global spend, reports, key
 * spend) is exact once both have flushed.
 */
import assert from "node:assert/strict";
import { startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, startGateway } from "../testing/harness.ts";
import { adminCall, Clock, ENV } from "./keys_helpers.ts";
import { call, get, nanos, sonnet, sonnetNanos } from "./spend_helpers.ts";

Deno.test("500 concurrent calls across two instances on one KV file: rows, roll-ups and key spend are exact", async () => {
  const clock = new Clock();
  await using fake = await startFakeBedrock({ now: () => new Date(clock.now()) });
  const kvPath = await Deno.makeTempFile({ suffix: ".sqlite" });
  const yaml = fakeConfig(fake.url, { models: [sonnet("claude", "claude-usw2")] });
  const a = await startGateway({ yaml, env: ENV, kvPath, now: clock.now });
  const b = await startGateway({ yaml, env: ENV, kvPath, now: clock.now });
  let closed = false;
  const closeBoth = async () => {
    if (closed) return;
    closed = true;
    await Promise.all([a.close(), b.close()]);
  };
  try {
    const keys: Array<{ key: string; token: string }> = [];
    for (const team_id of ["team-0", "team-1"]) await adminCall(a.url, "POST", "/team/new", { team_id });
    for (let i = 0; i < 5; i++) {
      keys.push(
        (await adminCall(a.url, "POST", "/key/generate", { user_id: `user-${i % 3}`, team_id: `team-${i % 2}` }))
          .json,
      );
    }
    // Each request gets its own usage; every ninth fails upstream and bills nothing.
    let n = 0;
    fake.handler = () => {
      const i = n++;
      if (i % 9 === 8) return { kind: "error", status: 400, type: "ValidationException", message: "no" };
      return {
        kind: "converse",
        usage: { inputTokens: 10 + (i % 17), outputTokens: 1 + (i % 13), cacheReadInputTokens: i % 4 ? 0 : i },
      };
    };
    const statuses = await Promise.all(Array.from({ length: 500 }, async (_, i) => {
      const res = await call((i % 2 ? b : a).url, keys[i % keys.length].key, { stream: i % 10 === 3 });
      return res.status;
    }));
    assert.equal(statuses.length, 500);
    await Promise.all([a.waitForCalls(250), b.waitForCalls(250)]);
    const records = [...a.calls, ...b.calls];
    assert.equal(records.length, 500);
    let expected = 0n;
    const perKey = new Map<string, bigint>();
    for (const r of records) {
      if (r.status !== "success") continue;
      const cost = sonnetNanos({
        input: r.usage!.inputTokens,
        output: r.usage!.outputTokens,
        cacheRead: r.usage!.cacheReadInputTokens,
      });
      expected += cost;
      perKey.set(r.caller.keyHash!, (perKey.get(r.caller.keyHash!) ?? 0n) + cost);
    }
    assert.ok(records.filter((r) => r.status === "failure").length >= 50);

    // Both instances flush on close; a third instance reads what is in KV.
    await closeBoth();
    await using c = await startGateway({ yaml, env: ENV, kvPath, now: clock.now });
    const rows = (await get(c.url, "/spend/logs?page_size=1000")).json;
    assert.equal(rows.length, 500);
    assert.equal(new Set(rows.map((r: { request_id: string }) => r.request_id)).size, 500);
    assert.equal(rows.reduce((s: bigint, r: { spend: number }) => s + nanos(r.spend), 0n), expected);
    assert.equal(nanos((await get(c.url, "/global/spend")).json.spend), expected);
    for (const groupBy of ["key", "user", "team", "model", "day"]) {
      const report =
        (await get(c.url, `/global/spend/report?start_date=2025-06-01&end_date=2025-06-01&group_by=${groupBy}`))
          .json;
      assert.equal(report.reduce((s: bigint, g: { total_spend: number }) => s + nanos(g.total_spend), 0n), expected);
      assert.equal(report.reduce((s: number, g: { api_requests: number }) => s + g.api_requests, 0), 500, groupBy);
    }
    for (const k of keys) {
      const info = await adminCall(c.url, "GET", `/key/info?key=${k.key}`);
      assert.equal(nanos(info.json.info.spend), perKey.get(k.token), k.token);
    }
  } finally {
    await closeBoth();
    await Deno.remove(kvPath).catch(() => {});
    for (const suffix of ["-wal", "-shm"]) await Deno.remove(kvPath + suffix).catch(() => {});
  }
});
