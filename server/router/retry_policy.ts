/**
 * @module
 * Which failed attempts are worth another try, which count against a deployment's health, and how long to
 * wait before trying a deployment that already failed this call.
 *
 * Retryable: connection errors and timeouts, 408 `ModelTimeoutException`, 429 (`ThrottlingException`,
 * `ModelNotReadyException`) and 5xx (`InternalServerException`, `ServiceUnavailableException`). Every other 4xx
 * is the request's own fault (or a permanent deployment problem) and is answered at once.
 */
import { GatewayError } from "../core/errors.ts";

export interface FailureVerdict {
  status: number;
  /** Bedrock exception name (or `HTTP<status>` when the upstream sent none). */
  type: string;
  /** Another attempt (another deployment, or after a backoff) may succeed. */
  retryable: boolean;
  /** Counts toward the deployment's `allowed_fails`: the deployment, not the request, is at fault. */
  deploymentFault: boolean;
  /** The upstream's Retry-After, in ms. */
  retryAfterMs?: number;
}

const RETRYABLE_TYPES: ReadonlySet<string> = new Set([
  "ThrottlingException",
  "ModelNotReadyException",
  "ModelTimeoutException",
  "ServiceUnavailableException",
  "InternalServerException",
]);

/** Not retried for this call, but they say the deployment is misconfigured (credentials, model access, id). */
const DEPLOYMENT_FAULT_STATUSES: ReadonlySet<number> = new Set([401, 403, 404]);

/** Longest single wait the router will sit through before giving up on a group; longer Retry-Afters are relayed. */
export const MAX_BACKOFF_MS = 10_000;
const BASE_BACKOFF_MS = 500;

/** `ThrottlingException:http://internal.amazon.com/…` → `ThrottlingException`. */
export function errorTypeHeader(headers: Headers): string | undefined {
  const raw = headers.get("x-amzn-errortype");
  if (!raw) return undefined;
  const colon = raw.indexOf(":");
  return colon >= 0 ? raw.slice(0, colon) : raw;
}

/** Retry-After as ms: delta-seconds (fractions allowed) or an HTTP date. Undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function verdict(status: number, type: string, retryAfterMs?: number): FailureVerdict {
  const retryable = RETRYABLE_TYPES.has(type) || status === 408 || status === 429 ||
    (status >= 500 && status !== 501);
  return { status, type, retryable, deploymentFault: retryable || DEPLOYMENT_FAULT_STATUSES.has(status), retryAfterMs };
}

/** Judges an upstream error response (status ≥ 400) from its head alone; the body is left unread. */
export function judgeResponse(response: Response, now: number): FailureVerdict {
  const type = errorTypeHeader(response.headers) ?? `HTTP${response.status}`;
  return verdict(response.status, type, parseRetryAfter(response.headers.get("retry-after"), now));
}

/**
 * Judges what an attempt threw. Connection failures (502) and timeouts (504) are retryable; a client that went
 * away (499) ends the call; anything that is not a `GatewayError` is a bug and is not retried.
 */
export function judgeError(e: unknown): FailureVerdict | undefined {
  if (!(e instanceof GatewayError) || e.status === 499) return undefined;
  const retryAfterMs = e.options.retryAfter === undefined ? undefined : e.options.retryAfter * 1000;
  return verdict(e.status, e.type, retryAfterMs);
}

/**
 * How long to wait before another try when no untried healthy deployment is left: the upstream's Retry-After
 * when it sent one, else exponential backoff (0.5 s, 1 s, 2 s, … capped at 8 s); never less than
 * `router_settings.retry_after`.
 */
export function backoffMs(step: number, minMs: number, retryAfterMs: number | undefined): number {
  const exponential = Math.min(8_000, BASE_BACKOFF_MS * 2 ** step);
  return Math.max(minMs, retryAfterMs ?? exponential);
}
