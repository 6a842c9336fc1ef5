/**
 * @module
 * The headers every UI answer carries. The Content-Security-Policy allows only the UI's own files: no inline
 * script or style (not even a `style` attribute; bars and charts are SVG attributes), no frames of it anywhere, forms
 * posting only to this origin, nothing fetched from elsewhere. Pages are never cached (they hold spend and CSRF
 * tokens); assets are cached for good under names that change with their content (`assets.ts`).
 */

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const COMMON: ReadonlyArray<[string, string]> = [
  ["content-security-policy", CONTENT_SECURITY_POLICY],
  ["x-content-type-options", "nosniff"],
  ["referrer-policy", "same-origin"],
  // For browsers that predate `frame-ancestors`.
  ["x-frame-options", "DENY"],
  ["cross-origin-opener-policy", "same-origin"],
  ["cross-origin-resource-policy", "same-origin"],
  ["permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"],
];

/** Sets the UI's security headers, and `no-store` unless the answer says how to cache it. */
export function setSecurityHeaders(headers: Headers): void {
  for (const [name, value] of COMMON) headers.set(name, value);
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
}
