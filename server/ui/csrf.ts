/**
 * @module
 * Cross-site request checks for the UI. Two layers, both required for a form:
 *
 * - **Where the request came from** (`fromThisSite`): browsers say it in `Sec-Fetch-Site` (must be `same-origin`),
 *   older ones in `Origin` (its host must be the request's). A request with neither is refused: every browser sends
 *   one of them with a form `POST`.
 * - **A token only our page knows** (`sameToken`): the session's CSRF token in a hidden field, compared in constant
 *   time. Before sign-in, the sign-in form's token is a random value also set as a `SameSite=Strict` cookie
 *   (double submit), so another site cannot sign a browser in with its own key either.
 *
 * Reads are guarded too (`readableBy`): a page of another site may navigate to the UI but not fetch it, so it
 * cannot read a page (and the CSRF token in it) with the user's cookie, even from a same-site origin.
 */
import { sameSecret } from "../keys/credentials.ts";

/** Whether a state-changing request (a form post) comes from a page of this origin. */
export function fromThisSite(req: Request): boolean {
  const site = req.headers.get("sec-fetch-site");
  if (site !== null) return site === "same-origin";
  const origin = req.headers.get("origin");
  if (origin === null || origin === "null") return false;
  try {
    // The host only: behind a TLS-terminating proxy the page is https while the gateway sees http.
    return new URL(origin).host === new URL(req.url).host;
  } catch {
    return false;
  }
}

/**
 * Whether a read may be answered: anything but another site's script or sub-resource (`fetch`, `<img>`, a frame).
 * Navigations from anywhere are fine (a link to the UI); requests without fetch metadata (old browsers, curl) too.
 */
export function readableBy(req: Request): boolean {
  const site = req.headers.get("sec-fetch-site");
  if (site === null || site === "same-origin" || site === "none") return true;
  return req.headers.get("sec-fetch-mode") === "navigate" && req.headers.get("sec-fetch-dest") === "document";
}

/** Constant-time comparison of a submitted token with the expected one; missing or empty never matches. */
export function sameToken(submitted: unknown, expected: string | undefined): boolean {
  if (typeof submitted !== "string" || !submitted || !expected) return false;
  return sameSecret(submitted, expected);
}
