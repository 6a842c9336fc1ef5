/**
 * @module
 * Which models a virtual key may call, as its own settings, its team's and its user's decide together, and its
 * model-name aliases (LiteLLM's `aliases`: calling `alias` calls the model group it names).
 *
 * Each of the key's, the team's and the user's `models` lists that is set (not empty, not `all-proxy-models`) must
 * allow the model group a call reaches: the lists are intersected. A key's list may name its aliases; they allow the
 * groups they stand for (LiteLLM's `"models": ["my-free-tier"], "aliases": {"my-free-tier": "my-paid-tier"}`).
 */
import type { OwnerRecord } from "./owner_record.ts";
import { ALL_MODELS, type KeyRecord } from "./record.ts";

/** A `models` list as a restriction: undefined when it allows everything. */
function restriction(models: readonly string[]): readonly string[] | undefined {
  return models.length === 0 || models.includes(ALL_MODELS) ? undefined : models;
}

/**
 * The model groups a key may call, with its team and user (absent or without a record: no restriction); undefined
 * means all. Names the key's aliases stand for are given as their groups.
 */
export function allowedModelGroups(
  key: KeyRecord,
  team?: OwnerRecord | null,
  user?: OwnerRecord | null,
): string[] | undefined {
  const own = restriction(key.models);
  const lists = [
    own && [...new Set(own.map((m) => key.aliases?.[m] ?? m))],
    team ? restriction(team.models) : undefined,
    user ? restriction(user.models) : undefined,
  ].filter((l): l is readonly string[] => l !== undefined);
  if (!lists.length) return undefined;
  const [first, ...rest] = lists;
  return first.filter((m) => rest.every((l) => l.includes(m)));
}

/** The model group a name calls: an alias's target, else the name itself. */
export function modelGroupOf(aliases: Readonly<Record<string, string>> | undefined, name: string): string {
  return aliases !== undefined && Object.hasOwn(aliases, name) ? aliases[name] : name;
}
