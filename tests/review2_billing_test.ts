/**
 * Review 2, money: what the fixstream merge bills that never cost anything at Bedrock.
 * - A ConverseStream whose only event is Bedrock's in-stream `throttlingException` (no messageStart, nothing
 *   generated) is billed the request's whole input estimate, as if the prompt had been read.
 * - An attempt timed out while its connection was still being made (the injected fetch never reads the request: a
 *   blackholed endpoint, a dead proxy) is billed its input estimate — three times with the default retries.
 */
import assert from "node:assert/strict";
import { converseBody, debugLog, MASTER_KEY, setupSpend, SONNET_PRICES } from "./spend_helpers.ts";

function post(url: string, op: string, body: string): Promise<Response> {
  return fetch(`${url}/bedrock/model/claude/${op}`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body,
  });
}

const LONG = converseBody("x".repeat(40_000)); // ~10,000 input tokens estimated

Deno.test("review2 billing: a stream Bedrock throttles before generating anything is not billed its input estimate", async () => {
  await using t = await setupSpend({ log: debugLog().log });
  t.fake.setDefault({
    kind: "stream",
    events: [["throttlingException", { message: "Too many requests, please wait before trying again." }]],
    exceptionAt: { index: 0, type: "throttlingException", message: "Too many requests" },
  });
  const res = await post(t.gw.url, "converse-stream", LONG);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.errorType, "ThrottlingException");
  assert.equal(call.status, "failure");
  // Bedrock did not serve a throttled request: nothing was read or generated.
  assert.equal(call.usage?.inputTokens ?? 0, 0, `billed ${call.usage?.inputTokens} input tokens for a throttled call`);
});

Deno.test("review2 billing: attempts that time out before any connection was made are not billed", async () => {
  let requests = 0;
  await using t = await setupSpend({
    log: debugLog().log,
    models: [{ name: "claude", params: `${SONNET_PRICES}\n      timeout: 0.05` }],
    // The endpoint never answers the connection: the request is never read (nothing reaches Bedrock).
    fetch: (_input, init) => {
      requests++;
      return new Promise<Response>((_, reject) => {
        const signal = init?.signal;
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    },
  });
  const res = await post(t.gw.url, "converse", LONG);
  assert.equal(res.status, 504);
  await res.body?.cancel();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(requests, 3);
  assert.equal(call.usage?.inputTokens ?? 0, 0, `billed ${call.usage?.inputTokens} input tokens; nothing was sent`);
});
