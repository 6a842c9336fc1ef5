/**
 * @module
 * A Deno KV whose atomic commits fail on demand with SQLite's full-disk error, as a KV file on a full filesystem
 * does (reads keep working). Tests turn `state.failing` on and off and wait on attempt counts, never on time.
 */
import { Latch } from "../testing/latch.ts";

export interface FailingKv {
  /** The KV to hand the gateway (or the ledger). */
  kv: Deno.Kv;
  state: { failing: boolean; attempts: number; failed: number };
  /** Resolves once `n` commits have failed in all. */
  failedAtLeast(n: number): Promise<void>;
}

export const DISK_FULL = "database or disk is full";

export function failingKv(inner: Deno.Kv): FailingKv {
  const state = { failing: false, attempts: 0, failed: 0 };
  const waiters: Array<{ n: number; latch: Latch }> = [];
  const wake = () => {
    for (const w of waiters) if (state.failed >= w.n) w.latch.release();
  };
  const kv = new Proxy(inner, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const proxy: Deno.AtomicOperation = new Proxy(op, {
            get(o, p) {
              if (p === "commit") {
                return () => {
                  state.attempts++;
                  if (!state.failing) return o.commit();
                  state.failed++;
                  wake();
                  return Promise.reject(new TypeError(DISK_FULL));
                };
              }
              const v = Reflect.get(o, p);
              return typeof v === "function"
                ? (...args: unknown[]) => {
                  v.apply(o, args);
                  return proxy;
                }
                : v;
            },
          });
          return proxy;
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return {
    kv,
    state,
    failedAtLeast(n) {
      const latch = new Latch();
      waiters.push({ n, latch });
      wake();
      return latch.wait();
    },
  };
}

/** Waits one macrotask: what a failing ledger waits between attempts in tests (no timer to wait out). */
export const nextTick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
