/**
 * @module
 * What a routing strategy may look at, and the shared "lowest score, ties at random" choice.
 */
import type { DeploymentState } from "./state.ts";

export interface PickContext {
  state: DeploymentState;
  /** Uniform in [0, 1); injected so tests are deterministic. */
  random: () => number;
  /** Whether the call being routed is a stream (latency-based routing compares time to first byte). */
  stream: boolean;
}

/** A uniformly random element among those with the lowest `score` (ties are spread, not always the first). */
export function lowest<T>(items: readonly T[], score: (item: T) => number, random: () => number): T {
  let best: T[] = [];
  let bestScore = Infinity;
  for (const item of items) {
    const s = score(item);
    if (s < bestScore) {
      bestScore = s;
      best = [item];
    } else if (s === bestScore) best.push(item);
  }
  if (best.length === 0) return items[0];
  return best.length === 1 ? best[0] : best[Math.min(best.length - 1, Math.floor(random() * best.length))];
}
