/**
 * The router on its own: fake `attempt` functions instead of HTTP, an injected random source, a hand-moved clock
 * and a `sleep` that records the waits it was asked for instead of waiting.
 */
import assert from "node:assert/strict";
import { manualClock as timedClock } from "./manual_clock.ts";
import { loadConfig } from "../server/config/load.ts";
import type { Deployment } from "../server/config/types.ts";
import { GatewayError } from "../server/core/errors.ts";
import { abortableSleep, type Attempt, createRouter, type RouterDeps } from "../server/router/router.ts";
import { EXPLORATION_RATE } from "../server/router/latency_based.ts";
import { Latch } from "../testing/latch.ts";
import { manualClock, seededRandom } from "../testing/seeded_random.ts";

interface Spec {
  name?: string;
  id: string;
  params?: string;
}

/** A config of api-key deployments (never called: the tests' `attempt` answers instead). */
function config(models: Spec[], routerSettings = "") {
  const list = models.map((m) =>
    `  - model_name: ${m.name ?? "m"}
    litellm_params: { model: bedrock/x, aws_region_name: us-east-1, api_key: k${m.params ? `, ${m.params}` : ""} }
    model_info: { id: ${m.id} }`
  ).join("\n");
  return loadConfig(`model_list:\n${list}\n${routerSettings ? `router_settings: ${routerSettings}\n` : ""}`, () => "");
}

function setup(models: Spec[], routerSettings = "", deps: Partial<RouterDeps> = {}) {
  const clock = manualClock();
  const sleeps: number[] = [];
  const router = createRouter({
    config: config(models, routerSettings),
    random: seededRandom(7),
    now: clock.now,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...deps,
  });
  return { router, clock, sleeps };
}

const ok = () => new Response('{"usage":{"inputTokens":1,"outputTokens":1}}', { status: 200 });
const failure = (status: number, type: string, headers: Record<string, string> = {}, body?: BodyInit) =>
  new Response(body ?? JSON.stringify({ message: `${type} from upstream` }), {
    status,
    headers: {
      "content-type": "application/json",
      "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      ...headers,
    },
  });
const unavailable = () => failure(503, "ServiceUnavailableException");

/** An attempt function answering per deployment id, recording the order of calls. */
function scripted(answers: Record<string, () => Response | Promise<Response>>) {
  const calls: string[] = [];
  const attempt: Attempt = (d: Deployment) => {
    calls.push(d.id);
    const answer = answers[d.id];
    if (!answer) throw new Error(`no answer scripted for ${d.id}`);
    return Promise.resolve(answer());
  };
  return { calls, attempt };
}

const share = (counts: Record<string, number>, id: string, n: number) => (counts[id] ?? 0) / n;

// ------------------------------------------------------------------ simple-shuffle distribution

Deno.test("simple-shuffle: 1,000 calls follow weight 1:2:7 within ±5 points (over 3 standard deviations)", async () => {
  const { router } = setup(
    [
      { id: "a", params: "weight: 1" },
      { id: "b", params: "weight: 2" },
      { id: "c", params: "weight: 7" },
    ],
    "",
    { random: seededRandom(42) },
  );
  const counts: Record<string, number> = {};
  for (let i = 0; i < 1000; i++) {
    const r = await router.run("m", () => Promise.resolve(ok()));
    counts[r.deployment.id] = (counts[r.deployment.id] ?? 0) + 1;
    r.release();
  }
  for (const [id, expected] of [["a", 0.1], ["b", 0.2], ["c", 0.7]] as const) {
    const got = share(counts, id, 1000);
    assert.ok(Math.abs(got - expected) <= 0.05, `${id}: ${got} vs ${expected} (${JSON.stringify(counts)})`);
  }
});

Deno.test("simple-shuffle: without weights rpm is the weight (1:3); without either the spread is uniform", async () => {
  const byRpm = setup([{ id: "a", params: "rpm: 10000" }, { id: "b", params: "rpm: 30000" }], "", {
    random: seededRandom(3),
  });
  const uniform = setup([{ id: "a" }, { id: "b" }, { id: "c" }], "", { random: seededRandom(5) });
  const rpmCounts: Record<string, number> = {};
  const uniCounts: Record<string, number> = {};
  for (let i = 0; i < 1000; i++) {
    const r = await byRpm.router.run("m", () => Promise.resolve(ok()));
    rpmCounts[r.deployment.id] = (rpmCounts[r.deployment.id] ?? 0) + 1;
    r.release();
    const u = await uniform.router.run("m", () => Promise.resolve(ok()));
    uniCounts[u.deployment.id] = (uniCounts[u.deployment.id] ?? 0) + 1;
    u.release();
  }
  assert.ok(Math.abs(share(rpmCounts, "b", 1000) - 0.75) <= 0.05, JSON.stringify(rpmCounts));
  for (const id of ["a", "b", "c"]) {
    assert.ok(Math.abs(share(uniCounts, id, 1000) - 1 / 3) <= 0.05, JSON.stringify(uniCounts));
  }
});

// ------------------------------------------------------------------ strategies on constructed scenarios

Deno.test("least-busy picks the deployment with the fewest calls in flight", async () => {
  const { router } = setup([{ id: "a" }, { id: "b" }, { id: "c" }], "{ routing_strategy: least-busy }");
  const held: Array<{ id: string; resolve: () => void }> = [];
  const attempt: Attempt = (d) => new Promise((resolve) => held.push({ id: d.id, resolve: () => resolve(ok()) }));
  // Three calls in flight at once land on three different deployments.
  const pending = [router.run("m", attempt), router.run("m", attempt), router.run("m", attempt)];
  assert.deepEqual(held.map((h) => h.id).sort(), ["a", "b", "c"]);
  held.forEach((h) => h.resolve());
  const results = await Promise.all(pending);
  // b finishes; a and c are still busy, so the next call must go to b, and the one after that too.
  results.find((r) => r.deployment.id === "b")!.release();
  assert.equal(router.state.get("a").inFlight, 1);
  assert.equal(router.state.get("b").inFlight, 0);
  const next = router.run("m", attempt);
  assert.equal(held[3].id, "b");
  held[3].resolve();
  (await next).release();
  for (const r of results) r.release();
  for (const id of ["a", "b", "c"]) assert.equal(router.state.get(id).inFlight, 0);
});

Deno.test("latency-based picks the lowest recent latency, per call kind, and explores with a small probability", async () => {
  const clock = manualClock();
  const latency: Record<string, number> = { a: 300, b: 40, c: 120 };
  const { router } = setup([{ id: "a" }, { id: "b" }, { id: "c" }], "{ routing_strategy: latency-based-routing }", {
    now: clock.now,
    random: () => 0.5, // never below the exploration rate
  });
  // Each attempt "takes" its deployment's latency on the injected clock.
  const attempt: Attempt = (d) => {
    clock.advance(latency[d.id]);
    return Promise.resolve(ok());
  };
  const picks: string[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await router.run("m", attempt);
    picks.push(r.deployment.id);
    r.release();
  }
  // The first three calls measure the unmeasured deployments; from then on the fastest one gets the calls.
  assert.deepEqual(picks.slice(0, 3).sort(), ["a", "b", "c"]);
  assert.deepEqual(picks.slice(3), ["b", "b", "b", "b", "b"]);
  assert.equal(router.state.get("b").latencyMs, 40);

  // Streams are compared on time to first byte, which can rank differently.
  router.state.recordLatency(router.callable("m")[0], 5, true); // a: fast first byte
  router.state.recordLatency(router.callable("m")[1], 90, true);
  router.state.recordLatency(router.callable("m")[2], 60, true);
  const stream = await router.run("m", () => Promise.resolve(ok()), { stream: true });
  stream.release();
  assert.equal(stream.deployment.id, "a");

  // Exploration: a draw below the rate sends the call to a uniformly random deployment instead.
  const draws = [EXPLORATION_RATE / 2, 0.99];
  const exploring = createRouter({
    config: config([{ id: "a" }, { id: "b" }, { id: "c" }], "{ routing_strategy: latency-based-routing }"),
    random: () => draws.shift() ?? 0.5,
    now: clock.now,
  });
  for (const [id, ms] of [["a", 300], ["b", 40], ["c", 120]] as const) {
    exploring.state.recordLatency(exploring.callable("m").find((d) => d.id === id)!, ms, false);
  }
  const explored = await exploring.run("m", () => Promise.resolve(ok()));
  assert.equal(explored.deployment.id, "c"); // not the fastest (b): the 0.99 draw chose index 2
});

Deno.test("usage-based picks the fewest tokens this minute among deployments under their rpm/tpm", async () => {
  const { router, clock } = setup([
    { id: "a" },
    { id: "b", params: "tpm: 100" },
    { id: "c" },
    { id: "d", params: "rpm: 1" },
  ], "{ routing_strategy: usage-based-routing }");
  const byId = (id: string) => router.callable("m").find((d) => d.id === id)!;
  /** One finished request on `id` that used `tokens`. */
  const used = (id: string, tokens: number) => {
    router.state.begin(byId(id));
    router.state.end(byId(id), tokens);
  };
  used("a", 1000);
  used("b", 150); // over its tpm of 100
  used("c", 400);
  used("d", 0); // the fewest tokens, but its one request this minute is its whole rpm
  const r = await router.run("m", () => Promise.resolve(ok()));
  r.release(2000);
  assert.equal(r.deployment.id, "c", "fewest tokens among those under their caps (b over tpm, d over rpm)");
  const again = await router.run("m", () => Promise.resolve(ok()));
  again.release();
  assert.equal(again.deployment.id, "a", "c has now used 2,400 tokens, a 1,000");
  // A new minute: the counters start over, and d (no tokens) is eligible and the least used again.
  clock.advance(60_000);
  for (const id of ["a", "b", "c", "d"]) assert.deepEqual(router.state.usage(byId(id)), { requests: 0, tokens: 0 });
  used("a", 10);
  used("b", 10);
  used("c", 10);
  const fresh = await router.run("m", () => Promise.resolve(ok()));
  fresh.release();
  assert.equal(fresh.deployment.id, "d");
});

Deno.test("rpm caps: a group whose deployments are all at their rpm answers ThrottlingException with Retry-After", async () => {
  const { router, clock } = setup([{ id: "a", params: "rpm: 2" }]);
  const { calls, attempt } = scripted({ a: ok });
  for (let i = 0; i < 2; i++) (await router.run("m", attempt)).release();
  await assert.rejects(router.run("m", attempt), (e) => {
    assert.ok(e instanceof GatewayError);
    assert.equal(e.status, 429);
    assert.equal(e.type, "ThrottlingException");
    assert.ok((e.options.retryAfter ?? 0) >= 1 && (e.options.retryAfter ?? 0) <= 60);
    return true;
  });
  assert.equal(calls.length, 2, "the third call never reached the deployment");
  clock.advance(60_000);
  (await router.run("m", attempt)).release();
  assert.equal(calls.length, 3);
});

// ------------------------------------------------------------------ retries

Deno.test("a 503 is retried at once on another deployment, and the failed response body is cancelled", async () => {
  let cancelled = false;
  const { router, sleeps } = setup([{ id: "a" }, { id: "b" }], "", { random: () => 0 });
  const { calls, attempt } = scripted({
    a: () =>
      failure(503, "ServiceUnavailableException", {}, new ReadableStream({ cancel: () => void (cancelled = true) })),
    b: ok,
  });
  const r = await router.run("m", attempt);
  assert.equal(r.deployment.id, "b");
  assert.equal(r.retries, 1);
  assert.deepEqual(calls, ["a", "b"]);
  assert.deepEqual(sleeps, [], "another healthy deployment existed: no backoff");
  assert.equal(cancelled, true);
  assert.equal(router.state.get("a").inFlight, 0);
  r.release();
  assert.equal(router.state.get("b").inFlight, 0);
});

Deno.test("retryable: timeouts, connection errors, 429, 500, 503; a single deployment is retried after a backoff", async () => {
  const errors: Array<() => Response | Promise<Response>> = [
    () => Promise.reject(new GatewayError(504, "ServiceUnavailableException", "timed out", { litellmType: "timeout" })),
    () => Promise.reject(new GatewayError(502, "ServiceUnavailableException", "unreachable")),
    () => failure(429, "ThrottlingException"),
    () => failure(429, "ModelNotReadyException"),
    () => failure(500, "InternalServerException"),
    () => failure(503, "ServiceUnavailableException"),
  ];
  for (const first of errors) {
    const { router, sleeps } = setup([{ id: "a" }]);
    let n = 0;
    const r = await router.run("m", () => Promise.resolve(n++ === 0 ? first() : ok()));
    assert.equal(r.response.status, 200);
    assert.equal(r.retries, 1);
    assert.deepEqual(sleeps, [500], "exponential backoff starts at 0.5 s");
  }
});

Deno.test("not retryable: validation, access denied, not found; answered at once, fallbacks untouched", async () => {
  for (
    const [status, type, countsAgainstDeployment] of [
      [400, "ValidationException", false],
      [403, "AccessDeniedException", true],
      [404, "ResourceNotFoundException", true],
    ] as const
  ) {
    const { router } = setup(
      [{ id: "a" }, { id: "b" }, { name: "n", id: "c" }],
      `{ fallbacks: [{ m: [n] }] }`,
      { random: () => 0 },
    );
    const { calls, attempt } = scripted({ a: () => failure(status, type), b: ok, c: ok });
    const r = await router.run("m", attempt);
    assert.equal(r.response.status, status);
    assert.equal(r.retries, 0);
    assert.deepEqual(calls, ["a"], type);
    assert.equal(await r.response.json().then((b) => b.message), `${type} from upstream`, "body relayed intact");
    assert.equal(router.state.failuresLastMinute(router.callable("m")[0]), countsAgainstDeployment ? 1 : 0, type);
  }
});

Deno.test("a client that went away ends the call: no retry after a 499, and a backoff wait is cut short", async () => {
  const { router } = setup([{ id: "a" }, { id: "b" }], "", { random: () => 0 });
  const gone = scripted({
    a: () => {
      throw new GatewayError(499, "ClientDisconnected", "client disconnected");
    },
    b: ok,
  });
  await assert.rejects(router.run("m", gone.attempt), (e) => e instanceof GatewayError && e.status === 499);
  assert.deepEqual(gone.calls, ["a"]);

  const client = new AbortController();
  const sleeping = new Latch();
  const waiting = createRouter({
    config: config([{ id: "a" }]),
    random: () => 0,
    now: Date.now,
    sleep: (_ms, signal) =>
      new Promise((_resolve, reject) => {
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        sleeping.release();
      }),
  });
  const run = waiting.run("m", () => Promise.resolve(unavailable()), { signal: client.signal });
  await sleeping.wait();
  client.abort(new DOMException("gone", "AbortError"));
  await assert.rejects(run, (e) => e instanceof GatewayError && e.status === 499);
});

Deno.test("Retry-After is honoured: waited on for a lone deployment, which is also cooled down for that long", async () => {
  const { router, sleeps, clock } = setup([{ id: "a" }]);
  let n = 0;
  const r = await router.run(
    "m",
    () => Promise.resolve(n++ === 0 ? failure(429, "ThrottlingException", { "retry-after": "2" }) : ok()),
  );
  assert.equal(r.response.status, 200);
  assert.deepEqual(sleeps, [2000]);
  const a = router.callable("m")[0];
  assert.equal(router.state.get("a").cooldownUntil, clock.now() + 2000);
  assert.ok(router.state.isCoolingDown(a));
  clock.advance(2001);
  assert.ok(!router.state.isCoolingDown(a));
});

Deno.test("Retry-After longer than the backoff limit is not waited on: the 429 is relayed with its header", async () => {
  const { router, sleeps } = setup([{ id: "a" }]);
  const { calls, attempt } = scripted({ a: () => failure(429, "ThrottlingException", { "retry-after": "60" }) });
  const r = await router.run("m", attempt);
  assert.equal(r.response.status, 429);
  assert.equal(r.response.headers.get("retry-after"), "60");
  assert.deepEqual(calls, ["a"]);
  assert.deepEqual(sleeps, []);
});

Deno.test("router_settings.retry_after is the minimum backoff; num_retries bounds the attempts", async () => {
  const { router, sleeps } = setup([{ id: "a" }], "{ retry_after: 3, num_retries: 4 }");
  const { calls, attempt } = scripted({ a: unavailable });
  const r = await router.run("m", attempt);
  assert.equal(r.response.status, 503);
  assert.equal(r.retries, 4);
  assert.equal(calls.length, 5);
  assert.deepEqual(sleeps, [3000, 3000, 3000, 4000]);
});

// ------------------------------------------------------------------ cooldowns

Deno.test("cooldown: allowed_fails failures within a minute take a deployment out until cooldown_time has passed", async () => {
  const { router, clock } = setup([{ id: "a" }, { id: "b" }], "{ allowed_fails: 3, cooldown_time: 10 }", {
    random: () => 0, // a is always the first choice when it is eligible
  });
  let aHealthy = false;
  const { calls, attempt } = scripted({ a: () => aHealthy ? ok() : unavailable(), b: ok });
  for (let i = 0; i < 6; i++) {
    const r = await router.run("m", attempt);
    assert.equal(r.deployment.id, "b");
    assert.equal(r.retries, i < 3 ? 1 : 0);
    r.release();
  }
  assert.equal(calls.filter((id) => id === "a").length, 3, "a stops being called once cooled down");
  assert.ok(router.state.isCoolingDown(router.callable("m")[0]));
  clock.advance(9_999);
  (await router.run("m", attempt)).release();
  assert.equal(calls.filter((id) => id === "a").length, 3);
  clock.advance(2);
  aHealthy = true;
  const back = await router.run("m", attempt);
  assert.equal(back.deployment.id, "a", "a rejoins after its cooldown");
  assert.equal(back.retries, 0);
});

Deno.test("failures older than a minute do not count toward allowed_fails", async () => {
  const { router, clock } = setup([{ id: "a" }, { id: "b" }], "{ allowed_fails: 2 }", { random: () => 0 });
  const { attempt } = scripted({ a: unavailable, b: ok });
  (await router.run("m", attempt)).release();
  clock.advance(61_000);
  (await router.run("m", attempt)).release();
  assert.ok(!router.state.isCoolingDown(router.callable("m")[0]));
  (await router.run("m", attempt)).release();
  assert.ok(router.state.isCoolingDown(router.callable("m")[0]));
});

Deno.test("a deployment's own cooldown_time wins; when all are cooling down the one that recovers first is tried", async () => {
  const { router, clock } = setup(
    [
      { id: "a", params: "cooldown_time: 20" },
      { id: "b", params: "cooldown_time: 5" },
    ],
    "{ allowed_fails: 1, num_retries: 0, cooldown_time: 60 }",
    { random: () => 0 },
  );
  const start = clock.now();
  let healthy = false;
  const { calls, attempt } = scripted({ a: unavailable, b: () => healthy ? ok() : unavailable() });
  assert.equal((await router.run("m", attempt)).response.status, 503); // a fails: cooled 20 s
  assert.equal((await router.run("m", attempt)).response.status, 503); // b fails: cooled 5 s
  assert.equal(router.state.get("a").cooldownUntil, start + 20_000);
  assert.equal(router.state.get("b").cooldownUntil, start + 5_000);
  healthy = true;
  const r = await router.run("m", attempt); // both cooling: b ends first, and is tried rather than failing
  assert.equal(r.deployment.id, "b");
  assert.equal(r.response.status, 200);
  assert.deepEqual(calls, ["a", "b", "b"]);
});

// ------------------------------------------------------------------ fallbacks

Deno.test("fallbacks: after the retry budget, the fallback groups are tried in order", async () => {
  const { router } = setup(
    [{ id: "a" }, { name: "n", id: "c" }, { name: "o", id: "d" }],
    `{ fallbacks: [{ m: [n, o] }] }`,
  );
  const { calls, attempt } = scripted({ a: unavailable, c: () => failure(500, "InternalServerException"), d: ok });
  const r = await router.run("m", attempt);
  assert.equal(r.deployment.id, "d");
  assert.equal(r.retries, 6);
  assert.deepEqual(calls, ["a", "a", "a", "c", "c", "c", "d"]);
});

Deno.test("fallbacks: \"*\" is the catch-all, a model's own rule wins, and a key's models limit the fallbacks", async () => {
  const models = [{ id: "a" }, { name: "n", id: "c" }, { name: "o", id: "d" }];
  const { router } = setup(models, `{ num_retries: 0, fallbacks: [{ "*": [o] }, { n: [m] }] }`);
  const { calls, attempt } = scripted({ a: unavailable, c: unavailable, d: ok });
  assert.equal((await router.run("m", attempt)).deployment.id, "d");
  assert.deepEqual(calls.splice(0), ["a", "d"]);
  const viaOwnRule = await router.run("n", attempt);
  assert.equal(viaOwnRule.response.status, 503, "n falls back to m (which fails), not to the catch-all");
  assert.deepEqual(calls.splice(0), ["c", "a"]);
  const limited = await router.run("m", attempt, { allowedModels: ["m"] });
  assert.equal(limited.response.status, 503);
  assert.deepEqual(calls.splice(0), ["a"]);
});

Deno.test("everything failing: the last upstream error response is returned as Bedrock sent it", async () => {
  const { router } = setup([{ id: "a" }, { name: "n", id: "c" }], `{ fallbacks: [{ m: [n] }] }`);
  const { calls, attempt } = scripted({
    a: unavailable,
    c: () => failure(429, "ThrottlingException", { "retry-after": "1" }),
  });
  const r = await router.run("m", attempt);
  assert.equal(r.response.status, 429);
  assert.equal(r.response.headers.get("x-amzn-errortype")?.split(":")[0], "ThrottlingException");
  assert.equal((await r.response.json()).message, "ThrottlingException from upstream");
  assert.equal(r.retries, 5);
  assert.equal(calls.length, 6);
});

Deno.test("everything failing with connection errors: the last typed error is thrown", async () => {
  const { router } = setup([{ id: "a" }, { id: "b" }]);
  let n = 0;
  await assert.rejects(
    router.run("m", () => Promise.reject(new GatewayError(502, "ServiceUnavailableException", `unreachable ${++n}`))),
    (e) => e instanceof GatewayError && e.status === 502 && e.message === "unreachable 3",
  );
});

Deno.test("a bug in an attempt (not a GatewayError) is never retried", async () => {
  const { router } = setup([{ id: "a" }, { id: "b" }]);
  let n = 0;
  await assert.rejects(
    router.run("m", () => {
      n++;
      return Promise.reject(new TypeError("boom"));
    }),
    TypeError,
  );
  assert.equal(n, 1);
});

Deno.test("config: fallbacks naming unknown models are warned about and skipped", async () => {
  const c = config([{ id: "a" }, { name: "n", id: "c" }], `{ fallbacks: [{ m: [ghost, n] }, { nope: [m] }] }`);
  assert.deepEqual(c.warnings, [
    'router_settings.fallbacks: "m" falls back to unknown model "ghost", ignored',
    'router_settings.fallbacks: "nope" is not a model_name, its rule is never used',
  ]);
  const router = createRouter({ config: c, random: () => 0, now: Date.now, sleep: () => Promise.resolve() });
  const { calls, attempt } = scripted({ a: unavailable, c: ok });
  assert.equal((await router.run("m", attempt)).deployment.id, "c");
  assert.deepEqual(calls, ["a", "a", "a", "c"]);
});

Deno.test("the default sleep waits, and stops at once (timer cleared) when the client goes away", async () => {
  const aborted = new AbortController();
  aborted.abort(new DOMException("gone", "AbortError"));
  await assert.rejects(abortableSleep(60_000, aborted.signal), (e) => e instanceof DOMException);
  // On timers moved by hand: it waits its whole time, and no longer.
  const clock = timedClock(0);
  let slept = false;
  const sleeping = abortableSleep(60_000, undefined, clock).then(() => slept = true);
  clock.advance(59_999);
  await Promise.resolve();
  assert.equal(slept, false, "still waiting 1 ms before its time");
  clock.advance(1);
  await sleeping;
  assert.equal(slept, true);
  // The client leaving ends the wait at once, and its timer is cleared (nothing left to fire).
  const client = new AbortController();
  const waiting = abortableSleep(60_000, client.signal, clock);
  assert.notEqual(clock.nextDue(), undefined, "the wait's timer is armed");
  client.abort(new DOMException("gone", "AbortError"));
  await assert.rejects(waiting, (e) => e instanceof DOMException && e.name === "AbortError");
  assert.equal(clock.nextDue(), undefined, "the aborted wait left no timer");
  await abortableSleep(0); // the global timers by default: resolves
});
