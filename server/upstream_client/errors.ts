/**
 * @module
 * The one error type the native HTTP client throws for network and protocol failures.
 *
 * It extends `TypeError` because that is what `fetch` rejects with for the same failures, so code written against
 * `fetch` (catch, `instanceof TypeError`) keeps working; `code` says which rule the connection or the answer broke.
 * Aborts are not errors of this kind: they reject with the signal's own reason, as `fetch` does.
 */

/** What went wrong, one code per rule. */
export type HttpClientErrorCode =
  /** TCP connect or TLS handshake failed (nothing was written). */
  | "connect_failed"
  /** The socket failed while the request was being written. */
  | "write_failed"
  /** The server closed the connection (or it broke) before a complete response head arrived. */
  | "closed_before_response"
  /** The response head (status line and header fields) is longer than the client accepts. */
  | "head_too_large"
  /** A line ended in a bare CR or LF, or held a control character. */
  | "bad_line"
  | "bad_status_line"
  /** A header field's name or value is not valid (whitespace before the colon, a non-token name, a CTL). */
  | "bad_header"
  /** A header line starting with whitespace: obsolete line folding, refused. */
  | "obs_fold"
  /** Content-Length not a plain decimal, listed twice, or too large. */
  | "bad_content_length"
  /** Transfer-Encoding and Content-Length together (a request-smuggling shape), or Transfer-Encoding in HTTP/1.0. */
  | "conflicting_framing"
  /** A transfer coding other than exactly `chunked`. */
  | "unsupported_transfer_encoding"
  /** A content coding the client did not ask for (it sends `accept-encoding: identity`). */
  | "unsupported_content_encoding"
  /** A 101 the client never asked for, or more 1xx answers than it accepts before the final one. */
  | "unexpected_informational"
  /** A chunk-size line that is not hex digits with optional extensions, or chunk data not followed by CRLF. */
  | "bad_chunk"
  /** A chunk-size line (or the trailer section) longer than the client accepts. */
  | "chunk_line_too_long"
  /** The connection ended before the body did (short of Content-Length, or before the last chunk). */
  | "truncated_body"
  /** Bytes the server sent outside any response. */
  | "unexpected_data"
  /** The request cannot be sent as built (a header value with CR/LF, credentials in the URL). */
  | "bad_request";

export class HttpClientError extends TypeError {
  override name = "HttpClientError";
  constructor(readonly code: HttpClientErrorCode, message: string, options?: ErrorOptions) {
    super(`${code}: ${message}`, options);
  }
}
