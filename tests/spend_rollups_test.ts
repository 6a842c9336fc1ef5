/**
 * Roll-ups agree with the rows: `/global/spend`, `/global/spend/report` (every `group_by`), the `/spend/logs`
 * summary and each key's `/key/info` spend add up to the same integer nano-USD as the spend-log rows.
 */
import assert from "node:assert/strict";
import { GlobalSpendReport, GlobalSpendResponse } from "../server/spend/schemas.ts";
import { call, get, MASTER_KEY, nanos, setupSpend, sonnet } from "./spend_helpers.ts";

const DAY = 86_400_000;

interface Row {
  api_key: string | null;
  user: string | null;
  team_id: string | null;
  model: string;
  model_id: string | null;
  startTime: string;
  spend: number;
  status: string;
  prompt_tokens: number;
  completion_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

/** Sums rows per group, in nano-USD and tokens. */
function group(rows: Row[], by: (r: Row) => string | null) {
  const out = new Map<
    string | null,
    { spend: bigint; requests: number; failed: number; prompt: number; out: number }
  >();
  for (const r of rows) {
    const g = by(r);
    const acc = out.get(g) ?? { spend: 0n, requests: 0, failed: 0, prompt: 0, out: 0 };
    acc.spend += nanos(r.spend);
    acc.requests++;
    if (r.status !== "success") acc.failed++;
    acc.prompt += r.prompt_tokens;
    acc.out += r.completion_tokens;
    out.set(g, acc);
  }
  return out;
}

Deno.test("roll-ups equal the rows: global spend, every report grouping, summaries and /key/info agree", async () => {
  await using t = await setupSpend({
    models: [sonnet("claude", "claude-usw2"), sonnet("claude", "claude-use1"), sonnet("haiku", "haiku-1")],
  });
  for (const team_id of ["red", "blue"]) await t.admin("POST", "/team/new", { team_id });
  const keys = [
    await t.generate({ key_alias: "k1", user_id: "ann", team_id: "red" }),
    await t.generate({ key_alias: "k2", user_id: "ann", team_id: "blue" }),
    await t.generate({ key_alias: "k3", user_id: "ben" }),
    await t.generate({ key_alias: "k4" }),
  ];
  // Varied usage (cache tokens included), a failure every seventh call, spread over three days, the master key too.
  let n = 0;
  t.fake.handler = () => {
    const i = n++;
    if (i % 7 === 6) return { kind: "error", status: 400, type: "ValidationException", message: "no" };
    return {
      kind: "converse",
      usage: {
        inputTokens: 5 + (i % 11),
        outputTokens: 1 + (i % 5),
        cacheReadInputTokens: i % 3 ? 0 : 100 + i,
        cacheWriteInputTokens: i % 4 ? 0 : 7 * i,
      },
    };
  };
  for (let day = 0; day < 3; day++) {
    for (let i = 0; i < 14; i++) {
      const key = i === 13 ? MASTER_KEY : keys[i % keys.length].key;
      await call(t.gw.url, key, { model: i % 3 === 2 ? "haiku" : "claude", stream: i % 5 === 0 });
      t.clock.advance(60_000);
    }
    t.clock.advance(DAY);
  }
  await t.gw.waitForCalls(42);
  const rows: Row[] = (await get(t.gw.url, "/spend/logs?page_size=1000")).json;
  assert.equal(rows.length, 42);
  const total = rows.reduce((s, r) => s + nanos(r.spend), 0n);
  assert.ok(total > 0n);
  assert.ok(rows.some((r) => r.status === "failure"));
  assert.ok(rows.some((r) => r.cache_read_input_tokens > 0 && r.cache_creation_input_tokens > 0));

  const range = "start_date=2025-06-01&end_date=2025-06-10";
  const global = (await get(t.gw.url, "/global/spend")).json;
  GlobalSpendResponse.parse(global);
  assert.equal(nanos(global.spend), total);
  assert.equal(nanos((await get(t.gw.url, `/global/spend?${range}`)).json.spend), total);
  assert.equal(
    nanos((await get(t.gw.url, "/global/spend?start_date=2025-06-02&end_date=2025-06-02")).json.spend) > 0n,
    true,
  );

  const checks: Array<[string, string, (r: Row) => string | null]> = [
    ["model", "model", (r) => r.model],
    ["key", "api_key", (r) => r.api_key],
    ["user", "user", (r) => r.user],
    ["team", "team_id", (r) => r.team_id],
    ["deployment", "model_id", (r) => r.model_id],
    ["day", "group_by_day", (r) => r.startTime.slice(0, 10)],
  ];
  for (const [groupBy, field, by] of checks) {
    const report = (await get(t.gw.url, `/global/spend/report?${range}&group_by=${groupBy}`)).json;
    GlobalSpendReport.parse(report);
    const expected = group(rows, by);
    assert.equal(report.length, expected.size, groupBy);
    let sum = 0n;
    for (const g of report) {
      const e = expected.get(g[field]);
      assert.ok(e, `${groupBy}: unexpected group ${g[field]}`);
      assert.equal(nanos(g.total_spend), e.spend, `${groupBy} ${g[field]}`);
      assert.equal(g.api_requests, e.requests);
      assert.equal(g.failed_requests, e.failed);
      assert.equal(g.total_input_tokens, e.prompt);
      assert.equal(g.total_output_tokens, e.out);
      assert.equal(g.total_tokens, e.prompt + e.out);
      sum += nanos(g.total_spend);
    }
    assert.equal(sum, total, groupBy);
    if (groupBy === "day") {
      assert.deepEqual(report.map((g: { group_by_day: string }) => g.group_by_day), [
        "2025-06-01",
        "2025-06-02",
        "2025-06-03",
      ]);
    } else {
      const spends = report.map((g: { total_spend: number }) => g.total_spend);
      assert.deepEqual(spends, [...spends].sort((a, b) => b - a), `${groupBy} sorted by spend`);
    }
  }
  // A sub-range: only its days.
  const day2 = (await get(t.gw.url, "/global/spend/report?start_date=2025-06-02&end_date=2025-06-02&group_by=model"))
    .json;
  const day2Rows = rows.filter((r) => r.startTime.startsWith("2025-06-02"));
  assert.equal(
    day2.reduce((s: bigint, g: { total_spend: number }) => s + nanos(g.total_spend), 0n),
    day2Rows.reduce((s, r) => s + nanos(r.spend), 0n),
  );

  // The /spend/logs summary (from the roll-ups) per day and per key equals the rows.
  const summary = (await get(t.gw.url, `/spend/logs?${range}`)).json;
  assert.equal(summary.length, 10);
  const byDay = group(rows, (r) => r.startTime.slice(0, 10));
  for (const d of summary) assert.equal(nanos(d.spend), byDay.get(d.startTime)?.spend ?? 0n, d.startTime);
  // Each key's /key/info spend, its report group, its rows and its filtered summary agree.
  const byKey = group(rows, (r) => r.api_key);
  for (const k of keys) {
    const info = await t.admin("GET", `/key/info?key=${k.key}`);
    assert.equal(nanos(info.json.info.spend), byKey.get(k.token)!.spend, k.key_alias);
    const perKey = (await get(t.gw.url, `/spend/logs?${range}&api_key=${k.token}`)).json;
    assert.equal(perKey.reduce((s: bigint, d: { spend: number }) => s + nanos(d.spend), 0n), byKey.get(k.token)!.spend);
    assert.equal(
      summary.reduce((s: bigint, d: Record<string, number>) => s + nanos(d[k.token] ?? 0), 0n),
      byKey.get(k.token)!.spend,
    );
  }
});
