/**
 * @module
 * Sessions signed out before they expired. Signing out drops the cookie in that browser; this list makes a copy
 * of the cookie useless too, on every instance sharing the KV. An entry lives until its session would have
 * expired (KV `expireIn`), so the list holds only sessions that could still be presented.
 *
 * | key                          | value  | why                                       |
 * | ---------------------------- | ------ | ----------------------------------------- |
 * | `["ui_signed_out", session]` | `true` | a signed-out session, until it expires    |
 */
import { retryBusy } from "../kv/retry.ts";

export interface Revocations {
  /** Refuses the session from now on (until `expiresAt`, when it expires anyway). */
  revoke(sessionId: string, expiresAt: number): Promise<void>;
  isRevoked(sessionId: string): Promise<boolean>;
}

const PREFIX = "ui_signed_out";

export function createRevocations(kv: Deno.Kv, now: () => number): Revocations {
  return {
    async revoke(sessionId, expiresAt) {
      const left = expiresAt - now();
      if (left <= 0) return;
      await retryBusy(() => kv.set([PREFIX, sessionId], true, { expireIn: left }));
    },
    async isRevoked(sessionId) {
      return (await retryBusy(() => kv.get([PREFIX, sessionId]))).versionstamp !== null;
    },
  };
}
