/**
 * @module
 * Set-up for the team and user tests: a gateway whose `sonnet` model is Claude Sonnet 4 at the built-in price table's
 * prices, and a fake that answers every call with 1,000 input and 500 output tokens — 0.003 + 0.0075 = 0.0105 USD a
 * call, so a budget "for n calls" is n × 0.0105. A `claude` model at PRICE_PARAMS is there too, for model limits.
 */
import { Latch } from "../testing/latch.ts";
import { type KeysSetup, type KeysSetupOptions, PRICE_PARAMS, setupKeys } from "./keys_helpers.ts";

export const SONNET = { name: "sonnet", model: "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0" };
export const USAGE = { inputTokens: 1000, outputTokens: 500 };
/** One call at Sonnet 4's prices ($3 / $15 per million tokens). */
export const SONNET_CALL_NANOS = 10_500_000n;
export const SONNET_CALL_USD = 0.0105;
/**
 * ~4,000 characters of prompt and `maxTokens` 500: the gateway holds about what the fake then reports (1,000 in, 500
 * out), so calls arriving together are held at what they will cost.
 */
export const HELD_BODY = JSON.stringify({
  messages: [{ role: "user", content: [{ text: "word ".repeat(799) + "end." }] }],
  inferenceConfig: { maxTokens: 500 },
});

/** A gateway with `sonnet` and `claude`, the fake answering 1,000 in / 500 out. */
export async function setupOwners(opts: KeysSetupOptions = {}): Promise<KeysSetup> {
  const t = await setupKeys({ models: [SONNET, { name: "claude", params: PRICE_PARAMS }], ...opts });
  t.fake.setDefault({ kind: "converse", usage: USAGE });
  return t;
}

/** Creates a team (or user); throws unless it succeeds. */
export async function created(t: KeysSetup, path: "/team/new" | "/user/new", body: Record<string, unknown>) {
  const r = await t.admin("POST", path, body);
  if (r.status !== 200) throw new Error(`${path} failed: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

/**
 * Fires `count` calls with `keys` (round robin) at once, lets the fake answer only once every call has been either
 * refused or received upstream, and returns how many passed and the statuses of the others.
 */
export async function burst(t: KeysSetup, keys: string[], count: number) {
  const answer = new Latch(), allDecided = new Latch();
  let decided = 0;
  const tick = () => {
    if (++decided === count) allDecided.release();
  };
  t.fake.setDefault({ kind: "converse", usage: USAGE, waitFor: answer });
  t.fake.handler = () => {
    tick();
    return undefined;
  };
  const statuses = Array.from({ length: count }, async (_, i) => {
    const res = await t.converse(keys[i % keys.length], "sonnet", HELD_BODY);
    await res.body?.cancel();
    if (res.status !== 200) tick();
    return res.status;
  });
  await allDecided.wait();
  answer.release();
  const all = await Promise.all(statuses);
  t.fake.handler = undefined;
  t.fake.setDefault({ kind: "converse", usage: USAGE });
  return { passed: all.filter((s) => s === 200).length, refused: [...new Set(all.filter((s) => s !== 200))] };
}
