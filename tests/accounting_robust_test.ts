/**
 * Accounting never throws: a body whose parsed form cannot be stored (nested 7,000 levels deep, which V8's serializer
 * and Deno KV refuse with "Maximum call stack size exceeded") still gets its spend-log row (flagged), its request-log
 * line and its metrics, and the key is billed. The front door's `max_json_depth` (128 by default) refuses such a body
 * earlier; the end-to-end test raises it, and the row builder is also checked on its own.
 */
import assert from "node:assert/strict";
import { serialize } from "node:v8";
import type { CallRecord } from "../server/core/call_record.ts";
import { spendLogRow } from "../server/spend/spend_log.ts";
import { call, get, MASTER_KEY, setupSpend, sonnetNanos } from "./spend_helpers.ts";
import { kvSpendNanos } from "./keys_helpers.ts";

const DEPTH = 7_000;

/** ~14 KB: a short prompt and a 7,000-deep nested array in `additionalModelRequestFields`. */
function deepBody(): string {
  return `{"messages":[{"role":"user","content":[{"text":"Hello"}]}],"additionalModelRequestFields":{"x":${
    "[".repeat(DEPTH)
  }${"]".repeat(DEPTH)}}}`;
}

Deno.test("the row builder keeps a too-deep body as its text, flagged, and the row stays storable in KV", async () => {
  const body = deepBody();
  const record: CallRecord = {
    requestId: "r1",
    callType: "converse",
    modelName: "claude",
    caller: {},
    startTime: 0,
    endTime: 1,
    status: "success",
    httpStatus: 200,
    retries: 0,
    requestBody: body,
    responseBody: '{"ok":true}',
  };
  assert.throws(() => serialize(JSON.parse(body)), /call stack/, "the parsed body itself is not storable");
  const { row, bytes } = spendLogRow(record, { nanos: 0n, unpriced: [] });
  assert.equal(row.messages, body);
  assert.deepEqual(row.metadata, { messages_stored_as_text: true });
  assert.deepEqual(row.response, { ok: true });
  assert.ok(serialize(row).length <= bytes, "the size bound still holds");
  await using kv = await Deno.openKv(":memory:");
  await kv.set(["row"], [row]);
});

Deno.test("a 7,000-deep body with stored prompts: row, request-log line and metrics are all written", async () => {
  // The front door refuses bodies nested deeper than max_json_depth (128 by default): raised here, so the body reaches
  // accounting as it would without that limit.
  await using t = await setupSpend({ extra: "  store_prompts_in_spend_logs: true\n  max_json_depth: 10000\n" });
  const g = await t.generate({ key_alias: "deep" });
  const body = deepBody();
  assert.ok(body.length > 14_000 && body.length < 15_000);
  const res = await call(t.gw.url, g.key, { body });
  assert.equal(res.status, 200);
  const [record] = await t.gw.waitForCalls(1);

  const rows = (await get(t.gw.url, "/spend/logs")).json;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].request_id, record.requestId);
  assert.equal(rows[0].messages, body);
  assert.equal(rows[0].metadata.messages_stored_as_text, true);
  assert.equal(rows[0].spend * 1e9, Number(sonnetNanos({ input: 10, output: 5 })));

  const lines = t.gw.logs.map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => l.msg === "call" && l.request_id === record.requestId).length, 1);
  assert.equal(lines.filter((l) => l.level === "error").length, 0, JSON.stringify(lines));

  const metrics = await (await fetch(`${t.gw.url}/metrics`, { headers: { authorization: `Bearer ${MASTER_KEY}` } }))
    .text();
  assert.match(metrics, /litellm_requests_metric_total\{[^}]*api_key_alias="deep"[^}]*status="success"\} 1/);

  await t.gw.gateway.flush();
  assert.equal(await kvSpendNanos(t.gw.kv, g.token), sonnetNanos({ input: 10, output: 5 }));
});

Deno.test("a failed call's error_message in its spend-log row has secrets redacted and is bounded", () => {
  const record: CallRecord = {
    requestId: "r2",
    callType: "converse",
    modelName: "claude",
    caller: {},
    startTime: 0,
    endTime: 1,
    status: "failure",
    httpStatus: 400,
    retries: 0,
    errorType: "ValidationException",
    errorMessage: `bad key sk-live-0123456789abcdef and AKIAIOSFODNN7EXAMPLE; ${"x".repeat(5_000)}`,
  };
  const { row } = spendLogRow(record, { nanos: 0n, unpriced: [] });
  const message = row.error_message ?? "";
  assert.ok(message.startsWith("bad key sk-[redacted] and [aws-key-id];"), message.slice(0, 80));
  assert.ok(!message.includes("sk-live") && !message.includes("AKIAIOSFODNN7EXAMPLE"));
  assert.ok(message.length <= 1_000);
});
