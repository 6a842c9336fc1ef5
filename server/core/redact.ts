/**
 * @module
 * What may be shown of values that can carry secrets: a key as the prefix of its hash ({@link hashPrefix}), an
 * endpoint without its user info or query ({@link publicBase}), and a message with anything that looks like a key or credential replaced
 * ({@link redactSecrets}) — for log lines, audit records, alerts and traces, which must never hold a raw key, an AWS
 * secret or a bearer token.
 */

/** Enough of a key hash to tell keys apart in logs, metrics and traces (48 bits); the full hash is in spend logs. */
export const HASH_PREFIX_CHARS = 12;

export const hashPrefix = (hash: string | undefined): string | undefined => hash?.slice(0, HASH_PREFIX_CHARS);

/** A base URL without user info, query or fragment, so an endpoint configured with embedded credentials never leaks. */
export function publicBase(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  // Configured endpoints are validated URLs without a trailing slash; only one with user info, a query or a
  // fragment needs rewriting.
  if (!/[@?#]/.test(url)) return url;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * Patterns of secrets, each replaced by what it is: gateway keys (`sk-…`), AWS access key ids (`AKIA…`, `ASIA…`),
 * bearer and basic credentials, `key=value` pairs whose name says secret, and 40-character base64 runs (the shape of
 * an AWS secret access key). Conservative: a false positive costs a word of a log line, a miss costs a key.
 */
const SECRETS: ReadonlyArray<[RegExp, string]> = [
  [/\bsk-[A-Za-z0-9_\-]{2,}/g, "sk-[redacted]"],
  [/\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,}\b/g, "[aws-key-id]"],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{6,}/gi, "$1 [redacted]"],
  [
    /\b((?:[\w-]*(?:secret|token|password|passwd|api[_-]?key|signature|credential)[\w-]*)["']?\s*[=:]\s*["']?)[^\s"'&,;}]+/gi,
    "$1[redacted]",
  ],
  [/(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g, "[redacted]"],
];

/** The longest message a log line, an audit record or an alert carries by default. */
export const MAX_MESSAGE_CHARS = 500;

/**
 * `text` with everything that looks like a secret replaced, cut to `max` characters (an ellipsis says it was). For
 * messages that may quote what a client or an upstream sent (an error's message, a config value).
 */
export function redactSecrets(text: string, max = MAX_MESSAGE_CHARS): string {
  let out = text.length > max * 2 ? text.slice(0, max * 2) : text;
  for (const [pattern, replacement] of SECRETS) out = out.replace(pattern, replacement);
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}
