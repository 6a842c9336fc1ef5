/**
 * @module
 * `usage-based-routing`: the deployment that used the fewest tokens this minute (across instances, as far as
 * the last KV reading knows). Deployments at their rpm/tpm are already filtered out by the router.
 */
import type { Deployment } from "../config/types.ts";
import { lowest, type PickContext } from "./pick.ts";

export const pickUsageBased = (candidates: readonly Deployment[], ctx: PickContext): Deployment =>
  lowest(candidates, (d) => ctx.state.usage(d).tokens, ctx.random);
