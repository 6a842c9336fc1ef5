/**
 * Spend logs end to end: one correct row per call (converse, stream, failed, client disconnected), the cost
 * header, stored prompts, the `/spend/logs` filters and pages, and the request log line of each call.
 */
import assert from "node:assert/strict";
import { estimateInputTokens } from "../server/bedrock/expected_usage.ts";
import { Latch } from "../testing/fake_bedrock.ts";
import { createLogger } from "../server/core/log.ts";
import { SpendLogRow, SpendLogsSummary } from "../server/spend/schemas.ts";
import { publicBase } from "../server/core/redact.ts";
import { uuidV7Time } from "../server/core/uuidv7.ts";
import { createClient } from "../sdk/mod.ts";
import type { SpendLogRow as SpendLogRowType } from "../sdk/types.gen.ts";
import {
  call,
  callModel,
  converseBody,
  debugLog,
  get,
  MASTER_KEY,
  nanos,
  setupSpend,
  sonnetNanos,
} from "./spend_helpers.ts";

const DAY = 86_400_000;

Deno.test("converse, stream, failed and disconnected calls each leave exactly one correct row", async () => {
  const debug = debugLog();
  await using t = await setupSpend({ log: debug.log });
  await t.admin("POST", "/team/new", { team_id: "t1" });
  const g = await t.generate({ key_alias: "app", user_id: "u1", team_id: "t1" });
  const t0 = t.clock.now();
  const body = JSON.stringify({
    messages: [{ role: "user", content: [{ text: "Hi" }] }],
    requestMetadata: { project: "apollo" },
  });

  // 1. converse with cache tokens: the cost is known before the answer is sent, so it rides in a header.
  t.fake.enqueue({
    kind: "converse",
    usage: { inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 1000, cacheWriteInputTokens: 200 },
  });
  const conv = await call(t.gw.url, g.key, { body, headers: { "x-litellm-tags": "t-a, t-b" } });
  assert.equal(conv.status, 200);
  assert.equal(conv.headers.get("x-litellm-response-cost"), "0.00165");
  const convId = conv.headers.get("x-litellm-call-id")!;
  // The default request id is a UUIDv7 on the gateway's clock (spend-log lookups read the seconds around it).
  assert.equal(uuidV7Time(convId), t0);

  // 2. converse-stream: billed from its metadata event at the end; no cost header (unknown when headers go out).
  t.clock.advance(1000);
  t.fake.enqueue({ kind: "converse", usage: { inputTokens: 30, outputTokens: 7 } });
  const stream = await call(t.gw.url, g.key, { stream: true });
  assert.equal(stream.status, 200);
  assert.equal(stream.headers.get("x-litellm-response-cost"), null);
  await t.gw.waitForCalls(2);

  // 3. an upstream error (not retried): a failure row that costs nothing.
  t.clock.advance(1000);
  t.fake.enqueue({ kind: "error", status: 400, type: "ValidationException", message: "bad input" });
  const failed = await call(t.gw.url, g.key);
  assert.equal(failed.status, 400);
  assert.equal(failed.headers.get("x-litellm-response-cost"), "0");

  // 4. a stream the client abandons after the first bytes: stopped, billed an estimate (input from the request).
  t.clock.advance(1000);
  const hold = new Latch();
  t.fake.enqueue({ kind: "stream", pauseAfterFirst: hold });
  const abandoned = await callModel(t.gw.url, g.key, { stream: true });
  const reader = abandoned.body!.getReader();
  await reader.read();
  await reader.cancel();
  await t.gw.waitForCalls(4);
  hold.release();

  // 5. a converse call the client gives up on while Bedrock is still thinking: read to its end and billed.
  t.clock.advance(1000);
  const slow = new Latch();
  t.fake.enqueue({ kind: "converse", waitFor: slow });
  const abort = new AbortController();
  const pending = callModel(t.gw.url, g.key, { signal: abort.signal });
  const fifth = await t.fake.whenRequest(4);
  abort.abort();
  await assert.rejects(pending);
  await debug.logged("call: the client disconnected");
  slow.release();
  await t.gw.waitForCalls(5);
  assert.equal(fifth.aborted, false);

  const calls = t.gw.calls;
  assert.deepEqual(calls.map((c) => c.status), [
    "success",
    "success",
    "failure",
    "client_disconnected",
    "client_disconnected",
  ]);
  const { status, json: rows } = await get(t.gw.url, "/spend/logs");
  assert.equal(status, 200);
  // The rows are what the documented schema (OpenAPI, SDK types) says.
  for (const row of rows) SpendLogRow.parse(row);
  // Exactly one row per call, newest first.
  assert.deepEqual(rows.map((r: { request_id: string }) => r.request_id), calls.map((c) => c.requestId).reverse());
  const [r5, r4, r3, r2, r1] = rows;

  const common = {
    call_type: "converse",
    api_key: g.token,
    key_alias: "app",
    user: "u1",
    team_id: "t1",
    model: "claude",
    model_group: "claude",
    model_id: "claude-usw2",
    bedrock_model_id: "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
    custom_llm_provider: "bedrock",
    api_base: t.fake.url,
    region: "us-west-2",
    retries: 0,
    incomplete: false,
    messages: null,
    response: null,
  };
  const iso = (ms: number) => new Date(ms).toISOString();
  assert.equal(convId, r1.request_id);
  assert.deepEqual(r1, {
    ...common,
    request_id: calls[0].requestId,
    startTime: iso(t0),
    endTime: iso(t0),
    completionStartTime: iso(t0),
    request_duration_ms: 0,
    prompt_tokens: 1300,
    completion_tokens: 20,
    total_tokens: 1320,
    cache_read_input_tokens: 1000,
    cache_creation_input_tokens: 200,
    spend: 0.00165,
    price_unknown: false,
    unpriced_tokens: [],
    service_tier: null,
    performance_latency: null,
    status: "success",
    http_status: 200,
    error_type: null,
    error_message: null,
    request_tags: ["t-a", "t-b", "project:apollo"],
    metadata: { request_metadata: { project: "apollo" } },
  });
  assert.deepEqual(r2, {
    ...common,
    call_type: "converse-stream",
    request_id: calls[1].requestId,
    startTime: iso(t0 + 1000),
    endTime: iso(t0 + 1000),
    completionStartTime: iso(t0 + 1000),
    request_duration_ms: 0,
    prompt_tokens: 30,
    completion_tokens: 7,
    total_tokens: 37,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
    spend: 0.000195,
    price_unknown: false,
    unpriced_tokens: [],
    service_tier: null,
    performance_latency: null,
    status: "success",
    http_status: 200,
    error_type: null,
    error_message: null,
    request_tags: [],
    metadata: {},
  });
  assert.equal(nanos(r2.spend), sonnetNanos({ input: 30, output: 7 }));
  assert.equal(r3.status, "failure");
  assert.equal(r3.http_status, 400);
  assert.equal(r3.error_type, "ValidationException");
  assert.equal(r3.error_message, "bad input");
  assert.equal(r3.spend, 0);
  assert.equal(r3.total_tokens, 0);
  assert.equal(r4.status, "client_disconnected");
  assert.equal(r4.call_type, "converse-stream");
  assert.equal(r4.incomplete, true);
  // Only messageStart was relayed: the request's estimated input tokens, no output.
  const estimate = estimateInputTokens(JSON.parse(converseBody()));
  assert.equal(r4.usage_estimated, true);
  assert.equal(r4.prompt_tokens, estimate);
  assert.equal(r4.completion_tokens, 0);
  assert.equal(nanos(r4.spend), sonnetNanos({ input: estimate }));
  assert.equal(r5.status, "client_disconnected");
  assert.equal(r5.call_type, "converse");
  assert.equal(r5.usage_estimated, undefined);
  assert.equal(nanos(r5.spend), sonnetNanos({ input: 10, output: 5 }));
  assert.equal(r5.http_status, 200);
  assert.equal(r5.completionStartTime, iso(t0 + 4000));

  // Each row by its request id.
  for (const c of calls) {
    const one = await get(t.gw.url, `/spend/logs?request_id=${c.requestId}`);
    assert.equal(one.json.length, 1);
    assert.equal(one.json[0].request_id, c.requestId);
  }
  // The key's spend in /key/info is the sum of its rows.
  const info = await t.admin("GET", `/key/info?key=${g.key}`);
  assert.equal(
    nanos(info.json.info.spend),
    sonnetNanos({ input: 100, output: 20, cacheRead: 1000, cacheWrite: 200 }) +
      sonnetNanos({ input: 30, output: 7 }) + sonnetNanos({ input: estimateInputTokens(JSON.parse(converseBody())) }) +
      sonnetNanos({ input: 10, output: 5 }),
  );
});

Deno.test("request log: one JSON line per call with id, route, model, deployment, status, latency, tokens, cost", async () => {
  const lines: string[] = [];
  await using t = await setupSpend({ log: createLogger({ write: (l) => lines.push(l) }) });
  t.fake.enqueue({ kind: "converse", usage: { inputTokens: 100, outputTokens: 20 } });
  const ok = await call(t.gw.url, MASTER_KEY);
  t.fake.enqueue({ kind: "error", status: 403, type: "AccessDeniedException", message: "no access" });
  await call(t.gw.url, MASTER_KEY);
  await call(t.gw.url, MASTER_KEY, { stream: true });
  await t.gw.waitForCalls(3);
  const callLines = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "call");
  assert.equal(callLines.length, 3);
  const [a, b, c] = callLines;
  assert.ok(!Number.isNaN(Date.parse(a.time)));
  delete a.time;
  assert.deepEqual(a, {
    level: "info",
    msg: "call",
    request_id: ok.headers.get("x-litellm-call-id"),
    route: "/bedrock/model/claude/converse",
    call_type: "converse",
    model: "claude",
    deployment: "claude-usw2",
    status: "success",
    http_status: 200,
    latency_ms: 0,
    ttfb_ms: 0,
    prompt_tokens: 100,
    completion_tokens: 20,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    total_tokens: 120,
    cost: 0.0006,
    retries: 0,
    key_alias: "master_key",
    key_hash: t.gw.calls[0].caller.keyHash!.slice(0, 12),
  });
  assert.equal(b.level, "warn");
  assert.equal(b.status, "failure");
  assert.equal(b.error_type, "AccessDeniedException");
  assert.equal(b.cost, 0);
  assert.equal(c.route, "/bedrock/model/claude/converse-stream");
  assert.equal(c.total_tokens, 15);
  // Upstream timing only with --detailed-debug.
  for (const l of callLines) assert.equal(l.upstream, undefined);
});

Deno.test("--detailed-debug adds upstream timing to the call line", async () => {
  const lines: string[] = [];
  await using t = await setupSpend({ log: createLogger({ write: (l) => lines.push(l), debug: true }) });
  t.fake.enqueue({ kind: "converse", latencyMs: 321 });
  await call(t.gw.url, MASTER_KEY);
  const line = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "call");
  assert.deepEqual(line.upstream, {
    bedrock_model_id: "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
    region: "us-west-2",
    attempts: 1,
    time_to_response_ms: 0,
    body_ms: 0,
    bedrock_latency_ms: 321,
  });
});

Deno.test("store_prompts_in_spend_logs: request and response bodies on the row; oversized ones truncated", async () => {
  await using t = await setupSpend({ extra: "  store_prompts_in_spend_logs: true\n" });
  t.fake.enqueue({ kind: "converse", text: "Bonjour" });
  await call(t.gw.url, MASTER_KEY, { body: converseBody("Salut") });
  t.clock.advance(1);
  await call(t.gw.url, MASTER_KEY, { stream: true });
  await t.gw.waitForCalls(2);
  t.clock.advance(1);
  const big = "é".repeat(30_000) + "漢".repeat(10);
  await call(t.gw.url, MASTER_KEY, { body: converseBody(big) });
  await t.gw.waitForCalls(3);
  const rows = (await get(t.gw.url, "/spend/logs")).json;
  assert.equal(rows.length, 3);
  const [large, streamed, plain] = rows;
  assert.deepEqual(plain.messages, JSON.parse(converseBody("Salut")));
  assert.equal(plain.response.output.message.content[0].text, "Bonjour");
  assert.deepEqual(plain.metadata, {});
  assert.equal(streamed.response, "Hello from fake");
  assert.equal(typeof large.messages, "string");
  assert.ok(large.messages.length < 30_000);
  assert.ok(converseBody(big).startsWith(large.messages));
  // The fake echoes the prompt, so the answer is over the cap too.
  assert.deepEqual(large.metadata, { messages_truncated: true, response_truncated: true });
  assert.ok(large.response.startsWith('{"output"'));
  assert.equal(large.status, "success");
});

Deno.test("/spend/logs: filters combine, newest first, paged; dates as days or timestamps", async () => {
  await using t = await setupSpend();
  const a = await t.generate({ user_id: "alice", key_alias: "a" });
  const b = await t.generate({ user_id: "bob", key_alias: "b" });
  const a2 = await t.generate({ user_id: "bob", key_alias: "a2" });
  const start = t.clock.now(); // 2025-06-01T12:00Z
  // Day 1: a, b, a2, a; day 2: b, a.
  for (const key of [a.key, b.key, a2.key, a.key]) {
    await call(t.gw.url, key);
    t.clock.advance(60_000);
  }
  t.clock.advance(DAY);
  for (const key of [b.key, a.key]) {
    await call(t.gw.url, key);
    t.clock.advance(60_000);
  }
  const ids = t.gw.calls.map((c) => c.requestId);
  const q = async (query: string) => {
    const r = await get(t.gw.url, `/spend/logs?${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.map((row: { request_id: string }) => ids.indexOf(row.request_id));
  };
  assert.deepEqual(await q(""), [5, 4, 3, 2, 1, 0]);
  assert.deepEqual(await q(`api_key=${a.key}`), [5, 3, 0]);
  assert.deepEqual(await q(`api_key=${a.token}`), [5, 3, 0]);
  assert.deepEqual(await q("user_id=bob"), [4, 2, 1]);
  assert.deepEqual(await q(`user_id=bob&api_key=${b.token}`), [4, 1]);
  assert.deepEqual(await q(`user_id=alice&api_key=${b.token}`), []);
  assert.deepEqual(await q(`request_id=${ids[2]}&user_id=bob`), [2]);
  assert.deepEqual(await q(`request_id=${ids[2]}&user_id=alice`), []);
  assert.deepEqual(await q("request_id=nope"), []);
  // Dates: rows (summarize=false), a whole day or an exact window.
  assert.deepEqual(await q("start_date=2025-06-02&end_date=2025-06-02&summarize=false"), [5, 4]);
  assert.deepEqual(await q("start_date=2025-06-01&end_date=2025-06-01&summarize=false"), [3, 2, 1, 0]);
  const iso = (ms: number) => new Date(ms).toISOString();
  const window = `start_date=${iso(start + 60_000)}&end_date=${iso(start + 120_000)}`;
  assert.deepEqual(await q(`${window}&summarize=false`), [2, 1]);
  assert.deepEqual(await q(`start_date=2025-06-02&api_key=${a.key}`), [5]);
  assert.deepEqual(await q(`end_date=2025-06-01&user_id=bob`), [2, 1]);
  // Pages of two, newest first.
  assert.deepEqual(await q("page_size=2"), [5, 4]);
  assert.deepEqual(await q("page_size=2&page=2"), [3, 2]);
  assert.deepEqual(await q("page_size=2&page=3"), [1, 0]);
  assert.deepEqual(await q("page_size=2&page=4"), []);
  assert.deepEqual(await q(`api_key=${a.key}&page_size=2&page=2`), [0]);

  // Summaries (LiteLLM's default with both dates): per day, per user, per model and per key hash.
  const each = sonnetNanos({ input: 10, output: 5 });
  const usd = (n: bigint) => Number(n) / 1e9;
  const summary = (await get(t.gw.url, "/spend/logs?start_date=2025-05-31&end_date=2025-06-02")).json;
  SpendLogsSummary.parse(summary);
  assert.deepEqual(summary, [
    { startTime: "2025-05-31", spend: 0, users: {}, models: {} },
    {
      startTime: "2025-06-01",
      spend: usd(4n * each),
      users: { alice: usd(2n * each), bob: usd(2n * each) },
      models: { claude: usd(4n * each) },
      [a.token]: usd(2n * each),
      [b.token]: usd(each),
      [a2.token]: usd(each),
    },
    {
      startTime: "2025-06-02",
      spend: usd(2n * each),
      users: { alice: usd(each), bob: usd(each) },
      models: { claude: usd(2n * each) },
      [a.token]: usd(each),
      [b.token]: usd(each),
    },
  ]);
  // Filtered summaries come from the rows.
  const bobs = (await get(t.gw.url, "/spend/logs?start_date=2025-06-01&end_date=2025-06-02&user_id=bob")).json;
  assert.deepEqual(bobs.map((d: { spend: number }) => d.spend), [usd(2n * each), usd(each)]);
  assert.deepEqual(bobs[0].users, { bob: usd(2n * each) });
});

Deno.test("/spend/tags and /global/*: master key only, validated parameters, x-litellm-call-id", async () => {
  await using t = await setupSpend();
  const g = await t.generate();
  for (
    const path of [
      "/spend/tags",
      "/global/spend",
      "/global/spend/report?start_date=2025-06-01&end_date=2025-06-01",
      "/global/spend/keys",
      "/global/spend/models",
    ]
  ) {
    const asKey = await get(t.gw.url, path, g.key);
    assert.equal(asKey.status, 403, path);
    assert.equal(asKey.json.error.type, "auth_error");
    const none = await fetch(`${t.gw.url}${path}`);
    assert.equal(none.status, 401);
    assert.ok(none.headers.get("x-litellm-call-id"));
    await none.body?.cancel();
  }
  const bad = [
    ["/spend/logs?start_date=yesterday", "start_date"],
    ["/spend/logs?start_date=2025-02-30", "start_date"],
    ["/spend/logs?page=0", "page"],
    ["/spend/logs?page_size=5000", "page_size"],
    ["/spend/logs?api_kye=x", "api_kye"],
    ["/spend/logs?start_date=2025-06-02&end_date=2025-06-01", "start_date"],
    ["/global/spend/report?start_date=2025-06-01", "end_date"],
    ["/global/spend/report?start_date=2025-06-01&end_date=2025-06-01&group_by=region", "group_by"],
    ["/global/spend?end_date=2025-13-01", "end_date"],
  ];
  for (const [path, param] of bad) {
    const r = await get(t.gw.url, path);
    assert.equal(r.status, 400, path);
    assert.equal(r.json.error.param, param, path);
  }
  const ok = await fetch(`${t.gw.url}/global/spend`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
  assert.ok(ok.headers.get("x-litellm-call-id"));
  assert.deepEqual(await ok.json(), { spend: 0, max_budget: null });
});

Deno.test("a model without a known price: cost 0, its rows flagged, one warning at start-up", async () => {
  const lines: string[] = [];
  const params = "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
    "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY";
  await using t = await setupSpend({
    models: [{ name: "mystery", model: "bedrock/example.unpriced-model-v1:0", params }],
    log: createLogger({ write: (l) => lines.push(l) }),
  });
  const res = await call(t.gw.url, MASTER_KEY, { model: "mystery" });
  assert.equal(res.headers.get("x-litellm-response-cost"), "0");
  await call(t.gw.url, MASTER_KEY, { model: "mystery" });
  const rows = (await get(t.gw.url, "/spend/logs")).json;
  assert.equal(rows.length, 2);
  for (const row of rows) {
    assert.equal(row.spend, 0);
    assert.equal(row.price_unknown, true);
    assert.deepEqual(row.unpriced_tokens, ["input", "output"]);
    assert.equal(row.total_tokens, 15);
  }
  const warnings = lines.map((l) => JSON.parse(l)).filter((l) => /no price known/.test(l.msg));
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].level, "warn");
  assert.equal(warnings[0].deployments[0].model, "example.unpriced-model-v1:0");
});

Deno.test("api_base never carries credentials embedded in a configured endpoint", () => {
  assert.equal(publicBase("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
  assert.equal(publicBase("https://user:pa55@vpce.example.com/base?token=s3cret#x"), "https://vpce.example.com/base");
  assert.equal(
    publicBase("https://bedrock-runtime.us-west-2.amazonaws.com"),
    "https://bedrock-runtime.us-west-2.amazonaws.com",
  );
  assert.equal(publicBase(undefined), undefined);
});

Deno.test("the SDK's generated spend methods: client.spend.logs, .global, .report", async () => {
  await using t = await setupSpend();
  const g = await t.generate({ user_id: "sdk-user" });
  await call(t.gw.url, g.key);
  const admin = createClient({ baseUrl: t.gw.url, apiKey: MASTER_KEY });
  const rows = await admin.spend.logs({ api_key: g.key, summarize: false });
  assert.ok(Array.isArray(rows) && rows.length === 1);
  const [row] = rows as SpendLogRowType[];
  assert.equal(row.user, "sdk-user");
  const total = await admin.spend.global({});
  assert.equal(total.spend, row.spend);
  const report = await admin.spend.report({ start_date: "2025-06-01", end_date: "2025-06-01", group_by: "user" });
  assert.deepEqual(report.map((r) => [r.user, r.total_spend]), [["sdk-user", row.spend]]);
  // A virtual key is refused with the typed error.
  const asKey = createClient({ baseUrl: t.gw.url, apiKey: g.key });
  await assert.rejects(asKey.spend.global({}), (e) => (e as { status?: number }).status === 403);
});
