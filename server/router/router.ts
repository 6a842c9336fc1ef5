/**
 * @module
 * Deployment choice, retries, cooldowns and fallbacks for a model group.
 *
 * Callers hand `run` an `attempt` function that sends to one deployment and resolves with the upstream response
 * (any status) or throws a `GatewayError`; the router decides where each attempt goes and whether another one
 * is worth making:
 *
 * - each group gets `1 + num_retries` attempts; a retry goes at once to an untried healthy deployment when the
 *   group has one, else waits (Retry-After, else exponential backoff, never less than `retry_after`);
 * - deployments cooling down or at their rpm/tpm are skipped; when all are cooling down, the one whose cooldown
 *   ends first is tried rather than failing;
 * - when a group is exhausted, the fallback groups are tried in order (`"*"` is the catch-all);
 * - a failed attempt's response body is cancelled before the next attempt; only the final one is returned, so
 *   the client gets the last upstream error exactly as Bedrock sent it.
 *
 * Streams are retried only until their response head arrives: `run` returns before any byte reaches the client,
 * and nothing is retried after it returns.
 */
import type { CredentialStatus } from "../aws/mod.ts";
import type { Deployment, GatewayConfig } from "../config/types.ts";
import { GatewayError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { systemTimers, type Timers } from "../core/timers.ts";
import { backoffMs, type FailureVerdict, judgeError, judgeResponse, MAX_BACKOFF_MS } from "./retry_policy.ts";
import { createPeerLink, type RouterPeers } from "./peers.ts";
import { createDeploymentState, type DeploymentStats, type FailureInfo } from "./state.ts";
import { STRATEGIES } from "./strategy.ts";
import { createUsageSync } from "./usage_sync.ts";

export { weightedPick } from "./simple_shuffle.ts";

/** LiteLLM allows at most this many fallback groups per model. */
const MAX_FALLBACKS = 5;

export interface RouterDeps {
  config: GatewayConfig;
  /** Uniform in [0, 1); injected so tests are deterministic. */
  random: () => number;
  now: () => number;
  /** Waits before a retry; rejects with the signal's reason when it aborts. Injected so tests never wait. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** KV shared by all instances: per-minute usage is exchanged through it so rpm/tpm caps hold across them. */
  kv?: Deno.Kv;
  /** This instance's name in the shared usage keys. */
  instanceId?: string;
  usageSyncIntervalMs?: number;
  log?: Logger;
  /**
   * Why a deployment cannot be called now although its config is fine (its AWS credentials are unavailable or
   * expired), else undefined. Such deployments are skipped like config-unavailable ones.
   */
  unavailable?: (d: Deployment) => string | undefined;
  /** A SigV4 deployment's credential source as `/health` and `/model/info` may show it (kind and state only). */
  credentialStatus?: (d: Deployment) => CredentialStatus | undefined;
  /** The other workers of this process: failures and calls in flight are shared with them (`peers.ts`). */
  peers?: RouterPeers;
  /** Timers of the news to peers (tests move them by hand). */
  timers?: Timers;
  /** Told when deployments go down (metrics, alerts); called synchronously, must not throw or wait. */
  events?: RouterEvents;
}

/** What the router tells about deployments going down. */
export interface RouterEvents {
  /** A deployment starts cooling down (`allowed_fails` failures within a minute, or an upstream 429 Retry-After). */
  cooledDown?(e: CooldownEvent): void;
  /** A cooldown left every deployment of a model group cooling down or unavailable. */
  groupDown?(e: { modelName: string; until: number }): void;
}

export interface CooldownEvent {
  deployment: Deployment;
  /** The failure that started it: its HTTP status and Bedrock exception name. */
  status: number;
  errorType: string;
  /** Epoch ms the cooldown ends. */
  until: number;
}

export interface RouteResult {
  /** The successful response, or the last upstream error response when everything failed. */
  response: Response;
  deployment: Deployment;
  /** Attempts made beyond the first. */
  retries: number;
  /**
   * Call once the response has been fully relayed (or given up): frees the deployment's in-flight slot and
   * counts the call's tokens toward its tpm. Idempotent.
   */
  release(tokens?: number): void;
}

export interface RunOptions {
  /** A converse-stream call (latency-based routing then compares time to first byte). */
  stream?: boolean;
  /** The client's signal: no new attempt or wait starts after it aborts. */
  signal?: AbortSignal;
  /** Fallback groups outside this list are skipped (a key's `models`). */
  allowedModels?: readonly string[];
  /** Fallback groups this says no to are skipped too (a key's `allowed_routes`). */
  mayFallBackTo?: (modelName: string) => boolean;
}

export type Attempt = (deployment: Deployment) => Promise<Response>;

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts (its timer cleared). */
export function abortableSleep(ms: number, signal?: AbortSignal, timers: Timers = systemTimers): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      timers.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = timers.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

const clientGone = () =>
  new GatewayError(499, "ClientDisconnected", "client disconnected", { litellmType: "client_disconnected" });

/** What one failed attempt left behind. */
interface Failure {
  deployment: Deployment;
  verdict: FailureVerdict;
  /** The upstream's error response (body unread), or undefined when the attempt threw `error`. */
  response?: Response;
  error?: unknown;
}

type Outcome =
  | { kind: "ok"; response: Response; release: (tokens?: number) => void }
  | { kind: "failed"; failure: Failure }
  | { kind: "fatal"; error: unknown };

/** A deployment's state for `/health`. */
export interface DeploymentHealth {
  deployment: Deployment;
  /** Why it cannot be called (its config, or its credentials now); undefined when it can. */
  unavailableReason?: string;
  /** Its AWS credential source (SigV4 deployments): kind and state, never a value. */
  credentials?: CredentialStatus;
  coolingDown: boolean;
  overCap: boolean;
  failuresLastMinute: number;
  stats: Readonly<DeploymentStats>;
}

export function createRouter(deps: RouterDeps) {
  const { config, random, now } = deps;
  const settings = config.router;
  const sleep = deps.sleep ?? abortableSleep;
  const strategy = STRATEGIES[settings.strategy];
  const state = createDeploymentState({ now, allowedFails: settings.allowedFails, cooldownMs: settings.cooldownMs });
  const byId = new Map(config.deployments.map((d) => [d.id, d]));
  const link = deps.peers
    ? createPeerLink({ peers: deps.peers, state, deployment: (id) => byId.get(id), timers: deps.timers })
    : undefined;
  const begin = (d: Deployment) => {
    state.begin(d);
    link?.inFlightChanged(d);
  };
  const end = (d: Deployment, tokens?: number) => {
    state.end(d, tokens);
    link?.inFlightChanged(d);
  };
  /** Counts a deployment's failure; tells `events` when it starts a cooldown, and when its whole group is down. */
  const fail = (d: Deployment, f: FailureInfo) => {
    const was = state.isCoolingDown(d);
    state.recordFailure(d, f);
    link?.failed(d, f);
    if (was || !deps.events || !state.isCoolingDown(d)) return;
    const until = state.get(d.id).cooldownUntil;
    deps.events.cooledDown?.({ deployment: d, status: f.status, errorType: f.type, until });
    const group = config.byModelName.get(d.modelName) ?? [];
    if (group.every((g) => state.isCoolingDown(g) || unavailableReason(g) !== undefined)) {
      const cooling = group.filter((g) => state.isCoolingDown(g)).map((g) => state.get(g.id).cooldownUntil);
      deps.events.groupDown?.({ modelName: d.modelName, until: Math.min(...cooling) });
    }
  };

  // Fallback chains resolved once: known groups only, no repeats, at most MAX_FALLBACKS.
  const chains = new Map<string, string[]>();
  for (const name of config.byModelName.keys()) {
    const chain: string[] = [];
    for (const g of settings.fallbacks.get(name) ?? settings.fallbacks.get("*") ?? []) {
      if (g !== name && config.byModelName.has(g) && !chain.includes(g) && chain.length < MAX_FALLBACKS) chain.push(g);
    }
    chains.set(name, chain);
  }

  const shared = config.deployments.filter((d) =>
    d.rpm !== undefined || d.tpm !== undefined || settings.strategy === "usage-based-routing"
  );
  const usageSync = deps.kv
    ? createUsageSync({
      kv: deps.kv,
      state,
      now,
      deploymentIds: shared.map((d) => d.id),
      instanceId: deps.instanceId ?? crypto.randomUUID(),
      intervalMs: deps.usageSyncIntervalMs,
      log: deps.log,
    })
    : undefined;
  usageSync?.start();

  /** Why a deployment cannot be called: its config, else (checked per call) its credentials; undefined if it can. */
  const unavailableReason = (d: Deployment) => d.auth.kind === "unavailable" ? d.auth.reason : deps.unavailable?.(d);

  /** The deployments that can be called for a model group (unavailable ones are never picked). */
  function callable(modelName: string): Deployment[] {
    return (config.byModelName.get(modelName) ?? []).filter((d) => unavailableReason(d) === undefined);
  }

  /**
   * The deployment for the next attempt, and whether it is a fresh healthy one (retry at once) or a repeat
   * or a cooling-down one (back off first). Throws a typed error when the group cannot be called at all.
   */
  function choose(modelName: string, tried: ReadonlySet<string>, stream: boolean) {
    const all = config.byModelName.get(modelName) ?? [];
    // Most groups have one deployment: when it can take the call, it is the answer (every strategy picks the only
    // candidate), without the candidate lists below.
    if (all.length === 1) {
      const d = all[0];
      if (unavailableReason(d) === undefined && !state.overCap(d) && !state.isCoolingDown(d)) {
        return { deployment: d, fresh: !tried.has(d.id) };
      }
    }
    const ok = callable(modelName);
    if (ok.length === 0) {
      const reasons = all.map((d) => unavailableReason(d) ?? "").filter(Boolean);
      throw new GatewayError(
        503,
        "ServiceUnavailableException",
        `model ${modelName} has no usable deployment: ${reasons.join("; ") || "none configured"}`,
      );
    }
    const underCap = ok.filter((d) => !state.overCap(d));
    if (underCap.length === 0) {
      const secondsLeft = Math.max(1, Math.ceil((60_000 - (now() % 60_000)) / 1000));
      throw new GatewayError(
        429,
        "ThrottlingException",
        `model ${modelName}: every deployment is at its rpm/tpm limit for this minute`,
        { litellmType: "rate_limit_error", retryAfter: secondsLeft },
      );
    }
    const ctx = { state, random, stream };
    const healthy = underCap.filter((d) => !state.isCoolingDown(d));
    const fresh = healthy.filter((d) => !tried.has(d.id));
    if (fresh.length) return { deployment: strategy(fresh, ctx), fresh: true };
    if (healthy.length) return { deployment: strategy(healthy, ctx), fresh: false };
    // Everything is cooling down: try the one that recovers first (preferring one this call has not tried).
    const untried = underCap.filter((d) => !tried.has(d.id));
    const pool = untried.length ? untried : underCap;
    const soonest = pool.reduce((a, b) => state.get(b.id).cooldownUntil < state.get(a.id).cooldownUntil ? b : a);
    return { deployment: soonest, fresh: false };
  }

  /** One attempt on one deployment, with its bookkeeping. */
  async function tryOnce(d: Deployment, attempt: Attempt, stream: boolean): Promise<Outcome> {
    begin(d);
    const started = now();
    let response: Response;
    try {
      response = await attempt(d);
    } catch (error) {
      end(d);
      const verdict = judgeError(error);
      if (!verdict) return { kind: "fatal", error };
      // A timeout is the slowest answer there is: let latency-based routing know.
      if (verdict.status === 504) state.recordLatency(d, now() - started, stream);
      if (verdict.deploymentFault) fail(d, verdict);
      return { kind: "failed", failure: { deployment: d, verdict, error } };
    }
    if (response.ok) {
      state.recordLatency(d, now() - started, stream);
      let released = false;
      const release = (tokens?: number) => {
        if (released) return;
        released = true;
        end(d, tokens);
      };
      return { kind: "ok", response, release };
    }
    end(d);
    const verdict = judgeResponse(response, now());
    if (verdict.deploymentFault) fail(d, verdict);
    return { kind: "failed", failure: { deployment: d, verdict, response } };
  }

  /** A failed attempt's response is not going to the client: free its connection. */
  const discard = (f: Failure | undefined) => {
    if (f?.response && !f.response.bodyUsed) f.response.body?.cancel().catch(() => {});
    if (f) f.response = undefined;
  };

  /** Runs one call: picks deployments, retries, falls back; see the module comment. */
  async function run(modelName: string, attempt: Attempt, opts: RunOptions = {}): Promise<RouteResult> {
    const stream = opts.stream ?? false;
    const allowed = opts.allowedModels;
    const mayUse = opts.mayFallBackTo;
    const chain = chains.get(modelName);
    const groups = chain?.length
      ? [modelName, ...chain.filter((g) => (!allowed || allowed.includes(g)) && (!mayUse || mayUse(g)))]
      : [modelName];
    let attempts = 0;
    let lastUpstream: Failure | undefined;
    let lastRouting: unknown;

    groups: for (const group of groups) {
      const tried = new Set<string>();
      let backoffStep = 0;
      for (let n = 0; n <= settings.numRetries; n++) {
        if (opts.signal?.aborted) {
          discard(lastUpstream);
          throw clientGone();
        }
        let choice;
        try {
          choice = choose(group, tried, stream);
        } catch (e) {
          lastRouting = e;
          break;
        }
        if (n > 0 && !choice.fresh) {
          const wait = backoffMs(backoffStep++, settings.retryAfterMs, lastUpstream?.verdict.retryAfterMs);
          // Longer than a client should be kept waiting: give up on this group (its error carries Retry-After).
          if (wait > MAX_BACKOFF_MS) break;
          discard(lastUpstream);
          try {
            await sleep(wait, opts.signal);
          } catch {
            throw clientGone();
          }
        }
        discard(lastUpstream);
        attempts++;
        tried.add(choice.deployment.id);
        const outcome = await tryOnce(choice.deployment, attempt, stream);
        if (outcome.kind === "ok") {
          const { response, release } = outcome;
          return { response, deployment: choice.deployment, retries: attempts - 1, release };
        }
        if (outcome.kind === "fatal") throw outcome.error;
        lastUpstream = outcome.failure;
        if (!lastUpstream.verdict.retryable) break groups;
      }
    }

    // Everything failed: the last upstream error (as Bedrock sent it) beats the router's own reasons.
    const retries = Math.max(0, attempts - 1);
    if (lastUpstream?.response) {
      return { response: lastUpstream.response, deployment: lastUpstream.deployment, retries, release: () => {} };
    }
    throw lastUpstream?.error ?? lastRouting ??
      new GatewayError(503, "ServiceUnavailableException", `model ${modelName} could not be called`);
  }

  /** Picks the deployment a fresh call would start on (no side effects beyond the random draw). */
  function pick(modelName: string): Deployment {
    return choose(modelName, new Set(), false).deployment;
  }

  /** Every configured deployment's state, for `/health` (calls nothing). */
  function health(): DeploymentHealth[] {
    return config.deployments.map((d) => ({
      deployment: d,
      unavailableReason: unavailableReason(d),
      credentials: deps.credentialStatus?.(d),
      coolingDown: state.isCoolingDown(d),
      overCap: state.overCap(d),
      failuresLastMinute: state.failuresLastMinute(d),
      stats: state.get(d.id),
    }));
  }

  return {
    run,
    pick,
    callable,
    health,
    /** The live per-deployment state (tests and `/health` read it). */
    state,
    /** Publishes and reads the shared usage counters now (the periodic round does the same). */
    syncUsage: () => usageSync?.sync() ?? Promise.resolve(),
    /** Stops the background usage sync after publishing the last counts (and tells peers what waits). */
    close: () => {
      link?.close();
      return usageSync?.close() ?? Promise.resolve();
    },
  };
}

export type Router = ReturnType<typeof createRouter>;
