/**
 * Review (attack): ApplyGuardrail is billed (its policy units, `server/pricing/guardrail_prices.ts`), yet the call
 * pipeline treats every pass-through call as one that "cannot cost anything" (`estimate.billable: false` in
 * `server/calls/passthrough_call.ts`):
 * - it holds nothing against the key's budget, so 20 calls arriving together on a budget for 3 all pass;
 * - it is still served while spend cannot be written to KV, past `MAX_UNWRITTEN_CALLS`, so its spend piles up in
 *   memory only (README, "Fail closed": guardrails listed among the calls that "cannot" cost anything).
 * Both tests fail on main and pass once guardrail calls are held and counted as billable.
 */
import assert from "node:assert/strict";
import { MAX_UNWRITTEN_CALLS } from "../server/keys/admission.ts";
import { Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { DISK_FULL, failingKv, nextTick } from "./failing_kv.ts";
import { adminCall, ENV, PRICE_PARAMS } from "./keys_helpers.ts";

const GRANT = { allowed_routes: ["/bedrock/model/*", "/bedrock/guardrail/*"] };
/** The fake reports 1 topic, 1 content, 1 word, 1 PII unit: $0.15 + $0.15 + 0 + $0.10 per 1,000 = $0.0004. */
const CALL_USD = 0.0004;

function applyGuardrail(url: string, key: string): Promise<Response> {
  return fetch(`${url}/bedrock/guardrail/gr1abc/version/1/apply`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ source: "INPUT", content: [{ text: { text: "hello" } }] }),
  });
}

/** A gateway whose pass-through account is the fake Bedrock (the harness's fake serves ApplyGuardrail). */
async function gatewayWithPassthrough(kv?: Deno.Kv) {
  const fake = await startFakeBedrock();
  const extra = `  bedrock_passthrough:
    aws_region_name: us-west-2
    aws_bedrock_runtime_endpoint: ${fake.url}
    aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
    aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
`;
  const gw = await startGateway({
    yaml: fakeConfig(fake.url, { models: [{ name: "claude", params: PRICE_PARAMS }], extra }),
    env: ENV,
    kv,
    ledgerSleep: nextTick,
    closeWaitMs: 50,
  });
  return {
    fake,
    gw,
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await fake.close();
    },
  };
}

Deno.test("review: 20 ApplyGuardrail calls at once on a budget for 3: at most 4 pass", async () => {
  await using t = await gatewayWithPassthrough();
  const answer = new Latch();
  t.fake.setDefault({ kind: "converse", waitFor: answer });
  const g = (await adminCall(t.gw.url, "POST", "/key/generate", { ...GRANT, max_budget: 3 * CALL_USD })).json;
  const calls = 20;
  let decided = 0;
  const allDecided = new Latch();
  const tick = () => ++decided === calls && allDecided.release();
  t.fake.handler = () => {
    tick();
    return undefined;
  };
  const statuses = Array.from({ length: calls }, async () => {
    const res = await applyGuardrail(t.gw.url, g.key);
    await res.body?.cancel();
    if (res.status !== 200) tick();
    return res.status;
  });
  await allDecided.wait();
  answer.release();
  const passed = (await Promise.all(statuses)).filter((s) => s === 200).length;
  assert.ok(passed <= 4, `${passed} of ${calls} guardrail calls passed on a budget for 3 ($${CALL_USD} each)`);
});

Deno.test("review: while spend cannot be written, ApplyGuardrail calls (billed) are refused past the bound", async () => {
  await using inner = await Deno.openKv(":memory:");
  const disk = failingKv(inner);
  await using t = await gatewayWithPassthrough(disk.kv);
  disk.state.failing = true;
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) {
    const res = await applyGuardrail(t.gw.url, MASTER_KEY);
    await res.body?.cancel();
    statuses.push(res.status);
    if (i === 0) await disk.failedAtLeast(1); // the ledger has found out
  }
  const answered = statuses.filter((s) => s === 200).length;
  assert.ok(
    answered <= MAX_UNWRITTEN_CALLS,
    `${answered} billed guardrail calls answered while KV refused every write (${DISK_FULL}): ${statuses}`,
  );
  assert.equal(t.gw.calls.filter((c) => c.guardrailUnits).length, answered);
});
