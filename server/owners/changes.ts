/**
 * @module
 * The one place a team or user mutation is announced: every create, update, block, unblock and delete of the
 * `/team/*` and `/user/*` API (and the admin UI, which calls the same operations) passes through {@link OwnerChanges}
 * once it is written, with the record before and after. An audit trail or alerting hooks in here
 * (`GatewayDeps.onOwnerChange`); a listener that throws is logged, never fails the change.
 */
import type { Logger } from "../core/log.ts";
import type { OwnerKind, OwnerRecords } from "../keys/owner_record.ts";

export type OwnerAction = "created" | "updated" | "blocked" | "unblocked" | "deleted";

/** One written change of a team or user. */
export interface OwnerChange<K extends OwnerKind = OwnerKind> {
  kind: K;
  action: OwnerAction;
  /** `team_id` or `user_id`. */
  id: string;
  /** Who made it: LiteLLM's `litellm-changed-by` header when sent, else the caller (`master_key`, `admin UI`). */
  by: string;
  before?: OwnerRecords[K];
  after?: OwnerRecords[K];
  /** Epoch ms. */
  at: number;
}

export type OwnerChangeListener = (change: OwnerChange) => void;

/** Announces written changes to the listener (if any), and to the log at debug level. */
export function ownerChanges(log: Logger, listener: OwnerChangeListener | undefined): OwnerChangeListener {
  return (change) => {
    log.debug(`${change.kind} ${change.action}`, { id: change.id, by: change.by });
    if (!listener) return;
    try {
      listener(change);
    } catch (e) {
      log.warn("owner change: the listener failed", { error: (e as Error).name, message: (e as Error).message });
    }
  };
}
