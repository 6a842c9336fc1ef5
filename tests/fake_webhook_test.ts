/**
 * @module
 * The fake alert webhook: Slack's answers, recorded posts, scripted failures and its bounded wait.
 */
import assert from "node:assert/strict";
import { startFakeWebhook } from "../testing/fake_webhook.ts";
import { ManualTimers } from "./manual_timers.ts";

async function post(url: string, body: string, contentType = "application/json") {
  const res = await fetch(url, { method: "POST", headers: { "content-type": contentType }, body });
  return { status: res.status, body: await res.text() };
}

Deno.test("a Slack-compatible {text} post is answered 200 ok and recorded with its text, JSON and headers", async () => {
  await using hook = await startFakeWebhook();
  const body = JSON.stringify({ text: "Level: `High`\n\nMessage: Key Budget: Budget Crossed" });
  assert.deepEqual(await post(hook.url, body), { status: 200, body: "ok" });
  const [p] = await hook.waitForPosts(1);
  assert.equal(p.text, "Level: `High`\n\nMessage: Key Budget: Budget Crossed");
  assert.deepEqual(p.json, JSON.parse(body));
  assert.equal(p.headers.get("content-type"), "application/json");
  assert.equal(p.path, new URL(hook.url).pathname);
  assert.equal(p.status, 200);
  assert.deepEqual(hook.texts(), ["Level: `High`\n\nMessage: Key Budget: Budget Crossed"]);
});

Deno.test("bodies Slack would refuse get its 400 answers and are still recorded", async () => {
  await using hook = await startFakeWebhook();
  assert.deepEqual(await post(hook.url, "not json", "text/plain"), { status: 400, body: "invalid_payload" });
  assert.deepEqual(await post(hook.url, JSON.stringify({ event: "budget_crossed" })), {
    status: 400,
    body: "no_text",
  });
  assert.deepEqual(await post(hook.url, JSON.stringify({ text: "" })), { status: 400, body: "no_text" });
  assert.deepEqual(hook.posts.map((p) => [p.status, p.json]), [
    [400, undefined],
    [400, { event: "budget_crossed" }],
    [400, { text: "" }],
  ]);
  assert.deepEqual(hook.texts(), [""]);
});

Deno.test("respond scripts a failure for chosen deliveries (a 500 first, then Slack's own answer)", async () => {
  await using hook = await startFakeWebhook({ respond: (_post, i) => (i === 0 ? 500 : undefined) });
  const body = JSON.stringify({ text: "deployment cooled down" });
  assert.deepEqual(await post(hook.url, body), { status: 500, body: "error" });
  assert.deepEqual(await post(hook.url, body), { status: 200, body: "ok" });
  assert.deepEqual(hook.posts.map((p) => p.status), [500, 200]);
});

Deno.test("other methods get 405 and are not recorded", async () => {
  await using hook = await startFakeWebhook();
  const res = await fetch(hook.url);
  assert.equal(res.status, 405);
  await res.body?.cancel();
  assert.equal(hook.posts.length, 0);
});

Deno.test("waitForPosts filters, resolves on arrival and clears its deadline", async () => {
  const timers = new ManualTimers();
  await using hook = await startFakeWebhook({ timers });
  const waiting = hook.waitForPosts(1, { where: (p) => p.text?.includes("100%") ?? false });
  await post(hook.url, JSON.stringify({ text: "80% of max_budget" }));
  await post(hook.url, JSON.stringify({ text: "100% of max_budget" }));
  assert.deepEqual((await waiting).map((p) => p.text), ["100% of max_budget"]);
  assert.equal(timers.pending.size, 0);
});

Deno.test("waitForPosts rejects at its deadline, listing what did arrive", async () => {
  const timers = new ManualTimers();
  await using hook = await startFakeWebhook({ timers });
  await post(hook.url, JSON.stringify({ text: "one" }));
  const waiting = hook.waitForPosts(2, { timeoutMs: 2000 });
  assert.equal(timers.fire(2000), 1);
  await assert.rejects(waiting, /fake webhook: 2 matching item\(s\) not received within 2000 ms; received: "one"/);
});
