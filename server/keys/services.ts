/**
 * @module
 * Builds the virtual-key services from the gateway's dependencies: the KV stores (keys, teams and users), the record
 * caches, the authenticator, admission (checks and slots on every `/bedrock` call) and the admin operations the
 * `/key/*` routes (`routes.ts`) and the admin UI call; the stores and caches are handed on to the `/team/*` and
 * `/user/*` API (`owners/`).
 */
import type { GatewayConfig } from "../config/types.ts";
import type { Holds } from "../limits/holds.ts";
import type { Logger } from "../core/log.ts";
import type { HoldPricing } from "../pricing/hold_price.ts";
import type { Ledger } from "../kv/ledger.ts";
import { createKeyAdmin, type KeyAdmin, type KeyChange } from "./admin.ts";
import { type Admission, type BudgetReached, type BudgetThreshold, createAdmission } from "./admission.ts";
import { type Authenticator, keyAuthenticator } from "./auth.ts";
import { createKeyCache } from "./key_cache.ts";
import { createOwnerCache, type OwnerCache } from "./owner_cache.ts";
import { createOwnerStore, type OwnerStore } from "./owner_store.ts";
import { createKeyStore, type KeyStore } from "./store.ts";

export interface KeyServicesDeps {
  /** Told of every written key change (the audit trail). */
  onKeyChange?: (change: KeyChange) => void;
  config: GatewayConfig;
  kv: Deno.Kv;
  ledger: Ledger;
  holds: Holds;
  holdPricing: HoldPricing;
  now: () => number;
  newId: () => string;
  log: Logger;
  /** See `AdmissionDeps.onBudgetThreshold`. */
  onBudgetThreshold?: (event: BudgetThreshold) => void;
  /** See `AdmissionDeps.onBudgetReached`. */
  onBudgetReached?: (event: BudgetReached) => void;
}

export interface KeyServices {
  auth: Authenticator;
  admission: Admission;
  /** The operations behind `/key/*` (the admin UI calls them directly). */
  admin: KeyAdmin;
  /** Key records in KV, for the team and user admin (their keys listed, deleted with them). */
  store: KeyStore;
  /** Team and user records in KV, and their cache (invalidated by the admin's changes). */
  owners: { store: OwnerStore; cache: OwnerCache };
}

export function createKeyServices(deps: KeyServicesDeps): KeyServices {
  const { config, kv, ledger, now, newId, log } = deps;
  const store = createKeyStore(kv);
  const cache = createKeyCache({
    kv,
    ledger,
    ttlMs: config.keyCacheTtlMs,
    counterMaxAgeMs: config.keyCounterMaxAgeMs,
    now,
  });
  const owners = {
    store: createOwnerStore(kv),
    cache: createOwnerCache({
      kv,
      ledger,
      ttlMs: config.keyCacheTtlMs,
      counterMaxAgeMs: config.keyCounterMaxAgeMs,
      now,
    }),
  };
  const auth = keyAuthenticator({ masterKey: config.masterKey, keys: cache, owners: owners.cache, now });
  const admission = createAdmission({
    auth,
    kv,
    ledger,
    holds: deps.holds,
    holdPricing: deps.holdPricing,
    now,
    log,
    proxyBudget: config.proxyBudget,
    onBudgetReached: deps.onBudgetReached,
    onBudgetThreshold: deps.onBudgetThreshold,
  });
  const admin = createKeyAdmin({
    kv,
    store,
    cache,
    owners: owners.store,
    ledger,
    masterKey: config.masterKey,
    now,
    newId,
    onChange: deps.onKeyChange,
    keyDeleted: admission.keyDeleted,
  });
  return { auth, admission, admin, store, owners };
}
