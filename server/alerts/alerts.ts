/**
 * @module
 * Alerts to Slack-compatible webhooks (`POST {"text": …}`, LiteLLM's `general_settings.alerting: ["slack"]` with
 * `SLACK_WEBHOOK_URL`, or `alert_to_webhook_url` per type): budget thresholds, a deployment cooling down, every
 * deployment of a model down (`alert_texts.ts` writes them).
 *
 * Each alert is sent once per window across instances: its `key` is claimed in KV (`["alert_sent", key]`, set only if
 * absent, expiring at the window's end) before it is posted, and this instance remembers what it claimed so a repeat
 * costs no KV read. Delivery is in the background — `send` never waits, so a call is never slowed — with a timeout
 * and one retry on a 429, a 5xx or a network error; at most `maxPending` alerts wait at once (more are dropped and
 * said so). A failure is logged with the webhook's origin only: a Slack webhook URL carries its token.
 */
import type { AlertRoutes, AlertType } from "../config/alerting.ts";
import type { Logger } from "../core/log.ts";
import { retryBusy } from "../kv/retry.ts";

export interface Alert {
  type: AlertType;
  /** What makes it the same alert: sent once until `until`. */
  key: string;
  /** Epoch ms the window ends (undefined: never; the alert is sent once). */
  until?: number;
  text: string;
}

export interface AlertsDeps {
  routes: AlertRoutes;
  kv: Deno.Kv;
  fetch: typeof fetch;
  now: () => number;
  log: Logger;
  /** Per post (default 5000 ms). */
  timeoutMs?: number;
  /** Alerts waiting for delivery at most (default 100). */
  maxPending?: number;
}

export interface Alerts {
  /** Whether any alert type has a webhook (callers skip building texts otherwise). */
  readonly on: boolean;
  /** Queues `alert` unless it was sent in its window; never throws, never waits. */
  send(alert: Alert): void;
  /** Resolves once every queued alert is delivered or given up on. */
  idle(): Promise<void>;
}

/** Alert keys this instance claimed, remembered up to this many (then it starts over: KV still decides). */
const MAX_REMEMBERED = 10_000;

/** A webhook as a log line may show it: its origin (the path of a Slack webhook is its secret). */
export function webhookShown(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(unreadable URL)";
  }
}

export function createAlerts(deps: AlertsDeps): Alerts {
  const { routes, kv, log, now } = deps;
  const timeoutMs = deps.timeoutMs ?? 5000;
  const maxPending = deps.maxPending ?? 100;
  const claimed = new Map<string, number | undefined>();
  const pending = new Set<Promise<void>>();
  const on = Object.values(routes).some((urls) => urls.length > 0);

  async function post(url: string, type: AlertType, text: string): Promise<void> {
    let failure = "";
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const res = await deps.fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.body?.cancel();
        if (res.ok) return;
        failure = `HTTP ${res.status}`;
        if (res.status !== 429 && res.status < 500) break;
      } catch (e) {
        failure = (e as Error).name;
      }
    }
    log.warn("alert not delivered", { alert_type: type, webhook: webhookShown(url), failure });
  }

  async function deliver(alert: Alert, urls: readonly string[]): Promise<void> {
    const key: Deno.KvKey = ["alert_sent", alert.key];
    const t = now();
    const expireIn = alert.until === undefined ? undefined : Math.max(1000, alert.until - t);
    const claim = await retryBusy(() =>
      kv.atomic().check({ key, versionstamp: null }).set(key, t, expireIn ? { expireIn } : undefined).commit()
    );
    if (!claim.ok) return; // another instance sent it in this window
    log.info("alert", { alert_type: alert.type, key: alert.key, text: alert.text });
    await Promise.all(urls.map((url) => post(url, alert.type, alert.text)));
  }

  return {
    on,
    send(alert) {
      const urls = routes[alert.type];
      if (!urls.length) return;
      const t = now();
      const until = claimed.get(alert.key);
      if (claimed.has(alert.key) && (until === undefined || t < until)) return;
      if (pending.size >= maxPending) {
        log.warn("alert dropped: too many waiting for delivery", { alert_type: alert.type, key: alert.key });
        return;
      }
      if (claimed.size >= MAX_REMEMBERED) claimed.clear();
      claimed.set(alert.key, alert.until);
      const p = deliver(alert, urls)
        .catch((e) => log.warn("alert failed", { alert_type: alert.type, error: (e as Error).name }))
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async idle() {
      while (pending.size) await Promise.all([...pending]);
    },
  };
}
