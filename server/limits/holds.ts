/**
 * @module
 * Holds and leases: how calls in flight count against limits, on one instance and across instances sharing one KV.
 *
 * A limit is a counter (a key's spend in its budget window, its tokens or requests this minute; later team and user
 * budgets) that may reach `limit`. A call is admitted under LiteLLM's rule — while what is settled plus what other
 * calls in flight hold is below the limit — and from admission until it settles it holds its expected amount (its
 * "hold"); settlement replaces the hold with what it used (the caller sums that into the counter through the ledger).
 * So sequential calls behave as before (the last one may cross the limit) while calls arriving together see each
 * other's holds.
 *
 * Across instances, each instance owns a slice of each limit it is admitting under ("lease", `lease_record.ts`): an
 * amount written in KV next to the counter, under a check of the record's versionstamp, read in the same `getMany`
 * as the counter. Calls are placed locally while the slice has room (no KV round trip); only when it has none is a
 * slice grown with one awaited compare-and-set (the only KV write a call ever waits for), and it is grown ahead of
 * need in the background (when a quarter of it is left), so that rarely happens under steady load. Slices expire
 * (`LEASE_TTL_MS`) unless renewed while in use, so a dead instance's slice comes back; an idle instance gives its
 * slice back (`LEASE_IDLE_MS`). The bound, proved in docs/architecture.md: settled + every live slice never exceeds
 * the limit by more than one call's hold, as long as holds are at least what calls use.
 *
 * Nothing here is module state: one engine per gateway, on injected KV, ledger view, clock and timers.
 */
import { isBusy, retryBusy } from "../kv/retry.ts";
import { windowedCount } from "../kv/windowed.ts";
import type { Logger } from "../core/log.ts";
import { decideGrant, leaseKey, type LeaseValue, type Slice, slicesOf } from "./lease_record.ts";

/** What the engine needs of the spend ledger: counters as this instance knows them. */
export interface LimitLedger {
  readonly instanceId: string;
  /** Read with the counter, handed to `observe`. */
  readonly watermarkKey: Deno.KvKey;
  observe(
    reads: ReadonlyArray<{ key: Deno.KvKey; entry: Deno.KvEntryMaybe<unknown> }>,
    watermark: Deno.KvEntryMaybe<unknown>,
  ): void;
  /** The counter's newest snapshot plus this instance's sums not in it. */
  total(key: Deno.KvKey, window?: number): bigint;
}

export type LimitsKv = Pick<Deno.Kv, "getMany" | "atomic">;

export interface Limit {
  /** What is limited, across windows (`budget:<key id>`): holds of calls in flight are counted per scope. */
  scope: string;
  /** The counter settled usage is summed into, for the current window. */
  counter: Deno.KvKey;
  /** Windowed counters (per minute): the window the call is admitted in. */
  window?: number;
  /** What the counter may reach. */
  limit: bigint;
  /** This call's expected amount; 0 places nothing and checks nothing. */
  hold: bigint;
}

/** What a call used of one limit, summed into `counter` (and `window`) by the caller. */
export interface Used {
  counter: Deno.KvKey;
  window?: number;
  amount: bigint;
}

export interface HoldTicket {
  /** Replaces the holds of limits `[i]` by `used[i]` (undefined: that one is left held); once per limit. */
  settle(used: ReadonlyArray<Used | undefined>): void;
  /** The call ends without using anything more: every hold still placed goes. Idempotent. */
  release(): void;
}

export interface Refusal {
  refused: true;
  /** Index of the limit that refused. */
  index: number;
  /** `full`: settled usage and holds fill the limit; `unavailable`: KV could not be asked (or kept refusing). */
  reason: "full" | "unavailable";
  /** Settled usage as this instance knows it (KV plus its own unwritten sums). */
  settled: bigint;
  /** Held by calls in flight, here and in other instances' slices. */
  held: bigint;
  cause?: string;
}

export interface Holds {
  /**
   * Places a hold on every limit (all or none), or says which limit refused. Synchronous (no promise) when every
   * hold fits its slice's room: the common case costs no turn of the event loop.
   */
  place(limits: readonly Limit[]): HoldTicket | Promise<HoldTicket | Refusal>;
  /**
   * Upkeep, also run on a timer (every second while any slice is held): renews slices in use that near their expiry
   * or cover usage that has since reached KV (which other instances would otherwise count twice), and gives back
   * slices idle for `LEASE_IDLE_MS`.
   */
  maintain(): Promise<void>;
  /** Shrinks every slice to what calls in flight hold and unwritten usage: its unused room goes back now. */
  giveBack(): Promise<void>;
  /** Gives every slice back (shutdown); stops the timer. */
  close(): Promise<void>;
}

/** Timers the engine's upkeep runs on (injected by tests). */
export interface HoldTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface HoldsDeps {
  kv: LimitsKv;
  ledger: LimitLedger;
  /** Wall clock, ms: slice expiry and idleness (shared by instances, so wall time). */
  now: () => number;
  log: Logger;
  timers?: HoldTimers;
}

/** A slice not renewed for this long counts for nothing (its instance is gone or cut off from KV). */
export const LEASE_TTL_MS = 15_000;
/** A slice in use is renewed when less than this is left of it. */
const RENEW_BEFORE_MS = 5_000;
/** No call is placed in a slice this close to its expiry: the call waits for a renewal instead. */
const EXPIRY_MARGIN_MS = 1_000;
/** A slice with no call in flight and none placed for this long is given back. */
export const LEASE_IDLE_MS = 2_000;
/** How often upkeep runs while the engine holds any slice. */
const UPKEEP_EVERY_MS = 1_000;
/**
 * Attempts of one decision before its calls are refused as unavailable: each is a compare-and-set that another
 * instance's write to the same record made fail, or a KV file that stayed busy through `retryBusy`'s ~0.3 s (several
 * processes sharing one SQLite file take turns writing).
 */
const MAX_CAS_ATTEMPTS = 32;
/** The first extra room asked for, in holds of the call that asked; doubled at each growth. */
const FIRST_EXTRA_HOLDS = 8n;

const defaultTimers: HoldTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    Deno.unrefTimer(t);
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as number),
};

interface Waiter {
  hold: bigint;
  resolve: (outcome: Refusal | undefined) => void;
}

interface Scope {
  /** Holds of this scope's calls in flight (admitted in any window). */
  held: bigint;
  lease?: Lease;
}

/** This instance's slice of one counter (in one window). */
interface Lease {
  scope: Scope;
  counter: Deno.KvKey;
  window?: number;
  key: Deno.KvKey;
  limit: bigint;
  /** Our slice as written in KV (0 before the first grant). */
  granted: bigint;
  /** Our unwritten usage of the counter at the last grant, relative to the snapshot it was decided on. */
  base: bigint;
  /** Usage settled into this counter and window since that snapshot. */
  settled: bigint;
  /** Wall-clock ms our slice expires in KV. */
  expires: number;
  /** Extra room to ask for at the next growth. */
  extra: bigint;
  /** Last placement, wall-clock ms. */
  lastPlaced: number;
  waiters: Waiter[];
  /** The compare-and-set in progress, if any. */
  running?: Promise<void>;
  /** While set, calls are not placed in the current room (a decision that drops it is in progress). */
  blocked: boolean;
}

const max = (a: bigint, b: bigint) => a > b ? a : b;
const describe = (e: unknown) => e instanceof Error ? `${e.name}: ${e.message}` : String(e);

export function createHolds(deps: HoldsDeps): Holds {
  const { kv, ledger, now, log } = deps;
  const timers = deps.timers ?? defaultTimers;
  const me = ledger.instanceId;
  const scopes = new Map<string, Scope>();
  let upkeep: unknown;
  let closed = false;

  const used = (l: Lease) => l.base + l.settled + l.scope.held;
  const room = (l: Lease) => l.granted - used(l);
  const sameWindow = (l: Lease, counter: Deno.KvKey, window: number | undefined) =>
    l.window === window && l.counter.length === counter.length && l.counter.every((p, i) => p === counter[i]);

  function scopeOf(name: string): Scope {
    let s = scopes.get(name);
    if (!s) scopes.set(name, s = { held: 0n });
    return s;
  }

  /** The scope's lease for this limit's counter and window, a fresh one when the window moved on. */
  function leaseFor(scope: Scope, limit: Limit): Lease {
    if (scope.lease && sameWindow(scope.lease, limit.counter, limit.window)) {
      scope.lease.limit = limit.limit;
      return scope.lease;
    }
    scope.lease = {
      scope,
      counter: limit.counter,
      window: limit.window,
      key: leaseKey(limit.counter),
      limit: limit.limit,
      granted: 0n,
      base: 0n,
      settled: 0n,
      expires: 0,
      extra: 0n,
      lastPlaced: now(),
      waiters: [],
      blocked: false,
    };
    armUpkeep();
    return scope.lease;
  }

  /**
   * Places a hold in the slice's room, without KV, when there is room, no call waits before it and the slice is not
   * near its expiry.
   */
  function placeLocally(lease: Lease, hold: bigint): boolean {
    if (lease.waiters.length || !placeLocallyNow(lease, hold)) return false;
    prefetchIfLow(lease);
    return true;
  }

  /** A quarter of the slice left: grow it now, off any call's path, so the next calls rarely wait. */
  function prefetchIfLow(lease: Lease) {
    if (!lease.running && !closed && room(lease) * 4n < lease.granted) run(lease, "prefetch").catch(() => {});
  }

  function waitFor(lease: Lease, hold: bigint): Promise<Refusal | undefined> {
    const done = new Promise<Refusal | undefined>((resolve) => lease.waiters.push({ hold, resolve }));
    if (lease.extra < hold * FIRST_EXTRA_HOLDS) lease.extra = hold * FIRST_EXTRA_HOLDS;
    if (!lease.running) run(lease, "admit").catch(() => {});
    return done;
  }

  /**
   * Runs one decision on a lease (one at a time per lease), then the next if calls are waiting:
   * - `admit`: the waiting calls, in order, by LiteLLM's rule over everything reserved; our slice becomes our usage
   *   plus the admitted holds plus extra room (the old room is dropped, so calls wait meanwhile);
   * - `prefetch` / `renew`: our slice keeps its room (calls are placed in it meanwhile) and grows by extra room
   *   (prefetch) or just gets a new expiry (renew);
   * - `giveBack`: our slice shrinks to our unwritten usage.
   */
  function run(lease: Lease, mode: "admit" | "prefetch" | "renew" | "giveBack"): Promise<void> {
    // One decision at a time per lease: a new one waits for the one in progress.
    const task: Promise<void> = (lease.running ?? Promise.resolve()).then(async () => {
      try {
        await decide(lease, mode);
      } finally {
        lease.blocked = false;
      }
    }).finally(() => {
      if (lease.running !== task) return; // another decision is queued after this one: it takes over
      lease.running = undefined;
      // Calls that arrived meanwhile: placed in the new room when they fit, else decided in one more round.
      const waiting = lease.waiters.splice(0);
      for (const w of waiting) {
        if (!lease.waiters.length && placeLocallyNow(lease, w.hold)) w.resolve(undefined);
        else lease.waiters.push(w);
      }
      if (lease.waiters.length && !closed) run(lease, "admit").catch(() => {});
      else prefetchIfLow(lease);
    });
    lease.running = task;
    return task;
  }

  /** Places a hold in the slice's room when it fits (whatever waits), without starting a growth. */
  function placeLocallyNow(lease: Lease, hold: bigint): boolean {
    const t = now();
    if (lease.blocked || lease.expires - t <= EXPIRY_MARGIN_MS || room(lease) < hold) return false;
    lease.scope.held += hold;
    lease.lastPlaced = t;
    return true;
  }

  async function decide(lease: Lease, mode: "admit" | "prefetch" | "renew" | "giveBack"): Promise<void> {
    const round = mode === "admit" ? lease.waiters.splice(0) : [];
    lease.blocked = mode === "admit" || mode === "giveBack";
    try {
      for (let attempt = 1;; attempt++) {
        let read: Deno.KvEntryMaybe<unknown>[];
        try {
          read = await retryBusy(() => kv.getMany([lease.counter, ledger.watermarkKey, lease.key]));
        } catch (e) {
          if (isBusy(e) && attempt < MAX_CAS_ATTEMPTS) continue;
          throw e;
        }
        const [counterEntry, watermark, record] = read;
        ledger.observe([{ key: lease.counter, entry: counterEntry }], watermark);
        const t = now();
        const raw = counterEntry.value instanceof Deno.KvU64 ? counterEntry.value.value : 0n;
        const settled = lease.window === undefined ? raw : windowedCount(raw, lease.window);
        const slices = slicesOf(record.value, lease.window);
        let others = 0n;
        const kept: Record<string, Slice> = {};
        for (const [id, slice] of Object.entries(slices)) {
          if (id === me || slice.expires <= t) continue;
          others += slice.amount;
          kept[id] = slice;
        }
        // Ours not in the snapshot: unwritten sums (the ledger's view minus the snapshot) and holds in flight.
        const own = max(0n, ledger.total(lease.counter, lease.window) - settled);
        const settledMark = lease.settled;
        const keepsRoom = mode === "prefetch" || mode === "renew";
        const grant = decideGrant({
          settled,
          others,
          used: own + lease.scope.held,
          keptRoom: keepsRoom ? max(0n, room(lease)) : 0n,
          limit: lease.limit,
          waiting: round.map((w) => w.hold),
          extra: mode === "admit" || mode === "prefetch" ? lease.extra : 0n,
        });
        const value: LeaseValue = { window: lease.window ?? null, slices: kept };
        if (grant.take > 0n) value.slices[me] = { amount: grant.take, expires: t + LEASE_TTL_MS };
        const empty = Object.keys(value.slices).length === 0;
        let result: Deno.KvCommitResult | Deno.KvCommitError;
        try {
          result = await retryBusy(() => {
            const op = kv.atomic().check({ key: lease.key, versionstamp: record.versionstamp });
            if (empty) op.delete(lease.key);
            else op.set(lease.key, value, { expireIn: 2 * LEASE_TTL_MS });
            return op.commit();
          });
        } catch (e) {
          // A busy file did not apply it: decide again (the check makes a write that did land fail harmlessly).
          if (isBusy(e) && attempt < MAX_CAS_ATTEMPTS) continue;
          throw e;
        }
        if (!result.ok) {
          // Another instance wrote the record meanwhile: decide again on a fresh snapshot.
          if (attempt >= MAX_CAS_ATTEMPTS) throw new Error(`lease record kept changing (${attempt} attempts)`);
          continue;
        }
        lease.granted = grant.take;
        lease.base = own;
        lease.settled -= settledMark;
        lease.expires = t + LEASE_TTL_MS;
        if (mode === "admit" || mode === "prefetch") lease.extra *= 2n;
        let inFront = settled + others + own + lease.scope.held;
        round.forEach((w, i) => {
          if (grant.admitted[i]) {
            lease.scope.held += w.hold;
            lease.lastPlaced = t;
            inFront += w.hold;
            w.resolve(undefined);
          } else {
            const settledNow = ledger.total(lease.counter, lease.window);
            w.resolve({
              refused: true,
              index: -1,
              reason: "full",
              settled: settledNow,
              held: max(0n, inFront - settledNow),
            });
          }
        });
        return;
      }
    } catch (e) {
      const cause = describe(e);
      if (mode !== "admit") log.warn("limits: updating a lease failed", { mode, cause });
      for (const w of round) {
        w.resolve({ refused: true, index: -1, reason: "unavailable", settled: 0n, held: 0n, cause });
      }
    }
  }

  /** Renews slices in use near expiry or covering usage now in KV; gives back idle ones. */
  async function maintain(): Promise<void> {
    const work: Promise<void>[] = [];
    for (const [name, scope] of scopes) {
      const lease = scope.lease;
      if (!lease) {
        if (scope.held === 0n) scopes.delete(name);
        continue;
      }
      work.push((async () => {
        await lease.running; // a decision in progress (growth ahead of need) settles first
        if (lease.running || scope.lease !== lease) return;
        const t = now();
        const idle = scope.held === 0n && lease.waiters.length === 0 && t - lease.lastPlaced >= LEASE_IDLE_MS;
        if (idle) {
          await run(lease, "giveBack");
          // Nothing of ours left in KV: forget it (a later call starts a fresh lease).
          if (scope.lease === lease && lease.granted === 0n && scope.held === 0n) {
            scope.lease = undefined;
            scopes.delete(name);
          }
        } else if (lease.granted > 0n && (lease.expires - t < RENEW_BEFORE_MS || lease.base + lease.settled > 0n)) {
          // Near expiry, or covering settled usage that may be in KV by now (counted twice by the others until then).
          await run(lease, "renew");
        }
      })());
    }
    await Promise.all(work);
  }

  async function giveBack(): Promise<void> {
    const work: Promise<void>[] = [];
    for (const scope of scopes.values()) {
      const lease = scope.lease;
      if (!lease || lease.granted === 0n) continue;
      work.push((async () => {
        await lease.running;
        await run(lease, "giveBack");
      })());
    }
    await Promise.all(work);
  }

  function armUpkeep() {
    if (upkeep !== undefined || closed) return;
    upkeep = timers.setTimeout(() => {
      upkeep = undefined;
      maintain().catch((e) => log.warn("limits: upkeep failed", { cause: describe(e) })).finally(() => {
        if (scopes.size) armUpkeep();
      });
    }, UPKEEP_EVERY_MS);
  }

  /** One call's holds, by the index of their limit (undefined: not held, or already settled). */
  class Ticket implements HoldTicket {
    constructor(readonly scopes: Array<Scope | undefined>, readonly holds: bigint[]) {}

    settle(usedAmounts: ReadonlyArray<Used | undefined>) {
      for (let i = 0; i < this.scopes.length; i++) {
        const scope = this.scopes[i], u = usedAmounts[i];
        if (!scope || !u) continue;
        this.scopes[i] = undefined;
        scope.held -= this.holds[i];
        const lease = scope.lease;
        if (lease && sameWindow(lease, u.counter, u.window)) lease.settled += u.amount;
      }
    }

    release() {
      for (let i = 0; i < this.scopes.length; i++) {
        const scope = this.scopes[i];
        if (!scope) continue;
        this.scopes[i] = undefined;
        scope.held -= this.holds[i];
      }
    }
  }

  /** Waits for the holds that did not fit; all or none. */
  async function placeWaiting(
    ticket: Ticket,
    pending: Array<Promise<Refusal | undefined>>,
    pendingAt: number[],
  ): Promise<HoldTicket | Refusal> {
    const outcomes = await Promise.all(pending);
    const refusedAt = outcomes.findIndex((o) => o !== undefined);
    if (refusedAt < 0) return ticket;
    // Refused holds were never placed; the others go.
    outcomes.forEach((o, i) => {
      if (o) ticket.scopes[pendingAt[i]] = undefined;
    });
    ticket.release();
    return { ...outcomes[refusedAt]!, index: pendingAt[refusedAt] };
  }

  return {
    place(limits) {
      const ticket = new Ticket(new Array(limits.length), new Array(limits.length));
      let pending: Array<Promise<Refusal | undefined>> | undefined;
      let pendingAt: number[] | undefined;
      for (let i = 0; i < limits.length; i++) {
        const limit = limits[i];
        if (limit.hold <= 0n) continue;
        const scope = scopeOf(limit.scope);
        const lease = leaseFor(scope, limit);
        ticket.scopes[i] = scope;
        ticket.holds[i] = limit.hold;
        if (placeLocally(lease, limit.hold)) continue;
        (pending ??= []).push(waitFor(lease, limit.hold));
        (pendingAt ??= []).push(i);
      }
      return pending ? placeWaiting(ticket, pending, pendingAt!) : ticket;
    },

    maintain,
    giveBack,

    async close() {
      closed = true;
      if (upkeep !== undefined) timers.clearTimeout(upkeep);
      upkeep = undefined;
      await giveBack();
    },
  };
}
