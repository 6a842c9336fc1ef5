/**
 * @module
 * `latency-based-routing`: the deployment with the lowest recent latency (an exponentially weighted average;
 * for streams the time to the response head, i.e. to the first byte), with epsilon-greedy exploration so a
 * deployment that was slow once is measured again instead of being starved forever.
 *
 * Deployments with no sample yet are tried first: they are the ones the router knows least about.
 */
import type { Deployment } from "../config/types.ts";
import { lowest, type PickContext } from "./pick.ts";

/** Share of calls that go to a uniformly random candidate to keep every deployment's latency current. */
export const EXPLORATION_RATE = 0.1;

export function pickLatencyBased(candidates: readonly Deployment[], ctx: PickContext): Deployment {
  if (candidates.length === 1) return candidates[0];
  if (ctx.random() < EXPLORATION_RATE) {
    return candidates[Math.min(candidates.length - 1, Math.floor(ctx.random() * candidates.length))];
  }
  const latency = (d: Deployment): number => {
    const s = ctx.state.get(d.id);
    // Prefer the measure that matches the call; a group serving both kinds still has an estimate either way.
    const ms = ctx.stream ? s.ttfbMs ?? s.latencyMs : s.latencyMs ?? s.ttfbMs;
    return ms ?? -1;
  };
  return lowest(candidates, latency, ctx.random);
}
