/**
 * Review (attack, any key holder): a JSON call the gateway itself gives up on after sending it — its attempt ran past
 * the deployment's `timeout` — is billed nothing, and by default (`num_retries: 2`) it is sent twice more, each
 * attempt also billed nothing. Bedrock has the request each time and bills what it processed (the premise of the
 * gateway's own rule for a client that leaves a JSON call: "Bedrock served (and bills) the call"; and of its rule for
 * a stream cut before its first byte: "Bedrock had the request: the prompt was read"). A key holder who asks for
 * answers that take longer than `timeout` (the README's example sets `timeout: 30`; 4,096 output tokens take longer)
 * spends the operator's money without their budget moving, as often as they like.
 *
 * Fails on main (nothing billed); passes once an attempt abandoned after it was sent is billed at least the input
 * estimate (flagged estimated), as a stream abandoned before its first byte is.
 */
import assert from "node:assert/strict";
import { MASTER_KEY, setupSpend, SONNET_PRICES } from "./spend_helpers.ts";

/** 1,600 ASCII characters of prompt ("user" included): 401 tokens at 4 a token. */
const BODY = JSON.stringify({
  messages: [{ role: "user", content: [{ text: "word ".repeat(319) + "end." }] }],
  inferenceConfig: { maxTokens: 4096 },
});
const INPUT_ESTIMATE = 400;

Deno.test("review: a converse call that timed out after it was sent (and was retried) is billed, not free", async () => {
  let sent = 0;
  const counting: typeof fetch = (input, init) => {
    sent++;
    return fetch(input, init);
  };
  await using t = await setupSpend({
    models: [{ name: "claude", params: `${SONNET_PRICES}\n      timeout: 0.05` }],
    fetch: counting,
  });
  // Bedrock is still generating when the gateway's 50 ms attempt timer fires.
  t.fake.setDefault({ kind: "hang" });
  const res = await fetch(`${t.gw.url}/bedrock/model/claude/converse`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: BODY,
  });
  assert.equal(res.status, 504);
  await res.body?.cancel();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(sent, 3, "sent three times (num_retries: 2)");
  assert.ok(
    (call.usage?.inputTokens ?? 0) >= INPUT_ESTIMATE,
    `${sent} attempts sent to Bedrock, billed ${JSON.stringify(call.usage ?? null)}`,
  );
  assert.equal(call.usageEstimated, true);
});
