/**
 * @module
 * The credential sources of one gateway: one per distinct `CredentialSpec` (deployments that configure the same
 * thing share it, and an assume-role's base is an ordinary shared source too), each refreshing itself in the
 * background on the injected clock.
 *
 * Start-up calls `start()`, which runs the first resolution of every source registered with `atStart` (bounded by
 * the SDK's timeouts and `resolveTimeoutMs`); a source first asked for later (the pass-through account when no
 * `bedrock_passthrough` block names one) is resolved by its first call, which waits for it once.
 */
import { DEFAULT_PROVIDER_OPTIONS, fixedResolved, type ProviderOptions, resolverFor } from "./providers.ts";
import { createSource, type CredentialClock, type CredentialLog, type CredentialSource } from "./source.ts";
import { type AwsCredentials, type CredentialSpec, describeSpec, specKey, specSecrets } from "./spec.ts";

export interface CredentialSourcesOptions {
  clock?: CredentialClock;
  log?: CredentialLog;
  /** Refresh temporary credentials this long before they expire (default 5 minutes, the AWS SDKs' margin). */
  refreshAheadMs?: number;
  /** Longest a single resolution may take before it counts as failed (default 15 s). */
  resolveTimeoutMs?: number;
  /** Timeouts and retries of the container endpoint, IMDS and STS (tests turn retries off). */
  providers?: Partial<Omit<ProviderOptions, "warn" | "now">>;
}

export interface CredentialSources {
  /** The source of `spec` (created on first use). `atStart`: resolved by `start()`. */
  source(spec: CredentialSpec, opts?: { atStart?: boolean }): CredentialSource;
  /** Runs the first resolution of every `atStart` source; resolves once each has succeeded or failed. */
  start(): Promise<void>;
  /** Resolves once no source is resolving (tests wait here for a background refresh to land). */
  idle(): Promise<void>;
  /** Stops every refresh timer. */
  close(): void;
}

export const DEFAULT_REFRESH_AHEAD_MS = 5 * 60_000;
const DEFAULT_RESOLVE_TIMEOUT_MS = 15_000;

/** Real time; refresh timers do not keep the process alive. */
export const systemCredentialClock: CredentialClock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const id = setTimeout(fn, ms);
    Deno.unrefTimer(id);
    return id;
  },
  clearTimeout: (handle) => clearTimeout(handle as number),
};

const quiet: CredentialLog = { info() {}, warn() {} };

export function createCredentialSources(opts: CredentialSourcesOptions = {}): CredentialSources {
  const clock = opts.clock ?? systemCredentialClock;
  const log = opts.log ?? quiet;
  const providerOptions: ProviderOptions = {
    ...DEFAULT_PROVIDER_OPTIONS,
    ...opts.providers,
    warn: (message) => log.warn("AWS SDK credential provider warning", { detail: message }),
    now: () => clock.now(),
  };
  // By object first: the hot path looks up the spec object its deployment holds (one Map.get per call).
  const bySpec = new Map<CredentialSpec, CredentialSource>();
  const byKey = new Map<string, CredentialSource>();
  const atStart = new Set<CredentialSource>();

  const base = async (spec: CredentialSpec): Promise<AwsCredentials> => await source(spec).get();

  function create(spec: CredentialSpec): CredentialSource {
    const common = {
      name: describeSpec(spec),
      resolve: resolverFor(spec, providerOptions, base),
      clock,
      log,
      refreshAheadMs: opts.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS,
      resolveTimeoutMs: opts.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS,
      secrets: specSecrets(spec),
    };
    if (spec.kind === "static" || spec.kind === "env") {
      return createSource({ ...common, kind: spec.kind, initial: fixedResolved(spec) });
    }
    return createSource({ ...common, ...(spec.kind === "chain" ? {} : { kind: spec.kind }) });
  }

  function source(spec: CredentialSpec, o: { atStart?: boolean } = {}): CredentialSource {
    let s = bySpec.get(spec);
    if (s === undefined) {
      const key = specKey(spec);
      s = byKey.get(key);
      if (s === undefined) byKey.set(key, s = create(spec));
      bySpec.set(spec, s);
    }
    if (o.atStart) atStart.add(s);
    return s;
  }

  return {
    source,
    start: async () => {
      await Promise.all([...atStart].map((s) => s.start()));
    },
    async idle() {
      // A resolution can start another (an assume-role resolves its base): wait until a pass finds none.
      for (;;) {
        const busy = [...byKey.values()].filter((s) => s.resolving());
        if (busy.length === 0) return;
        await Promise.all(busy.map((s) => s.idle()));
      }
    },
    close() {
      for (const s of byKey.values()) s.close();
    },
  };
}
