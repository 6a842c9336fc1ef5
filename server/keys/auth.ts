/**
 * @module
 * Authentication of gateway callers: the master key, virtual keys (records in KV, found by the SHA-256 hash of
 * the presented key), or an open gateway when no master key is configured. A virtual key comes with its team's and
 * user's records (`owner_cache.ts`): a blocked team refuses its keys, and the models the three allow together are the
 * principal's.
 */
import { GatewayError } from "../core/errors.ts";
import type { Caller } from "../core/call_record.ts";
import { hashKey, presentedKey, sameDigest } from "./credentials.ts";
import type { KeyCache } from "./key_cache.ts";
import { allowedModelGroups } from "./model_access.ts";
import type { OwnerCache } from "./owner_cache.ts";
import type { TeamRecord, UserRecord } from "./owner_record.ts";
import type { KeyRecord } from "./record.ts";

export interface Principal {
  kind: "master" | "open" | "virtual";
  caller: Caller;
  /** Model groups this principal may call (its key's, team's and user's lists together); undefined means all. */
  allowedModels?: readonly string[];
  /** A virtual key's model-name aliases: calling `alias` calls the group it names. */
  aliases?: Readonly<Record<string, string>>;
  /** `/bedrock` route patterns a virtual key may call (`allowed_routes`); see `allowed_routes.ts`. */
  allowedRoutes?: readonly string[];
  /** The virtual key's record (kind `virtual` only), as read for this request. */
  key?: KeyRecord;
  /** The key's team, when it names one that has a record. */
  team?: TeamRecord;
  /** The key's user, when it names one that has a record. */
  user?: UserRecord;
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

/** A 403 (`AccessDeniedException`) for `caller`, whose it was named in the refusal's log line. */
export function accessDenied(message: string, caller?: Caller): GatewayError {
  const err = new GatewayError(403, "AccessDeniedException", message, { litellmType: "auth_error" });
  err.caller = caller;
  return err;
}

/** The caller, who must hold the master key (or an open gateway's access); a virtual key gets a 403 `message`. */
export async function requireMaster(auth: Authenticator, headers: Headers, message: string): Promise<Principal> {
  const p = await auth.authenticate(headers);
  if (p.kind === "virtual") throw accessDenied(message, p.caller);
  return p;
}

/**
 * Who an admin change is by, for its audit record: LiteLLM's `litellm-changed-by` header when sent (bounded), else
 * the caller — `master_key`, or `open gateway` when no master key is set.
 */
export function changedBy(headers: Headers, p: Principal): string {
  const header = headers.get("litellm-changed-by")?.trim();
  if (header) return header.slice(0, 256);
  return p.kind === "master" ? "master_key" : "open gateway";
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
  /** Teams and users of keys that name them; none read when absent. */
  owners?: OwnerCache;
  now: () => number;
}

/** A principal built for a key record with these owner records. */
interface Built {
  principal: Principal;
  team?: TeamRecord;
  user?: UserRecord;
}

/**
 * The master key or a virtual key. Unknown, deleted, blocked and expired keys are refused with a 401. Without a
 * master key the gateway is open, but a virtual key that is presented still counts (its budget and limits apply).
 */
export function keyAuthenticator(deps: KeyAuthenticatorDeps): Authenticator {
  const { masterKey, keys, owners, now } = deps;
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
  // Records are replaced, never changed, when re-read: one principal per key record object and its owners' objects.
  const principals = new WeakMap<KeyRecord, Built>();

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
    const found = owners && (record.teamId !== undefined || record.userId !== undefined)
      ? await owners.resolve(record.teamId, record.userId)
      : {};
    const team = found.team ?? undefined, user = found.user ?? undefined;
    if (team?.blocked) {
      throw unauthenticated(
        `Authentication Error - this key's team (team_id ${team.id}) is blocked; an admin can unblock it with ` +
          "/team/unblock",
      );
    }
    let built = principals.get(record);
    if (!built || built.team !== team || built.user !== user) {
      const principal: Principal = {
        kind: "virtual",
        caller: { keyHash: record.hash, keyAlias: record.alias, userId: record.userId, teamId: record.teamId },
        allowedModels: allowedModelGroups(record, team, user),
        allowedRoutes: record.allowedRoutes,
        key: record,
      };
      if (record.aliases && Object.keys(record.aliases).length) principal.aliases = record.aliases;
      if (team) principal.team = team;
      if (user) principal.user = user;
      principals.set(record, built = { principal, team, user });
    }
    return built.principal;
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
