/**
 * rpm/tpm across gateway instances: two routers share one in-memory KV; usage rounds are run by hand
 * (`syncUsage`) instead of waiting for the periodic timer.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../server/config/load.ts";
import { GatewayError } from "../server/core/errors.ts";
import { createRouter } from "../server/router/router.ts";
import { manualClock, seededRandom } from "../testing/seeded_random.ts";

const ok = () => Promise.resolve(new Response("{}", { status: 200 }));

function cfg(routerSettings = "") {
  return loadConfig(
    `model_list:
  - model_name: m
    litellm_params: { model: bedrock/x, aws_region_name: us-east-1, api_key: k, rpm: 4 }
    model_info: { id: capped }
  - model_name: u
    litellm_params: { model: bedrock/x, aws_region_name: us-east-1, api_key: k }
    model_info: { id: x }
  - model_name: u
    litellm_params: { model: bedrock/x, aws_region_name: us-east-1, api_key: k }
    model_info: { id: y }
${routerSettings}`,
    () => "",
  );
}

/** Counts every KV method call made through it. */
function countingKv(kv: Deno.Kv) {
  const counter = { ops: 0 };
  const proxy = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        counter.ops++;
        return Reflect.apply(value, target, args);
      };
    },
  });
  return { kv: proxy, counter };
}

async function twoInstances(routerSettings = "") {
  const kv = await Deno.openKv(":memory:");
  const clock = manualClock();
  const config = cfg(routerSettings);
  const counting = countingKv(kv);
  // A long interval: the rounds below are triggered by hand, the timer never fires during a test.
  const common = { config, now: clock.now, usageSyncIntervalMs: 3_600_000 };
  const a = createRouter({ ...common, random: seededRandom(1), kv: counting.kv, instanceId: "A" });
  const b = createRouter({ ...common, random: seededRandom(2), kv, instanceId: "B" });
  return {
    a,
    b,
    clock,
    kvOps: counting.counter,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
      kv.close();
    },
  };
}

const call = async (router: ReturnType<typeof createRouter>, model: string, tokens = 0) => {
  const r = await router.run(model, ok);
  r.release(tokens);
  return r.deployment.id;
};

Deno.test("requests never touch KV: usage is exchanged only by the periodic round", async () => {
  await using t = await twoInstances();
  for (let i = 0; i < 3; i++) await call(t.a, "m");
  for (let i = 0; i < 20; i++) await call(t.a, "u", 10);
  assert.equal(t.kvOps.ops, 0);
  await t.a.syncUsage();
  assert.ok(t.kvOps.ops > 0 && t.kvOps.ops <= 3, `one commit and one list per round, saw ${t.kvOps.ops}`);
});

Deno.test("an rpm cap holds across instances once usage is exchanged (overshoot bounded by one round)", async () => {
  await using t = await twoInstances();
  for (let i = 0; i < 3; i++) await call(t.a, "m");
  await t.a.syncUsage(); // A publishes 3
  await t.b.syncUsage(); // B reads them
  const capped = t.b.callable("m")[0];
  assert.deepEqual(t.b.state.usage(capped), { requests: 3, tokens: 0 });
  await call(t.b, "m"); // the 4th request of the minute, cluster-wide
  await assert.rejects(
    t.b.run("m", ok),
    (e) => e instanceof GatewayError && e.status === 429 && e.type === "ThrottlingException",
  );
  // A has not heard of B's call yet: it may allow one more (the documented approximation)...
  await call(t.a, "m");
  // ...but after the next round it sees the cap reached too.
  await t.b.syncUsage();
  await t.a.syncUsage();
  await assert.rejects(t.a.run("m", ok), (e) => e instanceof GatewayError && e.status === 429);
  assert.deepEqual(t.a.state.usage(capped), { requests: 5, tokens: 0 });

  // A new minute starts from zero everywhere.
  t.clock.advance(60_000);
  await t.a.syncUsage();
  assert.deepEqual(t.a.state.usage(capped), { requests: 0, tokens: 0 });
  assert.equal(await call(t.a, "m"), "capped");
});

Deno.test("usage-based routing sees the tokens other instances used", async () => {
  await using t = await twoInstances("router_settings: { routing_strategy: usage-based-routing }");
  const x = t.a.callable("u").find((d) => d.id === "x")!;
  t.a.state.begin(x);
  t.a.state.end(x, 5_000); // instance A spent 5,000 tokens on x
  await t.a.syncUsage();
  await t.b.syncUsage();
  for (let i = 0; i < 5; i++) assert.equal(await call(t.b, "u", 100), "y", "B avoids x, which A has been using");
});
