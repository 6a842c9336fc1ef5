/**
 * @module
 * Bounds guessing at the sign-in form: a client (its IP address) that failed `limit` times in the current clock
 * minute is refused until the next one, per instance. Memory is bounded: the table is emptied when the minute
 * turns, and past `maxClients` addresses in one minute the newcomers share one bucket (so a flood of addresses
 * gets `limit` guesses between them, and known clients keep their own counts).
 *
 * Keys made by the gateway carry 192 random bits, so this protects weak master keys (`sk-1234`) rather than them.
 * Behind a proxy every client has the proxy's address: the limit then holds for all of them together.
 */

export interface SignInLimiter {
  /** Seconds until `client` may try again; 0 when it may now. */
  retryAfter(client: string): number;
  /** Counts a failed attempt by `client`. */
  failed(client: string): void;
}

export interface SignInLimiterOptions {
  now: () => number;
  /** Failed attempts allowed per client per minute (default 10). */
  limit?: number;
  /** Distinct clients counted apart per minute (default 10,000). */
  maxClients?: number;
}

const MINUTE_MS = 60_000;
/** The shared bucket of clients beyond `maxClients` (not an address, so it never collides with one). */
const OVERFLOW = "*";

export function createSignInLimiter(opts: SignInLimiterOptions): SignInLimiter {
  const { now } = opts;
  const limit = opts.limit ?? 10;
  const maxClients = opts.maxClients ?? 10_000;
  const failures = new Map<string, number>();
  let minute = -1;

  /** The bucket `client` counts in this minute (starting the minute over when it has turned). */
  function bucket(client: string): string {
    const m = Math.floor(now() / MINUTE_MS);
    if (m !== minute) {
      minute = m;
      failures.clear();
    }
    return failures.has(client) || failures.size < maxClients ? client : OVERFLOW;
  }

  return {
    retryAfter(client) {
      const id = bucket(client);
      if ((failures.get(id) ?? 0) < limit) return 0;
      return Math.max(1, Math.ceil(((minute + 1) * MINUTE_MS - now()) / 1000));
    },
    failed(client) {
      const id = bucket(client);
      failures.set(id, (failures.get(id) ?? 0) + 1);
    },
  };
}
