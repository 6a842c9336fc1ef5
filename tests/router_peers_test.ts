/**
 * Router state shared between the workers of one process (`server/router/peers.ts`), in-process and deterministic:
 * routers joined by a relay that delivers like the main isolate does (to every other peer, in order), a hand-moved
 * clock, and timers fired by hand. A deployment failing in one router cools down in all of them; `allowed_fails`
 * counts the process's failures; calls in flight reach `least-busy` and `/health` everywhere; a gone peer's calls stop
 * counting.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../server/config/load.ts";
import type { Deployment } from "../server/config/types.ts";
import type { Timers } from "../server/core/timers.ts";
import { IN_FLIGHT_NEWS_MS, type RouterNews, type RouterPeers } from "../server/router/peers.ts";
import { type Attempt, createRouter } from "../server/router/router.ts";
import { Latch } from "../testing/latch.ts";
import { manualClock, seededRandom } from "../testing/seeded_random.ts";

/** Delivers each peer's news to every other peer, synchronously, in order (what the supervisor's relay does). */
function relay() {
  const hearers = new Map<string, (from: string, news: RouterNews) => void>();
  const sent: Array<{ from: string; news: RouterNews }> = [];
  return {
    sent,
    peer(name: string): RouterPeers {
      return {
        send: (news) => {
          sent.push({ from: name, news });
          for (const [other, hear] of hearers) if (other !== name) hear(name, news);
        },
        listen: (hear) => void hearers.set(name, hear),
      };
    },
    /** What the supervisor tells the others when a worker crashed. */
    gone(name: string) {
      for (const [other, hear] of hearers) if (other !== name) hear(name, { kind: "gone" });
    },
  };
}

class HandTimers implements Timers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  #next = 1;
  setTimeout(fn: () => void, ms: number): number {
    this.pending.set(this.#next, { fn, ms });
    return this.#next++;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const t of due) t.fn();
  }
}

const CONFIG = `model_list:
  - model_name: m
    litellm_params: { model: bedrock/x, aws_region_name: us-east-1, api_key: k }
    model_info: { id: a }
  - model_name: m
    litellm_params: { model: bedrock/x, aws_region_name: us-east-1, api_key: k }
    model_info: { id: b }
`;

function routers(n: number, routerSettings: string, models = CONFIG) {
  const config = loadConfig(`${models}router_settings: ${routerSettings}\n`, () => "");
  const clock = manualClock();
  const net = relay();
  const timers = Array.from({ length: n }, () => new HandTimers());
  const all = timers.map((t, i) =>
    createRouter({
      config,
      random: seededRandom(i + 1),
      now: clock.now,
      sleep: () => Promise.resolve(),
      peers: net.peer(`w${i}`),
      timers: t,
    })
  );
  const deployment = (id: string) => config.deployments.find((d) => d.id === id)!;
  return { all, net, timers, clock, deployment };
}

const ok = () => Promise.resolve(new Response("{}", { status: 200 }));
const unavailable = () =>
  Promise.resolve(
    new Response('{"message":"down"}', {
      status: 503,
      headers: { "x-amzn-errortype": "ServiceUnavailableException:http://internal.amazon.com/coral/" },
    }),
  );

/** Answers per deployment id, recording the ids called. */
function scripted(answers: Record<string, () => Promise<Response>>) {
  const calls: string[] = [];
  const attempt: Attempt = (d: Deployment) => {
    calls.push(d.id);
    return answers[d.id]();
  };
  return { calls, attempt };
}

Deno.test("a deployment failing in one worker cools down in every worker; the others never pick it meanwhile", async () => {
  const { all: [w0, w1, w2], net, deployment } = routers(3, "{ allowed_fails: 1, cooldown_time: 60 }");
  // Calls on w0 until one tried a (the picks are seeded): a fails, the call goes on to b.
  const first = scripted({ a: unavailable, b: ok });
  while (!first.calls.includes("a")) await w0.run("m", first.attempt);
  const failures = net.sent.filter((s) => s.news.kind === "failure");
  assert.ok(failures.some((f) => f.from === "w0" && f.news.kind === "failure" && f.news.deployment === "a"));
  for (const w of [w0, w1, w2]) {
    assert.equal(w.state.isCoolingDown(deployment("a")), true, "cooling down everywhere");
    assert.equal(w.health().find((h) => h.deployment.id === "a")!.coolingDown, true);
  }
  assert.equal(w1.state.get("a").totalFailures, 0, "a peer's failure is not this worker's own count");
  assert.equal(w1.state.get("a").lastError?.status, 503, "its last error is known");
  for (const w of [w1, w2]) {
    const s = scripted({ a: ok, b: ok });
    for (let i = 0; i < 20; i++) await w.run("m", s.attempt);
    assert.deepEqual(new Set(s.calls), new Set(["b"]), "20 calls, none to the deployment cooling down");
  }
  for (const w of [w0, w1, w2]) await w.close();
});

Deno.test("allowed_fails counts the failures of every worker: two failures in two workers start the cooldown", async () => {
  const onlyA = CONFIG.split("  - model_name: m").slice(0, 2).join("  - model_name: m");
  const { all: [w0, w1], deployment } = routers(2, "{ allowed_fails: 2, cooldown_time: 60, num_retries: 0 }", onlyA);
  const a = deployment("a");
  const failA = scripted({ a: unavailable });
  await w0.run("m", failA.attempt);
  assert.equal(w0.state.isCoolingDown(a), false, "one failure of the two allowed");
  assert.equal(w1.state.failuresLastMinute(a), 1, "w1 counts w0's failure");
  await w1.run("m", failA.attempt);
  assert.equal(w0.state.get("a").totalFailures, 1);
  assert.equal(w1.state.get("a").totalFailures, 1);
  assert.equal(w0.state.isCoolingDown(a), true, "the second failure, in the other worker, reached allowed_fails");
  assert.equal(w1.state.isCoolingDown(a), true);
  await w0.close();
  await w1.close();
});

Deno.test("calls in flight: told together after IN_FLIGHT_NEWS_MS, summed by least-busy and /health; a gone peer's drop", async () => {
  const { all: [w0, w1], net, timers } = routers(2, "{ routing_strategy: least-busy }");
  // Three calls held in flight on w0: least-busy on w0 spreads them (2 on one deployment, 1 on the other, or so).
  const latch = new Latch();
  const held = scripted({ a: () => latch.wait().then(ok), b: () => latch.wait().then(ok) });
  const running = [w0.run("m", held.attempt), w0.run("m", held.attempt), w0.run("m", held.attempt)];
  await Promise.resolve();
  const own = { a: w0.state.get("a").inFlight, b: w0.state.get("b").inFlight };
  assert.equal(own.a + own.b, 3);
  assert.equal(w1.state.get("a").peerInFlight + w1.state.get("b").peerInFlight, 0, "nothing told before the window");
  assert.deepEqual([...timers[0].pending.values()].map((t) => t.ms), [IN_FLIGHT_NEWS_MS], "one timer for the window");
  timers[0].fireAll();
  const told = net.sent.filter((s) => s.news.kind === "in_flight");
  assert.ok(told.length <= 2, `one message per deployment per window, not per call (${told.length})`);
  assert.equal(w1.state.get("a").peerInFlight, own.a);
  assert.equal(w1.state.get("b").peerInFlight, own.b);
  assert.equal(w1.health().find((h) => h.deployment.id === "a")!.stats.peerInFlight, own.a);

  // w1's least-busy sees w0's calls: its next call goes where w0 has fewer.
  const fewer = own.a < own.b ? "a" : "b";
  if (own.a !== own.b) {
    const next = scripted({ a: ok, b: ok });
    await w1.run("m", next.attempt);
    assert.deepEqual(next.calls, [fewer]);
    timers[1].fireAll();
  }

  latch.release();
  await Promise.all(running.map((p) => p.then((r) => r.release())));
  timers[0].fireAll();
  assert.equal(w1.state.get("a").peerInFlight + w1.state.get("b").peerInFlight, 0, "finished calls are told too");

  // A crashed worker's last word is dropped when the supervisor says it is gone.
  const again = new Latch();
  const hold = w0.run("m", scripted({ a: () => again.wait().then(ok), b: () => again.wait().then(ok) }).attempt);
  await Promise.resolve();
  timers[0].fireAll();
  assert.equal(w1.state.get("a").peerInFlight + w1.state.get("b").peerInFlight, 1);
  net.gone("w0");
  assert.equal(w1.state.get("a").peerInFlight + w1.state.get("b").peerInFlight, 0);
  again.release();
  (await hold).release();
  await w0.close();
  await w1.close();
  assert.equal(timers[0].pending.size + timers[1].pending.size, 0, "close() leaves no timer armed");
});
