/**
 * @module
 * Router state shared with peers: the other workers of one `--workers N` process. Each router tells its peers of
 * its deployments' failures — so a deployment failing in one worker cools down in all of them, and `allowed_fails`
 * counts the whole process's failures — and of its calls in flight, so `least-busy` weighs the whole process.
 *
 * How the news travels is the caller's ({@link RouterPeers}); the CLI relays it through the main isolate over the
 * workers' message ports, which deliver every message in order (Deno's `BroadcastChannel` drops messages when a
 * receiver lags behind). Failures are told at once (they are rare and each one counts); calls in flight are told
 * as absolute counts, coalesced to one message per deployment per {@link IN_FLIGHT_NEWS_MS}, so a busy router
 * sends a few messages per window rather than two per call.
 *
 * Not shared: per-minute rpm/tpm (they cross workers through KV, as between instances: `usage_sync.ts`) and the
 * latency averages (each worker measures its own calls, which are a random sample of the same traffic).
 */
import type { Deployment } from "../config/types.ts";
import { systemTimers, type Timers } from "../core/timers.ts";
import type { DeploymentState, FailureInfo } from "./state.ts";

/** What a router tells its peers (`gone`: the peer stopped or crashed; what it said of its calls no longer holds). */
export type RouterNews =
  | { kind: "failure"; deployment: string; status: number; type: string; retryAfterMs?: number }
  | { kind: "in_flight"; deployment: string; count: number }
  | { kind: "gone" };

/** The way to a router's peers: reliable and in order. */
export interface RouterPeers {
  /** Tells every other peer. */
  send(news: RouterNews): void;
  /** Registers the router's listener for its peers' news (`from`: the sender's name, stable while it runs). */
  listen(hear: (from: string, news: RouterNews) => void): void;
}

/** How long calls-in-flight changes wait to be told together. */
export const IN_FLIGHT_NEWS_MS = 20;

export interface PeerLinkDeps {
  peers: RouterPeers;
  state: DeploymentState;
  /** The configured deployment of an id (news about unknown ids, from a peer with another config, is ignored). */
  deployment: (id: string) => Deployment | undefined;
  timers?: Timers;
}

/** Connects a router's state to its peers: what it must tell, and what it hears applied to its state. */
export function createPeerLink(deps: PeerLinkDeps) {
  const { peers, state } = deps;
  const timers = deps.timers ?? systemTimers;
  const changed = new Set<string>();
  let timer: unknown;

  const tellInFlight = () => {
    timer = undefined;
    for (const id of changed) peers.send({ kind: "in_flight", deployment: id, count: state.get(id).inFlight });
    changed.clear();
  };

  peers.listen((from, news) => {
    if (news.kind === "gone") return state.forgetPeer(from);
    const d = deps.deployment(news.deployment);
    if (!d) return;
    if (news.kind === "failure") {
      state.recordFailure(d, { status: news.status, type: news.type, retryAfterMs: news.retryAfterMs }, true);
    } else {
      state.setPeerInFlight(d.id, from, news.count);
    }
  });

  return {
    /** This router counted a failure against `d`. */
    failed(d: Deployment, f: FailureInfo): void {
      peers.send({ kind: "failure", deployment: d.id, status: f.status, type: f.type, retryAfterMs: f.retryAfterMs });
    },
    /** This router's calls in flight on `d` changed. */
    inFlightChanged(d: Deployment): void {
      changed.add(d.id);
      timer ??= timers.setTimeout(tellInFlight, IN_FLIGHT_NEWS_MS);
    },
    /** Tells what is still waiting, now, and stops the timer. */
    close(): void {
      if (timer !== undefined) timers.clearTimeout(timer);
      tellInFlight();
    },
  };
}

export type PeerLink = ReturnType<typeof createPeerLink>;
