/**
 * @module
 * `least-busy`: the deployment with the fewest calls in flight from this instance and its peers (the other workers
 * of one process; ties broken at random, so an idle group still spreads its load).
 */
import type { Deployment } from "../config/types.ts";
import { lowest, type PickContext } from "./pick.ts";

export const pickLeastBusy = (candidates: readonly Deployment[], ctx: PickContext): Deployment =>
  lowest(candidates, (d) => {
    const s = ctx.state.get(d.id);
    return s.inFlight + s.peerInFlight;
  }, ctx.random);
