/**
 * @module
 * Authentication of gateway callers: the master key, virtual keys (records in KV, found by the SHA-256 hash of
 * the presented key), or an open gateway when no master key is configured.
 */
import { GatewayError } from "../core/errors.ts";
import type { Caller } from "../core/call_record.ts";
import { hashKey, presentedKey, sameDigest } from "./credentials.ts";
import type { KeyCache } from "./key_cache.ts";
import { allowedModels, type KeyRecord } from "./record.ts";

export interface Principal {
  kind: "master" | "open" | "virtual";
  caller: Caller;
  /** Model names this principal may call; undefined means all. */
  allowedModels?: readonly string[];
  /** `/bedrock` route patterns a virtual key may call (`allowed_routes`); see `allowed_routes.ts`. */
  allowedRoutes?: readonly string[];
  /** The virtual key's record (kind `virtual` only), as read for this request. */
  key?: KeyRecord;
}

export interface Authenticator {
  authenticate(headers: Headers): Promise<Principal>;
}

/** A 401; `reason` says which (`no_key`, `invalid_key`, `key_blocked`, `key_expired`), `caller` whose it was. */
export function unauthenticated(message: string, reason = "auth", caller?: Caller): GatewayError {
  const err = new GatewayError(401, "UnrecognizedClientException", message, { litellmType: "auth_error", reason });
  err.caller = caller;
  return err;
}

const NO_KEY = "No API key provided: send Authorization: Bearer <key>";
/** Distinct presented keys whose hashes are remembered; past it the memory starts over. */
const MAX_REMEMBERED_HASHES = 4096;
const INVALID_KEY = "Invalid API key";

/** Accepts only the master key; with no master key configured, everyone is let in as `open`. */
export function masterKeyAuthenticator(masterKey: string | undefined): Authenticator {
  const masterHash = masterKey ? hashKey(masterKey) : undefined;
  return {
    authenticate(headers) {
      if (!masterKey) return Promise.resolve({ kind: "open", caller: {} });
      const key = presentedKey(headers);
      if (!key) return Promise.reject(unauthenticated(NO_KEY, "no_key"));
      const hash = hashKey(key);
      if (!sameDigest(hash, masterHash!)) {
        return Promise.reject(unauthenticated(INVALID_KEY, "invalid_key", { keyHash: hash }));
      }
      return Promise.resolve({ kind: "master", caller: { keyHash: masterHash, keyAlias: "master_key" } });
    },
  };
}

export interface KeyAuthenticatorDeps {
  masterKey: string | undefined;
  keys: KeyCache;
  now: () => number;
}

/**
 * The master key or a virtual key. Unknown, deleted, blocked and expired keys are refused with a 401. Without a
 * master key the gateway is open, but a virtual key that is presented still counts (its budget and limits apply).
 */
export function keyAuthenticator(deps: KeyAuthenticatorDeps): Authenticator {
  const { masterKey, keys, now } = deps;
  const masterHash = masterKey ? hashKey(masterKey) : undefined;
  const master: Principal = { kind: "master", caller: { keyHash: masterHash, keyAlias: "master_key" } };
  const open: Principal = { kind: "open", caller: {} };
  // Presented keys → their hashes, so a client calling again is not hashed again: at low request rates the SHA-256
  // (node:crypto, run cold) was the largest part of the key check (docs/benchmarks.md). In memory only, bounded, and
  // the hash is a pure function of the key: nothing to invalidate.
  const hashes = new Map<string, string>();
  const hashOf = (raw: string) => {
    let hash = hashes.get(raw);
    if (hash === undefined) {
      if (hashes.size >= MAX_REMEMBERED_HASHES) hashes.clear();
      hashes.set(raw, hash = hashKey(raw));
    }
    return hash;
  };
  // Records are replaced, never changed, when re-read: one principal per record object.
  const principals = new WeakMap<KeyRecord, Principal>();

  /** `hash` is the presented key's `hashKey` digest. */
  async function virtualKey(hash: string): Promise<Principal | undefined> {
    const record = await keys.resolve(hash);
    if (!record) return undefined;
    const whose = { keyHash: record.hash, keyAlias: record.alias, userId: record.userId, teamId: record.teamId };
    if (record.blocked) {
      throw unauthenticated(
        "Authentication Error - this key is blocked; an admin can unblock it with /key/unblock",
        "key_blocked",
        whose,
      );
    }
    const t = now();
    if (record.expires !== undefined && t >= record.expires) {
      throw unauthenticated(
        `Authentication Error - Expired Key. Key Expiry time ${new Date(record.expires).toISOString()} ` +
          `and current time ${new Date(t).toISOString()}`,
        "key_expired",
        whose,
      );
    }
    let principal = principals.get(record);
    if (!principal) {
      principal = {
        kind: "virtual",
        caller: { keyHash: record.hash, keyAlias: record.alias, userId: record.userId, teamId: record.teamId },
        allowedModels: allowedModels(record),
        allowedRoutes: record.allowedRoutes,
        key: record,
      };
      principals.set(record, principal);
    }
    return principal;
  }

  return {
    async authenticate(headers) {
      const raw = presentedKey(headers);
      if (!masterKey) return (raw && await virtualKey(hashOf(raw))) || open;
      if (!raw) throw unauthenticated(NO_KEY, "no_key");
      // One SHA-256 of the presented key serves both the master-key check and the record lookup.
      const hash = hashOf(raw);
      if (sameDigest(hash, masterHash!)) return master;
      const principal = await virtualKey(hash);
      // The presented key's hash names the refusal in logs: a hash, never the key.
      if (!principal) throw unauthenticated(INVALID_KEY, "invalid_key", { keyHash: hash });
      return principal;
    },
  };
}
