/**
 * @module
 * What each alert says, in LiteLLM's Slack style (`Level`, `Timestamp`, `Message`, then one `*field:* \`value\`` line
 * per fact), and what makes two alerts the same one (its `key` and window):
 *
 * - a key's, team's or user's budget: soft budget crossed, 80% and 100% of `max_budget` used — once per threshold,
 *   budget and budget window (a raised budget arms them again);
 * - a deployment cooled down — once per cooldown, across instances;
 * - every deployment of a model down (cooling down or without credentials) — once until the first comes back.
 *
 * Keys appear as alias and hash prefix, never as keys.
 */
import type { BudgetThreshold } from "../keys/admission.ts";
import type { CooldownEvent } from "../router/router.ts";
import { hashPrefix } from "../core/redact.ts";
import type { Alert } from "./alerts.ts";

const clock = (t: number) => new Date(t).toISOString().slice(11, 19);

function slack(level: "High" | "Medium", at: number, message: string, fields: Record<string, unknown>): string {
  const lines = Object.entries(fields).filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `*${k}:* \`${v}\``);
  return [`Level: \`${level}\``, `Timestamp: \`${clock(at)}\``, "", `Message: ${message}`, ...lines].join("\n");
}

const SUBJECT = { key: "Key", team: "Team", user: "User" } as const;

export function budgetAlert(e: BudgetThreshold, at: number): Alert {
  const subject = SUBJECT[e.scope];
  const what = e.level === "soft_budget"
    ? `Soft Budget Crossed: ${subject} Budget: soft_budget reached`
    : `${subject} Budget: ${e.level} of max_budget used`;
  const id = e.scope === "key" ? { key_hash: hashPrefix(e.id), key_alias: e.alias } : {
    [`${e.scope}_id`]: e.id,
    [`${e.scope}_alias`]: e.alias,
  };
  return {
    type: "budget_alerts",
    key: `budget:${e.scope}:${e.id}:${e.windowStart}:${e.maxBudget}:${e.softBudget}:${e.level}`,
    until: e.resetAt,
    text: slack("High", at, what, {
      ...id,
      spend: e.spend,
      max_budget: e.maxBudget,
      soft_budget: e.softBudget,
      budget_reset_at: e.resetAt === undefined ? undefined : new Date(e.resetAt).toISOString(),
    }),
  };
}

export function cooldownAlert(e: CooldownEvent, at: number): Alert {
  const d = e.deployment;
  return {
    type: "cooldown_deployment",
    key: `cooldown:${d.id}`,
    until: e.until,
    text: slack(
      "Medium",
      at,
      `Deployment cooled down: ${d.id} (model_name ${d.modelName}) is skipped until it recovers`,
      {
        model_id: d.id,
        model: d.bedrockModelId,
        exception_status: e.status,
        exception: e.errorType,
        cooldown_until: new Date(e.until).toISOString(),
      },
    ),
  };
}

export function groupDownAlert(e: { modelName: string; until: number }, at: number): Alert {
  return {
    type: "outage_alerts",
    key: `outage:${e.modelName}`,
    until: e.until,
    text: slack("High", at, `All deployments of ${e.modelName} are down: its calls fail until one recovers`, {
      model_name: e.modelName,
      first_back_at: Number.isFinite(e.until) ? new Date(e.until).toISOString() : undefined,
    }),
  };
}
