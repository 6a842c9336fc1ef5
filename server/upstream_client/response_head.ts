/**
 * @module
 * Strict parsing of an HTTP/1.1 response head (RFC 9112), and the framing of the body that follows it.
 *
 * The client relays whatever the upstream sends, so a head that could be read two ways is refused rather than
 * guessed at: every line must end in CRLF (no bare CR or LF), no obsolete line folding, no whitespace before a
 * field's colon, no control characters, exactly one Content-Length (identical duplicates too are refused: RFC 9110
 * §8.6 lets a recipient reject them, and nothing legitimate needs them), never Transfer-Encoding together with
 * Content-Length, and no transfer coding but a lone `chunked` (the only one the client decodes; RFC 9112 §6.3 would
 * otherwise read to the end of the connection). Everything here is a pure function of the bytes.
 */
import { HttpClientError } from "./errors.ts";
import { latin1 } from "./latin1.ts";

const CR = 13;
const LF = 10;

/** How the body after a head is delimited. */
export type Framing =
  /** No body at all (HEAD, 1xx, 204, 205, 304). */
  | "none"
  /** Exactly `length` bytes. */
  | "length"
  | "chunked"
  /** Until the server closes the connection (no length and no coding: allowed in responses, never reused). */
  | "eof";

export interface ResponseHead {
  status: number;
  statusText: string;
  /** Field lines in order, names lower-case, values trimmed of surrounding SP/HTAB. */
  headers: [string, string][];
  framing: Framing;
  /** Body length when `framing` is `length`. */
  length: number;
  /** Whether the connection may carry another request once this response has been read to its end. */
  reusable: boolean;
  /** The server's `Keep-Alive: timeout=N`, in ms, when it gave one. */
  keepAliveMs?: number;
}

/**
 * Finds the end of a head incrementally, rejecting bare CR and LF as soon as they are seen (a server writing
 * `\n\n` heads would otherwise leave the client waiting for a CRLF that never comes).
 */
export class HeadScanner {
  /** Bytes of the current head already checked. */
  #checked = 0;

  reset(): void {
    this.#checked = 0;
  }

  /** The index just past the head's empty line in `buf[start, end)`, or -1 when more bytes are needed. */
  scan(buf: Uint8Array, start: number, end: number): number {
    let i = start + this.#checked;
    for (; i < end; i++) {
      const b = buf[i];
      if (b === LF) {
        if (i === start || buf[i - 1] !== CR) throw new HttpClientError("bad_line", "bare LF in the response head");
        // `buf[i-2]` is LF only if it was itself preceded by CR (checked when it was scanned): CRLF CRLF.
        if (i - start >= 3 && buf[i - 2] === LF) return i + 1;
      } else if (b === CR && i + 1 < end && buf[i + 1] !== LF) {
        throw new HttpClientError("bad_line", "bare CR in the response head");
      }
    }
    // A CR at the very end is checked again once the byte after it is here.
    this.#checked = (end > start && buf[end - 1] === CR ? end - 1 : end) - start;
    return -1;
  }
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
/** `field-name ":" OWS field-value OWS`: a token name, then VCHAR / obs-text / SP / HTAB only. */
const FIELD_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):([\t\x20-\x7e\x80-\xff]*)$/;
const DECIMAL = /^\d{1,15}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout=(\d{1,6})(?:$|[,;\s])/i;

/** Trims SP and HTAB only (String#trim would also eat obs-text such as 0xA0). */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Parses one field line (a header or a trailer); returns `[lower-case name, trimmed value]`. */
export function parseFieldLine(line: string): [string, string] {
  const first = line.charCodeAt(0);
  if (first === 32 || first === 9) throw new HttpClientError("obs_fold", "obsolete line folding in a field line");
  const m = FIELD_LINE.exec(line);
  if (!m) throw new HttpClientError("bad_header", "malformed field line");
  return [m[1].toLowerCase(), trimOws(m[2])];
}

/** Comma-separated list elements, lower-case, trimmed; an empty element (`a,,b`, a trailing comma) is kept as "". */
function listElements(value: string): string[] {
  return value.split(",").map((e) => trimOws(e).toLowerCase());
}

/**
 * Parses the head in `buf[start, end)` (`end` just past its empty line, as {@link HeadScanner.scan} returns).
 * `headRequest`: the request was HEAD, so no body follows whatever the fields say.
 */
export function parseHead(buf: Uint8Array, start: number, end: number, headRequest: boolean): ResponseHead {
  const lines = latin1(buf, start, end - 4).split("\r\n");
  const status = STATUS_LINE.exec(lines[0]);
  if (!status) throw new HttpClientError("bad_status_line", "malformed status line");
  const http10 = status[1] === "0";
  const code = Number(status[2]);
  if (code < 100 || code > 599) throw new HttpClientError("bad_status_line", `status ${code} out of range`);

  const headers: [string, string][] = [];
  let contentLength: string | undefined;
  let lengthFields = 0;
  let transferEncoding: string | undefined;
  let close = http10;
  let keepAliveMs: number | undefined;
  let contentEncoding: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const field = parseFieldLine(lines[i]);
    const [name, value] = field;
    headers.push(field);
    if (name === "content-length") {
      lengthFields++;
      contentLength = value;
    } else if (name === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
    } else if (name === "connection") {
      if (listElements(value).includes("close")) close = true;
    } else if (name === "keep-alive") {
      const t = KEEP_ALIVE_TIMEOUT.exec(value);
      if (t) keepAliveMs = Number(t[1]) * 1000;
    } else if (name === "content-encoding") {
      contentEncoding = contentEncoding === undefined ? value : `${contentEncoding}, ${value}`;
    }
  }

  // Framing fields are checked even where they do not apply (HEAD, 204, 304): a head that carries a smuggling
  // shape is not one to trust, whatever its status.
  let length = 0;
  if (lengthFields > 1) throw new HttpClientError("bad_content_length", "more than one Content-Length");
  if (contentLength !== undefined) {
    if (!DECIMAL.test(contentLength)) throw new HttpClientError("bad_content_length", "Content-Length not a decimal");
    length = Number(contentLength);
  }
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) {
      throw new HttpClientError("conflicting_framing", "Transfer-Encoding together with Content-Length");
    }
    if (http10) throw new HttpClientError("conflicting_framing", "Transfer-Encoding in an HTTP/1.0 response");
    const codings = listElements(transferEncoding);
    if (codings.length !== 1 || codings[0] !== "chunked") {
      throw new HttpClientError("unsupported_transfer_encoding", `transfer coding "${transferEncoding}"`);
    }
  }

  const statusText = status[3] ?? "";
  if (code < 200) return { status: code, statusText, headers, framing: "none", length: 0, reusable: !close };
  let framing: Framing;
  let reusable = !close;
  if (headRequest || code === 204 || code === 304) framing = "none";
  else if (code === 205) {
    // No content by definition (RFC 9110 §15.3.6), but not in RFC 9112's list of bodiless answers: reuse the
    // connection only when the head itself says the body is empty.
    framing = "none";
    reusable &&= contentLength !== undefined && length === 0;
  } else if (transferEncoding !== undefined) framing = "chunked";
  else if (contentLength !== undefined) framing = "length";
  else {
    framing = "eof";
    reusable = false;
  }
  if (framing !== "none" && contentEncoding !== undefined && contentEncoding.toLowerCase() !== "identity") {
    throw new HttpClientError("unsupported_content_encoding", `content coding "${contentEncoding}" not requested`);
  }
  return { status: code, statusText, headers, framing, length, reusable, keepAliveMs };
}
