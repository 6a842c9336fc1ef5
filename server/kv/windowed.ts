/**
 * @module
 * Windowed counters (requests or tokens per minute) in one `Deno.KvU64`: the window number in the high bits, the
 * count below. Writers (the ledger) do `max(key, window << WINDOW_SHIFT)` then `sum(key, n)`, so a newer window
 * resets the count in the same atomic step; readers (budget checks, leases) take the count of the window they ask for.
 */

/** Window number above this bit, count below it (2^36 counts per window, 2^28 windows). */
export const WINDOW_SHIFT = 36n;
const COUNT_MASK = (1n << WINDOW_SHIFT) - 1n;

/** The count a windowed counter's stored value holds for `window` (zero when it holds an older window). */
export function windowedCount(value: bigint | undefined, window: number): bigint {
  if (value === undefined) return 0n;
  return value >> WINDOW_SHIFT === BigInt(window) ? value & COUNT_MASK : 0n;
}
