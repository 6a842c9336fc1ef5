/**
 * @module
 * Checks on a JSON request body that run before it is parsed, each far cheaper than the parse it guards: no
 * byte-order mark, strict UTF-8, and a nesting depth within a limit. A body nested 50,000 levels deep is refused
 * after ~`maxDepth` bytes have been looked at, instead of after 50,000 arrays have been built (and the stack of every
 * recursive walk over them has been risked).
 *
 * @example
 * ```ts
 * const body = new TextEncoder().encode('{"a":[[1]]}');
 * jsonNestingExceeds(body, 2); // true: the object, then two arrays
 * const text = decodeJsonText(body, 128); // '{"a":[[1]]}'
 * ```
 */
import { validation } from "../errors.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** Strict: a byte sequence that is not UTF-8 throws instead of becoming U+FFFD. The BOM is checked apart. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Whether the body starts with the UTF-8 byte-order mark (EF BB BF). */
export function startsWithBom(body: Uint8Array): boolean {
  return body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
}

/**
 * Whether `[`/`{` nest deeper than `maxDepth` anywhere outside strings. One pass, no allocation; string contents are
 * skipped with `indexOf` (a quote preceded by an odd run of backslashes is escaped), so a body that is mostly one
 * long string costs about as much as a `memchr` over it. Malformed JSON is not judged here: the parse reports it.
 */
export function jsonNestingExceeds(body: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  const n = body.length;
  for (let i = 0; i < n; i++) {
    const b = body[i];
    if (b === QUOTE) {
      let end = i;
      for (;;) {
        end = body.indexOf(QUOTE, end + 1);
        if (end < 0) return false; // unterminated string: not our verdict to give
        let slashes = 0;
        while (body[end - 1 - slashes] === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
      i = end;
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > maxDepth) return true;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/**
 * The body as JSON text, after the checks Bedrock's own front end makes: a ValidationException (400) for a leading
 * byte-order mark, bytes that are not UTF-8, or nesting deeper than `maxDepth`.
 */
export function decodeJsonText(body: Uint8Array, maxDepth: number): string {
  if (startsWithBom(body)) {
    throw validation(
      "Malformed input request: the request body starts with a byte-order mark (BOM), which JSON does not allow; " +
        "send the JSON without it",
    );
  }
  if (jsonNestingExceeds(body, maxDepth)) {
    throw validation(
      `Malformed input request: the request body nests arrays and objects more than ${maxDepth} levels deep ` +
        "(general_settings.max_json_depth)",
    );
  }
  try {
    return strictUtf8.decode(body);
  } catch {
    throw validation("Malformed input request: the request body is not valid UTF-8");
  }
}
