/**
 * @module
 * Bytes ↔ strings one byte per character (ISO-8859-1 as ByteString), the way `fetch`'s `Headers` holds field values:
 * HTTP field values may carry obs-text (0x80–0xFF), which must neither be UTF-8 decoded nor mangled by the WHATWG
 * "latin1" decoder (which is windows-1252).
 */

/** `buf[from, to)` as a string of char codes 0–255. */
export function latin1(buf: Uint8Array, from: number, to: number): string {
  let out = "";
  // `fromCharCode.apply` takes the typed array as its argument list; slices keep each call's argument count small.
  for (let i = from; i < to; i += 4096) {
    out += String.fromCharCode.apply(null, buf.subarray(i, Math.min(to, i + 4096)) as unknown as number[]);
  }
  return out;
}

/** Writes `text` (every char ≤ 0xFF, checked by the caller) into `out` at `at`; returns the index after it. */
export function writeLatin1(text: string, out: Uint8Array, at: number): number {
  for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i);
  return at;
}
