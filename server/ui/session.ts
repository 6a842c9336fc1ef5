/**
 * @module
 * Signed, expiring UI sessions: what the session cookie carries (never a raw key) and the per-session CSRF token.
 *
 * A session is `base64url(JSON payload) "." base64url(HMAC-SHA-256(secret, payload))`, checked with WebCrypto's
 * `verify` (constant time). The secret is derived from the master key (HMAC of a fixed label keyed by it), so
 * every instance configured with the same master key accepts the others' sessions with no shared state, and
 * rotating the master key signs everyone out. A virtual key's session carries the key's hash only; the UI
 * re-reads that key's record on every request, so a deleted, blocked, expired or regenerated key loses access at
 * once.
 */

/** Who signed in: the master key (admin view) or one virtual key (its own spend and calls, read only). */
export type SessionRole = "admin" | "key";

export interface Session {
  /** Random, 128 bits: names the session for its CSRF token and for sign-out. */
  id: string;
  role: SessionRole;
  /** SHA-256 hex of the virtual key (role `key` only). */
  keyHash?: string;
  /** Epoch ms. */
  issuedAt: number;
  /** Epoch ms; the session is refused from then on. */
  expiresAt: number;
}

export interface SessionCodec {
  /** A new session and its cookie value. */
  issue(role: SessionRole, keyHash?: string): Promise<{ session: Session; token: string }>;
  /** The session a cookie value carries, or undefined when it is malformed, forged, tampered or expired. */
  read(token: string | undefined): Promise<Session | undefined>;
  /** The session's CSRF token (derived from its id: nothing to store). */
  csrfToken(session: Session): Promise<string>;
}

export interface SessionOptions {
  masterKey: string;
  now: () => number;
  /** How long a session lasts from sign-in. */
  ttlMs: number;
}

/** Twelve hours: a working day, after which the key is asked for again. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** What the derived secret is for: another label (or version) gives another secret from the same master key. */
const SECRET_LABEL = "converse-gateway/ui-session/v1";
/** Tokens are small; anything longer is refused before it is decoded. */
const MAX_TOKEN_CHARS = 1024;
const HASH = /^[0-9a-f]{64}$/;
const ID = /^[A-Za-z0-9_-]{22}$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const bin = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

const HMAC = { name: "HMAC", hash: "SHA-256" } as const;

/** The session secret: HMAC-SHA-256 keyed by the master key over a fixed label, as a WebCrypto HMAC key. */
async function deriveKey(masterKey: string): Promise<CryptoKey> {
  const master = await crypto.subtle.importKey("raw", encoder.encode(masterKey), HMAC, false, ["sign"]);
  const secret = await crypto.subtle.sign("HMAC", master, encoder.encode(SECRET_LABEL));
  return await crypto.subtle.importKey("raw", secret, HMAC, false, ["sign", "verify"]);
}

interface Payload {
  v: 1;
  sid: string;
  r: SessionRole;
  kh?: string;
  iat: number;
  exp: number;
}

/** A payload as sent back by a browser: every field checked, since it is only trusted once its signature is. */
function parsePayload(json: unknown): Session | undefined {
  if (!json || typeof json !== "object") return undefined;
  const p = json as Partial<Payload>;
  if (p.v !== 1 || typeof p.sid !== "string" || !ID.test(p.sid)) return undefined;
  if (!Number.isSafeInteger(p.iat) || !Number.isSafeInteger(p.exp)) return undefined;
  if (p.r === "admin" && p.kh === undefined) {
    return { id: p.sid, role: "admin", issuedAt: p.iat!, expiresAt: p.exp! };
  }
  if (p.r === "key" && typeof p.kh === "string" && HASH.test(p.kh)) {
    return { id: p.sid, role: "key", keyHash: p.kh, issuedAt: p.iat!, expiresAt: p.exp! };
  }
  return undefined;
}

export function createSessionCodec(opts: SessionOptions): SessionCodec {
  const { now, ttlMs } = opts;
  // Derived once, on first use (WebCrypto is asynchronous; construction is not).
  let key: Promise<CryptoKey> | undefined;
  const secret = () => key ??= deriveKey(opts.masterKey);

  async function sign(text: string): Promise<string> {
    return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", await secret(), encoder.encode(text))));
  }

  return {
    async issue(role, keyHash) {
      const t = now();
      const session: Session = {
        id: base64url(crypto.getRandomValues(new Uint8Array(16))),
        role,
        ...(role === "key" ? { keyHash } : {}),
        issuedAt: t,
        expiresAt: t + ttlMs,
      };
      const payload: Payload = { v: 1, sid: session.id, r: role, kh: session.keyHash, iat: t, exp: session.expiresAt };
      const body = base64url(encoder.encode(JSON.stringify(payload)));
      return { session, token: `${body}.${await sign(body)}` };
    },

    async read(token) {
      if (!token || token.length > MAX_TOKEN_CHARS) return undefined;
      const dot = token.indexOf(".");
      if (dot < 0) return undefined;
      const body = token.slice(0, dot);
      const signature = fromBase64url(token.slice(dot + 1));
      if (!signature) return undefined;
      if (!await crypto.subtle.verify("HMAC", await secret(), signature, encoder.encode(body))) return undefined;
      const bytes = fromBase64url(body);
      if (!bytes) return undefined;
      let session: Session | undefined;
      try {
        session = parsePayload(JSON.parse(decoder.decode(bytes)));
      } catch {
        return undefined;
      }
      const t = now();
      if (!session || t >= session.expiresAt || session.issuedAt > t + 60_000) return undefined;
      return session;
    },

    csrfToken: (session) => sign(`csrf:${session.id}`),
  };
}
