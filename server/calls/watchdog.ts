/**
 * @module
 * A watchdog for "no upstream data for `stream_timeout`": it fires when one wait for the next chunk lasts longer
 * than the limit, and never counts the time the relay is not waiting (a slow client is not a stalled upstream).
 *
 * Cheap per chunk on purpose: a wait only notes the clock. One timer is armed lazily and, when it fires early
 * (the wait it was armed for ended and a later one began), re-armed for the rest of the current wait — instead of
 * a setTimeout/clearTimeout pair for every chunk of every stream.
 */
import { systemTimers, type Timers } from "../core/timers.ts";

/** The clock and timers the watchdog runs on; injected by tests to move time by hand. */
export interface WatchdogClock extends Timers {
  /** Monotonic milliseconds. */
  now(): number;
}

export const systemClock: WatchdogClock = Object.freeze({ ...systemTimers, now: () => performance.now() });

/**
 * @example
 * ```ts
 * import { IdleWatchdog, systemClock } from "./watchdog.ts";
 *
 * declare const upstream: AbortController;
 * declare const reader: ReadableStreamDefaultReader<Uint8Array>;
 * const watchdog = new IdleWatchdog(30_000, () => upstream.abort(), systemClock);
 * watchdog.beginWait();
 * const chunk = await reader.read();
 * watchdog.endWait();
 * // … and watchdog.stop() once the stream is over, on every path.
 * ```
 */
export class IdleWatchdog {
  readonly #limitMs: number;
  readonly #onIdle: () => void;
  readonly #clock: WatchdogClock;
  /** Start of the current wait, or undefined while not waiting. */
  #waitingSince: number | undefined;
  #timer: unknown;
  #armed = false;
  #stopped = false;

  /** @param limitMs longest single wait; 0 or less disables the watchdog (no timer is ever armed) */
  constructor(limitMs: number, onIdle: () => void, clock: WatchdogClock = systemClock) {
    this.#limitMs = limitMs;
    this.#onIdle = onIdle;
    this.#clock = clock;
  }

  /** A read on the upstream starts. */
  beginWait(): void {
    if (this.#stopped || this.#limitMs <= 0) return;
    this.#waitingSince = this.#clock.now();
    if (!this.#armed) this.#arm(this.#limitMs);
  }

  /** The read settled (data, end or error). */
  endWait(): void {
    this.#waitingSince = undefined;
  }

  /** No more waits: clears the timer. Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#waitingSince = undefined;
    if (this.#armed) this.#clock.clearTimeout(this.#timer);
    this.#armed = false;
  }

  #arm(ms: number): void {
    this.#armed = true;
    this.#timer = this.#clock.setTimeout(() => this.#check(), ms);
  }

  #check(): void {
    this.#armed = false;
    // Not waiting (or stopped): nothing to time; the next wait arms a fresh timer.
    if (this.#stopped || this.#waitingSince === undefined) return;
    const waited = this.#clock.now() - this.#waitingSince;
    if (waited >= this.#limitMs) {
      this.stop();
      this.#onIdle();
    } else this.#arm(this.#limitMs - waited);
  }
}
