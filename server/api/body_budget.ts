/**
 * @module
 * Request bodies held at once, across all requests: each request's body is reserved against one shared budget
 * (`general_settings.max_body_bytes_in_flight`) while it is read and until the call no longer needs it, and a body
 * that does not fit is refused with a 503 and `Retry-After` before it is read. The per-request cap
 * (`max_request_body_bytes`) bounds one body; this bounds them all, so N clients sending N large bodies cannot take
 * N × the per-request cap of memory.
 *
 * Large bodies are also validated one per event-loop turn (`turn`): parsing a 20 MiB body is tens of milliseconds of
 * synchronous work, and ten of them back to back would hold every other request (health checks included) for all of
 * it. Between two large bodies the event loop gets a turn to serve what is waiting.
 */
import { GatewayError } from "../core/errors.ts";

/** One request's share of the budget. Idempotent `release`. */
export interface BodyLease {
  /** Reserves `bytes` more for this request; throws a 503 (nothing reserved) when the budget cannot take them. */
  reserve(bytes: number): void;
  /** Resolves when a body of `bytes` may be validated: at once for small ones, one large body per turn otherwise. */
  turn(bytes: number): Promise<void>;
  /** Gives back everything this lease reserved. */
  release(): void;
}

export interface BodyBudget {
  lease(): BodyLease;
  /** Bytes reserved right now. */
  readonly inFlight: number;
}

export interface BodyBudgetOptions {
  /** The most body bytes reserved at once. */
  maxBytes: number;
  /** Bodies at least this large take turns to be validated (default 1 MiB). */
  largeBytes?: number;
  /** Runs `fn` on a later event-loop turn (default `setTimeout(fn, 0)`); tests run turns by hand. */
  later?: (fn: () => void) => void;
}

const LARGE_BODY = 1024 * 1024;

const busy = (inFlight: number, max: number) =>
  new GatewayError(
    503,
    "ServiceUnavailableException",
    `The gateway is receiving too many request bodies at once (${inFlight} of ${max} bytes in use, ` +
      "general_settings.max_body_bytes_in_flight); retry shortly",
    { litellmType: "service_unavailable", retryAfter: 1, reason: "body_budget" },
  );

export function createBodyBudget(opts: BodyBudgetOptions): BodyBudget {
  const { maxBytes } = opts;
  const largeBytes = opts.largeBytes ?? LARGE_BODY;
  const later = opts.later ?? ((fn: () => void) => void setTimeout(fn, 0));
  let inFlight = 0;
  const waiting: Array<() => void> = [];
  let pumping = false;

  /** Lets the next large body go, then schedules the one after it on a later turn. */
  const pump = () => {
    const next = waiting.shift();
    if (!next) {
      pumping = false;
      return;
    }
    next();
    later(pump);
  };

  return {
    get inFlight() {
      return inFlight;
    },
    lease(): BodyLease {
      let held = 0;
      return {
        reserve(bytes) {
          if (bytes <= 0) return;
          if (inFlight + bytes > maxBytes) throw busy(inFlight, maxBytes);
          inFlight += bytes;
          held += bytes;
        },
        turn(bytes) {
          if (bytes < largeBytes) return Promise.resolve();
          return new Promise<void>((resolve) => {
            waiting.push(resolve);
            if (!pumping) {
              pumping = true;
              later(pump);
            }
          });
        },
        release() {
          inFlight -= held;
          held = 0;
        },
      };
    },
  };
}
