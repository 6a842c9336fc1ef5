/**
 * @module
 * The lease record of one limited counter in KV, and the one decision taken on it: how much of what is left of the
 * limit an instance takes, and which of its waiting calls that admits.
 *
 * `["limit_lease", ...counter]` → `{ window, slices: { [instanceId]: { amount, expires } } }`: each instance's slice
 * of the limit, as a `bigint` in the counter's unit (nano-USD, tokens, requests), valid until `expires` (wall-clock
 * ms). For windowed counters (per minute) `window` names the minute the slices belong to; slices of another window
 * count for nothing. The record is only ever written under a check of its versionstamp, read in the same `getMany`
 * as the counter it limits, so every decision sees one consistent snapshot of both.
 */

export const LEASE_PREFIX = "limit_lease";

/** The lease record of a counter. */
export const leaseKey = (counter: Deno.KvKey): Deno.KvKey => [LEASE_PREFIX, ...counter];

export interface Slice {
  amount: bigint;
  /** Wall-clock ms; after it the slice counts for nothing (its instance is gone or cut off from KV). */
  expires: number;
}

export interface LeaseValue {
  window: number | null;
  slices: Record<string, Slice>;
}

/** The slices of a stored record that belong to `window` (none when the record is absent, odd or of another window). */
export function slicesOf(value: unknown, window: number | undefined): Record<string, Slice> {
  if (!value || typeof value !== "object") return {};
  const v = value as Partial<LeaseValue>;
  if ((v.window ?? null) !== (window ?? null) || !v.slices || typeof v.slices !== "object") return {};
  const out: Record<string, Slice> = {};
  for (const [id, s] of Object.entries(v.slices)) {
    if (s && typeof s.amount === "bigint" && typeof s.expires === "number") out[id] = s;
  }
  return out;
}

/** What one instance knows when it decides, besides the record: its own usage of the counter. */
export interface GrantInput {
  /** The counter's value in the same snapshot as the record (its window's count for windowed counters). */
  settled: bigint;
  /** The other instances' live slices. */
  others: bigint;
  /** This instance's usage not in `settled`: its unwritten sums plus the holds of its calls in flight. */
  used: bigint;
  /** Room of this instance's current slice that stays reserved (calls may still be placed in it meanwhile). */
  keptRoom: bigint;
  limit: bigint;
  /** Holds of the calls waiting for this decision, in arrival order. */
  waiting: readonly bigint[];
  /** Extra room wanted beyond the admitted calls (at most half of what is free is taken). */
  extra: bigint;
}

export interface Grant {
  /** This instance's new slice: its usage, kept room, admitted calls and extra room. */
  take: bigint;
  /** For each waiting call, whether it is admitted. */
  admitted: boolean[];
  /** Usage and holds in front of each refused call (for its message): settled + others + used + admitted before it. */
  reserved: bigint;
}

/**
 * LiteLLM's rule over everything reserved: a waiting call is admitted while what is settled and reserved before it
 * (others' slices, this instance's usage and kept room, the calls admitted ahead of it) is below the limit, so the
 * last admitted call may cross it, by at most its own hold. Extra room is at most half of what is then free, so
 * another instance always finds some.
 */
export function decideGrant(g: GrantInput): Grant {
  let reserved = g.settled + g.others + g.used + g.keptRoom;
  let take = g.used + g.keptRoom;
  const admitted = g.waiting.map((hold) => {
    if (reserved >= g.limit) return false;
    reserved += hold;
    take += hold;
    return true;
  });
  const free = g.limit - reserved;
  if (free > 0n && g.extra > 0n) {
    const half = free / 2n;
    take += g.extra < half ? g.extra : half;
  }
  return { take, admitted, reserved };
}
