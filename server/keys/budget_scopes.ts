/**
 * @module
 * Which budgets (or limits in USD) stand behind a caller: the scopes whose spend a call must be priced for. A call
 * with any such scope is never served unpriced (see `Pricing.refuseUnpriced`); one without (the master key, an open
 * gateway, a key with no budget) is served and, when unpriced, flagged.
 *
 * Today only the key's own `max_budget` and `soft_budget` count; team and user budgets join here when they exist.
 */
import type { Principal } from "./auth.ts";

/** The caller's budget scopes, named as the refusal message shows them (`key max_budget`, …); empty when none. */
export function budgetScopes(principal: Principal): string[] {
  const key = principal.key;
  if (!key) return [];
  const scopes: string[] = [];
  if (key.maxBudget !== undefined) scopes.push(`key max_budget ${key.maxBudget}`);
  if (key.softBudget !== undefined) scopes.push(`key soft_budget ${key.softBudget}`);
  return scopes;
}
