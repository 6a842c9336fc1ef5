/**
 * @module
 * Per-deployment rpm/tpm across gateway instances that share one KV — approximately, and never on the hot path.
 *
 * How: every `intervalMs` (1 s by default) each instance writes one snapshot per deployment of what it used in
 * the current minute, `["router_usage", minute, deploymentId, instanceId] = {requests, tokens}` (a plain `set`
 * with `expireIn`, so old minutes vanish on their own; only snapshots that changed are written, all in one atomic
 * commit), then lists `["router_usage", minute]` once and hands the sum of the *other* instances' snapshots to
 * the router's state. The router adds its own live counts, so its view of a deployment's minute is exact for
 * itself and at most one interval stale for the others. Requests never await KV: a burst on several instances
 * within one interval can overshoot a cap by roughly (instances − 1) × that interval's traffic.
 *
 * Only deployments that need it are synced: those with `rpm` or `tpm`, or all under `usage-based-routing`.
 */
import type { Logger } from "../core/log.ts";
import { type DeploymentState, minuteOf } from "./state.ts";

export const USAGE_PREFIX = "router_usage";
/** Snapshots outlive their minute a little, so a reader at the minute's edge still finds them. */
const SNAPSHOT_TTL_MS = 120_000;
/** Deno KV caps mutations per atomic commit; stay well below. */
const MAX_MUTATIONS = 500;

export interface UsageSnapshot {
  requests: number;
  tokens: number;
}

export interface UsageSyncDeps {
  kv: Deno.Kv;
  state: DeploymentState;
  now: () => number;
  /** Deployments whose minute counters are shared. */
  deploymentIds: readonly string[];
  /** This instance's id in the KV keys (random per gateway). */
  instanceId: string;
  intervalMs?: number;
  log?: Logger;
}

export function createUsageSync(deps: UsageSyncDeps) {
  const { kv, state, now, instanceId } = deps;
  const ids = [...deps.deploymentIds];
  /** What was last written per deployment, to skip unchanged snapshots. */
  const written = new Map<string, string>();
  let running: Promise<void> | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;

  async function publish(minute: number): Promise<void> {
    let op = kv.atomic();
    let mutations = 0;
    for (const id of ids) {
      const s = state.get(id);
      if (s.minute !== minute || (s.requests === 0 && s.tokens === 0)) continue;
      const stamp = `${minute}/${s.requests}/${s.tokens}`;
      if (written.get(id) === stamp) continue;
      written.set(id, stamp);
      const snapshot: UsageSnapshot = { requests: s.requests, tokens: s.tokens };
      op.set([USAGE_PREFIX, minute, id, instanceId], snapshot, { expireIn: SNAPSHOT_TTL_MS });
      if (++mutations === MAX_MUTATIONS) {
        await op.commit();
        op = kv.atomic();
        mutations = 0;
      }
    }
    if (mutations > 0) await op.commit();
  }

  async function readOthers(minute: number): Promise<void> {
    const totals = new Map<string, UsageSnapshot>();
    for await (const entry of kv.list<UsageSnapshot>({ prefix: [USAGE_PREFIX, minute] })) {
      const [, , id, instance] = entry.key;
      if (instance === instanceId || typeof id !== "string") continue;
      const t = totals.get(id) ?? { requests: 0, tokens: 0 };
      t.requests += Number(entry.value?.requests) || 0;
      t.tokens += Number(entry.value?.tokens) || 0;
      totals.set(id, t);
    }
    for (const id of ids) {
      const t = totals.get(id);
      state.setRemote(id, minute, t?.requests ?? 0, t?.tokens ?? 0);
    }
  }

  /** One round: publish this instance's counts, then read the others'. Overlapping calls share one round. */
  function sync(): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    running ??= (async () => {
      const minute = minuteOf(now());
      try {
        await publish(minute);
        await readOthers(minute);
      } catch (e) {
        // Routing goes on with the last known figures; the next round tries again.
        written.clear();
        deps.log?.warn("router usage sync failed", { error: (e as Error).name, message: (e as Error).message });
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  return {
    sync,
    /** Starts the periodic rounds (a no-op when nothing needs syncing). */
    start(): void {
      if (ids.length === 0 || timer !== undefined) return;
      const interval = setInterval(() => void sync(), deps.intervalMs ?? 1_000);
      // Background bookkeeping must never keep a process alive on its own.
      Deno.unrefTimer(interval);
      timer = interval;
    },
    /** Stops the rounds and publishes the last counts. */
    async close(): Promise<void> {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running;
      await sync();
    },
  };
}

export type UsageSync = ReturnType<typeof createUsageSync>;
