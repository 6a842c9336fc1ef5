/**
 * @module
 * Admission of a `/bedrock` call: who is calling, and whether their virtual key may start a call now (budget,
 * requests and tokens per minute, parallel requests). And the other end of the call: when its `CallRecord`
 * reaches the sink, the key is billed and its parallel slot released, exactly once.
 *
 * Nothing here waits for a KV write. The one KV read (record and counters) happens in authentication; the
 * checks themselves are synchronous over the ledger's view of each counter (newest KV snapshot plus this
 * instance's own sums not yet in it).
 *
 * Across instances: budgets and rpm/tpm see other instances' usage once it is committed to KV (their ledgers
 * write every ~10 ms while calls finish), so enforcement across instances is exact up to the calls in flight
 * and the sums still queued elsewhere. `max_parallel_requests` is enforced per instance.
 */
import { GatewayError } from "../errors.ts";
import { retryBusy } from "../kv/retry.ts";
import type { Logger } from "../log.ts";
import type { CallRecord } from "../spend/call_record.ts";
import { nanosToUsd, usdToNanos } from "../spend/cost.ts";
import type { Ledger, LedgerSum } from "../spend/ledger.ts";
import type { Authenticator, Principal } from "./auth.ts";
import { rpmKey, softBudgetAlertKey, spendKey, spendPrefix, tpmKey } from "./kv_layout.ts";
import { budgetWindow, type KeyRecord, minuteOf, secondsToNextMinute } from "./record.ts";

export interface AdmissionDeps {
  auth: Authenticator;
  kv: Deno.Kv;
  ledger: Ledger;
  now: () => number;
  log: Logger;
}

export interface Admission {
  /**
   * Authenticates the caller and, for a virtual key, checks its budget and limits and takes a parallel slot.
   * Throws a 401, a 400 `ServiceQuotaExceededException` (budget) or a 429 `ThrottlingException`.
   */
  admit(headers: Headers, requestId: string): Promise<Principal>;
  /** The call failed before reaching accounting: frees its slot, bills nothing. A no-op after `finished`. */
  release(requestId: string): void;
  /** The call's record reached the sink: bills the key, counts its tokens, frees its slot. Once per call. */
  finished(record: CallRecord, costNanos: bigint): void;
  /** Resolves once background work (soft-budget markers, old window clean-up) has finished. */
  idle(): Promise<void>;
  /**
   * The keys with a `max_budget` this instance has admitted calls for, with their current window's spend read
   * fresh from KV (plus this instance's unwritten sums): for `/metrics`. Off the request path.
   */
  budgets(): Promise<KeyBudget[]>;
}

export interface KeyBudget {
  hash: string;
  alias?: string;
  maxBudgetNanos: bigint;
  spentNanos: bigint;
}

/** Budgeted keys remembered for `budgets()`; beyond this the map starts over (it refills with the next calls). */
const MAX_TRACKED_BUDGETS = 10_000;

/** Over budget: typed so SDKs do not retry (not a throttle), yet still a Bedrock exception they know. */
export function budgetExceeded(spentNanos: bigint, maxBudget: number): GatewayError {
  return new GatewayError(
    400,
    "ServiceQuotaExceededException",
    `Budget has been exceeded! Current cost: ${nanosToUsd(spentNanos)}, Max budget: ${maxBudget}`,
    { litellmType: "budget_exceeded" },
  );
}

const throttled = (message: string, retryAfter: number) =>
  new GatewayError(429, "ThrottlingException", message, { litellmType: "rate_limit_error", retryAfter });

export function createAdmission(deps: AdmissionDeps): Admission {
  const { auth, kv, ledger, now, log } = deps;
  /** Calls admitted under a virtual key and not finished yet, by request id. */
  const admitted = new Map<string, KeyRecord>();
  /** Calls in progress per key id (this instance). */
  const active = new Map<string, number>();
  /** Soft-budget windows this instance has already handled (`id:windowStart`). */
  const alerted = new Set<string>();
  /** Budget window each key was last billed in here, to clean up older windows once per change. */
  const billedWindow = new Map<string, number>();
  const tasks = new Set<Promise<unknown>>();
  /** Keys with a budget admitted here, by id: their newest record. */
  const budgeted = new Map<string, KeyRecord>();

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
      );
    }
    const minute = minuteOf(t);
    if (r.rpmLimit !== undefined && ledger.total(rpmKey(r.id), minute) >= r.rpmLimit) {
      throw throttled(`Rate limit exceeded: this key allows ${r.rpmLimit} requests per minute`, secondsToNextMinute(t));
    }
    if (r.tpmLimit !== undefined && ledger.total(tpmKey(r.id), minute) >= r.tpmLimit) {
      throw throttled(`Rate limit exceeded: this key allows ${r.tpmLimit} tokens per minute`, secondsToNextMinute(t));
    }
  }

  function release(requestId: string): KeyRecord | undefined {
    const r = admitted.get(requestId);
    if (!r) return undefined;
    admitted.delete(requestId);
    const n = (active.get(r.id) ?? 1) - 1;
    if (n > 0) active.set(r.id, n);
    else active.delete(r.id);
    return r;
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
      if (!r) return principal;
      const t = now();
      check(r, t);
      if (r.maxBudget !== undefined) {
        if (budgeted.size >= MAX_TRACKED_BUDGETS && !budgeted.has(r.id)) budgeted.clear();
        budgeted.set(r.id, r);
      }
      admitted.set(requestId, r);
      active.set(r.id, (active.get(r.id) ?? 0) + 1);
      if (r.rpmLimit !== undefined) ledger.add([{ key: rpmKey(r.id), amount: 1n, window: minuteOf(t) }]);
      return principal;
    },

    release(requestId) {
      release(requestId);
    },

    finished(record, costNanos) {
      const r = release(record.requestId);
      if (!r) return;
      const t = now();
      const sums: LedgerSum[] = [];
      if (costNanos > 0n) {
        const windowStart = budgetWindow(r, t).start;
        sums.push({ key: spendKey(r.id, windowStart), amount: costNanos });
        cleanOldWindows(r, windowStart);
      }
      if (r.tpmLimit !== undefined && record.usage) {
        sums.push({ key: tpmKey(r.id), amount: BigInt(record.usage.totalTokens), window: minuteOf(t) });
      }
      ledger.add(sums);
      if (costNanos > 0n) softBudget(r, t);
    },

    async idle() {
      while (tasks.size) await Promise.all([...tasks]);
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
