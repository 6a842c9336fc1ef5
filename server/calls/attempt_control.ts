/**
 * @module
 * The abort controller and timer of one upstream attempt.
 *
 * Each attempt gets its own controller, linked to the client's signal, so that a timed-out or failed attempt can
 * be given up (its connection closed) while the call goes on with another attempt. The last attempt's control is
 * handed to the response relay, which unlinks it when the response is done. Timeouts run on the gateway's shared
 * `Deadlines` (one timer per duration, not one per call).
 */
import type { Deadlines } from "./deadlines.ts";

export interface AttemptControl {
  readonly controller: AbortController;
  readonly signal: AbortSignal;
  /** The client-abort listener linking the client's signal to this attempt (the relay removes it when done). */
  readonly onClientAbort: () => void;
  /** Stops the timeout timer (a stream's timer only covers the wait for the response head). */
  clearTimer(): void;
  /** Clears the timer and unlinks the client's signal; the attempt's response may still be read. */
  dispose(): void;
  /** Disposes and aborts: the attempt is given up, its connection must go. Idempotent. */
  abandon(): void;
}

/**
 * Starts an attempt's control; with `timeoutMs` (and the `deadlines` to run it on), the attempt aborts with a
 * `TimeoutError` when it runs out. With `clientSignal`, it aborts when the client leaves; without, it runs to its
 * end (a JSON exchange once sent is read and billed whatever the client does).
 */
export function startAttempt(
  clientSignal: AbortSignal | undefined,
  timeoutMs?: number,
  deadlines?: Deadlines,
): AttemptControl {
  const controller = new AbortController();
  const onClientAbort = () => controller.abort(new DOMException("client disconnected", "AbortError"));
  let deadline: { cancel(): void } | undefined;
  if (clientSignal?.aborted) onClientAbort();
  else clientSignal?.addEventListener("abort", onClientAbort, { once: true });
  if (timeoutMs !== undefined && deadlines && !controller.signal.aborted) {
    deadline = deadlines.after(timeoutMs, () => controller.abort(new DOMException("timed out", "TimeoutError")));
  }
  const clearTimer = () => {
    deadline?.cancel();
    deadline = undefined;
  };
  const dispose = () => {
    clearTimer();
    clientSignal?.removeEventListener("abort", onClientAbort);
  };
  return {
    controller,
    signal: controller.signal,
    onClientAbort,
    clearTimer,
    dispose,
    abandon() {
      dispose();
      if (!controller.signal.aborted) controller.abort(new DOMException("attempt abandoned", "AbortError"));
    },
  };
}
