/**
 * @module
 * `least-busy`: the deployment with the fewest calls in flight from this instance (ties broken at random,
 * so an idle group still spreads its load).
 */
import type { Deployment } from "../config/types.ts";
import { lowest, type PickContext } from "./pick.ts";

export const pickLeastBusy = (candidates: readonly Deployment[], ctx: PickContext): Deployment =>
  lowest(candidates, (d) => ctx.state.get(d.id).inFlight, ctx.random);
