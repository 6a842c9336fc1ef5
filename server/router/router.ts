/**
 * @module
 * Deployment choice for a model group.
 *
 * The router owns "which deployment serves this call"; callers hand it an `attempt` function that sends to one
 * deployment and returns the upstream response, so that retries and fallbacks can later live here without the
 * route code changing.
 */
import type { Deployment, GatewayConfig } from "../config/types.ts";
import { GatewayError } from "../errors.ts";

export interface RouterDeps {
  config: GatewayConfig;
  /** Uniform in [0, 1); injected so tests are deterministic. */
  random: () => number;
  now: () => number;
}

export interface RouteResult {
  response: Response;
  deployment: Deployment;
  /** Attempts made beyond the first. */
  retries: number;
}

export type Attempt = (deployment: Deployment) => Promise<Response>;

/** Weighted random choice: by `weight`, else `rpm`, else `tpm`, else uniform (LiteLLM's simple-shuffle). */
export function weightedPick(deployments: Deployment[], random: () => number): Deployment {
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
  return deployments[Math.floor(random() * deployments.length)];
}

export function createRouter(deps: RouterDeps) {
  const { config } = deps;

  /** The deployments that can be called for a model group (unavailable ones are never picked). */
  function callable(modelName: string): Deployment[] {
    return (config.byModelName.get(modelName) ?? []).filter((d) => d.auth.kind !== "unavailable");
  }

  /** Picks the deployment for a call. Throws a typed error naming the missing variable when none is callable. */
  function pick(modelName: string): Deployment {
    const all = config.byModelName.get(modelName) ?? [];
    const ok = callable(modelName);
    if (ok.length === 0) {
      const reasons = all.map((d) => d.auth.kind === "unavailable" ? d.auth.reason : "").filter(Boolean);
      throw new GatewayError(
        503,
        "ServiceUnavailableException",
        `model ${modelName} has no usable deployment: ${reasons.join("; ") || "none configured"}`,
      );
    }
    return weightedPick(ok, deps.random);
  }

  /** Runs one call against the chosen deployment. */
  async function run(modelName: string, attempt: Attempt): Promise<RouteResult> {
    const deployment = pick(modelName);
    return { response: await attempt(deployment), deployment, retries: 0 };
  }

  return { pick, run, callable };
}

export type Router = ReturnType<typeof createRouter>;
