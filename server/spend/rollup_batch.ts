/**
 * @module
 * Roll-up sums merged in memory between ledger batches. Every call adds ~30 sums (six dimensions × its non-zero
 * metrics); calls sharing a day, key, user, team, model and deployment add them to the same counters. Merging
 * them here costs one map lookup, a short scan and seven additions per call, with nothing allocated: calls are
 * grouped by their caller object (one per principal, never changed: its key, user and team), then by day, model and
 * deployment. The ledger then gets one sum per counter per batch (handed over by the collector `addLater` runs just
 * before the batch is taken), instead of finding a counter for each of the ~30 sums of every call; two groups naming
 * the same counters (equal callers in two objects) are merged there. Totals are unchanged: the same amounts reach the
 * same counters, in the same batches' order, exactly once.
 */
import type { Caller, CallRecord } from "../core/call_record.ts";
import { dayOf } from "./days.ts";
import { DIMENSIONS, METRICS, rollupKey, tagRollupKey } from "./kv_layout.ts";
import type { Ledger, LedgerSum } from "../kv/ledger.ts";
import { addCallAmounts, dimensionValue, rollupTags } from "./rollups.ts";

const DAY_MS = 86_400_000;

/** One group of calls that count for the same roll-up counters. */
interface Group {
  day: string;
  modelName: string;
  deploymentId: string | undefined;
  /** Per dimension, in `DIMENSIONS` order. */
  values: string[];
  /** Per metric, in `METRICS` order. */
  amounts: bigint[];
}

export interface RollupBatch {
  /** Adds one call's roll-up amounts; never waits. */
  add(record: CallRecord, costNanos: bigint): void;
}

export function createRollupBatch(ledger: Pick<Ledger, "addLater">): RollupBatch {
  /** This batch's groups by caller. */
  let groups = new Map<Caller, Group[]>();
  /** Tag roll-ups by day and tag: spend and calls. */
  let tags = new Map<string, { day: string; tag: string; spend: bigint; requests: bigint }>();

  /** The merged sums so far, in `rollupSums` order per group; the next calls start a fresh map. */
  function take(): LedgerSum[] {
    const taken = groups, takenTags = tags;
    groups = new Map();
    tags = new Map();
    const sums: LedgerSum[] = [];
    for (const t of takenTags.values()) {
      if (t.spend > 0n) sums.push({ key: tagRollupKey(t.day, t.tag, "spend"), amount: t.spend });
      sums.push({ key: tagRollupKey(t.day, t.tag, "requests"), amount: t.requests });
    }
    for (const list of taken.values()) {
      for (const g of list) {
        for (let d = 0; d < DIMENSIONS.length; d++) {
          for (let m = 0; m < METRICS.length; m++) {
            const amount = g.amounts[m];
            if (amount > 0n) sums.push({ key: rollupKey(DIMENSIONS[d], g.day, g.values[d], METRICS[m]), amount });
          }
        }
      }
    }
    return sums;
  }

  /** The UTC day of the last call and where it starts (ms): almost every call falls in the same day as the last. */
  let day = "", dayStart = NaN;

  return {
    add(record, costNanos) {
      const t = record.startTime;
      if (!(t >= dayStart && t < dayStart + DAY_MS)) {
        day = dayOf(t);
        dayStart = Math.floor(t / DAY_MS) * DAY_MS;
      }
      // Every call joins a group below: the first of a batch hands the batch's sums over when it is taken.
      if (groups.size === 0) ledger.addLater(take);
      if (record.requestTags?.length) {
        for (const tag of rollupTags(record)) {
          const tagId = `${day}\u0000${tag}`;
          let t = tags.get(tagId);
          if (!t) tags.set(tagId, t = { day, tag, spend: 0n, requests: 0n });
          t.spend += costNanos;
          t.requests++;
        }
      }
      let list = groups.get(record.caller);
      if (!list) groups.set(record.caller, list = []);
      const { modelName, deploymentId } = record;
      let g: Group | undefined;
      for (let i = 0; i < list.length; i++) {
        const x = list[i];
        if (x.day === day && x.modelName === modelName && x.deploymentId === deploymentId) {
          g = x;
          break;
        }
      }
      if (!g) {
        const values = DIMENSIONS.map((dim) => dimensionValue(record, dim));
        list.push(g = { day, modelName, deploymentId, values, amounts: METRICS.map(() => 0n) });
      }
      addCallAmounts(g.amounts, record, costNanos);
    },
  };
}
