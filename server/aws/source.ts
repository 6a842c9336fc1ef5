/**
 * @module
 * One credential source: its current credentials, cached and refreshed in the background.
 *
 * The hot path asks synchronously (`current`, `get`): the SigV4 signer is synchronous and a call must never wait for
 * a refresh. The only wait a call may see is a source's very first resolution (usually done at start-up, see
 * `sources.ts`). Temporary credentials are refreshed `refreshAheadMs` before they expire, on the injected clock; a
 * failed refresh keeps the current credentials until they expire, logs once, and retries with backoff (never later
 * than half the time left); once they have expired (or when there never were any) the source is unavailable, with
 * the reason, until a refresh succeeds. Nothing here ever logs or reports a credential value.
 */
import { errorText, type Resolved, type Resolver } from "./providers.ts";
import type { AwsCredentials, SourceKind } from "./spec.ts";

/** Wall clock and timers (injected: tests move time by hand). */
export interface CredentialClock {
  /** Wall clock, ms since the epoch: expirations are wall-clock times. */
  now(): number;
  /** Returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The two levels a source logs at (the gateway's `Logger` fits). */
export interface CredentialLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface SourceOptions {
  /** Names the source in logs and errors (`describeSpec`): never a secret. */
  name: string;
  /** Known up front, except for the default chain (then: whichever link answered). */
  kind?: SourceKind;
  resolve: Resolver;
  /** Credentials known without any I/O (keys from the config or the environment). */
  initial?: Resolved;
  clock: CredentialClock;
  log: CredentialLog;
  /** Refresh temporary credentials this long before they expire. */
  refreshAheadMs: number;
  /** A resolution still running after this long counts as failed. */
  resolveTimeoutMs: number;
  /** Values to strip from error text before it is logged or returned. */
  secrets: string[];
}

/** `pending`: never resolved yet (calls wait for the first resolution); `unavailable`: calls get a 503. */
export type CredentialState = "pending" | "ready" | "unavailable";

/** What `/health` may say about a source: its kind and state, never a value. */
export interface CredentialStatus {
  kind?: SourceKind;
  state: CredentialState;
  /** Why it is unavailable; or, while `ready`, why the last refresh failed. */
  error?: string;
  /** When the current credentials expire (ms since the epoch), if they do. */
  expiration?: number;
}

/** A call found no usable credentials. The message names the source and the reason, never a value. */
export class CredentialsUnavailableError extends Error {
  constructor(readonly source: string, readonly reason: string) {
    super(`no AWS credentials from ${source}: ${reason}`);
    this.name = "CredentialsUnavailableError";
  }
}

export interface CredentialSource {
  /** The source's name, with the kind that answered once a default chain has resolved. */
  describe(): string;
  /** Usable credentials now, or undefined. Never waits, never starts anything. */
  current(): AwsCredentials | undefined;
  /**
   * Usable credentials for a call: at once when there are some; a promise only while the source's first resolution
   * runs. Otherwise throws `CredentialsUnavailableError` (starting a retry in the background, as `unavailable` does).
   */
  get(): AwsCredentials | Promise<AwsCredentials>;
  /**
   * Why calls cannot be signed now; undefined while usable, or before the first resolution has finished. Asking
   * starts a retry in the background (at most once a second), so a source that comes back is found by the next call.
   */
  unavailable(): string | undefined;
  status(): CredentialStatus;
  /** Starts the first resolution unless one was made; resolves once it has succeeded or failed. */
  start(): Promise<void>;
  /** Whether a resolution of this source is running. */
  resolving(): boolean;
  /** Resolves once no resolution of this source is running. */
  idle(): Promise<void>;
  /** Cancels the refresh timer; results arriving later are dropped. */
  close(): void;
}

/** Credentials this close to expiry are not used: a request signed with them could arrive after they expired. */
export const EXPIRY_MARGIN_MS = 10_000;
/** The shortest wait before trying again (a refresh that keeps failing, a call finding nothing). */
const MIN_RETRY_MS = 1_000;
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 5 * 60_000;
/** setTimeout's largest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const iso = (ms: number) => new Date(ms).toISOString();

export function createSource(o: SourceOptions): CredentialSource {
  const { clock, log } = o;
  let creds: AwsCredentials | undefined = o.initial?.credentials;
  let kind: SourceKind | undefined = o.initial?.kind ?? o.kind;
  /** The last resolution's failure; cleared by a success. */
  let error: string | undefined;
  let failures = 0;
  let settled = o.initial !== undefined;
  let running: Promise<void> | undefined;
  let lastAttempt = -Infinity;
  let timer: unknown;
  let closed = false;
  let expiryLogged = false;

  const redact = (text: string) => o.secrets.reduce((t, s) => (s ? t.split(s).join("[redacted]") : t), text);
  const describe = () => (kind && o.kind === undefined ? `${kind} (via ${o.name})` : o.name);
  const usable = (c: AwsCredentials) => c.expiration === undefined || clock.now() < c.expiration - EXPIRY_MARGIN_MS;
  const fields = () => ({ source: o.name, credential_source: kind ?? null });

  function arm(ms: number) {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = clock.setTimeout(() => {
      timer = undefined;
      void resolveOnce();
    }, Math.min(Math.max(0, ms), MAX_TIMER_MS));
  }

  function succeeded(r: Resolved) {
    const recovered = error !== undefined;
    const first = creds === undefined;
    creds = r.credentials;
    kind = r.kind;
    error = undefined;
    failures = 0;
    expiryLogged = false;
    if (recovered) log.info("AWS credentials refreshed after failures", fields());
    else if (first) log.info("AWS credentials ready", fields());
    const expiration = creds.expiration;
    if (expiration === undefined || r.kind === "static" || r.kind === "env") return;
    const now = clock.now();
    const at = expiration - o.refreshAheadMs;
    // Short-lived credentials (less left than the lead time): refresh halfway through what is left.
    arm(at > now ? at - now : Math.max(MIN_RETRY_MS, (expiration - now) / 2));
  }

  function failed(e: unknown) {
    const reason = redact(errorText(e)).slice(0, 500);
    const streak = error !== undefined;
    error = reason;
    failures++;
    const now = clock.now();
    const live = creds !== undefined && usable(creds);
    if (!streak) {
      if (live) {
        log.warn("AWS credential refresh failed: the current credentials are kept until they expire", {
          ...fields(),
          reason,
          expires_at: creds?.expiration === undefined ? null : iso(creds.expiration),
        });
      } else log.warn("AWS credentials unavailable", { ...fields(), reason });
    }
    let wait = Math.min(FIRST_RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS);
    // Credentials still serving: try again well before they run out.
    if (live && creds?.expiration !== undefined) {
      wait = Math.min(wait, Math.max(MIN_RETRY_MS, (creds.expiration - EXPIRY_MARGIN_MS - now) / 2));
    }
    arm(wait);
  }

  /** Rejects after `resolveTimeoutMs`: an unreachable endpoint must not hold the source (or start-up) for long. */
  function bounded(p: Promise<Resolved>): Promise<Resolved> {
    return new Promise((resolve, reject) => {
      const seconds = o.resolveTimeoutMs / 1000;
      const handle = clock.setTimeout(() => reject(new Error(`timed out after ${seconds} s`)), o.resolveTimeoutMs);
      p.then((v) => {
        clock.clearTimeout(handle);
        resolve(v);
      }, (e) => {
        clock.clearTimeout(handle);
        reject(e);
      });
    });
  }

  /** Runs one resolution (or joins the one running). */
  function resolveOnce(): Promise<void> {
    if (running) return running;
    if (closed) return Promise.resolve();
    lastAttempt = clock.now();
    const refresh = creds !== undefined || failures > 0;
    const attempt = bounded(o.resolve({ refresh })).then(
      (r) => {
        if (!closed) succeeded(r);
      },
      (e) => {
        if (!closed) failed(e);
      },
    ).finally(() => {
      settled = true;
      running = undefined;
    });
    running = attempt;
    return attempt;
  }

  /** Starts a retry off the hot path when a caller finds nothing usable, at most once a second. */
  function kick() {
    if (!running && !closed && clock.now() - lastAttempt >= MIN_RETRY_MS) void resolveOnce();
  }

  function unavailable(): string | undefined {
    const c = creds;
    if (c !== undefined && usable(c)) return undefined;
    if (!settled) return undefined;
    kick();
    if (c?.expiration === undefined) return error ?? "not resolved yet";
    const fixed = kind === "env" || kind === "static";
    const reason = `the credentials expired at ${iso(c.expiration)}` +
      (fixed
        ? " (they are not refreshable)"
        : error
        ? ` and could not be refreshed: ${error}`
        : " and are being refreshed");
    if (!expiryLogged) {
      expiryLogged = true;
      log.warn("AWS credentials expired without a successful refresh: calls are refused", { ...fields(), reason });
    }
    return reason;
  }

  const unavailableError = () => new CredentialsUnavailableError(describe(), unavailable() ?? "not resolved yet");

  function afterFirst(): AwsCredentials {
    const c = creds;
    if (c !== undefined && usable(c)) return c;
    throw unavailableError();
  }

  return {
    describe,
    current: () => (creds !== undefined && usable(creds) ? creds : undefined),
    get() {
      const c = creds;
      if (c !== undefined && usable(c)) return c;
      if (!settled) return resolveOnce().then(afterFirst);
      throw unavailableError();
    },
    unavailable,
    status() {
      const reason = unavailable();
      const state: CredentialState = reason !== undefined ? "unavailable" : settled ? "ready" : "pending";
      const out: CredentialStatus = { state };
      if (kind) out.kind = kind;
      if (reason ?? error) out.error = reason ?? error;
      if (creds?.expiration !== undefined) out.expiration = creds.expiration;
      return out;
    },
    start: () => (settled ? Promise.resolve() : resolveOnce()),
    resolving: () => running !== undefined,
    idle: () => running ?? Promise.resolve(),
    close() {
      closed = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
