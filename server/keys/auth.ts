/**
 * @module
 * Authentication of gateway callers. Foundation: the master key only (or an open gateway when no master key is
 * configured). Virtual keys plug in behind the same `Authenticator` interface.
 */
import { GatewayError } from "../errors.ts";
import type { Caller } from "../spend/call_record.ts";
import { hashKey, presentedKey, sameSecret } from "./credentials.ts";

export interface Principal {
  kind: "master" | "open" | "virtual";
  caller: Caller;
  /** Model names this principal may call; undefined means all. */
  allowedModels?: readonly string[];
}

export interface Authenticator {
  authenticate(headers: Headers): Promise<Principal>;
}

export const unauthenticated = (message: string) =>
  new GatewayError(401, "UnrecognizedClientException", message, { litellmType: "auth_error" });

/** Accepts only the master key; with no master key configured, everyone is let in as `open`. */
export function masterKeyAuthenticator(masterKey: string | undefined): Authenticator {
  const masterHash = masterKey ? hashKey(masterKey) : undefined;
  return {
    authenticate(headers) {
      if (!masterKey) return Promise.resolve({ kind: "open", caller: {} });
      const key = presentedKey(headers);
      if (!key) {
        return Promise.reject(unauthenticated("No API key provided: send Authorization: Bearer <key>"));
      }
      if (!sameSecret(key, masterKey)) return Promise.reject(unauthenticated("Invalid API key"));
      return Promise.resolve({ kind: "master", caller: { keyHash: masterHash, keyAlias: "master_key" } });
    },
  };
}
