/**
 * @module
 * Readiness (`GET /health/readiness`): the config is loaded (the gateway exists), the KV store answers a read, and
 * spend is being written to it. While the ledger's writes fail, the gateway is not ready and says since when, why,
 * and how many answered calls wait to be billed.
 */
import type { Ledger } from "../kv/ledger.ts";

/** Whether the gateway is ready, the KV store's state, and why not. */
export type Readiness = () => Promise<{ ok: boolean; db: string; cause?: string }>;

export function createReadiness(deps: { kv: Pick<Deno.Kv, "get">; ledger: Pick<Ledger, "health"> }): Readiness {
  const { kv, ledger } = deps;
  return async () => {
    try {
      await kv.get(["health"]);
    } catch (e) {
      return { ok: false, db: "disconnected", cause: `KV cannot be read: ${(e as Error).message}` };
    }
    const writes = ledger.health();
    if (writes.ok) return { ok: true, db: "connected" };
    return {
      ok: false,
      db: "connected",
      cause: `spend cannot be written to KV since ${new Date(writes.since).toISOString()} (${writes.cause}); ` +
        `${writes.unwrittenCalls} answered calls wait to be billed`,
    };
  };
}
