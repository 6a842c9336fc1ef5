/**
 * @module
 * Reading the caller's key from a request, hashing it, and comparing secrets in constant time.
 * Every key comparison in the gateway goes through `sameSecret` (raw secrets) or `sameDigest` (their `hashKey`
 * digests); none is re-implemented at a call site.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/**
 * The caller's key, from the headers LiteLLM accepts: `Authorization: Bearer` (what boto3 and the AWS SDKs send
 * with `AWS_BEARER_TOKEN_BEDROCK`), `x-litellm-api-key`, `x-api-key` and `api-key`.
 */
export function presentedKey(headers: Headers): string | undefined {
  const auth = headers.get("authorization");
  if (auth) {
    const space = auth.indexOf(" ");
    const scheme = space > 0 ? auth.slice(0, space).toLowerCase() : "";
    if (scheme === "bearer" || scheme === "basic") return auth.slice(space + 1).trim() || undefined;
  }
  return headers.get("x-litellm-api-key") ?? headers.get("x-api-key") ?? headers.get("api-key") ?? undefined;
}

/** SHA-256 hex of a raw key: the only form in which keys are stored (LiteLLM's scheme). */
export function hashKey(raw: string): string {
  return createHash("sha256").update(raw).digest("hex");
}

/**
 * Constant-time equality of two secrets. Both sides are hashed first so that neither the content nor the
 * length of the expected secret leaks through timing.
 */
export function sameSecret(a: string, b: string): boolean {
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db);
}

/**
 * Constant-time equality of two `hashKey` digests. `sameDigest(hashKey(a), hashKey(b))` is `sameSecret(a, b)`;
 * the hot path uses it to hash a presented key once and compare that one digest with
 * the master key's precomputed one, then look it up. The time depends only on the length, which for a digest
 * is public (64 hex characters).
 */
export function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
