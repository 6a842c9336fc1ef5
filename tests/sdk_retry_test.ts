/**
 * The SDK's retries, deterministic: an injected `fetch` answers each try from a script, an injected `sleep`
 * records the waits instead of waiting, an injected `random` fixes the jitter. What is retried (throttling, 5xx,
 * connection failures, timeouts) and what never is (validation, auth, budget, the caller's abort, a stream after
 * its first event), the backoff and `Retry-After`, and a real refused connection on 127.0.0.1.
 */
import assert from "node:assert/strict";
import {
  BudgetExceededError,
  type ClientSettings,
  ConnectionError,
  type ConverseStreamEvent,
  createClient,
  InternalServerException,
  ServiceUnavailableException,
  ThrottlingException,
  TimeoutError,
  ValidationException,
} from "../sdk/mod.ts";
import { encodeEvent, encodeException } from "../wire/eventstream.ts";
import { BudgetExceededError as BudgetError, ConverseError, type ConverseErrorInit } from "../sdk/errors.ts";
import { MAX_RETRY_DELAY_MS, retryDelayMs, sleep } from "../sdk/retry.ts";

const messages = [{ role: "user" as const, content: [{ text: "Hi" }] }];
const ANSWER = { output: { message: { role: "assistant", content: [{ text: "ok" }] } }, stopReason: "end_turn" };
const FAULT = ":http://internal.amazon.com/coral/com.amazon.bedrock/";

/** One scripted try: a response, or a fetch rejection. */
type Try = (init: RequestInit) => Response | Promise<Response>;

const ok: Try = () => Response.json(ANSWER);
const bedrockError = (status: number, type: string, headers: Record<string, string> = {}): Try => () =>
  Response.json({ message: `${type}!` }, { status, headers: { "x-amzn-errortype": type + FAULT, ...headers } });
const refused: Try = () => Promise.reject(new TypeError("error sending request: Connection refused"));
const frames = (...parts: Uint8Array[]): Try => () => new Response(new Blob(parts.map((p) => p.slice())).stream());

/** A client over a script of tries; `sleeps` are the waits it asked for, `tries` how many requests it sent. */
function scripted(script: Try[], settings: ClientSettings = {}) {
  const sleeps: number[] = [];
  let tries = 0;
  const client = createClient({
    baseURL: "http://gateway.test",
    random: () => 0.5,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    fetch: (_url, init) => {
      const next = script[tries++];
      if (!next) throw new Error(`unexpected try ${tries}`);
      return Promise.resolve(next(init));
    },
    ...settings,
  });
  return { client, sleeps, tries: () => tries };
}

const errorOf = (Class: typeof ConverseError, init: Partial<ConverseErrorInit>) =>
  new Class("x", { status: 500, type: "X", ...init });

Deno.test("retryDelayMs: what is retried, full-jitter exponential backoff, Retry-After as a floor", () => {
  const top = () => 0.999999;
  const transient = errorOf(InternalServerException, { status: 500 });
  assert.deepEqual([0, 1, 2, 3].map((n) => retryDelayMs(transient, n, top)), [49, 99, 199, 399]);
  const throttled = errorOf(ThrottlingException, { status: 429, type: "ThrottlingException" });
  assert.deepEqual([0, 1, 2, 5, 9].map((n) => retryDelayMs(throttled, n, top)), [999, 1999, 3999, 19999, 19999]);
  assert.equal(retryDelayMs(throttled, 3, () => 0), 0, "full jitter: anywhere from 0");
  for (const status of [502, 503, 504]) assert.ok(retryDelayMs(errorOf(ConverseError, { status }), 0, top));
  const refusedError = new ConnectionError("refused", { status: 0, type: "ConnectionError" });
  assert.equal(retryDelayMs(refusedError, 0, top), 49);
  assert.equal(retryDelayMs(new TimeoutError("slow", { status: 0, type: "TimeoutError" }), 1, top), 99);
  // A throttle named in a stream's exception frame, whatever status it was given.
  assert.equal(retryDelayMs(errorOf(ConverseError, { status: 400, type: "ThrottlingException" }), 0, top), 999);

  for (
    const [status, type] of [
      [400, "ValidationException"],
      [401, "UnrecognizedClientException"],
      [
        403,
        "AccessDeniedException",
      ],
      [404, "ResourceNotFoundException"],
      [408, "ModelTimeoutException"],
      [424, "ModelErrorException"],
      [
        400,
        "ServiceQuotaExceededException",
      ],
      [501, "HTTP501"],
    ] as const
  ) {
    assert.equal(retryDelayMs(errorOf(ConverseError, { status, type }), 0, top), undefined, type);
  }
  // Over budget is never retried, even when it comes as a 429 or a 503.
  for (const status of [400, 429, 503]) {
    assert.equal(retryDelayMs(errorOf(BudgetError, { status, type: "ThrottlingException" }), 0, top), undefined);
  }
  assert.equal(retryDelayMs(new TypeError("not ours"), 0, top), undefined);
  assert.equal(retryDelayMs(new DOMException("user", "AbortError"), 0, top), undefined);

  // Retry-After is a floor on the wait; one longer than the longest wait is not waited for at all.
  assert.equal(retryDelayMs(errorOf(ThrottlingException, { status: 429, retryAfter: 3 }), 0, top), 3000);
  assert.equal(retryDelayMs(errorOf(ThrottlingException, { status: 429, retryAfter: 0.01 }), 2, top), 3999);
  assert.equal(retryDelayMs(errorOf(ThrottlingException, { status: 429, retryAfter: 20 }), 0, top), 20_000);
  assert.equal(MAX_RETRY_DELAY_MS, 20_000);
  assert.equal(retryDelayMs(errorOf(ThrottlingException, { status: 429, retryAfter: 21 }), 0, top), undefined);
});

Deno.test("a 503, a refused connection, then an answer: two retries with backoff, the call succeeds", async () => {
  const { client, sleeps, tries } = scripted([bedrockError(503, "ServiceUnavailableException"), refused, ok]);
  const answer = await client.converse("claude", { messages });
  assert.equal(answer.output.message?.content[0].text, "ok");
  assert.equal(tries(), 3);
  assert.deepEqual(sleeps, [25, 50]);
});

Deno.test("maxRetries bounds the tries (default 2); per call it overrides the client's; 0 turns retries off", async () => {
  const fail = bedrockError(500, "InternalServerException");
  const byDefault = scripted([fail, fail, fail]);
  await assert.rejects(byDefault.client.converse("claude", { messages }), InternalServerException);
  assert.equal(byDefault.tries(), 3);
  assert.deepEqual(byDefault.sleeps, [25, 50]);

  const none = scripted([fail], { maxRetries: 0 });
  await assert.rejects(none.client.converse("claude", { messages }), InternalServerException);
  assert.equal(none.tries(), 1);

  const perCall = scripted([fail, fail, fail, fail, fail, ok], { maxRetries: 0 });
  await perCall.client.converse("claude", { messages }, { maxRetries: 5 });
  assert.equal(perCall.tries(), 6);
  assert.deepEqual(perCall.sleeps, [25, 50, 100, 200, 400]);

  assert.throws(() => createClient({ baseURL: "http://x", maxRetries: -1 }), RangeError);
  assert.throws(() => createClient({ baseURL: "http://x", maxRetries: 1.5 }), RangeError);
});

Deno.test("throttling backs off from 1 s and honours Retry-After; one over 20 s is thrown at once", async () => {
  const { client, sleeps, tries } = scripted([
    bedrockError(429, "ThrottlingException"),
    bedrockError(429, "ThrottlingException", { "retry-after": "7" }),
    ok,
  ]);
  await client.converse("claude", { messages });
  assert.equal(tries(), 3);
  assert.deepEqual(sleeps, [500, 7000]);

  const tooLong = scripted([bedrockError(429, "ThrottlingException", { "retry-after": "30" })]);
  await assert.rejects(tooLong.client.converse("claude", { messages }), (e) => {
    assert.ok(e instanceof ThrottlingException);
    assert.equal(e.retryAfter, 30);
    return true;
  });
  assert.equal(tooLong.tries(), 1);
  assert.deepEqual(tooLong.sleeps, []);
});

Deno.test("validation, auth and budget errors are thrown at once, never retried", async () => {
  const budget = () =>
    Response.json({ message: "over", error: { type: "budget_exceeded", message: "over" } }, {
      status: 429,
      headers: { "x-amzn-errortype": "ThrottlingException" + FAULT, "retry-after": "1" },
    });
  for (
    const [answer, Class] of [
      [bedrockError(400, "ValidationException"), ValidationException],
      [bedrockError(401, "UnrecognizedClientException"), ConverseError],
      [bedrockError(403, "AccessDeniedException"), ConverseError],
      [budget, BudgetExceededError],
    ] as const
  ) {
    const { client, tries, sleeps } = scripted([answer]);
    await assert.rejects(client.converse("claude", { messages }), Class);
    assert.equal(tries(), 1);
    assert.deepEqual(sleeps, []);
  }
});

Deno.test("admin calls, invoke and countTokens retry the same way", async () => {
  const page = { keys: [], total_count: 0, current_page: 1, total_pages: 0 };
  const admin = scripted([bedrockError(503, "ServiceUnavailableException"), () => Response.json(page)]);
  assert.deepEqual(await admin.client.keys.list(), page);
  assert.equal(admin.tries(), 2);

  const invoked = scripted([refused, () => Response.json({ content: [] })]);
  assert.deepEqual((await invoked.client.invoke("claude", { messages: [] })).body, { content: [] });
  assert.equal(invoked.tries(), 2);

  const counted = scripted([bedrockError(429, "ThrottlingException"), () => Response.json({ inputTokens: 3 })]);
  assert.deepEqual(await counted.client.countTokens("claude", { input: { converse: { messages } } }), {
    inputTokens: 3,
  });
  assert.equal(counted.tries(), 2);
});

Deno.test("a stream is retried before its first event (error answer, leading exception frame), never after", async () => {
  const start = encodeEvent("messageStart", { role: "assistant" });
  const delta = encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "once" } });
  const throttle = encodeException("throttlingException", { message: "slow down" });
  const { client, tries, sleeps } = scripted([
    bedrockError(503, "ServiceUnavailableException"),
    frames(throttle),
    frames(start, delta, encodeEvent("messageStop", { stopReason: "end_turn" })),
  ]);
  const events: ConverseStreamEvent[] = [];
  for await (const e of client.converseStream("claude", { messages })) events.push(e);
  assert.equal(tries(), 3);
  assert.deepEqual(sleeps, [25, 1000]);
  assert.deepEqual(events.map((e) => Object.keys(e)[0]), ["messageStart", "contentBlockDelta", "messageStop"]);

  // After the first event, a retryable exception ends the stream: a retry would repeat the answer's start.
  const late = scripted([frames(start, delta, throttle), frames(start)]);
  const seen: ConverseStreamEvent[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of late.client.converseStream("claude", { messages })) seen.push(e);
    })(),
    ThrottlingException,
  );
  assert.equal(late.tries(), 1);
  assert.equal(seen.length, 2);

  // A connection that breaks before the first event is retried like a refused one.
  const broken = scripted([
    () =>
      new Response(
        new ReadableStream({
          start: (c) => c.error(new TypeError("connection reset")),
        }),
      ),
    frames(start),
  ]);
  assert.equal((await Array.fromAsync(broken.client.converseStream("claude", { messages }))).length, 1);
  assert.equal(broken.tries(), 2);
});

Deno.test("invokeStream is retried before its first chunk, never after", async () => {
  const chunk = (value: unknown) => encodeEvent("chunk", { bytes: btoa(JSON.stringify(value)) });
  const { client, tries } = scripted([
    bedrockError(500, "InternalServerException"),
    frames(chunk({ type: "message_start" }), encodeException("internalServerException", { message: "boom" })),
  ]);
  const seen: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of client.invokeStream("claude", {})) seen.push(c);
    })(),
    InternalServerException,
  );
  assert.equal(tries(), 2);
  assert.deepEqual(seen, [{ type: "message_start" }]);
});

Deno.test("a timed-out try is retried as a TimeoutError; the caller's abort is thrown as is, never retried", async () => {
  // Each try's fetch waits for its abort: the first two time out, the third answers.
  const hang: Try = (init) =>
    new Promise((_, reject) => init.signal!.addEventListener("abort", () => reject(init.signal!.reason)));
  const timed = scripted([hang, hang, ok], { timeoutMs: 1 });
  assert.equal((await timed.client.converse("claude", { messages })).stopReason, "end_turn");
  assert.equal(timed.tries(), 3);
  const out = scripted([hang, hang, hang], { timeoutMs: 1 });
  await assert.rejects(out.client.converse("claude", { messages }), TimeoutError);
  assert.equal(out.tries(), 3);

  // Aborted during a try: its reason, once.
  const controller = new AbortController();
  const reason = new Error("user gave up");
  const aborted = scripted([(init) => {
    queueMicrotask(() => controller.abort(reason));
    return hang(init);
  }]);
  await assert.rejects(
    aborted.client.converse("claude", { messages }, { signal: controller.signal }),
    (e) => e === reason,
  );
  assert.equal(aborted.tries(), 1);

  // Aborted while waiting to retry (the default sleep, with a wait far longer than the test): the wait ends at
  // once with the reason and nothing more is sent.
  const waiting = new AbortController();
  let tries = 0;
  let wait: Promise<void> | undefined;
  const client = createClient({
    baseURL: "http://gateway.test",
    fetch: () => {
      tries++;
      return Promise.resolve(bedrockError(503, "ServiceUnavailableException")({}));
    },
    sleep: (_ms, signal) => {
      wait = sleep(60_000, signal);
      waiting.abort(reason);
      return wait;
    },
  });
  await assert.rejects(client.converse("claude", { messages }, { signal: waiting.signal }), (e) => e === reason);
  assert.equal(tries, 1);
  // It was the wait itself that ended with the reason (not the next try's check of the signal).
  await assert.rejects(wait!, (e) => e === reason);
  await assert.rejects(sleep(60_000, waiting.signal), (e) => e === reason);
});

Deno.test("a refused connection on 127.0.0.1 is a ConnectionError with the cause, after maxRetries retries", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  let tries = 0;
  const sleeps: number[] = [];
  const client = createClient({
    baseURL: `http://127.0.0.1:${port}/`,
    fetch: (url, init) => {
      tries++;
      return fetch(url, init);
    },
    random: () => 0,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  await assert.rejects(client.converse("claude", { messages }), (e) => {
    assert.ok(e instanceof ConnectionError, String(e));
    assert.ok(!(e instanceof ServiceUnavailableException));
    assert.equal(e.status, 0);
    assert.ok(e.cause instanceof TypeError, String(e.cause));
    return true;
  });
  assert.equal(tries, 3);
  assert.deepEqual(sleeps, [0, 0]);
});
