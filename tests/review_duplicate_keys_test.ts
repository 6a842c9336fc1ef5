/**
 * Review (authorization, parser differential): the gateway judges a body by `JSON.parse`, where the last of duplicate
 * keys wins, and forwards the bytes unchanged. A key without any guardrail grant sends `guardrailConfig` twice — a
 * guardrail first, `{}` last (or `guardrailIdentifier` twice inside it): the gateway sees no guardrail, skips the
 * grant check (`server/bedrock/guardrail_grant.ts`) and forwards a body in which a first-wins parser sees the
 * guardrail. The same trick hides `serviceTier` (priced per tier, unpriced tiers refused for budgets) and
 * `inferenceConfig.maxTokens` (the hold) from the gateway. Whether Bedrock's parser keeps the first or the last value
 * is not documented; the gateway should not bet its authorization and billing on it.
 * Fails on main (forwarded, 200); passes once duplicate keys are refused (or judged the way that grants least).
 */
import assert from "node:assert/strict";
import { setupKeys } from "./keys_helpers.ts";

const MESSAGES = '"messages":[{"role":"user","content":[{"text":"hi"}]}]';
const BODIES = {
  "guardrailConfig twice": `{${MESSAGES},"guardrailConfig":{"guardrailIdentifier":"gr1abc","guardrailVersion":"1"},` +
    `"guardrailConfig":{}}`,
  "guardrailIdentifier twice": `{${MESSAGES},"guardrailConfig":{"guardrailIdentifier":"gr1abc",` +
    `"guardrailIdentifier":"","guardrailVersion":"1"}}`,
  "serviceTier twice": `{${MESSAGES},"serviceTier":{"type":"priority"},"serviceTier":{"type":"default"}}`,
  "maxTokens twice": `{${MESSAGES},"inferenceConfig":{"maxTokens":64000,"maxTokens":1}}`,
};

Deno.test("review: bodies with duplicate keys are not forwarded on the strength of their last value", async () => {
  await using t = await setupKeys();
  // A key that may call models only: no guardrail grant.
  const g = await t.generate({ max_budget: 1 });
  const outcome: Record<string, number> = {};
  for (const [what, body] of Object.entries(BODIES)) {
    const res = await t.converse(g.key, "claude", body);
    await res.body?.cancel();
    outcome[what] = res.status;
  }
  const forwarded = t.fake.requests.map((r) => new TextDecoder().decode(r.body));
  assert.deepEqual(forwarded, [], `forwarded as is: ${JSON.stringify(outcome)}`);
});
