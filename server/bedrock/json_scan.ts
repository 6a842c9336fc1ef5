/**
 * @module
 * Reading one string field out of a small JSON payload without parsing it: for counting the output text of stream
 * deltas (hundreds per stream, each a few dozen bytes), where decoding and `JSON.parse` of every frame cost about as
 * much as the rest of the tap. Only for payloads whose shape is known (Bedrock's own); anything unexpected reports
 * "not found" and the caller parses the payload instead.
 */

/** Index of the ASCII text `needle` in `bytes` at or after `from`, or -1. */
export function indexOfAscii(bytes: Uint8Array, needle: string, from = 0): number {
  const first = needle.charCodeAt(0);
  const last = bytes.length - needle.length;
  outer: for (let i = from; i <= last; i++) {
    if (bytes[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (bytes[i + j] !== needle.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

/** Characters of a JSON string's text: ASCII ones (escapes counted as written) and others (multi-byte UTF-8). */
export interface CharCounts {
  ascii: number;
  other: number;
}

/**
 * Counts the characters of the JSON string value of the first `"<name>":"` found in `bytes` at or after `from`:
 * undefined when there is none or it is not terminated. An escape counts as the character it stands for, so the
 * counts are those of the parsed text (but for characters beyond the Basic Multilingual Plane: one here, two there).
 */
export function stringValueChars(bytes: Uint8Array, name: string, from = 0): CharCounts | undefined {
  const at = indexOfAscii(bytes, `"${name}":"`, from);
  if (at < 0) return undefined;
  let ascii = 0, other = 0;
  for (let i = at + name.length + 4; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x22) return { ascii, other }; // the closing quote
    if (b === 0x5c) { // an escape is the one character it stands for: `\n`, `\"`, or `\u00e9` (6 bytes)
      if (bytes[i + 1] === 0x75) {
        if (parseInt(String.fromCharCode(...bytes.subarray(i + 2, i + 6)), 16) < 0x80) ascii++;
        else other++;
        i += 5;
      } else {
        ascii++;
        i++;
      }
    } else if (b < 0x80) ascii++;
    else if (b >= 0xc0) other++; // a multi-byte character's first byte (continuation bytes are not counted)
  }
  return undefined;
}

/** Index of the last `needle` (ASCII) in `bytes`, or -1: the native `lastIndexOf` finds candidates for its first byte. */
export function lastIndexOfAscii(bytes: Uint8Array, needle: string): number {
  const first = needle.charCodeAt(0);
  if (bytes.length < needle.length) return -1;
  outer: for (
    let i = bytes.lastIndexOf(first, bytes.length - needle.length);
    i >= 0;
    // A negative start would count from the end again.
    i = i > 0 ? bytes.lastIndexOf(first, i - 1) : -1
  ) {
    for (let j = 1; j < needle.length; j++) if (bytes[i + j] !== needle.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

/** Where model-native answers say why generation stopped: Anthropic, Llama, Mistral; Titan; Cohere. */
const STOP_REASON_FIELDS = ['"stop_reason":"', '"completionReason":"', '"finish_reason":"'] as const;
/** Stop reasons are short words; anything longer is not one. */
const MAX_STOP_REASON = 64;

/**
 * Why a model-native JSON answer says generation stopped (`end_turn`, `max_tokens`, `FINISH`, …), found from the
 * end of the body without parsing it (the field follows the generated content). A quote cannot appear unescaped
 * inside a JSON string, so the field's text cannot be forged by generated text. Undefined when none is found.
 */
export function nativeStopReason(body: Uint8Array): string | undefined {
  for (const field of STOP_REASON_FIELDS) {
    const at = lastIndexOfAscii(body, field);
    if (at < 0) continue;
    const start = at + field.length;
    const end = body.indexOf(0x22, start);
    if (end < 0 || end - start > MAX_STOP_REASON) return undefined;
    return String.fromCharCode(...body.subarray(start, end));
  }
  return undefined;
}
