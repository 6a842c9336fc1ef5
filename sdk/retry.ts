/**
 * @module
 * When to try a call again and how long to wait first, as the AWS SDKs' standard retry mode does: throttling
 * (429, `ThrottlingException`), transient server errors (500, 502, 503, 504) and connection failures are retried
 * with exponential backoff and full jitter; everything else — validation, auth, access, budget — is the request's
 * own fault and is thrown at once. A `Retry-After` from the gateway is a floor on the wait.
 *
 * The constants are those of the AWS SDK for JavaScript v3 (`@smithy/util-retry`, 2026 defaults): a base of
 * 50 ms (1 s after throttling), doubled per retry, capped at 20 s, the wait a uniform random fraction of that.
 */
import { BudgetExceededError, ConnectionError, ConverseError } from "./errors.ts";

/** Waits `ms`; rejects with the signal's reason as soon as it aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Retries after the first try, unless the client or the call says otherwise (AWS's `maxAttempts` 3). */
export const DEFAULT_MAX_RETRIES = 2;

const BASE_DELAY_MS = 50;
const THROTTLING_BASE_DELAY_MS = 1_000;
/** Longest wait before a retry. A `Retry-After` asking for more is not waited for: the error is thrown instead. */
export const MAX_RETRY_DELAY_MS = 20_000;

const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);

/**
 * How long to wait before retry number `retry` (0 for the first) after `error`, or undefined when `error` is not
 * worth another try.
 * @param random a uniform number in [0, 1), like `Math.random`
 */
export function retryDelayMs(error: unknown, retry: number, random: () => number): number | undefined {
  // Over budget stays over budget, whatever status it came with.
  if (!(error instanceof ConverseError) || error instanceof BudgetExceededError) return undefined;
  const throttled = error.status === 429 || error.type === "ThrottlingException";
  if (!throttled && !(error instanceof ConnectionError) && !TRANSIENT_STATUSES.has(error.status)) return undefined;
  const retryAfterMs = (error.retryAfter ?? 0) * 1000;
  if (retryAfterMs > MAX_RETRY_DELAY_MS) return undefined;
  const ceiling = Math.min(MAX_RETRY_DELAY_MS, (throttled ? THROTTLING_BASE_DELAY_MS : BASE_DELAY_MS) * 2 ** retry);
  return Math.max(retryAfterMs, Math.floor(random() * ceiling));
}

/** `setTimeout` as a promise, cut short by `signal`. */
export const sleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const abort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", abort, { once: true });
  });

/** What the retry loops need: the limit, and the randomness and clock they use (injected in tests). */
export interface RetryPolicy {
  maxRetries: number;
  random: () => number;
  sleep: Sleep;
}

/** The wait before the next try, or undefined to throw `error`: retries spent, caller aborted, not retryable. */
function nextDelay(p: RetryPolicy, error: unknown, retry: number, signal?: AbortSignal): number | undefined {
  return retry < p.maxRetries && !signal?.aborted ? retryDelayMs(error, retry, p.random) : undefined;
}

/** Runs `attempt` until it succeeds or fails for good, waiting between tries. */
export async function retrying<T>(
  p: RetryPolicy,
  signal: AbortSignal | undefined,
  attempt: () => Promise<T>,
): Promise<T> {
  for (let retry = 0;; retry++) {
    try {
      return await attempt();
    } catch (e) {
      const delay = nextDelay(p, e, retry, signal);
      if (delay === undefined) throw e;
      await p.sleep(delay, signal);
    }
  }
}

/**
 * The items of `open()`, which is opened again after a retryable failure only while it has yielded nothing: once
 * an event has been delivered, a retry would deliver the start of the answer twice.
 */
export async function* retryingStream<T>(
  p: RetryPolicy,
  signal: AbortSignal | undefined,
  open: () => AsyncIterable<T>,
): AsyncGenerator<T, void, undefined> {
  for (let retry = 0;; retry++) {
    let delivered = false;
    let delay: number | undefined;
    try {
      for await (const item of open()) {
        delivered = true;
        yield item;
      }
      return;
    } catch (e) {
      delay = delivered ? undefined : nextDelay(p, e, retry, signal);
      if (delay === undefined) throw e;
    }
    await p.sleep(delay, signal);
  }
}
