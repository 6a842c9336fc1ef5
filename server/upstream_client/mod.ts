/**
 * @module
 * A native HTTP/1.1 client that stands in for `fetch` on the gateway's upstream calls: keep-alive pool, strict
 * response parsing, TLS always verified, and `fetch` itself for anything it does not speak. See client.ts.
 *
 * @example
 * ```ts
 * import { createHttpClient } from "./mod.ts";
 *
 * declare const body: Uint8Array<ArrayBuffer>;
 * const client = createHttpClient();
 * const res = await client.fetch("https://bedrock-runtime.us-west-2.amazonaws.com/…", { method: "POST", body });
 * client.close();
 * ```
 */
export { createHttpClient, type HttpClient, type HttpClientOptions, type WrittenInit } from "./client.ts";
export { HttpClientError, type HttpClientErrorCode } from "./errors.ts";
