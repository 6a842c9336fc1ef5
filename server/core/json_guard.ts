/**
 * @module
 * Checks on a JSON request body that run before it is parsed, each far cheaper than the parse it guards: no
 * byte-order mark, strict UTF-8, a nesting depth and a number of values within limits, no member name twice in one
 * object. A body nested 50,000 levels
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
const COLON = 0x3a;

/**
 * What the scan found wrong: nesting deeper than `maxDepth`, more than `maxValues` values, or a member name given
 * twice in one object (`duplicate`: the name, decoded).
 */
export type JsonShapeProblem = "depth" | "values" | { duplicate: string };

/** Objects with more members than this look names up in a set instead of comparing with each one before. */
const LINEAR_MEMBERS = 16;

/**
 * FNV-1a of `bytes[start, end)`: member names are compared by hash first, bytes only when the hashes match. -1 when
 * the bytes hold a backslash (an escape: the name must be decoded before it is compared).
 */
function hashOf(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b === BACKSLASH) return -1;
    h = Math.imul(h ^ b, 0x01000193);
  }
  return h >>> 0;
}

const utf8 = new TextEncoder();

/**
 * A name as bytes that compare equal exactly when the UTF-16 names do: UTF-8, but a lone surrogate (`"\ud83d"`,
 * which `JSON.stringify` writes for a string cut mid-emoji) is encoded as its own three bytes (WTF-8) instead of
 * U+FFFD, so `"\ud800"` and `"\ufffd"` stay two names, as they are to `JSON.parse`.
 */
function exactBytes(name: string): Uint8Array {
  if (name.isWellFormed()) return utf8.encode(name);
  const bytes: number[] = [];
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) bytes.push(c);
    else if (c < 0x800) bytes.push(0xc0 | c >> 6, 0x80 | c & 0x3f);
    else if (c < 0x10000) bytes.push(0xe0 | c >> 12, 0x80 | c >> 6 & 0x3f, 0x80 | c & 0x3f);
    else bytes.push(0xf0 | c >> 18, 0x80 | c >> 12 & 0x3f, 0x80 | c >> 6 & 0x3f, 0x80 | c & 0x3f);
  }
  return Uint8Array.from(bytes);
}

/** A member name written with escapes: the name it stands for (as written if it is invalid), and its exact bytes. */
function unescapedName(quoted: Uint8Array): { text: string; bytes: Uint8Array } {
  let text: string;
  try {
    text = JSON.parse(lenientUtf8.decode(quoted));
  } catch {
    return { text: lenientUtf8.decode(quoted), bytes: quoted }; // not a valid JSON string: the parse refuses the body
  }
  return { text, bytes: exactBytes(text) };
}

const rawEqual = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The member names of the objects open at a point of the scan. Each name is `[hash, start, end)` in the body; a name
 * written with escapes (`"\u0061"` is `"a"`) is decoded once and kept apart, so both spellings compare equal. An
 * object's first names are compared one by one (hash, then bytes: no allocation); past {@link LINEAR_MEMBERS} they go
 * into a set of strings, whose hashing is V8's (seeded), so names crafted to collide cannot make the scan quadratic.
 * Entries of an object are dropped when it closes: the lists hold at most the names along one path of the document.
 */
class MemberNames {
  #entries: number[] = []; // hash, start, end: three per name, the first `#used` of them current
  #used = 0; // (dropped by count, not by truncating the array: cheaper, and the slots are reused)
  #decoded: Array<{ text: string; bytes: Uint8Array }> = []; // names written with escapes (start = -(index + 1))
  #opened: number[] = []; // per open container: where its entries start (-1: an array)
  #sets: Array<Set<string> | undefined> = []; // by open container, once it has many names (sparse)
  readonly #body: Uint8Array;

  constructor(body: Uint8Array) {
    this.#body = body;
  }

  open(object: boolean): void {
    this.#opened.push(object ? this.#used : -1);
  }

  close(): void {
    const from = this.#opened.pop();
    if (from !== undefined && from >= 0) this.#used = from;
    if (this.#sets.length > this.#opened.length) this.#sets.length = this.#opened.length;
  }

  /** Whether the innermost open container is an object (so a string followed by `:` is a member name). */
  inObject(): boolean {
    const top = this.#opened.length - 1;
    return top >= 0 && this.#opened[top] >= 0;
  }

  /** Adds the name quoted at `body[start - 1]…body[end]`; returns it, decoded, when the object has it already. */
  add(start: number, end: number): string | undefined {
    let name = start, nameEnd = end;
    let hash = hashOf(this.#body, start, end);
    if (hash < 0) {
      const decoded = unescapedName(this.#body.subarray(start - 1, end + 1));
      const bytes = decoded.bytes;
      this.#decoded.push(decoded);
      name = -this.#decoded.length;
      nameEnd = bytes.length;
      hash = hashOf(bytes, 0, bytes.length) >>> 0;
    }
    const top = this.#opened.length - 1;
    const set = this.#sets[top];
    if (set) {
      const text = this.#text(name, nameEnd);
      if (set.has(text)) return text;
      set.add(text);
      return undefined;
    }
    const from = this.#opened[top];
    const entries = this.#entries;
    const used = this.#used;
    for (let i = from; i < used; i += 3) {
      if (entries[i] === hash && this.#same(i, name, nameEnd)) return this.#text(name, nameEnd);
    }
    if (used - from < LINEAR_MEMBERS * 3) {
      entries[used] = hash;
      entries[used + 1] = name;
      entries[used + 2] = nameEnd;
      this.#used = used + 3;
    } else {
      const many = new Set<string>();
      for (let i = from; i < used; i += 3) many.add(this.#text(entries[i + 1], entries[i + 2]));
      many.add(this.#text(name, nameEnd));
      this.#sets[top] = many;
    }
    return undefined;
  }

  #bytes(start: number, end: number): Uint8Array {
    return start >= 0 ? this.#body.subarray(start, end) : this.#decoded[-start - 1].bytes;
  }

  #same(i: number, start: number, end: number): boolean {
    return rawEqual(this.#bytes(this.#entries[i + 1], this.#entries[i + 2]), this.#bytes(start, end));
  }

  #text(start: number, end: number): string {
    if (start < 0) return this.#decoded[-start - 1].text; // exact: a lone surrogate stays itself
    // Short ASCII names (nearly all) are built in place: a view and a call into the decoder cost more than the scan.
    if (start >= 0 && end - start <= 64) {
      const body = this.#body;
      let text = "";
      let i = start;
      for (; i < end && body[i] < 0x80; i++) text += String.fromCharCode(body[i]);
      if (i === end) return text;
    }
    return lenientUtf8.decode(this.#bytes(start, end));
  }
}

/**
 * Which limit the body breaks, if any: `[`/`{` nested deeper than `maxDepth`, more than `maxValues` containers and
 * commas, or a member name given twice in one object, outside strings. One pass; string contents are skipped with
 * `indexOf` (a quote preceded by an odd run of backslashes is escaped), so a body that is mostly one long string
 * costs about as much as a `memchr` over it; a member name costs a hash of its bytes and a comparison with the other
 * names of its object (a set past {@link LINEAR_MEMBERS} of them). Malformed JSON is not judged here: the parse
 * reports it.
 *
 * Duplicate names are refused because the gateway judges a body by one parse (`JSON.parse`: the last one wins) and
 * forwards its bytes to another (Bedrock's: undocumented), so a guardrail, a service tier or `maxTokens` could be
 * one thing to the gateway's checks and another to the model.
 */
export function jsonShapeProblem(body: Uint8Array, limits: JsonLimits): JsonShapeProblem | undefined {
  const { maxDepth, maxValues } = limits;
  let depth = 0;
  let values = 0;
  const names = new MemberNames(body);
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
      if (names.inObject()) {
        let next = end + 1;
        while (next < n && (body[next] === 0x20 || body[next] === 0x0a || body[next] === 0x0d || body[next] === 0x09)) {
          next++;
        }
        if (body[next] === COLON) {
          const duplicate = names.add(i + 1, end);
          if (duplicate !== undefined) return { duplicate };
        }
      }
      i = end;
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > maxDepth) return "depth";
      if (++values > maxValues) return "values";
      names.open(b === OPEN_OBJECT);
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      depth--;
      names.close();
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
  if (problem !== undefined) {
    throw validation(
      `Malformed input request: the request body names the member ${
        JSON.stringify(problem.duplicate.slice(0, 100))
      } twice in one object; send each member once`,
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
