/**
 * @module
 * Building the bytes of one HTTP/1.1 request, or saying that this client does not send such a request (the caller
 * then hands it to `fetch`).
 *
 * The request is written once, exactly as built here: a request line, `host`, the caller's fields, framing
 * (`content-length` only: bodies are bytes, never streams) and the defaults `fetch` would add. Field names must be
 * tokens and values must hold no CR, LF or NUL (a TypeError, as `fetch` throws), so nothing a caller passes can
 * add a line to the request. Fields that change framing or the connection (`host`, `content-length`,
 * `transfer-encoding`, `connection`, `upgrade`, `expect`, …) are not this client's to send: such requests go to
 * `fetch`.
 */
import { writeLatin1 } from "./latin1.ts";

/** Where a URL's requests go: one origin (the pool's key) and the request target. */
export interface Target {
  /** `https://host:port`: the pool key. */
  origin: string;
  tls: boolean;
  /** Host name or IP address to connect to (IPv6 without brackets). */
  hostname: string;
  port: number;
  /** The `host` field: host, and port when not the scheme's default (what `fetch` and SigV4 use). */
  host: string;
  /** Path and query, as the URL holds them (already percent-encoded). */
  path: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** After trimming: no CR, LF or NUL, and every char one byte (a ByteString, as `Headers` requires). */
const BAD_VALUE = /[\0\r\n]|[^\0-\xff]/;
const NON_ASCII = /[^\0-\x7f]/;
/** Fields the client owns (framing, connection) or cannot honour: a request carrying one goes to `fetch`. */
const NOT_OURS: ReadonlySet<string> = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "expect",
  "te",
  "trailer",
  "proxy-connection",
  "proxy-authorization",
]);
const NORMALIZED_METHODS: ReadonlySet<string> = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
const FORBIDDEN_METHODS: ReadonlySet<string> = new Set(["CONNECT", "TRACE", "TRACK"]);
const encoder = new TextEncoder();

/** The target of an absolute http(s) URL, or undefined for any other scheme. Throws like `fetch` on credentials. */
export function parseTarget(input: string): Target | undefined {
  const url = new URL(input);
  const tls = url.protocol === "https:";
  if (!tls && url.protocol !== "http:") return undefined;
  if (url.username || url.password) {
    throw new TypeError("Request cannot be constructed from a URL that includes credentials");
  }
  const port = url.port ? Number(url.port) : tls ? 443 : 80;
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return {
    origin: `${url.protocol}//${url.host}`,
    tls,
    hostname,
    port,
    host: url.host,
    path: url.pathname + url.search,
  };
}

/** The method as `fetch` sends it; throws TypeError for what `fetch` refuses. */
export function normalizeMethod(method: string): string {
  if (!TOKEN.test(method)) throw new TypeError(`invalid method "${method}"`);
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`method ${upper} is forbidden`);
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/** HTTP whitespace trim, as `Headers` normalizes values. */
function normalizeValue(value: string): string {
  return value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
}

/**
 * The caller's fields as `[lower-case name, value]`, validated; undefined when one of them is a field the client
 * does not send itself (see {@link NOT_OURS}), or asks for a content coding it does not decode.
 */
export function requestFields(init: HeadersInit | undefined): [string, string][] | undefined {
  const out: [string, string][] = [];
  if (init === undefined) return out;
  const add = (name: string, value: string) => {
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name "${name}"`);
    const v = normalizeValue(String(value));
    if (BAD_VALUE.test(v)) throw new TypeError(`invalid value for header "${name}"`);
    out.push([name.toLowerCase(), v]);
  };
  if (init instanceof Headers) init.forEach((v, n) => add(n, v));
  else if (Array.isArray(init)) { for (const [n, v] of init) add(n, v); }
  else for (const n in init) add(n, (init as Record<string, string>)[n]);
  for (const [name, value] of out) {
    if (NOT_OURS.has(name)) return undefined;
    if (name === "accept-encoding" && value.toLowerCase() !== "identity") return undefined;
  }
  return out;
}

/** A body this client sends as bytes; undefined for kinds it leaves to `fetch` (streams, blobs, forms). */
export function bodyBytes(body: BodyInit | null | undefined): Uint8Array | null | undefined {
  if (body === null || body === undefined) return null;
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return undefined;
}

const USER_AGENT = `Deno/${Deno.version.deno}`;

/**
 * The request head (ending in the empty line). `fields` are validated (see {@link requestFields});
 * `accept`, `accept-encoding: identity` (the client decodes no content coding) and `user-agent` are added when
 * absent, as `fetch` adds its own.
 */
export function requestHead(
  method: string,
  target: Target,
  fields: [string, string][],
  body: Uint8Array | null,
  defaultContentType: string | undefined,
): string {
  let head = `${method} ${target.path} HTTP/1.1\r\nhost: ${target.host}\r\n`;
  let accept = false, encoding = false, agent = false, type = false;
  for (const [name, value] of fields) {
    head += `${name}: ${value}\r\n`;
    if (name === "accept") accept = true;
    else if (name === "accept-encoding") encoding = true;
    else if (name === "user-agent") agent = true;
    else if (name === "content-type") type = true;
  }
  if (body) head += `content-length: ${body.length}\r\n`;
  else if (method === "POST" || method === "PUT" || method === "PATCH") head += "content-length: 0\r\n";
  if (!type && defaultContentType && body) head += `content-type: ${defaultContentType}\r\n`;
  if (!accept) head += "accept: */*\r\n";
  if (!encoding) head += "accept-encoding: identity\r\n";
  if (!agent) head += `user-agent: ${USER_AGENT}\r\n`;
  return head + "\r\n";
}

/** Bodies up to this size are sent in the same write as the head; larger ones follow it (no copy). */
const COALESCE_BYTES = 64 * 1024;

/** The bytes to write, in order: head and body in one buffer, or the head then the body when the body is large. */
export function requestBytes(head: string, body: Uint8Array | null): Uint8Array[] {
  const ascii = !NON_ASCII.test(head);
  const bodyLength = body?.length ?? 0;
  const inline = bodyLength <= COALESCE_BYTES ? bodyLength : 0;
  const out = new Uint8Array(head.length + inline);
  if (ascii) encoder.encodeInto(head, out);
  else writeLatin1(head, out, 0);
  if (!body || bodyLength === 0) return [out];
  if (inline) {
    out.set(body, head.length);
    return [out];
  }
  return [out, body];
}
