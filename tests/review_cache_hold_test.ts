/**
 * Review (attack, any key holder): a call's hold prices its input at the plain input rate
 * (`server/pricing/hold_price.ts`), but a prompt written to the cache costs 1.25× (5-minute TTL) or 2× (1-hour TTL)
 * that rate (`cache_creation_input_token_cost`, `…_above_1hr`). A key holder who marks the prompt with a 1-hour
 * `cachePoint` — different every call, so every call writes — uses about twice what each call holds, so calls
 * arriving together overshoot the budget twice over, past the documented bound (usage ≤ limit + one hold).
 * Fails on main; passes once the hold prices input at the dearest rate the request can incur (cache writes included
 * when it carries a `cachePoint`).
 */
import assert from "node:assert/strict";
import { Latch } from "../testing/fake_bedrock.ts";
import { setupKeys } from "./keys_helpers.ts";

const PRICES = `      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
      cache_creation_input_token_cost: 0.00000125
      cache_creation_input_token_cost_above_1hr: 0.000002`;

const CALLS = 50;
/** ~4,000 characters, then a 1-hour cache point: the gateway estimates 1,001 input tokens. */
const body = (i: number) =>
  JSON.stringify({
    messages: [{
      role: "user",
      content: [{ text: `session ${i} ` + "word ".repeat(797) + "end." }, {
        cachePoint: { type: "default", ttl: "1h" },
      }],
    }],
    inferenceConfig: { maxTokens: 10 },
  });
/** Bedrock's answer: the whole prompt written to the cache with a 1-hour TTL, 10 tokens out. */
const ANSWER = JSON.stringify({
  output: { message: { role: "assistant", content: [{ text: "ok" }] } },
  stopReason: "end_turn",
  usage: {
    inputTokens: 0,
    outputTokens: 10,
    totalTokens: 1010,
    cacheWriteInputTokens: 1000,
    cacheDetails: [{ ttl: "1h", inputTokens: 1000 }],
  },
  metrics: { latencyMs: 5 },
});
/** 1,000 × $2/M + 10 × $2/M. */
const CALL_USD = 0.00202;

Deno.test("review: 50 calls at once writing their prompt to a 1-hour cache, on a budget for 10: at most 11 pass", async () => {
  await using t = await setupKeys({ models: [{ name: "claude", params: PRICES }] });
  const answer = new Latch();
  t.fake.setDefault({
    kind: "raw",
    status: 200,
    headers: { "content-type": "application/json" },
    body: ANSWER,
    waitFor: answer,
  });
  const g = await t.generate({ max_budget: 10 * CALL_USD });
  let decided = 0;
  const allDecided = new Latch();
  const tick = () => ++decided === CALLS && allDecided.release();
  t.fake.handler = () => {
    tick();
    return undefined;
  };
  const statuses = Array.from({ length: CALLS }, async (_, i) => {
    const res = await t.converse(g.key, "claude", body(i));
    await res.body?.cancel();
    if (res.status !== 200) tick();
    return res.status;
  });
  await allDecided.wait();
  answer.release();
  const passed = (await Promise.all(statuses)).filter((s) => s === 200).length;
  await t.gw.gateway.flush();
  const info = (await t.admin("GET", `/key/info?key=${g.key}`)).json.info;
  assert.ok(passed <= 11, `${passed} calls passed: spend ${info.spend} on a max_budget of ${info.max_budget}`);
});
