/**
 * @module
 * `simple-shuffle` (LiteLLM's default): weighted random by `weight`, else `rpm`, else `tpm`, else uniform.
 */
import type { Deployment } from "../config/types.ts";
import type { PickContext } from "./pick.ts";

/** Weighted random choice: by `weight`, else `rpm`, else `tpm`, else uniform. */
export function weightedPick(deployments: readonly Deployment[], random: () => number): Deployment {
  if (deployments.length === 1) return deployments[0];
  for (const field of ["weight", "rpm", "tpm"] as const) {
    if (!deployments.some((d) => d[field] !== undefined)) continue;
    const weights = deployments.map((d) => d[field] ?? 0);
    const total = weights.reduce((a, b) => a + b, 0);
    if (total <= 0) break;
    let r = random() * total;
    for (let i = 0; i < deployments.length; i++) {
      r -= weights[i];
      if (r < 0) return deployments[i];
    }
    return deployments[deployments.length - 1];
  }
  return deployments[Math.min(deployments.length - 1, Math.floor(random() * deployments.length))];
}

export const pickSimpleShuffle = (candidates: readonly Deployment[], ctx: PickContext): Deployment =>
  weightedPick(candidates, ctx.random);
