/**
 * @module
 * Where the parts of a request URL are, read straight from `req.url` (no `URL` object on the hot path). Paths stay
 * percent-encoded: ids are decoded exactly once, by the path parsers.
 *
 * @example
 * ```ts
 * import { pathOf, rawPathAfter } from "./url.ts";
 *
 * const url = "http://gw.test/bedrock/model/us.anthropic.claude%3A0/converse?x=1";
 * pathOf(url); // "/bedrock/model/us.anthropic.claude%3A0/converse"
 * rawPathAfter(url, "/bedrock/model/"); // "us.anthropic.claude%3A0/converse"
 * ```
 */

/** Where a request URL's path starts (after `scheme://host`). */
export const pathStart = (url: string): number => url.indexOf("/", url.indexOf("//") + 2);

/** The request's path after `prefix`, still percent-encoded. */
export function rawPathAfter(url: string, prefix: string): string {
  const start = url.indexOf(prefix, url.indexOf("//") + 2);
  const queryStart = url.indexOf("?", start);
  return url.slice(start + prefix.length, queryStart < 0 ? undefined : queryStart);
}

/** The request's path, without the query (what a 404 names). */
export function pathOf(url: string): string {
  const start = pathStart(url);
  const queryStart = url.indexOf("?", start);
  return url.slice(start, queryStart < 0 ? undefined : queryStart);
}
