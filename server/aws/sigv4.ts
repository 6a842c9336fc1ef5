/**
 * @module
 * Synchronous, allocation-light AWS SigV4 header signer for the Bedrock hot path (byte-identical to aws4fetch).
 *
 * Hand-written because every attempt is signed fresh: it is many times cheaper than aws4fetch's WebCrypto signer, and
 * most of what it still costs is its four SHA-256 runs (body, canonical request, HMAC inner and outer); the HMAC pads
 * are precomputed because `createHmac` per request cost more than the rest (docs/benchmarks.md, "Measurements behind
 * the code").
 */
import { createHash, createHmac } from "node:crypto";
import type { AwsCredentials as SourceCredentials } from "./spec.ts";

/** The credentials one signature uses: a source's (`spec.ts`), without their expiry. */
export type AwsCredentials = Omit<SourceCredentials, "expiration">;

/** Everything needed to sign one HTTP request with SigV4 (header-based, not presigned). */
export interface SignRequest {
  /**
   * HTTP method, e.g. "POST". Upper-cased before signing (as aws4fetch does), so send it upper-case too:
   * fetch only normalises the case of DELETE/GET/HEAD/OPTIONS/POST/PUT.
   */
  method: string;
  /**
   * Full URL whose path is ALREADY percent-encoded exactly as it will be sent, e.g.
   * `https://bedrock-runtime.us-west-2.amazonaws.com/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse`.
   */
  url: string;
  /**
   * Lower-case header names -> values that will be sent (e.g. content-type, accept). `host` is derived
   * from `url`; the headers this signer generates must not be supplied (a TypeError is thrown).
   */
  headers: Record<string, string>;
  /** Exact body bytes that will be sent. */
  body: Uint8Array;
  region: string;
  /** Signing service name, e.g. "bedrock". */
  service: string;
  credentials: AwsCredentials;
  /** Injected clock, so signing is deterministic and testable. */
  now: Date;
}

/** Signs requests; returned headers must be merged into (and sent with) the request. */
export interface SigV4Signer {
  /**
   * Returns the headers to ADD (lower-case names): authorization, x-amz-date, x-amz-content-sha256,
   * and x-amz-security-token when a session token is present.
   */
  sign(req: SignRequest): Record<string, string>;
}

/** Optional knobs for {@link createSigV4Signer}; `createSigV4Signer()` with no argument is the normal use. */
export interface SigV4SignerOptions {
  /** Upper bound on cached derived signing keys (default 16). Oldest entry is evicted first. */
  maxCachedKeys?: number;
  /**
   * Called whenever a signing key is derived (i.e. a cache miss) with the credential scope
   * `yyyymmdd/region/service/aws4_request`. Never receives secrets. Intended for metrics and tests.
   */
  onSigningKeyDerived?: (scope: string) => void;
}

const ALGORITHM = "AWS4-HMAC-SHA256";
const TERMINATOR = "aws4_request";
const DEFAULT_MAX_CACHED_KEYS = 16;
// Parsed URL pieces are cached because the gateway signs the same handful of model URLs over and over;
// re-running the WHATWG URL parser and the path encoder per request would dominate the cost.
const MAX_CACHED_TARGETS = 256;

/**
 * Headers aws4fetch (1.0.20) refuses to sign. We mirror its list exactly so our signatures are
 * byte-identical to it for the same input; most are set or rewritten by fetch/intermediaries
 * (connection, expect, content-length, user-agent, x-amzn-trace-id), where signing them risks spurious
 * SignatureDoesNotMatch. Unlike @smithy/signature-v4 this also leaves content-type and range unsigned:
 * SigV4 only mandates host and x-amz-*, so AWS accepts either choice.
 */
const UNSIGNABLE_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "content-type",
  "content-length",
  "user-agent",
  "presigned-expires",
  "expect",
  "x-amzn-trace-id",
  "range",
  "connection",
]);

/**
 * Headers this signer owns. Accepting them from the caller would let the sent value drift from the
 * signed value (e.g. a stale x-amz-date), so they are rejected instead of silently overridden.
 */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  "host",
  "authorization",
  "x-amz-date",
  "x-amz-content-sha256",
  "x-amz-security-token",
]);

/**
 * Canonical-URI encoding for every ASCII char: RFC 3986 unreserved chars and "/" pass through, all
 * others (including "%", which is what makes already-encoded paths double-encoded) become %XX.
 * Precomputed once so per-request encoding is a table lookup instead of encodeURIComponent + regexes.
 */
const PATH_CHAR_ENCODING: readonly string[] = (() => {
  const table: string[] = [];
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    const unreserved = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      ch === "-" || ch === "_" || ch === "." || ch === "~" || ch === "/";
    table.push(unreserved ? ch : "%" + c.toString(16).toUpperCase().padStart(2, "0"));
  }
  return table;
})();

/**
 * A derived signing key, pre-expanded into HMAC-SHA256 pads (RFC 2104). Deno's `createHmac` builds a
 * Transform stream and re-derives both pads on every call; hashing the pads ourselves with
 * `createHash` keeps the per-request HMAC at two plain SHA-256 runs.
 */
interface SigningKey {
  /** key XOR 0x36, padded to the 64-byte SHA-256 block. */
  innerPad: Uint8Array;
  /** (key XOR 0x5c) in bytes 0-63; bytes 64-95 are scratch space for the inner digest. */
  outerMessage: Uint8Array;
}

const SHA256_BLOCK = 64;
const SHA256_BYTES = 32;

function expandSigningKey(key: Uint8Array): SigningKey {
  const innerPad = new Uint8Array(SHA256_BLOCK);
  const outerMessage = new Uint8Array(SHA256_BLOCK + SHA256_BYTES);
  for (let i = 0; i < SHA256_BLOCK; i++) {
    const k = i < key.length ? key[i] : 0;
    innerPad[i] = k ^ 0x36;
    outerMessage[i] = k ^ 0x5c;
  }
  return { innerPad, outerMessage };
}

/** Value of one lower-case hex digit (digest("hex") only ever emits 0-9a-f). */
function hexNibble(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57;
}

/**
 * HMAC-SHA256(key, message) as lower-case hex. The inner digest is taken as hex (the cheapest output
 * path in Deno's node:crypto, no Buffer allocation) and decoded into the key's scratch bytes.
 */
function hmacHex(key: SigningKey, message: string): string {
  const inner = createHash("sha256").update(key.innerPad).update(message).digest("hex");
  const outer = key.outerMessage;
  for (let i = 0; i < SHA256_BYTES; i++) {
    outer[SHA256_BLOCK + i] = (hexNibble(inner.charCodeAt(2 * i)) << 4) | hexNibble(inner.charCodeAt(2 * i + 1));
  }
  return createHash("sha256").update(outer).digest("hex");
}

/** Per-URL values that do not depend on credentials, time or body. */
interface SigningTarget {
  host: string;
  canonicalUri: string;
  canonicalQuery: string;
}

/** encodeURIComponent plus the RFC 3986 reserved chars it leaves alone, as SigV4 requires. */
function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/**
 * Non-S3 canonical URI: collapse repeated slashes (as aws4fetch does; smithy drops empty segments to
 * the same effect) and URI-encode the already-encoded path again, so `%3A` becomes `%253A`.
 */
function canonicalUriOf(pathname: string): string {
  let out = "";
  let prevSlash = false;
  for (let i = 0; i < pathname.length; i++) {
    const c = pathname.charCodeAt(i);
    if (c === 0x2f) {
      if (prevSlash) continue;
      prevSlash = true;
      out += "/";
      continue;
    }
    prevSlash = false;
    // WHATWG URL serialisation percent-encodes non-ASCII, so this is only reachable for exotic input;
    // fall back to the reference algorithm rather than hand-rolling UTF-8 here.
    if (c >= 128) return encodeRfc3986(pathname.replace(/\/+/g, "/")).replace(/%2F/g, "/");
    out += PATH_CHAR_ENCODING[c];
  }
  return out;
}

/** Canonical query string: decoded via URLSearchParams, re-encoded, empty keys dropped, sorted by key then value. */
function canonicalQueryOf(url: URL): string {
  if (url.search === "") return "";
  const pairs: [string, string][] = [];
  for (const [k, v] of url.searchParams) {
    if (k !== "") pairs.push([encodeRfc3986(k), encodeRfc3986(v)]);
  }
  pairs.sort(([k1, v1], [k2, v2]) => k1 < k2 ? -1 : k1 > k2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0);
  let out = "";
  for (let i = 0; i < pairs.length; i++) out += (i === 0 ? "" : "&") + pairs[i][0] + "=" + pairs[i][1];
  return out;
}

/** Leading/trailing whitespace that the fetch Headers class strips from values (HTTP whitespace). */
const HTTP_WS_EDGES = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const ANY_WS_RUN = /\s+/g;
/** Bytes fetch's Headers rejects inside a value (after edge trimming), plus non-ByteString chars. */
const INVALID_VALUE_CHAR = /[\0\r\n]|[^\0-\xff]/;

/**
 * Canonical header value, identical to aws4fetch: Headers-style edge trim, then collapse every run of
 * JS whitespace to one space. The fast path (plain printable ASCII, single inner spaces) covers real
 * traffic and avoids running any regex.
 */
function canonicalHeaderValue(name: string, value: string): string {
  let prevSpace = true; // a leading space must take the slow path
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x20) {
      if (prevSpace) return slowCanonicalHeaderValue(name, value);
      prevSpace = true;
    } else if (c < 0x21 || c > 0x7e) {
      return slowCanonicalHeaderValue(name, value);
    } else {
      prevSpace = false;
    }
  }
  return prevSpace && value.length > 0 ? slowCanonicalHeaderValue(name, value) : value;
}

function slowCanonicalHeaderValue(name: string, value: string): string {
  const trimmed = value.replace(HTTP_WS_EDGES, "");
  // fetch would refuse to send such a value; failing here gives a clearer error than a signature mismatch.
  if (INVALID_VALUE_CHAR.test(trimmed)) throw new TypeError(`sigv4: invalid character in header value: ${name}`);
  return trimmed.replace(ANY_WS_RUN, " ");
}

/** `Date` -> SigV4 basic-format timestamp `yyyymmddThhmmssZ`. */
function amzDateOf(now: Date): string {
  const iso = now.toISOString(); // throws RangeError for an invalid Date, which is what we want
  if (iso.length !== 24) throw new RangeError("sigv4: date outside the year range 0000-9999");
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + "T" + iso.slice(11, 13) + iso.slice(14, 16) +
    iso.slice(17, 19) + "Z";
}

/**
 * Creates a signer. Each signer owns its caches (signing keys, parsed URLs, last timestamp), so there is
 * no hidden module-level state and tests/tenants can be isolated by creating separate signers.
 */
export function createSigV4Signer(options: SigV4SignerOptions = {}): SigV4Signer {
  const maxCachedKeys = Math.max(1, options.maxCachedKeys ?? DEFAULT_MAX_CACHED_KEYS);
  const onSigningKeyDerived = options.onSigningKeyDerived;
  // kSigning only changes per (secret, day, region, service); deriving it costs 4 HMACs, so cache it.
  const signingKeys = new Map<string, SigningKey>();
  const targets = new Map<string, SigningTarget>();
  // Requests arrive many per second; remember the last formatted timestamp instead of re-formatting.
  let lastEpochSecond = Number.NaN;
  let lastAmzDate = "";

  function targetOf(url: string): SigningTarget {
    let target = targets.get(url);
    if (target === undefined) {
      const parsed = new URL(url);
      target = {
        host: parsed.host,
        canonicalUri: canonicalUriOf(parsed.pathname),
        canonicalQuery: canonicalQueryOf(parsed),
      };
      if (targets.size >= MAX_CACHED_TARGETS) targets.delete(targets.keys().next().value as string);
      targets.set(url, target);
    }
    return target;
  }

  function signingKeyOf(secret: string, date: string, region: string, service: string, scope: string): SigningKey {
    // Secret goes last so that no region/service value can make two different tuples collide.
    const cacheKey = date + "\n" + region + "\n" + service + "\n" + secret;
    let key = signingKeys.get(cacheKey);
    if (key === undefined) {
      // Cold path (once per secret/day/region/service), so the plain createHmac chain is fine here.
      const kDate = createHmac("sha256", "AWS4" + secret).update(date).digest();
      const kRegion = createHmac("sha256", kDate).update(region).digest();
      const kService = createHmac("sha256", kRegion).update(service).digest();
      key = expandSigningKey(createHmac("sha256", kService).update(TERMINATOR).digest());
      if (signingKeys.size >= maxCachedKeys) signingKeys.delete(signingKeys.keys().next().value as string);
      signingKeys.set(cacheKey, key);
      onSigningKeyDerived?.(scope);
    }
    return key;
  }

  function sign(req: SignRequest): Record<string, string> {
    const { credentials, region, service } = req;
    const epochSecond = Math.floor(req.now.getTime() / 1000);
    if (epochSecond !== lastEpochSecond) {
      lastAmzDate = amzDateOf(req.now);
      lastEpochSecond = epochSecond;
    }
    const amzDate = lastAmzDate;
    const date = amzDate.slice(0, 8);
    const scope = date + "/" + region + "/" + service + "/" + TERMINATOR;
    const target = targetOf(req.url);
    const payloadHash = createHash("sha256").update(req.body).digest("hex");
    const sessionToken = credentials.sessionToken;

    // Collect signable headers as "name:value" lines; the generated ones are added alongside.
    const names: string[] = ["host", "x-amz-content-sha256", "x-amz-date"];
    // Null prototype so that header names like "constructor" are never mistaken for duplicates.
    const lines: Record<string, string> = Object.create(null);
    lines.host = "host:" + target.host;
    lines["x-amz-content-sha256"] = "x-amz-content-sha256:" + payloadHash;
    lines["x-amz-date"] = "x-amz-date:" + amzDate;
    if (sessionToken) {
      names.push("x-amz-security-token");
      lines["x-amz-security-token"] = "x-amz-security-token:" +
        canonicalHeaderValue("x-amz-security-token", sessionToken);
    }
    const headers = req.headers;
    for (const rawName in headers) {
      const name = rawName.toLowerCase();
      if (RESERVED_HEADERS.has(name)) throw new TypeError(`sigv4: header is generated by the signer: ${name}`);
      if (UNSIGNABLE_HEADERS.has(name)) continue;
      if (name in lines) throw new TypeError(`sigv4: duplicate header (names are case-insensitive): ${name}`);
      names.push(name);
      lines[name] = name + ":" + canonicalHeaderValue(name, headers[rawName]);
    }
    names.sort();

    let canonicalHeaders = "";
    let signedHeaders = "";
    for (let i = 0; i < names.length; i++) {
      canonicalHeaders += lines[names[i]] + "\n";
      signedHeaders += (i === 0 ? "" : ";") + names[i];
    }

    const canonicalRequest = req.method.toUpperCase() + "\n" + target.canonicalUri + "\n" + target.canonicalQuery +
      "\n" + canonicalHeaders + "\n" + signedHeaders + "\n" + payloadHash;
    const stringToSign = ALGORITHM + "\n" + amzDate + "\n" + scope + "\n" +
      createHash("sha256").update(canonicalRequest).digest("hex");
    const signature = hmacHex(signingKeyOf(credentials.secretAccessKey, date, region, service, scope), stringToSign);

    const out: Record<string, string> = {
      authorization: ALGORITHM + " Credential=" + credentials.accessKeyId + "/" + scope + ", SignedHeaders=" +
        signedHeaders + ", Signature=" + signature,
      "x-amz-date": amzDate,
      "x-amz-content-sha256": payloadHash,
    };
    if (sessionToken) out["x-amz-security-token"] = sessionToken;
    return out;
  }

  return { sign };
}
