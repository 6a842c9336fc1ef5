/**
 * @module
 * Admission of a `/bedrock` call: who is calling, and whether they may start a call now — their virtual key's budget,
 * requests and tokens per minute and parallel requests, its per-model limits, its team's and user's, and the proxy's
 * own budget (`call_scopes.ts`). And the other end of the call: when its `CallRecord` reaches settlement
 * (`calls/settle.ts`), every scope is billed and the parallel slot released, exactly once.
 *
 * In two steps. `admit` (before the body is read): authentication, the cheap checks over the ledger's view of each
 * counter (newest KV snapshot plus this instance's own sums not in it) and the parallel slot. `hold` (once the
 * request is validated, before anything is sent): the call holds what it is expected to use (`pricing/hold_price.ts`)
 * against every budget, tokens and requests per minute of its scopes until it settles (`limits/holds.ts`), so calls
 * arriving together count each other — two keys of one team included —, on this instance and, through leases in KV,
 * on others; and calls that would need billing are refused while spend cannot be written (fail closed).
 *
 * The only KV write a call may wait for is a lease's growth when this instance's slice of a limit has no room left.
 * `max_parallel_requests` is enforced per instance.
 */
import { GatewayError } from "../core/errors.ts";
import { retryBusy } from "../kv/retry.ts";
import type { Logger } from "../core/log.ts";
import type { Holds, HoldTicket, Limit, Refusal, Used } from "../limits/holds.ts";
import type { CallRecord, RequestEstimate } from "../core/call_record.ts";
import { nanosToUsd, usdToNanos } from "../core/money.ts";
import type { HoldPricing } from "../pricing/hold_price.ts";
import type { Ledger, LedgerHealth, LedgerSum } from "../kv/ledger.ts";
import type { Authenticator, Principal } from "./auth.ts";
import { type CallScope, callScopes, type ProxyBudget, type ScopeKind, type SpendCounter } from "./call_scopes.ts";
import { softBudgetAlertKey, spendKey } from "./kv_layout.ts";
import { budgetWindow, type KeyRecord, minuteOf, secondsToNextMinute } from "./record.ts";

export interface AdmissionDeps {
  auth: Authenticator;
  kv: Deno.Kv;
  ledger: Ledger;
  /** Holds of calls in flight against limits, and this instance's leases of them. */
  holds: Holds;
  /** What a request is expected to cost and use, for its holds. */
  holdPricing: HoldPricing;
  now: () => number;
  log: Logger;
  /** `litellm_settings.max_budget` (and `budget_duration`): the proxy's own budget, over every call. */
  proxyBudget?: ProxyBudget;
  /**
   * A billed call took a scope's spend from below its `max_budget` to it or past it (as this instance sees it): the
   * one place budget crossings of keys, teams, users and the proxy are seen (alerts hook in here). Never awaited.
   */
  onBudgetReached?: (event: BudgetReached) => void;
  /**
   * A key's, team's or user's spend in its budget window is at or past a threshold — its key's `soft_budget`, 80% or
   * 100% of its `max_budget` — after a billed call (as this instance sees it): told once per threshold, window and
   * budget by this instance (alerts claim them across instances). Never awaited.
   */
  onBudgetThreshold?: (event: BudgetThreshold) => void;
}

/** A budget threshold reached (`AdmissionDeps.onBudgetThreshold`). */
export interface BudgetThreshold {
  scope: "key" | "team" | "user";
  /** The key's hash, or the team's or user's id. */
  id: string;
  /** The key's alias, or the team's or user's. */
  alias?: string;
  level: "soft_budget" | "80%" | "100%";
  spend: number;
  maxBudget?: number;
  softBudget?: number;
  /** Epoch ms the budget window started, and the one it resets (undefined: never). */
  windowStart: number;
  resetAt?: number;
}

/** A budget reached by a call (`AdmissionDeps.onBudgetReached`). */
export interface BudgetReached {
  scope: ScopeKind;
  /** The key's hash, the team's or user's id, `key hash:model` for a per-model budget, or `proxy`. */
  id: string;
  spentNanos: bigint;
  maxBudget: number;
  /** Epoch ms the budget resets (undefined: never). */
  resetAt?: number;
  requestId: string;
}

export interface Admission {
  /**
   * Authenticates the caller and checks the budgets and limits it is under (its key's, team's, user's, the proxy's)
   * and takes a parallel slot. Throws a 401, a 400 `ServiceQuotaExceededException` (budget) or a 429
   * `ThrottlingException`.
   */
  admit(headers: Headers, requestId: string): Promise<Principal>;
  /**
   * The validated call to `modelName` (a model group, or a pass-through call's label), before anything is sent:
   * refused (503) when it would need billing while spend cannot be written; else it holds what it is expected to use
   * against every limit of its scopes until it settles, or is refused (a 400 `ServiceQuotaExceededException` when a
   * budget is spent, a 429 when calls in flight hold what is left or a rate limit is reached, a 503 when the limits
   * cannot be read from KV).
   */
  hold(requestId: string, modelName: string, estimate: RequestEstimate): Promise<void>;
  /** The call failed before reaching accounting: frees its slot and holds, bills nothing. A no-op after `finished`. */
  release(requestId: string): void;
  /** The call's record reached settlement: bills every scope, counts tokens, settles its holds, frees its slot. */
  finished(record: CallRecord, costNanos: bigint): void;
  /** Upkeep of this instance's slices of limits now: renewed and re-based, or given back when idle. */
  maintain(): Promise<void>;
  /** Gives this instance's slices of limits back (shutdown). */
  close(): Promise<void>;
  /** Resolves once background work (soft-budget markers, old window clean-up) has finished. */
  idle(): Promise<void>;
  /**
   * A key was deleted (its counters with it): once its calls still in progress here have settled and their sums are
   * written, `clean` runs again, so a call that outlived its key leaves no counter behind. Nothing to do when none is.
   */
  keyDeleted(keyId: string, clean: () => Promise<void>): void;
  /**
   * The keys with a `max_budget` this instance has admitted calls for, with their current window's spend read
   * fresh from KV (plus this instance's unwritten sums): for `/metrics`. Off the request path.
   */
  budgets(): Promise<KeyBudget[]>;
  /**
   * The keys with an rpm or tpm limit (key-wide, or for the model) this instance has held calls for, per model, with
   * this minute's use as this instance sees it (the newest KV snapshot plus its own sums): for `/metrics`. No KV read.
   */
  rateLimits(): KeyRateLimit[];
}

/** A key's requests and tokens per minute for one model: its limit for the model, else its key-wide one. */
export interface KeyRateLimit {
  hash: string;
  alias?: string;
  /** The model group. */
  model: string;
  rpmLimit?: number;
  rpmUsed: number;
  tpmLimit?: number;
  tpmUsed: number;
}

export interface KeyBudget {
  hash: string;
  alias?: string;
  maxBudgetNanos: bigint;
  spentNanos: bigint;
}

/** Budgeted keys remembered for `budgets()`; beyond this the map starts over (it refills with the next calls). */
const MAX_TRACKED_BUDGETS = 10_000;
/**
 * While spend cannot be written to KV, billable calls are admitted only while fewer than this many answered calls
 * (plus billable calls in flight) wait to be billed: at most this many answered calls can be lost if the process
 * then stops before KV writes again (README, "Fail closed").
 */
export const MAX_UNWRITTEN_CALLS = 4;
/** Models whose scopes one principal keeps (`scopesOf`); past it they start over. */
const MAX_MEMO_MODELS = 64;

type Unit = "budget" | "tpm" | "rpm";
const RATE_UNITS = ["rpm", "tpm"] as const;

/** One limit a call holds: of which scope, in which unit. */
interface Held {
  scope: CallScope;
  unit: Unit;
}

/** A call between `admit` and its end. */
interface Admitted {
  /** Who is calling: their key (undefined for the master key or an open gateway), team and user. */
  principal: Principal;
  /** Counted against `MAX_UNWRITTEN_CALLS` while in flight. */
  billable: boolean;
  /** What the call was held as (its model group), once held. */
  model?: string;
  /** Its scopes as held: billed into at settlement while their budget windows still hold (`current`). */
  scopes?: CallScope[];
  ticket?: HoldTicket;
  limits?: Limit[];
  /** What each of `limits` limits. */
  held?: Held[];
}

/** Whether scopes built earlier still name the counters of `t`: every spend window they name still holds it. */
const current = (scopes: CallScope[], t: number) =>
  scopes.every(({ spend: s }) => s?.resetAt === undefined || (t >= s.windowStart && t < s.resetAt));

/** How a budget's refusal names it, after LiteLLM's `Budget has been exceeded!` messages. */
function budgetSubject(scope: CallScope): string {
  switch (scope.kind) {
    case "key":
      return "";
    case "team":
      return `Team=${scope.id.slice("team:".length)} `;
    case "user":
      return `User=${scope.id.slice("user:".length)} `;
    case "key_model":
      return `Model=${scope.id.slice(scope.id.lastIndexOf(":") + 1)} `;
    case "proxy":
      return "Proxy (litellm_settings.max_budget) ";
  }
}

/** Over budget: typed so SDKs do not retry (not a throttle), yet still a Bedrock exception they know. */
export function budgetExceeded(spentNanos: bigint, maxBudget: number, subject = ""): GatewayError {
  return new GatewayError(
    400,
    "ServiceQuotaExceededException",
    `Budget has been exceeded! ${subject}Current cost: ${nanosToUsd(spentNanos)}, Max budget: ${maxBudget}`,
    { litellmType: "budget_exceeded" },
  );
}

/** A 429; `reason` says which limit (`rpm`, `tpm`, `parallel`, `budget_held`). */
const throttled = (message: string, retryAfter: number, reason: string) =>
  new GatewayError(429, "ThrottlingException", message, { litellmType: "rate_limit_error", retryAfter, reason });

/** A rate limit's refusal: `Rate limit exceeded: this key allows 10 requests per minute`. */
function rateExceeded(scope: CallScope, unit: "tpm" | "rpm", perMinute: number, detail = ""): string {
  const what = unit === "tpm" ? "tokens" : "requests";
  return `Rate limit exceeded: ${scope.label} allows ${perMinute} ${what} per minute${detail}`;
}

/** Spend cannot be written: the call would go unbilled. Bedrock's wire format, so SDKs retry it later. */
function unwritable(h: Extract<LedgerHealth, { ok: false }>): GatewayError {
  return new GatewayError(
    503,
    "ServiceUnavailableException",
    `The gateway cannot record spend right now (KV writes failing since ${new Date(h.since).toISOString()}: ` +
      `${h.cause}); ${h.unwrittenCalls} answered calls wait to be billed, so calls that need billing are refused ` +
      "until spend can be written again",
    { litellmType: "service_unavailable", retryAfter: 5, reason: "spend_unwritable" },
  );
}

export function createAdmission(deps: AdmissionDeps): Admission {
  const { auth, kv, ledger, holds, holdPricing, now, log, proxyBudget } = deps;
  /** Calls admitted and not finished yet, by request id. */
  const admitted = new Map<string, Admitted>();
  /** Billable calls in flight (held and not yet finished), for the fail-closed bound. */
  let billableInFlight = 0;
  /** Calls in progress per key id (this instance). */
  const active = new Map<string, number>();
  /** Soft-budget windows this instance has already handled (`id:windowStart`). */
  const alerted = new Set<string>();
  /** Budget thresholds this instance has already told of (`scope:window:budget:level`). */
  const thresholdsTold = new Set<string>();
  /** Budget window each scope was last billed in here, to clean up older windows once per change. */
  const billedWindow = new Map<string, number>();
  const tasks = new Set<Promise<unknown>>();
  /** Keys with a budget admitted here, by id: their newest record. */
  const budgeted = new Map<string, KeyRecord>();
  /** Keys with a rate limit held here, by `key id, model`: their newest record. */
  const limited = new Map<string, { key: KeyRecord; model: string }>();
  /** Deleted keys with calls still in progress here, by id: their counters' clean-up, run once those settle. */
  const deletedKeys = new Map<string, () => Promise<void>>();
  /**
   * Each principal's scopes per model (`""`: before the model is known). A principal is one object per key record
   * and its owners' records (auth.ts: records are replaced, never changed), so its scopes only change when a budget
   * window turns: built then, not three times per call.
   */
  const scopeMemo = new WeakMap<Principal, Map<string, CallScope[]>>();

  function scopesOf(p: Principal, model: string | undefined, t: number): CallScope[] {
    let byModel = scopeMemo.get(p);
    if (!byModel) scopeMemo.set(p, byModel = new Map());
    const id = model === undefined ? "" : `m:${model}`;
    let scopes = byModel.get(id);
    if (!scopes || !current(scopes, t)) {
      if (byModel.size >= MAX_MEMO_MODELS) byModel.clear();
      byModel.set(id, scopes = callScopes(p, model, proxyBudget, t));
    }
    return scopes;
  }

  function background(task: Promise<unknown>, what: string) {
    const p = task.catch((e) => log.warn(`${what} failed`, { error: (e as Error).name, message: (e as Error).message }))
      .finally(() => tasks.delete(p));
    tasks.add(p);
  }

  /** The cheap checks at admission, over the ledger's view of each counter (the holds decide with fresh reads). */
  function check(p: Principal, t: number) {
    for (const scope of scopesOf(p, undefined, t)) {
      const spend = scope.spend;
      if (spend?.limitNanos !== undefined) {
        const spent = ledger.total(spend.counter);
        if (spent >= spend.limitNanos) throw budgetExceeded(spent, spend.maxBudget!, budgetSubject(scope));
      }
      if (scope.rpm || scope.tpm) {
        const minute = minuteOf(t);
        for (const unit of RATE_UNITS) {
          const r = scope[unit];
          if (r && ledger.total(r.counter, minute) >= r.limit) {
            throw throttled(rateExceeded(scope, unit, r.perMinute), secondsToNextMinute(t), unit);
          }
        }
      }
    }
    const r = p.key;
    if (r?.maxParallelRequests !== undefined && (active.get(r.id) ?? 0) >= r.maxParallelRequests) {
      throw throttled(
        `Max parallel request limit reached: this key allows ${r.maxParallelRequests} calls at a time`,
        1,
        "parallel",
      );
    }
  }

  /** Ends a call's admission: frees its parallel slot and its fail-closed count. */
  /** Once a deleted key's last call here has settled: its counters deleted again, after its sums are written. */
  function cleanDeleted(keyId: string) {
    const clean = active.has(keyId) ? undefined : deletedKeys.get(keyId);
    if (!clean) return;
    deletedKeys.delete(keyId);
    background(ledger.flush().then(clean), "clean-up of a deleted key's counters");
  }

  function release(requestId: string): Admitted | undefined {
    const a = admitted.get(requestId);
    if (!a) return undefined;
    admitted.delete(requestId);
    if (a.billable) billableInFlight--;
    const r = a.principal.key;
    if (r) {
      const n = (active.get(r.id) ?? 1) - 1;
      if (n > 0) active.set(r.id, n);
      else active.delete(r.id);
    }
    return a;
  }

  /** The limits a call is held against, with its expected cost and tokens. */
  function limitsOf(scopes: CallScope[], t: number, nanos: bigint, tokens: number) {
    const limits: Limit[] = [], held: Held[] = [];
    const minute = minuteOf(t);
    for (const scope of scopes) {
      const spend = scope.spend;
      if (spend?.limitNanos !== undefined && nanos > 0n) {
        limits.push({ scope: `${scope.id}:budget`, counter: spend.counter, limit: spend.limitNanos, hold: nanos });
        held.push({ scope, unit: "budget" });
      }
      if (scope.tpm && tokens > 0) {
        const { counter, limit } = scope.tpm;
        limits.push({ scope: `${scope.id}:tpm`, counter, window: minute, limit, hold: BigInt(tokens) });
        held.push({ scope, unit: "tpm" });
      }
      if (scope.rpm) {
        const { counter, limit } = scope.rpm;
        limits.push({ scope: `${scope.id}:rpm`, counter, window: minute, limit, hold: 1n });
        held.push({ scope, unit: "rpm" });
      }
    }
    return { limits, held };
  }

  /** A refused hold as the client sees it. */
  function refusal(h: Held, limit: Limit, refused: Refusal, t: number): GatewayError {
    if (refused.reason === "unavailable") {
      return new GatewayError(
        503,
        "ServiceUnavailableException",
        `The key's limits cannot be checked right now (KV: ${refused.cause ?? "unavailable"})`,
        { litellmType: "service_unavailable", retryAfter: 1, reason: "limits_unavailable" },
      );
    }
    const { scope, unit } = h;
    const inFlight = `calls in flight hold ${refused.held} more`;
    if (unit === "budget") {
      const spend = scope.spend!;
      if (refused.settled >= limit.limit) {
        return budgetExceeded(refused.settled, spend.maxBudget!, budgetSubject(scope));
      }
      return throttled(
        `Budget held by calls in flight: ${scope.label} has spent ${nanosToUsd(refused.settled)} and calls in ` +
          `flight hold ${nanosToUsd(refused.held)} of its max budget ${spend.maxBudget}; retry when they finish`,
        1,
        "budget_held",
      );
    }
    const r = scope[unit]!;
    const done = unit === "tpm" ? "used" : "made";
    return throttled(
      rateExceeded(scope, unit, r.perMinute, ` (${refused.settled} ${done}, ${inFlight})`),
      secondsToNextMinute(t),
      unit,
    );
  }

  /** Logs a soft-budget crossing once per window, across instances (a KV marker decides who logs). */
  function softBudget(r: KeyRecord, t: number) {
    if (r.softBudget === undefined) return;
    const window = budgetWindow(r, t);
    const spent = ledger.total(spendKey(r.id, window.start));
    const mark = `${r.id}:${window.start}`;
    if (spent < usdToNanos(r.softBudget) || alerted.has(mark)) return;
    if (alerted.size > 10_000) alerted.clear();
    alerted.add(mark);
    const key = softBudgetAlertKey(r.id, window.start);
    const expireIn = window.resetAt === undefined ? undefined : window.resetAt - t + 86_400_000;
    background(
      retryBusy(() => kv.atomic().check({ key, versionstamp: null }).set(key, t, { expireIn }).commit()).then((res) => {
        if (!res.ok) return; // another instance logged this window's crossing
        log.warn("soft budget crossed", {
          keyHash: r.hash,
          keyAlias: r.alias,
          userId: r.userId,
          teamId: r.teamId,
          spend: nanosToUsd(spent),
          softBudget: r.softBudget,
          maxBudget: r.maxBudget,
          budgetResetAt: window.resetAt === undefined ? undefined : new Date(window.resetAt).toISOString(),
        });
      }),
      "soft budget marker",
    );
  }

  /** Deletes a scope's spend counters of windows before the previous one; they can no longer receive sums. */
  function cleanOldWindows(scopeId: string, spend: SpendCounter) {
    const clean = spend.clean;
    if (!clean || billedWindow.get(scopeId) === spend.windowStart) return;
    if (billedWindow.size > 10_000) billedWindow.clear();
    billedWindow.set(scopeId, spend.windowStart);
    background(
      (async () => {
        // Sums this instance still holds for those windows are written first, so none lands after the delete.
        await ledger.flush();
        const keys: Deno.KvKey[] = [];
        await retryBusy(async () => {
          keys.length = 0;
          for await (const old of kv.list({ prefix: clean.prefix, end: clean.keepFrom })) keys.push(old.key);
        });
        for (let i = 0; i < keys.length; i += 500) {
          await retryBusy(() => {
            const op = kv.atomic();
            for (const key of keys.slice(i, i + 500)) op.delete(key);
            return op.commit();
          });
        }
      })(),
      "old budget window clean-up",
    );
  }

  /** Tells `onBudgetThreshold` of each key, team and user budget threshold the spend is now at or past. */
  function thresholds(scopes: CallScope[], p: Principal) {
    const notify = deps.onBudgetThreshold;
    if (!notify) return;
    for (const scope of scopes) {
      const kind = scope.kind;
      if (kind !== "key" && kind !== "team" && kind !== "user") continue;
      const spend = scope.spend;
      const soft = kind === "key" ? p.key?.softBudget : undefined;
      if (!spend || (spend.limitNanos === undefined && soft === undefined)) continue;
      const total = ledger.total(spend.counter);
      const levels: BudgetThreshold["level"][] = [];
      if (soft !== undefined && total >= usdToNanos(soft)) levels.push("soft_budget");
      if (spend.limitNanos !== undefined && total * 5n >= spend.limitNanos * 4n) levels.push("80%");
      if (spend.limitNanos !== undefined && total >= spend.limitNanos) levels.push("100%");
      for (const level of levels) {
        const mark = `${scope.id}:${spend.windowStart}:${spend.maxBudget}:${soft}:${level}`;
        if (thresholdsTold.has(mark)) continue;
        if (thresholdsTold.size > 10_000) thresholdsTold.clear();
        thresholdsTold.add(mark);
        const owner = kind === "key" ? p.key : kind === "team" ? p.team : p.user;
        try {
          notify({
            scope: kind,
            id: kind === "key" ? p.key!.hash : scope.id.slice(kind.length + 1),
            alias: owner?.alias,
            level,
            spend: nanosToUsd(total),
            maxBudget: spend.maxBudget,
            softBudget: soft,
            windowStart: spend.windowStart,
            resetAt: spend.resetAt,
          });
        } catch (e) {
          log.warn("budget threshold: the listener failed", { error: (e as Error).name });
        }
      }
    }
  }

  /** Tells `onBudgetReached` of every budget this call's cost took to its limit or past it. */
  function reached(scopes: CallScope[], costNanos: bigint, p: Principal, requestId: string) {
    const notify = deps.onBudgetReached;
    for (const scope of scopes) {
      const spend = scope.spend;
      if (spend?.limitNanos === undefined) continue;
      const total = ledger.total(spend.counter);
      if (total < spend.limitNanos || total - costNanos >= spend.limitNanos) continue;
      const id = scope.kind === "key"
        ? p.key!.hash
        : scope.kind === "key_model"
        ? `${p.key!.hash}:${scope.id.slice(scope.id.lastIndexOf(":") + 1)}`
        : scope.kind === "proxy"
        ? "proxy"
        : scope.id.slice(scope.kind.length + 1);
      const event: BudgetReached = {
        scope: scope.kind,
        id,
        spentNanos: total,
        maxBudget: spend.maxBudget!,
        resetAt: spend.resetAt,
        requestId,
      };
      log.info("budget reached", {
        scope: event.scope,
        id: event.id,
        spend: nanosToUsd(total),
        maxBudget: event.maxBudget,
        budgetResetAt: spend.resetAt === undefined ? undefined : new Date(spend.resetAt).toISOString(),
        requestId,
      });
      try {
        notify?.(event);
      } catch (e) {
        log.warn("budget reached: the listener failed", { error: (e as Error).name, message: (e as Error).message });
      }
    }
  }

  return {
    async admit(headers, requestId) {
      const principal = await auth.authenticate(headers);
      const r = principal.key;
      try {
        check(principal, now());
      } catch (e) {
        // Whose call was refused, for the refusal's log line (alias and hash, never the key).
        if (e instanceof GatewayError) e.caller = principal.caller;
        throw e;
      }
      if (r?.maxBudget !== undefined) {
        if (budgeted.size >= MAX_TRACKED_BUDGETS && !budgeted.has(r.id)) budgeted.clear();
        budgeted.set(r.id, r);
      }
      admitted.set(requestId, { principal, billable: false });
      if (r) active.set(r.id, (active.get(r.id) ?? 0) + 1);
      return principal;
    },

    async hold(requestId, modelName, estimate) {
      const a = admitted.get(requestId);
      if (!a) return;
      if (estimate.billable) {
        const health = ledger.health();
        if (!health.ok && health.unwrittenCalls + billableInFlight >= MAX_UNWRITTEN_CALLS) throw unwritable(health);
        a.billable = true;
        billableInFlight++;
      }
      a.model = modelName;
      const t = now();
      const scopes = a.scopes = scopesOf(a.principal, modelName, t);
      if (!scopes.length) return;
      const expected = holdPricing(modelName, estimate);
      const { limits, held } = limitsOf(scopes, t, expected.nanos, expected.tokens);
      if (!limits.length) return;
      const key = a.principal.key;
      if (key && held.some((h) => h.unit !== "budget" && (h.scope.kind === "key" || h.scope.kind === "key_model"))) {
        const id = `${key.id}\u0001${modelName}`;
        if (limited.size >= MAX_TRACKED_BUDGETS && !limited.has(id)) limited.clear();
        limited.set(id, { key, model: modelName });
      }
      const placing = holds.place(limits);
      const placed = placing instanceof Promise ? await placing : placing;
      if ("refused" in placed) {
        const err = refusal(held[placed.index], limits[placed.index], placed, t);
        err.caller = a.principal.caller;
        throw err;
      }
      if (admitted.get(requestId) !== a) {
        placed.release(); // the call ended while its holds were being placed
        return;
      }
      a.ticket = placed;
      a.limits = limits;
      a.held = held;
      // A request is a request once admitted: counted now, in the minute it started.
      let rpm: Array<Used | undefined> | undefined;
      held.forEach((h, i) => {
        if (h.unit !== "rpm") return;
        const used: Used = { counter: limits[i].counter, window: limits[i].window, amount: 1n };
        ledger.add([{ key: used.counter, amount: 1n, window: used.window }]);
        (rpm ??= new Array(limits.length))[i] = used;
      });
      if (rpm) placed.settle(rpm);
    },

    release(requestId) {
      const a = release(requestId);
      a?.ticket?.release();
      if (a?.principal.key) cleanDeleted(a.principal.key.id);
    },

    finished(record, costNanos) {
      const a = release(record.requestId);
      if (!a) return;
      const p = a.principal;
      const t = now();
      // The scopes it was held under, unless a budget window has turned since (then the new window is billed).
      const scopes = a.scopes && current(a.scopes, t) ? a.scopes : scopesOf(p, a.model ?? record.modelName, t);
      const sums: LedgerSum[] = [];
      /** What the call used of each scope, by `scope id:unit`. */
      const used = new Map<string, Used>();
      const tokens = record.usage ? BigInt(record.usage.totalTokens) : 0n;
      for (const scope of scopes) {
        const spend = scope.spend;
        // Spend is kept for the key, its team and user always; per-model and proxy spend while a budget needs it.
        const tracked = spend && (spend.limitNanos !== undefined || scope.kind === "key" || scope.kind === "team" ||
          scope.kind === "user");
        if (spend && tracked && costNanos > 0n) {
          used.set(`${scope.id}:budget`, { counter: spend.counter, amount: costNanos });
          sums.push({ key: spend.counter, amount: costNanos });
          cleanOldWindows(scope.id, spend);
        }
        if (scope.tpm && record.usage) {
          const u: Used = { counter: scope.tpm.counter, amount: tokens, window: minuteOf(t) };
          used.set(`${scope.id}:tpm`, u);
          sums.push({ key: u.counter, amount: u.amount, window: u.window });
        }
      }
      ledger.add(sums);
      if (p.key) cleanDeleted(p.key.id);
      if (a.ticket) {
        // Each hold is replaced by what was used (nothing, for a call that failed); rpm was settled at admission.
        a.ticket.settle(
          a.held!.map((h, i) =>
            h.unit === "rpm" ? undefined : used.get(`${h.scope.id}:${h.unit}`) ?? { ...a.limits![i], amount: 0n }
          ),
        );
        a.ticket.release();
      }
      if (costNanos > 0n) {
        if (p.key) softBudget(p.key, t);
        reached(scopes, costNanos, p, record.requestId);
        thresholds(scopes, p);
      }
    },

    maintain: () => holds.maintain(),
    close: () => holds.close(),

    async idle() {
      while (tasks.size) await Promise.all([...tasks]);
    },

    rateLimits() {
      const t = now();
      const minute = minuteOf(t);
      const out: KeyRateLimit[] = [];
      for (const { key, model } of limited.values()) {
        const scopes = callScopes({ key }, model, undefined, t);
        // The key's limit for the model when it has one, else its key-wide one.
        const pick = (unit: "rpm" | "tpm") => (scopes.find((s) => s.kind === "key_model")?.[unit] ?? scopes[0]?.[unit]);
        const rpm = pick("rpm"), tpm = pick("tpm");
        out.push({
          hash: key.hash,
          alias: key.alias,
          model,
          rpmLimit: rpm?.perMinute,
          rpmUsed: rpm ? Number(ledger.total(rpm.counter, minute)) : 0,
          tpmLimit: tpm?.perMinute,
          tpmUsed: tpm ? Number(ledger.total(tpm.counter, minute)) : 0,
        });
      }
      return out;
    },

    keyDeleted(keyId, clean) {
      if (active.has(keyId)) deletedKeys.set(keyId, clean);
    },

    async budgets() {
      const t = now();
      const records = [...budgeted.values()];
      const keys = records.map((r) => spendKey(r.id, budgetWindow(r, t).start));
      for (let i = 0; i < keys.length; i += 9) {
        // getMany reads at most 10 keys: nine counters and the ledger's watermark.
        const chunk = keys.slice(i, i + 9);
        const got = await retryBusy(() => kv.getMany([...chunk, ledger.watermarkKey]));
        ledger.observe(chunk.map((key, j) => ({ key, entry: got[j] })), got.at(-1)!);
      }
      return records.map((r, i) => ({
        hash: r.hash,
        alias: r.alias,
        maxBudgetNanos: usdToNanos(r.maxBudget!),
        spentNanos: ledger.total(keys[i]),
      }));
    },
  };
}
