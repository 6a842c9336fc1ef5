/**
 * @module
 * The composition root: builds every service from explicit dependencies (config, KV, clock, fetch, random)
 * and wires them into the app. No module-level singletons, so tests build as many gateways as they like
 * in-process.
 */
import { type CredentialClock, type CredentialSourcesOptions, systemCredentialClock } from "./aws/mod.ts";
import type { GatewayConfig } from "./config/types.ts";
import { createDeadlines } from "./calls/deadlines.ts";
import { createBodyBudget } from "./api/body_budget.ts";
import type { ServeInfo } from "./api/body_watch.ts";
import { modelCalls } from "./calls/model_call.ts";
import { passthroughCalls } from "./calls/passthrough_call.ts";
import { OpenStreams } from "./calls/open_streams.ts";
import { createPipeline } from "./calls/pipeline.ts";
import { createSettlement } from "./calls/settle.ts";
import { createSigV4Signer } from "./aws/mod.ts";
import { createUpstream } from "./calls/upstream.ts";
import { createDeploymentCredentials } from "./deployment_credentials.ts";
import type { BudgetReached } from "./keys/admission.ts";
import { createKeyServices } from "./keys/services.ts";
import type { OwnerChangeListener } from "./owners/changes.ts";
import { createOwnerServices } from "./owners/services.ts";
import { createCatalog } from "./models/catalog.ts";
import { createHolds } from "./limits/holds.ts";
import { createLogger, type Logger } from "./core/log.ts";
import { createFetch } from "./http/app.ts";
import { withCors } from "./http/cors.ts";
import { createReadiness } from "./health/readiness.ts";
import { createHealth } from "./health/report.ts";
import { createRouter } from "./router/router.ts";
import type { RouterPeers } from "./router/peers.ts";
import type { MetricsSnapshot } from "./spend/metrics.ts";
import type { CallRecord } from "./core/call_record.ts";
import { createPricing } from "./pricing/cost.ts";
import { createHoldPricing } from "./pricing/hold_price.ts";
import { CLOSE_WAIT_MS, createLedger } from "./kv/ledger.ts";
import { priceTablesFor } from "./pricing/price_table.ts";
import { createSpendServices } from "./spend/services.ts";
import { createUi } from "./ui/mod.ts";
import { createHttpClient } from "./upstream_client/mod.ts";
import { createUuidV7 } from "./core/uuidv7.ts";
import { runtimeTracer, type Tracer } from "./core/telemetry.ts";
import { createCallTracing } from "./calls/call_span.ts";
import { createServerSpans } from "./http/server_span.ts";
import { createAuditLog } from "./audit/audit_log.ts";
import { createAlerts } from "./alerts/alerts.ts";
import { budgetAlert, cooldownAlert, groupDownAlert } from "./alerts/alert_texts.ts";
import { hashKey } from "./keys/credentials.ts";
import { publicBase } from "./core/redact.ts";

export interface GatewayDeps {
  config: GatewayConfig;
  kv: Deno.Kv;
  /** How upstream calls are sent; default per `config.upstreamClient` (the native client, or the global `fetch`). */
  fetch?: typeof fetch;
  /** Wall clock, ms since the epoch. */
  now?: () => number;
  random?: () => number;
  /** Request and instance ids; default UUIDv7 on `now` (spend-log lookups by request id decode its time). */
  newId?: () => string;
  log?: Logger;
  /** Extra accounting listener (tests observe finished calls here). */
  onCall?: (record: CallRecord) => void;
  /** Told of every written change of a team or user, with who made it (where an audit trail hooks in). */
  onOwnerChange?: OwnerChangeListener;
  /** Told when a call takes a key's, team's, user's or the proxy's spend to its `max_budget` (where alerts hook in). */
  onBudgetReached?: (event: BudgetReached) => void;
  /** How the router waits before retrying a deployment (tests pass one that does not wait). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * How long `close()` waits for accounting to reach KV (default `CLOSE_WAIT_MS`, 4 s) before it logs what it
   * could not write.
   */
  closeWaitMs?: number;
  /** How the ledger waits between attempts of a failing commit (tests pass one that waits a macrotask). */
  ledgerSleep?: (ms: number) => Promise<void>;
  /** Timers of AWS credential refreshes (on `now`); tests pass a hand-moved clock's. Default: real, unref'd. */
  timers?: Pick<CredentialClock, "setTimeout" | "clearTimeout">;
  /** Timeouts and retries of credential resolution (tests turn retries off). */
  credentialOptions?: Pick<CredentialSourcesOptions, "providers" | "resolveTimeoutMs">;
  /**
   * Where spans go: default Deno's tracer when its OpenTelemetry tracing is on (`OTEL_DENO=true`), else none (no
   * span is made). Tests pass a recording one.
   */
  tracer?: Tracer;
  /** The other workers of this process (`--workers N`): the router shares failures and calls in flight with them. */
  routerPeers?: RouterPeers;
  /** The other workers' metrics (`--workers N`): `/metrics` then answers for the whole process. */
  metricsPeers?: () => Promise<MetricsSnapshot[]>;
}

export interface Gateway {
  /**
   * `info`: `Deno.serve`'s connection info (the client's address), when the server passes it, with the server's watch
   * over slow bodies when it has one (the CLI's front door).
   */
  fetch: (req: Request, info?: ServeInfo) => Response | Promise<Response>;
  /**
   * Resolves once every AWS credential source needed at start-up has been tried (each deployment left without
   * credentials is logged). Serving before that is safe: a call waits for its source's first resolution.
   */
  ready(): Promise<void>;
  /** Resolves once no AWS credential refresh is running (tests wait here for a background refresh to land). */
  credentialsIdle(): Promise<void>;
  /**
   * Writes everything queued (spend, counters) to KV now, then runs the upkeep of this instance's slices of limits
   * (re-based on what is now in KV, or given back when idle); resolves once both are done.
   */
  flush(): Promise<void>;
  /**
   * Ends the event streams still being relayed (each gets a `serviceUnavailableException` event, where the stream
   * is at a frame boundary): the last step of a shutdown's drain, before connections are closed.
   */
  endStreams(): void;
  /**
   * Shutdown's accounting: ends the streams still open (as `endStreams()`) and waits for them to be settled, then waits
   * at most `closeWaitMs` (4 s by default) for everything queued to reach KV, then
   * logs exactly what it could not write (each counter and amount, and the number of rows). Call once the HTTP
   * server has stopped taking calls.
   */
  close(): Promise<void>;
  /** This gateway's metrics alone, as data (`--workers N`: what a worker sends the one answering a scrape). */
  metricsSnapshot(): Promise<MetricsSnapshot>;
  /**
   * Model names with a deployment that cannot be called now for want of AWS credentials (or its config): for the
   * start-up line, after `ready()`.
   */
  modelsWithoutCredentials(): string[];
}

/** Resolves with `p`, or after `ms` (then `p` is left to run on; its failure is ignored). */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  p.catch(() => {});
  await Promise.race([p.catch(() => {}), new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, kv } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const newId = deps.newId ?? createUuidV7(now);
  const log = deps.log ?? createLogger();
  const tracer = deps.tracer ?? runtimeTracer();
  // The native client owns a keep-alive pool, closed with the gateway; an injected fetch wins over the config.
  const nativeClient = !deps.fetch && config.upstreamClient === "native" ? createHttpClient() : undefined;
  const fetchFn = deps.fetch ?? nativeClient?.fetch ?? fetch;

  const ledger = createLedger({ kv, instanceId: newId(), log, now, sleep: deps.ledgerSleep });
  const closeWaitMs = deps.closeWaitMs ?? CLOSE_WAIT_MS;
  const pricing = createPricing(config, { tables: priceTablesFor(config), log });
  const holds = createHolds({ kv, ledger, now, log });
  // Alerts to the configured webhooks (general_settings.alerting), delivered in the background.
  // Webhooks are not Bedrock: the runtime's fetch (or the injected one), never the native upstream client.
  const alerts = createAlerts({ routes: config.alerts, kv, fetch: deps.fetch ?? fetch, now, log });
  // The audit trail: every admin change of a key, team or user, logged and kept in KV.
  const audit = createAuditLog({
    kv,
    log,
    newId,
    masterKeyHash: config.masterKey === undefined ? undefined : hashKey(config.masterKey),
  });
  const keys = createKeyServices({
    config,
    kv,
    ledger,
    holds,
    holdPricing: createHoldPricing(config, pricing),
    now,
    newId,
    log,
    onBudgetReached: deps.onBudgetReached,
    onBudgetThreshold: alerts.on ? (e) => alerts.send(budgetAlert(e, now())) : undefined,
    onKeyChange: (c) => {
      const key = c.before ?? c.after!;
      audit.record({ table: "key", objectId: key.hash, ...c });
    },
  });
  const owners = createOwnerServices({
    kv,
    ledger,
    keys,
    now,
    newId,
    log,
    onChange: (c) => {
      audit.record({ table: c.kind, objectId: c.id, ...c });
      deps.onOwnerChange?.(c);
    },
  });
  const timers = deps.timers ?? systemCredentialClock;
  const credentials = createDeploymentCredentials(config, log, {
    clock: { now, setTimeout: (fn, ms) => timers.setTimeout(fn, ms), clearTimeout: (h) => timers.clearTimeout(h) },
    ...deps.credentialOptions,
  });
  const router = createRouter({
    config,
    random,
    now,
    sleep: deps.sleep,
    kv,
    log,
    unavailable: credentials.unavailable,
    credentialStatus: credentials.status,
    // Deployments going down: counted (and, with alerting, announced).
    events: {
      cooledDown: (e) => {
        spend.cooledDown({
          bedrockModelId: e.deployment.bedrockModelId,
          deploymentId: e.deployment.id,
          apiBase: e.deployment.auth.kind === "mock" ? undefined : publicBase(e.deployment.endpoint),
          status: e.status,
        });
        if (alerts.on) alerts.send(cooldownAlert(e, now()));
      },
      groupDown: (e) => {
        if (alerts.on) alerts.send(groupDownAlert(e, now()));
      },
    },
    peers: deps.routerPeers,
  });
  const spend = createSpendServices({
    config,
    kv,
    ledger,
    pricing,
    auth: keys.auth,
    admission: keys.admission,
    deployments: () => router.health(),
    now,
    log,
    metricsPeers: deps.metricsPeers,
  });

  // Settlement: where every finished call's record goes, exactly once.
  const settle = createSettlement({ account: spend.account, admission: keys.admission, ledger, onCall: deps.onCall });

  const upstream = createUpstream({
    fetch: fetchFn,
    signer: createSigV4Signer(),
    credentials: credentials.sources,
    now,
  });
  // Upstream timeouts of all calls share one timer per duration.
  const deadlines = createDeadlines();
  // Streams relayed and not yet settled (those read on for their usage after their client left included): close()
  // ends them and waits until each is billed before it closes the ledger.
  const openStreams = new OpenStreams();
  const background = (_task: Promise<void>, requestId: string) => {
    log.debug("call: the client left after generation ended; reading the stream on for its usage", {
      request_id: requestId,
    });
  };
  // Aborted by endStreams() at the end of a shutdown's drain: streams still running end with an error event.
  const stopping = new AbortController();
  const shutdown = stopping.signal;
  // Model and pass-through calls, each through the one call pipeline.
  const pipeline = createPipeline({
    admission: keys.admission,
    bodies: createBodyBudget({ maxBytes: config.limits.maxBodyBytesInFlight }),
    settle,
    now,
    deadlines,
    storePrompts: config.storePrompts,
    streamTimeoutMs: config.router.streamTimeoutMs,
    background,
    shutdown,
    tracing: tracer && createCallTracing(tracer, { storePrompts: config.storePrompts }),
    openStreams,
    streamSendTimeoutMs: config.limits.streamSendTimeoutMs,
  });
  const calls = {
    model: pipeline.handler(modelCalls({ config, router, upstream, refuseUnpriced: pricing.refuseUnpriced })),
    passthrough: pipeline.handler(passthroughCalls({ config, upstream })),
  };
  const health = createHealth({ config, router, upstream, now, newId, settle });
  // The admin UI reads and changes through the same services as the admin API.
  const ui = createUi({
    masterKey: config.masterKey,
    auth: keys.auth,
    keys: keys.admin,
    teams: owners.teams,
    users: owners.users,
    spend: spend.reads,
    models: { health: () => health({ probe: false, caller: {} }), prices: () => pricing.describe() },
    kv,
    now,
    log,
  });

  // CORS wraps everything, the model-call fast path included: a request without `Origin` pays one header lookup.
  const serve = withCors(
    config.cors,
    createFetch({
      calls,
      health: { auth: keys.auth, ready: createReadiness({ kv, ledger }), health },
      keys: { auth: keys.auth, admin: keys.admin },
      audit: { auth: keys.auth, audit },
      owners: owners.routes,
      models: {
        auth: keys.auth,
        catalog: createCatalog({
          config,
          prices: () => pricing.describe(),
          credentialKind: (d) => credentials.status(d)?.kind,
        }),
      },
      spend: spend.routes,
      ui,
      newId,
      log,
      refused: spend.refused,
      spans: tracer && createServerSpans(),
    }),
  );
  return {
    fetch: serve,
    ready: credentials.ready,
    credentialsIdle: () => credentials.sources.idle(),
    flush: async () => {
      await ledger.flush();
      await keys.admission.idle();
      await audit.idle();
      await alerts.idle();
      await keys.admission.maintain();
    },
    endStreams: () => stopping.abort(),
    metricsSnapshot: spend.metricsSnapshot,
    modelsWithoutCredentials: () => [
      ...new Set(router.health().filter((h) => h.unavailableReason !== undefined).map((h) => h.deployment.modelName)),
    ],
    close: async () => {
      const started = performance.now();
      const left = () => Math.max(0, closeWaitMs - (performance.now() - started));
      credentials.sources.close();
      await router.close();
      // Streams still open (the server has stopped, or `deno serve` drains without a bound) end now, billed, before
      // the ledger closes: a stream whose client is not reading is settled at once, one mid-read once its read stops.
      stopping.abort();
      await within(openStreams.settled(), left());
      // Background work (soft-budget markers, old windows' clean-up) may itself wait for KV: bounded too.
      await within(keys.admission.idle(), left());
      await within(Promise.all([audit.idle(), alerts.idle()]), left());
      await ledger.close({ waitMs: left() });
      // Slices of limits go back once this instance's spend is in KV (left to expire if KV cannot take it).
      await within(keys.admission.close(), left());
      nativeClient?.close();
    },
  };
}
