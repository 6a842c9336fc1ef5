/**
 * @module
 * Retrying a Deno KV operation that failed because the SQLite file was busy ("database is locked"): several
 * gateway processes may share one local KV file, and SQLite lets only one write at a time. Such a failure means
 * the operation did not happen, so it is safe to run it again. Other errors are passed on at once.
 */

const ATTEMPTS = 10;

/** Whether an error is SQLite's "busy" (the operation was not applied). */
export function isBusy(e: unknown): boolean {
  return e instanceof Error && /database is (locked|busy)/i.test(e.message);
}

/** Runs `op`, retrying with a short backoff (1 ms, 2 ms, … 64 ms; about 0.3 s in all) while KV is busy. */
export async function retryBusy<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await op();
    } catch (e) {
      if (attempt >= ATTEMPTS || !isBusy(e)) throw e;
      await new Promise((resolve) => setTimeout(resolve, Math.min(64, 2 ** (attempt - 1))));
    }
  }
}
