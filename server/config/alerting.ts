/**
 * @module
 * `general_settings.alerting` (LiteLLM's): `alerting: ["slack"]` posts alerts to `SLACK_WEBHOOK_URL`; per alert type,
 * `alert_to_webhook_url` (`budget_alerts`, `cooldown_deployment`, `outage_alerts`: a URL or a list, `os.environ/NAME`
 * allowed) sends that type elsewhere. Resolved once at start-up into the URLs of each type the gateway sends.
 */
export type AlertType = "budget_alerts" | "cooldown_deployment" | "outage_alerts";
export const ALERT_TYPES: readonly AlertType[] = ["budget_alerts", "cooldown_deployment", "outage_alerts"];

/** Where each alert type goes; empty when alerting is off. */
export type AlertRoutes = Readonly<Record<AlertType, readonly string[]>>;

const NONE: AlertRoutes = { budget_alerts: [], cooldown_deployment: [], outage_alerts: [] };

/** The alert routes of `general_settings`; problems (a missing variable, a bad URL) go to `problems`. */
export function resolveAlerting(
  general: { alerting?: string[]; alert_to_webhook_url?: Record<string, string | string[]> },
  env: (name: string) => string | undefined,
  problems: string[],
  warnings: string[],
): AlertRoutes {
  const kinds = general.alerting ?? [];
  if (!kinds.length) return NONE;
  for (const k of kinds) {
    if (k !== "slack" && k !== "webhook") warnings.push(`general_settings.alerting: "${k}" is not supported, ignored`);
  }
  if (!kinds.includes("slack") && !kinds.includes("webhook")) return NONE;
  const url = (value: string, path: string): string | undefined => {
    const ref = /^os\.environ\/(.+)$/.exec(value)?.[1];
    const resolved = ref ? env(ref) : value;
    if (!resolved) {
      problems.push(`${path}: environment variable ${ref} is not set`);
      return undefined;
    }
    try {
      const u = new URL(resolved);
      if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error();
      return resolved;
    } catch {
      // The value may be a secret URL: the message names the setting, not the value.
      problems.push(`${path}: not an http(s) URL`);
      return undefined;
    }
  };
  const fallback = env("SLACK_WEBHOOK_URL");
  const routes: Record<AlertType, string[]> = { budget_alerts: [], cooldown_deployment: [], outage_alerts: [] };
  const per = general.alert_to_webhook_url ?? {};
  for (const type of ALERT_TYPES) {
    const given = per[type];
    const list = given === undefined ? [] : Array.isArray(given) ? given : [given];
    for (const [i, v] of list.entries()) {
      const u = url(v, `general_settings.alert_to_webhook_url.${type}${Array.isArray(given) ? `[${i}]` : ""}`);
      if (u) routes[type].push(u);
    }
    if (!list.length && fallback) routes[type].push(url(fallback, "SLACK_WEBHOOK_URL") ?? "");
    routes[type] = routes[type].filter(Boolean);
  }
  if (ALERT_TYPES.every((t) => !routes[t].length)) {
    warnings.push(
      "general_settings.alerting is on but no webhook is set: set SLACK_WEBHOOK_URL or alert_to_webhook_url",
    );
  }
  return routes;
}
