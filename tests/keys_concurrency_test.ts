/**
 * Limits hold when calls arrive together: 50 calls at once (each ~4,000 characters of prompt, ~1,000 input tokens,
 * and `maxTokens` 500; Bedrock reports 1,000 in / 500 out) on a key whose budget, tokens per minute or requests per
 * minute cover 10 of them. Calls in flight hold what they are expected to use, so at most 11 pass (the last one may
 * cross, as sequential calls do) on one instance, and across two instances sharing one KV file, whose leases split
 * what is left. The fake counts what it served: every call that passed was served, and billed, once. The same bound
 * holds for prompts the estimate once missed (a tool result's JSON) and for prompts written to a 1-hour cache (2× the
 * input rate): their holds cover them.
 */
import assert from "node:assert/strict";
import { type Behavior, FakeBedrock, Latch, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, type GatewayUnderTest, startGateway } from "../testing/harness.ts";
import { adminCall, Clock, ENV, LONG_PROMPT, PRICE_PARAMS, toolResultBody } from "./keys_helpers.ts";

const CALLS = 50;
/** 4,000 characters with "user": the gateway's estimate is 1,001 input tokens. */
const BODY = JSON.stringify({
  messages: [{ role: "user", content: [{ text: "word ".repeat(799) + "end." }] }],
  inferenceConfig: { maxTokens: 500 },
});
const USAGE = { inputTokens: 1000, outputTokens: 500 };
/** At PRICE_PARAMS ($1 / $2 per million tokens): 1,000 µ$ in + 1,000 µ$ out. */
const CALL_COST_NANOS = 2_000_000n;
const CALL_COST_USD = 0.002;

/** The fake's answers these tests hold back: a converse answer, or raw bytes. */
type Answer = Extract<Behavior, { kind: "converse" | "raw" }>;

interface Setup extends AsyncDisposable {
  fake: FakeBedrock;
  gateways: GatewayUnderTest[];
  clock: Clock;
  kvPath: string;
}

/**
 * One or two gateways on one KV file and one fake whose answers (`reply`, by default a converse answer reporting
 * `USAGE`) wait for `answer`; `params` are the deployment's prices.
 */
async function setup(
  instances: number,
  answer: Latch,
  opts: { reply?: Answer; params?: string } = {},
): Promise<Setup> {
  const clock = new Clock();
  const fake = await startFakeBedrock({ now: () => new Date(clock.now()) });
  fake.setDefault({ ...opts.reply ?? { kind: "converse", usage: USAGE }, waitFor: answer });
  const kvPath = await Deno.makeTempFile({ suffix: ".sqlite" });
  const yaml = fakeConfig(fake.url, { models: [{ name: "claude", params: opts.params ?? PRICE_PARAMS }] });
  const gateways: GatewayUnderTest[] = [];
  for (let i = 0; i < instances; i++) gateways.push(await startGateway({ yaml, env: ENV, kvPath, now: clock.now }));
  return {
    fake,
    gateways,
    clock,
    kvPath,
    [Symbol.asyncDispose]: async () => {
      answer.release();
      await Promise.all(gateways.map((g) => g.close()));
      await fake.close();
      for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(kvPath + suffix).catch(() => {});
    },
  };
}

interface Outcome {
  passed: number;
  refused: Map<number, number>;
  served: number;
}

/**
 * Fires `calls` calls at once (spread over the gateways; call `i` sends `body(i)`), waits until each was either
 * refused or reached the fake, then lets the fake answer. Deterministic: nothing settles before every call has been
 * decided.
 */
async function burst(
  t: Setup,
  key: string,
  answer: Latch,
  body: (i: number) => string = () => BODY,
  calls = CALLS,
): Promise<Outcome> {
  let decided = 0;
  const allDecided = new Latch();
  const tick = () => {
    if (++decided === calls) allDecided.release();
  };
  t.fake.handler = () => {
    tick();
    return undefined;
  };
  const statuses = Array.from({ length: calls }, async (_, i) => {
    const gw = t.gateways[i % t.gateways.length];
    const res = await fetch(`${gw.url}/bedrock/model/claude/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body(i),
    });
    await res.body?.cancel();
    if (res.status !== 200) tick();
    return res.status;
  });
  await allDecided.wait();
  answer.release();
  const all = await Promise.all(statuses);
  const refused = new Map<number, number>();
  for (const s of all) if (s !== 200) refused.set(s, (refused.get(s) ?? 0) + 1);
  const passed = all.filter((s) => s === 200).length;
  return { passed, refused, served: t.fake.requests.length };
}

async function kvSpend(kvPath: string, token: string): Promise<bigint> {
  await using kv = await Deno.openKv(kvPath);
  const id = (await kv.get<{ id: string }>(["keys", token])).value!.id;
  let total = 0n;
  for await (const e of kv.list<Deno.KvU64>({ prefix: ["key_spend", id] })) total += e.value.value;
  return total;
}

for (const instances of [1, 2]) {
  const where = instances === 1 ? "one instance" : "two instances on one KV";

  Deno.test(`50 calls together on a budget for 10 (${where}): at most 11 pass, each served and billed once`, async () => {
    const answer = new Latch();
    await using t = await setup(instances, answer);
    const g = (await adminCall(t.gateways[0].url, "POST", "/key/generate", { max_budget: 10 * CALL_COST_USD })).json;
    const out = await burst(t, g.key, answer);
    assert.ok(out.passed <= 11, `${out.passed} calls passed`);
    assert.ok(out.passed >= 9, `the budget is used: ${out.passed} calls passed`);
    assert.equal(out.served, out.passed, "the fake served exactly the calls that passed");
    // Refused while calls in flight held the budget: a retryable 429 (none was refused for spend already made).
    assert.deepEqual([...out.refused.keys()], [429], JSON.stringify([...out.refused]));
    for (const gw of t.gateways) await gw.gateway.flush();
    assert.equal(await kvSpend(t.kvPath, g.token), BigInt(out.passed) * CALL_COST_NANOS);
  });

  Deno.test(`50 calls together on a tpm_limit for 10 (${where}): at most 11 pass`, async () => {
    const answer = new Latch();
    await using t = await setup(instances, answer);
    const g = (await adminCall(t.gateways[0].url, "POST", "/key/generate", { tpm_limit: 10 * 1500 })).json;
    const out = await burst(t, g.key, answer);
    assert.ok(out.passed <= 11 && out.passed >= 9, `${out.passed} calls passed`);
    assert.equal(out.served, out.passed);
    assert.deepEqual([...out.refused.keys()], [429], JSON.stringify([...out.refused]));
  });

  Deno.test(`50 calls together on an rpm_limit of 10 (${where}): exactly 10 pass`, async () => {
    const answer = new Latch();
    await using t = await setup(instances, answer);
    const g = (await adminCall(t.gateways[0].url, "POST", "/key/generate", { rpm_limit: 10 })).json;
    const out = await burst(t, g.key, answer);
    assert.equal(out.passed, 10);
    assert.equal(out.served, 10);
    assert.deepEqual([...out.refused.keys()], [429], JSON.stringify([...out.refused]));
  });
}

Deno.test("20 calls together whose prompt is a tool result's JSON, on a budget for 3: at most 4 pass", async () => {
  const answer = new Latch();
  // What Bedrock reports for such a call: the 25,000-token prompt and 100 tokens out ($0.025 + $0.0002).
  const usage = { inputTokens: LONG_PROMPT.length / 4, outputTokens: 100 };
  await using t = await setup(1, answer, { reply: { kind: "converse", usage } });
  const callUsd = usage.inputTokens * 1e-6 + usage.outputTokens * 2e-6;
  const g = (await adminCall(t.gateways[0].url, "POST", "/key/generate", { max_budget: 3 * callUsd })).json;
  const out = await burst(t, g.key, answer, toolResultBody, 20);
  assert.ok(out.passed <= 4 && out.passed >= 2, `${out.passed} calls passed`);
  assert.deepEqual([...out.refused.keys()], [429], JSON.stringify([...out.refused]));
});

Deno.test("50 calls together writing their prompt to a 1-hour cache, on a budget for 10: at most 11 pass", async () => {
  const answer = new Latch();
  // Cache writes cost 1.25× the input rate (5 minutes) and 2× (1 hour).
  const params = PRICE_PARAMS + "\n      cache_creation_input_token_cost: 0.00000125" +
    "\n      cache_creation_input_token_cost_above_1hr: 0.000002";
  // Bedrock's answer: the whole prompt written to the cache with a 1-hour TTL, 10 tokens out.
  const reply: Answer = {
    kind: "raw",
    status: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
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
    }),
  };
  await using t = await setup(1, answer, { reply, params });
  const callUsd = 1000 * 2e-6 + 10 * 2e-6;
  const g = (await adminCall(t.gateways[0].url, "POST", "/key/generate", { max_budget: 10 * callUsd })).json;
  // ~4,000 characters, different every call (every call writes), then a 1-hour cache point.
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
  const out = await burst(t, g.key, answer, body);
  assert.ok(out.passed <= 11 && out.passed >= 9, `${out.passed} calls passed`);
  await t.gateways[0].gateway.flush();
  assert.ok(await kvSpend(t.kvPath, g.token) <= 11n * BigInt(Math.round(callUsd * 1e9)));
});
