/**
 * @module
 * Which budgets (or limits in USD) stand behind a call: the scopes whose spend it must be priced for. A call under
 * any such scope is never served unpriced (see `Pricing.refuseUnpriced`); one without (the master key or an open
 * gateway without a proxy budget, a key with no budget anywhere) is served and, when unpriced, flagged.
 *
 * They are the key's own `max_budget` and `soft_budget`, its budget for the model called (`model_max_budget`), its
 * team's and user's `max_budget`, and the proxy's (`litellm_settings.max_budget`).
 */
import type { ProxyBudget } from "../config/types.ts";
import type { Principal } from "./auth.ts";

/** The call's budget scopes, named as the refusal message shows them (`key max_budget 5`, …); empty when none. */
export function budgetScopes(principal: Principal, model?: string, proxy?: ProxyBudget): string[] {
  const scopes: string[] = [];
  const { key, team, user } = principal;
  if (key?.maxBudget !== undefined) scopes.push(`key max_budget ${key.maxBudget}`);
  if (key?.softBudget !== undefined) scopes.push(`key soft_budget ${key.softBudget}`);
  const perModel = model === undefined ? undefined : key?.modelMaxBudget?.[model];
  if (perModel) scopes.push(`key model_max_budget ${model} ${perModel.maxBudget}`);
  if (team?.maxBudget !== undefined) scopes.push(`team ${team.id} max_budget ${team.maxBudget}`);
  if (user?.maxBudget !== undefined) scopes.push(`user ${user.id} max_budget ${user.maxBudget}`);
  if (proxy) scopes.push(`proxy max_budget ${proxy.maxBudget}`);
  return scopes;
}
