/**
 * @module
 * Builds the virtual-key services from the gateway's dependencies: the KV store, the record cache, the
 * authenticator, admission (checks and slots on every `/bedrock` call) and the admin operations the `/key/*` routes
 * (`routes.ts`) and the admin UI call.
 */
import type { GatewayConfig } from "../config/types.ts";
import type { Holds } from "../limits/holds.ts";
import type { Logger } from "../core/log.ts";
import type { HoldPricing } from "../pricing/hold_price.ts";
import type { Ledger } from "../kv/ledger.ts";
import { createKeyAdmin, type KeyAdmin } from "./admin.ts";
import { type Admission, createAdmission } from "./admission.ts";
import { type Authenticator, keyAuthenticator } from "./auth.ts";
import { createKeyCache } from "./key_cache.ts";
import { createKeyStore } from "./store.ts";

export interface KeyServicesDeps {
  config: GatewayConfig;
  kv: Deno.Kv;
  ledger: Ledger;
  holds: Holds;
  holdPricing: HoldPricing;
  now: () => number;
  newId: () => string;
  log: Logger;
}

export interface KeyServices {
  auth: Authenticator;
  admission: Admission;
  /** The operations behind `/key/*` (the admin UI calls them directly). */
  admin: KeyAdmin;
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
  const auth = keyAuthenticator({ masterKey: config.masterKey, keys: cache, now });
  const admission = createAdmission({ auth, kv, ledger, holds: deps.holds, holdPricing: deps.holdPricing, now, log });
  const admin = createKeyAdmin({ kv, store, cache, ledger, masterKey: config.masterKey, now, newId });
  return { auth, admission, admin };
}
