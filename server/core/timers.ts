/**
 * @module
 * Timers as a dependency: code that waits takes a {@link Timers} (default {@link systemTimers}), so tests pass timers
 * they move by hand and check that nothing is left armed, instead of waiting or leaning on the leak sanitizer.
 *
 * @example
 * ```ts
 * import { systemTimers, type Timers } from "./timers.ts";
 *
 * function after(ms: number, fn: () => void, timers: Timers = systemTimers): () => void {
 *   const handle = timers.setTimeout(fn, ms);
 *   return () => timers.clearTimeout(handle);
 * }
 * after(10, () => {})();
 * ```
 */

/** `setTimeout` and `clearTimeout`; a handle is whatever the first returns. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The runtime's global timers. */
export const systemTimers: Timers = Object.freeze({
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});
