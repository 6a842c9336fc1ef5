/**
 * @module
 * The owners a virtual key may belong to, as stored in KV: a team (`team_id`) and a user (`user_id`). Each has a
 * budget (with resets, as keys have), tokens and requests per minute, and the models it may call; a key is limited
 * by its own settings and by those of its team and user together. A user's team memberships live on the user
 * (`teams`), the one place they are written.
 */
import type { Budgeted } from "./record.ts";

export type OwnerKind = "team" | "user";

/** What teams and users share: a budget and rate limits over all their keys together, and allowed models. */
export interface OwnerRecord extends Budgeted {
  /** `team_id` or `user_id`. */
  id: string;
  /** Model names the owner's keys may call; empty means all. */
  models: string[];
  tpmLimit?: number;
  rpmLimit?: number;
  metadata: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface TeamRecord extends OwnerRecord {
  /** `team_alias`. */
  alias?: string;
  /** A blocked team's keys are refused (`/team/block`). */
  blocked: boolean;
}

export interface UserRecord extends OwnerRecord {
  email?: string;
  /** `user_alias`. */
  alias?: string;
  /** LiteLLM's `user_role`, kept as given (`internal_user` by default); the gateway grants nothing by it. */
  role: string;
  /** The teams the user belongs to (LiteLLM's `teams`). */
  teams: string[];
}

export interface OwnerRecords {
  team: TeamRecord;
  user: UserRecord;
}

/** Whether admitting a call needs the owner's counters (spend, requests, tokens). */
export function ownerHasCounterLimits(r: OwnerRecord): boolean {
  return r.maxBudget !== undefined || r.rpmLimit !== undefined || r.tpmLimit !== undefined;
}
