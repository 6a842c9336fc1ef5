/**
 * @module
 * The routing strategies by their LiteLLM names. A strategy only orders healthy candidates: the router has
 * already removed deployments that are cooling down, over their rpm/tpm, or already tried by this call.
 */
import type { Deployment, RouterConfig } from "../config/types.ts";
import { pickLatencyBased } from "./latency_based.ts";
import { pickLeastBusy } from "./least_busy.ts";
import { pickSimpleShuffle } from "./simple_shuffle.ts";
import type { PickContext } from "./pick.ts";
import { pickUsageBased } from "./usage_based.ts";

export type { PickContext };

/** Chooses one of `candidates` (never empty). */
export type Strategy = (candidates: readonly Deployment[], ctx: PickContext) => Deployment;

export const STRATEGIES: Record<RouterConfig["strategy"], Strategy> = {
  "simple-shuffle": pickSimpleShuffle,
  "least-busy": pickLeastBusy,
  "latency-based-routing": pickLatencyBased,
  "usage-based-routing": pickUsageBased,
};
