/**
 * @module
 * Checks on a JSON request body that run before it is parsed, each far cheaper than the parse it guards: no
 * byte-order mark, strict UTF-8, a nesting depth and a number of values within limits. A body nested 50,000 levels
 * deep is refused after ~`maxDepth` bytes have been looked at, instead of after 50,000 arrays have been built (and
 * the stack of every recursive walk over them has been risked); a 20 MiB array of ten million numbers is refused
 * before the parse builds them and schema validation reports each one (each report costs time and memory of its
 * own: docs/benchmarks.md).
 *
 * @example
 * ```ts
 * const body = new TextEncoder().encode('{"a":[[1,2]]}');
 * jsonShapeProblem(body, { maxDepth: 2, maxValues: 100 }); // "depth": the object, then two arrays
 * jsonShapeProblem(body, { maxDepth: 8, maxValues: 3 }); // "values": 3 containers + 1 comma
 * const text = decodeJsonText(body, { maxDepth: 128, maxValues: 250_000 }); // '{"a":[[1,2]]}'
 * ```
 */
import { validation } from "./errors.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Strict: a byte sequence that is not UTF-8 throws instead of becoming U+FFFD. It is several times slower than the
 * lenient decoder (docs/benchmarks.md), so it only runs when the lenient one produced a U+FFFD: a body without one
 * was valid UTF-8. The BOM is checked apart.
 */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** Whether the body starts with the UTF-8 byte-order mark (EF BB BF). */
export function startsWithBom(body: Uint8Array): boolean {
  return body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
}

/** The limits a JSON body is held to before it is parsed (`max_json_depth`, `max_json_values`). */
export interface JsonLimits {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Most values: arrays and objects, plus one per `,` between elements or members (so about one per value). */
  maxValues: number;
}

const COMMA = 0x2c;

/**
 * Which limit the body breaks, if any: `[`/`{` nested deeper than `maxDepth`, or more than `maxValues` containers and
 * commas, outside strings. One pass, no allocation; string contents are skipped with `indexOf` (a quote preceded by an
 * odd run of backslashes is escaped), so a body that is mostly one long string costs about as much as a `memchr` over
 * it. Malformed JSON is not judged here: the parse reports it.
 */
export function jsonShapeProblem(body: Uint8Array, limits: JsonLimits): "depth" | "values" | undefined {
  const { maxDepth, maxValues } = limits;
  let depth = 0;
  let values = 0;
  const n = body.length;
  for (let i = 0; i < n; i++) {
    const b = body[i];
    if (b === QUOTE) {
      let end = i;
      for (;;) {
        end = body.indexOf(QUOTE, end + 1);
        if (end < 0) return undefined; // unterminated string: not our verdict to give
        let slashes = 0;
        while (body[end - 1 - slashes] === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
      i = end;
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > maxDepth) return "depth";
      if (++values > maxValues) return "values";
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      depth--;
    } else if (b === COMMA) {
      if (++values > maxValues) return "values";
    }
  }
  return undefined;
}

/**
 * The body as JSON text, after the checks made before any parse: a ValidationException (400) for a leading
 * byte-order mark, bytes that are not UTF-8, nesting deeper than `maxDepth` or more values than `maxValues`.
 */
export function decodeJsonText(body: Uint8Array, limits: JsonLimits): string {
  if (startsWithBom(body)) {
    throw validation(
      "Malformed input request: the request body starts with a byte-order mark (BOM), which JSON does not allow; " +
        "send the JSON without it",
    );
  }
  const problem = jsonShapeProblem(body, limits);
  if (problem === "depth") {
    throw validation(
      `Malformed input request: the request body nests arrays and objects more than ${limits.maxDepth} levels deep ` +
        "(general_settings.max_json_depth)",
    );
  }
  if (problem === "values") {
    throw validation(
      `Malformed input request: the request body has more than ${limits.maxValues} JSON values ` +
        "(general_settings.max_json_values)",
    );
  }
  const text = lenientUtf8.decode(body);
  // U+FFFD: either a replaced invalid sequence, or one the client encoded (EF BF BD). Only the strict decoder knows.
  if (!text.includes("\uFFFD")) return text;
  try {
    return strictUtf8.decode(body);
  } catch {
    throw validation("Malformed input request: the request body is not valid UTF-8");
  }
}
