/**
 * @module
 * A fake alert webhook for tests: an HTTP receiver on 127.0.0.1 that records every POST and answers like a Slack
 * incoming webhook (`200 ok` as text/plain for a JSON body with a non-empty `text`; `400 invalid_payload` for a body
 * that is not JSON, `400 no_text` for one without `text`). LiteLLM's Slack alerting posts `{"text": "…"}` with
 * `Content-type: application/json`; a generic webhook may post any JSON, so every body is kept as parsed.
 *
 * A test scripts failures with `respond` (say a 500 on the first delivery, to see a retry) and waits for deliveries
 * with {@link FakeWebhook.waitForPosts}, which is bounded by a deadline (injectable timers, as in `fake_otlp.ts`).
 * To prove an alert is sent only once, wait for the gateway's own "alerts settled" signal and then count `posts`:
 * the absence of a second post cannot be waited for.
 *
 * @example
 * ```ts
 * import { startFakeWebhook } from "./fake_webhook.ts";
 * await using hook = await startFakeWebhook();
 * await fetch(hook.url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"text":"hi"}' });
 * const [post] = await hook.waitForPosts(1);
 * console.log(post.text); // "hi"
 * ```
 */

import { Arrivals, type ArrivalWait, type DeadlineTimers } from "./arrivals.ts";

/** One POST the receiver got. */
export interface WebhookPost {
  /** Path and query of the request (`/services/T000/B000/XXXX`). */
  path: string;
  headers: Headers;
  /** The raw body. */
  raw: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: unknown;
  /** `json.text` when it is a string (Slack's message text). */
  text?: string;
  /** The status the receiver answered. */
  status: number;
}

export interface FakeWebhookOptions {
  port?: number;
  /**
   * The status to answer a post with (its index counts from 0), instead of Slack's own; undefined keeps Slack's
   * answer. Non-2xx answers carry the body `error`.
   */
  respond?: (post: Omit<WebhookPost, "status">, index: number) => number | undefined;
  /** Deadline of {@link FakeWebhook.waitForPosts} when the call gives none, ms (default 10 000). */
  defaultTimeoutMs?: number;
  /** The deadline's timer (default `setTimeout`). */
  timers?: DeadlineTimers;
}

export interface FakeWebhook extends AsyncDisposable {
  /** A Slack-looking URL on this receiver, for `SLACK_WEBHOOK_URL` or a webhook setting. */
  readonly url: string;
  /** Base URL (`http://127.0.0.1:PORT`), for other paths. */
  readonly origin: string;
  /** Every POST so far, in arrival order (other methods are answered 405 and not kept). */
  readonly posts: readonly WebhookPost[];
  /** The `text` of every post that had one, in order. */
  texts(): string[];
  /** Resolves with the first `count` posts `where` accepts once they have arrived; rejects after the deadline. */
  waitForPosts(count: number, opts?: ArrivalWait<WebhookPost>): Promise<WebhookPost[]>;
  close(): Promise<void>;
}

/** Slack's answer to a body: 200 `ok`, or 400 with its error code. */
function slackVerdict(json: unknown, isJson: boolean): [number, string] {
  if (!isJson || typeof json !== "object" || json === null || Array.isArray(json)) return [400, "invalid_payload"];
  const text = (json as { text?: unknown }).text;
  return typeof text === "string" && text.length > 0 ? [200, "ok"] : [400, "no_text"];
}

/** Starts the receiver on 127.0.0.1. */
export function startFakeWebhook(opts: FakeWebhookOptions = {}): Promise<FakeWebhook> {
  const posts = new Arrivals<WebhookPost>(
    "fake webhook",
    (got) => got.map((p) => JSON.stringify(p.text ?? p.raw.slice(0, 80))).join(", "),
    opts.timers,
    opts.defaultTimeoutMs,
  );

  const server = Deno.serve({ hostname: "127.0.0.1", port: opts.port ?? 0, onListen() {} }, async (req) => {
    if (req.method !== "POST") {
      await req.body?.cancel();
      return new Response("method_not_allowed", { status: 405 });
    }
    const url = new URL(req.url);
    const raw = await req.text();
    let json: unknown, isJson = true;
    try {
      json = JSON.parse(raw);
    } catch {
      isJson = false;
    }
    const text = isJson && typeof (json as { text?: unknown })?.text === "string"
      ? (json as { text: string }).text
      : undefined;
    // A copy: the request's own headers are unreadable once its response has been sent.
    const post = { path: url.pathname + url.search, headers: new Headers(req.headers), raw, json, text };
    const [slackStatus, slackBody] = slackVerdict(json, isJson);
    const status = opts.respond?.(post, posts.items.length) ?? slackStatus;
    posts.push({ ...post, status });
    const body = status === slackStatus ? slackBody : status < 300 ? "ok" : "error";
    return new Response(body, { status, headers: { "content-type": "text/plain" } });
  });

  const origin = `http://127.0.0.1:${server.addr.port}`;
  return Promise.resolve({
    url: `${origin}/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX`,
    origin,
    posts: posts.items,
    texts: () => posts.items.flatMap((p) => (p.text === undefined ? [] : [p.text])),
    waitForPosts: (count, wait) => posts.wait(count, wait),
    close: () => server.shutdown(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  });
}
