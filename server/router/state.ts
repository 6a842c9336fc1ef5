/**
 * @module
 * What the router knows about each deployment right now: calls in flight, recent latency, failures within the
 * last minute, cooldown, and requests/tokens used this minute (this instance's own, plus the other instances'
 * as last read from KV by `usage_sync.ts`). Peers (the other workers of one process, `peers.ts`) add their failures,
 * which count toward cooldowns here as if they were this router's, and their calls in flight.
 *
 * In memory, per gateway, driven by the injected clock so tests can move time. Nothing here is awaited or
 * touches I/O: it is read and updated on the hot path.
 */
import type { Deployment } from "../config/types.ts";

const MINUTE_MS = 60_000;
/** Weight of the newest sample in the latency averages: recent enough to follow a slowdown within a few calls. */
const EWMA_ALPHA = 0.3;

export interface DeploymentStats {
  /** Calls in flight from this router. */
  inFlight: number;
  /** Calls in flight from its peers, as they last said (`peers.ts`); 0 without peers. */
  peerInFlight: number;
  /** Exponentially weighted average of whole-call latency (converse), ms. */
  latencyMs?: number;
  /** Exponentially weighted average of time to the response head (converse-stream: time to first byte), ms. */
  ttfbMs?: number;
  /** Epoch ms of failures within the last minute (cleared when a cooldown starts). */
  failureTimes: number[];
  /** Epoch ms until which the deployment is skipped; 0 when not cooling down. */
  cooldownUntil: number;
  /** The minute (epoch ms / 60 000, floored) the per-minute counters below belong to. */
  minute: number;
  /** Requests this instance started this minute. */
  requests: number;
  /** Tokens this instance's calls used this minute. */
  tokens: number;
  /** Other instances' requests and tokens this minute, from the last KV read. */
  remoteRequests: number;
  remoteTokens: number;
  totalRequests: number;
  totalFailures: number;
  lastError?: { type: string; status: number; at: number };
}

export interface DeploymentStateDeps {
  now: () => number;
  /** Failures within a minute that put a deployment into cooldown. */
  allowedFails: number;
  /** Default cooldown; a deployment's own `cooldownMs` wins, and an upstream Retry-After wins over both. */
  cooldownMs: number;
}

export interface FailureInfo {
  status: number;
  type: string;
  /** An upstream 429 with Retry-After cools the deployment down at once, for that long. */
  retryAfterMs?: number;
}

export const minuteOf = (ms: number) => Math.floor(ms / MINUTE_MS);

export function createDeploymentState(deps: DeploymentStateDeps) {
  const { now } = deps;
  const stats = new Map<string, DeploymentStats>();
  /** Per deployment, each peer's last word on its calls in flight. */
  const peerCounts = new Map<string, Map<string, number>>();

  /** The deployment's stats, with the per-minute counters rolled over when a new minute has begun. */
  function get(id: string): DeploymentStats {
    const minute = minuteOf(now());
    let s = stats.get(id);
    if (!s) {
      s = {
        inFlight: 0,
        peerInFlight: 0,
        failureTimes: [],
        cooldownUntil: 0,
        minute,
        requests: 0,
        tokens: 0,
        remoteRequests: 0,
        remoteTokens: 0,
        totalRequests: 0,
        totalFailures: 0,
      };
      stats.set(id, s);
    } else if (s.minute !== minute) {
      s.minute = minute;
      s.requests =
        s.tokens =
        s.remoteRequests =
        s.remoteTokens =
          0;
    }
    return s;
  }

  /** Requests and tokens this minute across instances (own counts plus the last KV reading of the others'). */
  function usage(d: Deployment): { requests: number; tokens: number } {
    const s = get(d.id);
    return { requests: s.requests + s.remoteRequests, tokens: s.tokens + s.remoteTokens };
  }

  const pruneFailures = (s: DeploymentStats, at: number) => {
    while (s.failureTimes.length && s.failureTimes[0] <= at - MINUTE_MS) s.failureTimes.shift();
  };

  return {
    get,

    /** An attempt is starting: one more in flight, one more request this minute. */
    begin(d: Deployment): void {
      const s = get(d.id);
      s.inFlight++;
      s.requests++;
      s.totalRequests++;
    },

    /** The attempt's call is over (failed, abandoned, or its response fully relayed). */
    end(d: Deployment, tokens = 0): void {
      const s = get(d.id);
      s.inFlight = Math.max(0, s.inFlight - 1);
      if (tokens > 0) s.tokens += tokens;
    },

    recordLatency(d: Deployment, ms: number, stream: boolean): void {
      const s = get(d.id);
      const prev = stream ? s.ttfbMs : s.latencyMs;
      const next = prev === undefined ? ms : prev + EWMA_ALPHA * (ms - prev);
      if (stream) s.ttfbMs = next;
      else s.latencyMs = next;
    },

    /**
     * Counts a failure; starts a cooldown when `allowedFails` is reached or the upstream sent Retry-After. A peer's
     * failure (`fromPeer`) counts the same toward the cooldown, but not in this router's `totalFailures`.
     */
    recordFailure(d: Deployment, f: FailureInfo, fromPeer = false): void {
      const at = now();
      const s = get(d.id);
      if (!fromPeer) s.totalFailures++;
      s.lastError = { type: f.type, status: f.status, at };
      pruneFailures(s, at);
      s.failureTimes.push(at);
      let cooldown = 0;
      if (f.retryAfterMs !== undefined && f.status === 429) cooldown = f.retryAfterMs;
      else if (s.failureTimes.length >= Math.max(1, deps.allowedFails)) cooldown = d.cooldownMs ?? deps.cooldownMs;
      if (cooldown > 0) {
        s.cooldownUntil = Math.max(s.cooldownUntil, at + cooldown);
        // A fresh start after the cooldown: old failures must not cool it down again on its first hiccup.
        s.failureTimes.length = 0;
      }
    },

    isCoolingDown(d: Deployment): boolean {
      return get(d.id).cooldownUntil > now();
    },

    failuresLastMinute(d: Deployment): number {
      const s = get(d.id);
      pruneFailures(s, now());
      return s.failureTimes.length;
    },

    usage,

    /** Whether one more request would go over the deployment's `rpm`, or its `tpm` is used up. */
    overCap(d: Deployment): boolean {
      if (d.rpm === undefined && d.tpm === undefined) return false;
      const u = usage(d);
      return (d.rpm !== undefined && u.requests >= d.rpm) || (d.tpm !== undefined && u.tokens >= d.tpm);
    },

    /** A peer's calls in flight on a deployment now (its absolute count, replacing its previous word). */
    setPeerInFlight(id: string, peer: string, count: number): void {
      const s = get(id);
      let counts = peerCounts.get(id);
      if (!counts) peerCounts.set(id, counts = new Map());
      if (count > 0) counts.set(peer, count);
      else counts.delete(peer);
      let sum = 0;
      for (const n of counts.values()) sum += n;
      s.peerInFlight = sum;
    },

    /** Drops everything a peer said of its calls in flight (it is gone). */
    forgetPeer(peer: string): void {
      for (const [id, counts] of peerCounts) {
        if (counts.delete(peer)) get(id).peerInFlight = [...counts.values()].reduce((a, b) => a + b, 0);
      }
    },

    /** Sets what the other instances used in `minute` (ignored when that minute is already over here). */
    setRemote(id: string, minute: number, requests: number, tokens: number): void {
      const s = get(id);
      if (s.minute !== minute) return;
      s.remoteRequests = Math.max(0, requests);
      s.remoteTokens = Math.max(0, tokens);
    },
  };
}

export type DeploymentState = ReturnType<typeof createDeploymentState>;
