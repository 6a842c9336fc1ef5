/**
 * @module
 * Admission of a `/bedrock` call: who is calling, and whether their virtual key may start a call now (budget,
 * requests and tokens per minute, parallel requests). And the other end of the call: when its `CallRecord`
 * reaches settlement (`calls/settle.ts`), the key is billed and its parallel slot released, exactly once.
 *
 * In two steps. `admit` (before the body is read): authentication, the cheap checks over the ledger's view of each
 * counter (newest KV snapshot plus this instance's own sums not in it) and the parallel slot. `hold` (once the
 * request is validated, before anything is sent): the call holds what it is expected to use (`pricing/hold_price.ts`)
 * against the key's budget, tokens and requests per minute until it settles (`limits/holds.ts`), so calls arriving
 * together count each other, on this instance and, through leases in KV, on others; and calls that would need
 * billing are refused while spend cannot be written (fail closed).
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
import { rpmKey, softBudgetAlertKey, spendKey, spendPrefix, tpmKey } from "./kv_layout.ts";
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
}

export interface Admission {
  /**
   * Authenticates the caller and, for a virtual key, checks its budget and limits and takes a parallel slot.
   * Throws a 401, a 400 `ServiceQuotaExceededException` (budget) or a 429 `ThrottlingException`.
   */
  admit(headers: Headers, requestId: string): Promise<Principal>;
  /**
   * The validated call, before anything is sent: refused (503) when it would need billing while spend cannot be
   * written; else it holds what it is expected to use against the key's limits until it settles, or is refused
   * (a 400 `ServiceQuotaExceededException` when the budget is spent, a 429 when calls in flight hold what is left
   * or a rate limit is reached, a 503 when the limits cannot be read from KV).
   */
  hold(requestId: string, modelName: string, estimate: RequestEstimate): Promise<void>;
  /** The call failed before reaching accounting: frees its slot and holds, bills nothing. A no-op after `finished`. */
  release(requestId: string): void;
  /** The call's record reached settlement: bills the key, counts its tokens, settles its holds, frees its slot. */
  finished(record: CallRecord, costNanos: bigint): void;
  /** Upkeep of this instance's slices of limits now: renewed and re-based, or given back when idle. */
  maintain(): Promise<void>;
  /** Gives this instance's slices of limits back (shutdown). */
  close(): Promise<void>;
  /** Resolves once background work (soft-budget markers, old window clean-up) has finished. */
  idle(): Promise<void>;
  /**
   * The keys with a `max_budget` this instance has admitted calls for, with their current window's spend read
   * fresh from KV (plus this instance's unwritten sums): for `/metrics`. Off the request path.
   */
  budgets(): Promise<KeyBudget[]>;
  /**
   * The keys with an `rpm_limit` or `tpm_limit` this instance has admitted calls for, with this minute's use as this
   * instance sees it (the newest KV snapshot plus its own sums): for `/metrics`. No KV read.
   */
  rateLimits(): KeyRateLimit[];
}

export interface KeyRateLimit {
  hash: string;
  alias?: string;
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

type LimitKind = "budget" | "tpm" | "rpm";

/** A call between `admit` and its end. */
interface Admitted {
  /** The virtual key's record (undefined for the master key or an open gateway). */
  key?: KeyRecord;
  /** Counted against `MAX_UNWRITTEN_CALLS` while in flight. */
  billable: boolean;
  ticket?: HoldTicket;
  limits?: Limit[];
  /** What each of `limits` limits. */
  kinds?: LimitKind[];
}

/** A key record's limits in the units holds count in, and their scope names: built once per record. */
interface KeyLimits {
  budgetNanos?: bigint;
  tpm?: bigint;
  rpm?: bigint;
  budgetScope: string;
  tpmScope: string;
  rpmScope: string;
}

/** Over budget: typed so SDKs do not retry (not a throttle), yet still a Bedrock exception they know. */
export function budgetExceeded(spentNanos: bigint, maxBudget: number): GatewayError {
  return new GatewayError(
    400,
    "ServiceQuotaExceededException",
    `Budget has been exceeded! Current cost: ${nanosToUsd(spentNanos)}, Max budget: ${maxBudget}`,
    { litellmType: "budget_exceeded" },
  );
}

/** A 429; `reason` says which limit (`rpm`, `tpm`, `parallel`, `budget_held`). */
const throttled = (message: string, retryAfter: number, reason: string) =>
  new GatewayError(429, "ThrottlingException", message, { litellmType: "rate_limit_error", retryAfter, reason });

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
  const { auth, kv, ledger, holds, holdPricing, now, log } = deps;
  /** Calls admitted and not finished yet, by request id. */
  const admitted = new Map<string, Admitted>();
  /** Billable calls in flight (held and not yet finished), for the fail-closed bound. */
  let billableInFlight = 0;
  /** Calls in progress per key id (this instance). */
  const active = new Map<string, number>();
  /** Soft-budget windows this instance has already handled (`id:windowStart`). */
  const alerted = new Set<string>();
  /** Budget window each key was last billed in here, to clean up older windows once per change. */
  const billedWindow = new Map<string, number>();
  const tasks = new Set<Promise<unknown>>();
  /** Keys with a budget admitted here, by id: their newest record. */
  const budgeted = new Map<string, KeyRecord>();
  /** Keys with a rate limit admitted here, by id: their newest record. */
  const limited = new Map<string, KeyRecord>();

  function background(task: Promise<unknown>, what: string) {
    const p = task.catch((e) => log.warn(`${what} failed`, { error: (e as Error).name, message: (e as Error).message }))
      .finally(() => tasks.delete(p));
    tasks.add(p);
  }

  function check(r: KeyRecord, t: number) {
    if (r.maxBudget !== undefined) {
      const spent = ledger.total(spendKey(r.id, budgetWindow(r, t).start));
      if (spent >= usdToNanos(r.maxBudget)) throw budgetExceeded(spent, r.maxBudget);
    }
    if (r.maxParallelRequests !== undefined && (active.get(r.id) ?? 0) >= r.maxParallelRequests) {
      throw throttled(
        `Max parallel request limit reached: this key allows ${r.maxParallelRequests} calls at a time`,
        1,
        "parallel",
      );
    }
    const minute = minuteOf(t);
    if (r.rpmLimit !== undefined && ledger.total(rpmKey(r.id), minute) >= r.rpmLimit) {
      throw throttled(
        `Rate limit exceeded: this key allows ${r.rpmLimit} requests per minute`,
        secondsToNextMinute(t),
        "rpm",
      );
    }
    if (r.tpmLimit !== undefined && ledger.total(tpmKey(r.id), minute) >= r.tpmLimit) {
      throw throttled(
        `Rate limit exceeded: this key allows ${r.tpmLimit} tokens per minute`,
        secondsToNextMinute(t),
        "tpm",
      );
    }
  }

  /** Ends a call's admission: frees its parallel slot and its fail-closed count. */
  function release(requestId: string): Admitted | undefined {
    const a = admitted.get(requestId);
    if (!a) return undefined;
    admitted.delete(requestId);
    if (a.billable) billableInFlight--;
    const r = a.key;
    if (r) {
      const n = (active.get(r.id) ?? 1) - 1;
      if (n > 0) active.set(r.id, n);
      else active.delete(r.id);
    }
    return a;
  }

  /** Per record (records are replaced, never changed, when re-read). */
  const keyLimits = new WeakMap<KeyRecord, KeyLimits>();
  function keyLimitsOf(r: KeyRecord): KeyLimits {
    let k = keyLimits.get(r);
    if (!k) {
      k = {
        budgetNanos: r.maxBudget === undefined ? undefined : usdToNanos(r.maxBudget),
        tpm: r.tpmLimit === undefined ? undefined : BigInt(r.tpmLimit),
        rpm: r.rpmLimit === undefined ? undefined : BigInt(r.rpmLimit),
        budgetScope: `budget:${r.id}`,
        tpmScope: `tpm:${r.id}`,
        rpmScope: `rpm:${r.id}`,
      };
      keyLimits.set(r, k);
    }
    return k;
  }

  /** The limits a key's call is held against, with its expected cost and tokens. */
  function limitsOf(r: KeyRecord, t: number, nanos: bigint, tokens: number): { limits: Limit[]; kinds: LimitKind[] } {
    const k = keyLimitsOf(r);
    const limits: Limit[] = [], kinds: LimitKind[] = [];
    const minute = minuteOf(t);
    if (k.budgetNanos !== undefined && nanos > 0n) {
      limits.push({
        scope: k.budgetScope,
        counter: spendKey(r.id, budgetWindow(r, t).start),
        limit: k.budgetNanos,
        hold: nanos,
      });
      kinds.push("budget");
    }
    if (k.tpm !== undefined && tokens > 0) {
      limits.push({ scope: k.tpmScope, counter: tpmKey(r.id), window: minute, limit: k.tpm, hold: BigInt(tokens) });
      kinds.push("tpm");
    }
    if (k.rpm !== undefined) {
      limits.push({ scope: k.rpmScope, counter: rpmKey(r.id), window: minute, limit: k.rpm, hold: 1n });
      kinds.push("rpm");
    }
    return { limits, kinds };
  }

  /** A refused hold as the client sees it. */
  function refusal(r: KeyRecord, kind: LimitKind, limit: Limit, refused: Refusal, t: number): GatewayError {
    if (refused.reason === "unavailable") {
      return new GatewayError(
        503,
        "ServiceUnavailableException",
        `The key's limits cannot be checked right now (KV: ${refused.cause ?? "unavailable"})`,
        { litellmType: "service_unavailable", retryAfter: 1, reason: "limits_unavailable" },
      );
    }
    const inFlight = `calls in flight hold ${refused.held} more`;
    if (kind === "budget") {
      if (refused.settled >= limit.limit) return budgetExceeded(refused.settled, r.maxBudget!);
      return throttled(
        `Budget held by calls in flight: current cost ${nanosToUsd(refused.settled)} and calls in flight hold ` +
          `${nanosToUsd(refused.held)} of the max budget ${r.maxBudget}; retry when they finish`,
        1,
        "budget_held",
      );
    }
    if (kind === "tpm") {
      return throttled(
        `Rate limit exceeded: this key allows ${r.tpmLimit} tokens per minute (${refused.settled} used, ${inFlight})`,
        secondsToNextMinute(t),
        "tpm",
      );
    }
    return throttled(
      `Rate limit exceeded: this key allows ${r.rpmLimit} requests per minute (${refused.settled} made, ${inFlight})`,
      secondsToNextMinute(t),
      "rpm",
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

  /** Deletes spend counters of windows before the previous one; they can no longer receive sums. */
  function cleanOldWindows(r: KeyRecord, windowStart: number) {
    if (!r.budgetDurationMs || billedWindow.get(r.id) === windowStart) return;
    if (billedWindow.size > 10_000) billedWindow.clear();
    billedWindow.set(r.id, windowStart);
    const end = spendKey(r.id, windowStart - r.budgetDurationMs);
    background(
      (async () => {
        // Sums this instance still holds for those windows are written first, so none lands after the delete.
        await ledger.flush();
        const keys: Deno.KvKey[] = [];
        await retryBusy(async () => {
          keys.length = 0;
          for await (const old of kv.list({ prefix: spendPrefix(r.id), end })) keys.push(old.key);
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

  return {
    async admit(headers, requestId) {
      const principal = await auth.authenticate(headers);
      const r = principal.key;
      if (!r) {
        admitted.set(requestId, { billable: false });
        return principal;
      }
      const t = now();
      try {
        check(r, t);
      } catch (e) {
        // Whose call was refused, for the refusal's log line (alias and hash, never the key).
        if (e instanceof GatewayError) e.caller = principal.caller;
        throw e;
      }
      if (r.maxBudget !== undefined) {
        if (budgeted.size >= MAX_TRACKED_BUDGETS && !budgeted.has(r.id)) budgeted.clear();
        budgeted.set(r.id, r);
      }
      if (r.rpmLimit !== undefined || r.tpmLimit !== undefined) {
        if (limited.size >= MAX_TRACKED_BUDGETS && !limited.has(r.id)) limited.clear();
        limited.set(r.id, r);
      }
      admitted.set(requestId, { key: r, billable: false });
      active.set(r.id, (active.get(r.id) ?? 0) + 1);
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
      const r = a.key;
      if (!r) return;
      const t = now();
      const expected = holdPricing(modelName, estimate);
      const { limits, kinds } = limitsOf(r, t, expected.nanos, expected.tokens);
      if (!limits.length) return;
      const placing = holds.place(limits);
      const placed = placing instanceof Promise ? await placing : placing;
      if ("refused" in placed) throw refusal(r, kinds[placed.index], limits[placed.index], placed, t);
      if (admitted.get(requestId) !== a) {
        placed.release(); // the call ended while its holds were being placed
        return;
      }
      a.ticket = placed;
      a.limits = limits;
      a.kinds = kinds;
      // A request is a request once admitted: counted now, in the minute it started.
      const rpm = kinds.indexOf("rpm");
      if (rpm >= 0) {
        const used: Used = { counter: limits[rpm].counter, window: limits[rpm].window, amount: 1n };
        ledger.add([{ key: used.counter, amount: 1n, window: used.window }]);
        placed.settle(limits.map((_, i) => i === rpm ? used : undefined));
      }
    },

    release(requestId) {
      release(requestId)?.ticket?.release();
    },

    finished(record, costNanos) {
      const a = release(record.requestId);
      const r = a?.key;
      if (!a || !r) return;
      const t = now();
      const sums: LedgerSum[] = [];
      let spent: Used | undefined, tokens: Used | undefined;
      if (costNanos > 0n) {
        const windowStart = budgetWindow(r, t).start;
        spent = { counter: spendKey(r.id, windowStart), amount: costNanos };
        sums.push({ key: spent.counter, amount: costNanos });
        cleanOldWindows(r, windowStart);
      }
      if (r.tpmLimit !== undefined && record.usage) {
        tokens = { counter: tpmKey(r.id), amount: BigInt(record.usage.totalTokens), window: minuteOf(t) };
        sums.push({ key: tokens.counter, amount: tokens.amount, window: tokens.window });
      }
      ledger.add(sums);
      if (a.ticket) {
        // Each hold is replaced by what was used (nothing, for a call that failed); rpm was settled at admission.
        a.ticket.settle(
          a.kinds!.map((kind, i) =>
            (kind === "budget" ? spent : kind === "tpm" ? tokens : undefined) ?? { ...a.limits![i], amount: 0n }
          ),
        );
        a.ticket.release();
      }
      if (costNanos > 0n) softBudget(r, t);
    },

    maintain: () => holds.maintain(),
    close: () => holds.close(),

    async idle() {
      while (tasks.size) await Promise.all([...tasks]);
    },

    rateLimits() {
      const minute = minuteOf(now());
      return [...limited.values()].map((r) => ({
        hash: r.hash,
        alias: r.alias,
        rpmLimit: r.rpmLimit,
        rpmUsed: r.rpmLimit === undefined ? 0 : Number(ledger.total(rpmKey(r.id), minute)),
        tpmLimit: r.tpmLimit,
        tpmUsed: r.tpmLimit === undefined ? 0 : Number(ledger.total(tpmKey(r.id), minute)),
      }));
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
