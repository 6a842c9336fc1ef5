/**
 * Accounting runs at batch time (server/spend/services.ts): the sink prices a call at once, while its roll-ups,
 * spend-log row, metrics and request-log line wait for the ledger's next batch — off the response path. Nothing
 * finished is missing from an answer: `/metrics` and `ledger.flush()` (every spend route, shutdown) settle first,
 * and collectors queued while the ledger collects land in the same batch.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../server/config/load.ts";
import { createLogger } from "../server/log.ts";
import type { CallRecord } from "../server/spend/call_record.ts";
import { createPricing } from "../server/spend/cost.ts";
import { createLedger } from "../server/spend/ledger.ts";
import { priceTablesFor } from "../server/spend/price_table.ts";
import { createSpendServices } from "../server/spend/services.ts";

const CONFIG = `model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_region_name: us-west-2
      aws_access_key_id: AKIDEXAMPLE
      aws_secret_access_key: secret
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
general_settings:
  master_key: sk-master
  metrics_public: true
`;

const config = loadConfig(CONFIG, () => undefined);

const record = (i: number): CallRecord => ({
  requestId: `req-${i}`,
  callType: "converse",
  modelName: "claude",
  deploymentId: config.deployments[0].id,
  caller: { keyHash: "ab".repeat(32), keyAlias: "batch" },
  startTime: Date.UTC(2026, 10, 26, 10, 0, 0, i),
  endTime: Date.UTC(2026, 10, 26, 10, 0, 0, i + 5),
  status: "success",
  httpStatus: 200,
  retries: 0,
  usage: { inputTokens: 100, outputTokens: 20, totalTokens: 120, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 },
});

async function setup() {
  const kv = await Deno.openKv(":memory:");
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  // A batch interval of an hour: within the test, batches are taken only when something flushes.
  const ledger = createLedger({ kv, instanceId: "i", log, flushIntervalMs: 3_600_000 });
  const spend = createSpendServices({
    config,
    kv,
    ledger,
    pricing: createPricing(config, { tables: priceTablesFor(config), log }),
    auth: { authenticate: () => Promise.resolve({ kind: "master", caller: {} }) },
    admission: { budgets: () => Promise.resolve([]) },
    deployments: () => [],
    now: () => Date.UTC(2026, 10, 26, 10, 0, 1),
    log,
  });
  const callLines = () => lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "call");
  return {
    kv,
    ledger,
    spend,
    callLines,
    [Symbol.asyncDispose]: async () => {
      await ledger.close();
      kv.close();
    },
  };
}

const requestsMetric = (body: string) =>
  body.split("\n").filter((l) => l.startsWith("litellm_requests_metric_total{"))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);

Deno.test("account prices at once and defers the rest; /metrics settles before it renders", async () => {
  await using t = await setup();
  const quote = t.spend.account(record(1));
  assert.equal(quote.nanos, 600_000n, "100 × 3 µUSD + 20 × 15 µUSD");
  t.spend.account(record(2));
  assert.equal(t.callLines().length, 0, "the request-log lines wait for the batch");
  const res = await t.spend.routes.request("/metrics");
  assert.equal(res.status, 200);
  assert.equal(requestsMetric(await res.text()), 2, "both calls are counted at the scrape");
  assert.deepEqual(t.callLines().map((l) => l.request_id), ["req-1", "req-2"], "and their lines are out, in order");
});

Deno.test("a flush writes the deferred calls' roll-ups and spend-log rows in the same batch", async () => {
  await using t = await setup();
  for (let i = 0; i < 3; i++) t.spend.account(record(i));
  let pages = 0;
  for await (const _ of t.kv.list({ prefix: ["spend_log_page"] })) pages++;
  assert.equal(pages, 0, "nothing is written before the batch");
  await t.ledger.flush();
  let rows = 0;
  for await (const e of t.kv.list<unknown[]>({ prefix: ["spend_log_page"] })) rows += e.value.length;
  assert.equal(rows, 3);
  const total = await t.kv.get<Deno.KvU64>(["spend_daily", "total", "2026-11-26", "", "requests"]);
  assert.equal(total.value?.value, 3n);
  assert.equal(t.callLines().length, 3);
});
