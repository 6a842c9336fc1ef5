/**
 * @module
 * A boolean query parameter for the route schemas: documented (OpenAPI, the SDK's generated types) as a boolean,
 * read from the query string's text. The SDK sends `true` / `false`; LiteLLM's clients may send what FastAPI
 * accepts (`True`, `1`, `yes`, `on`, … — Python's `str(True)` is `True`), so that is accepted too.
 */
import { z } from "zod";

const TRUE: ReadonlySet<string> = new Set(["true", "1", "yes", "y", "on", "t"]);
const FALSE: ReadonlySet<string> = new Set(["false", "0", "no", "n", "off", "f"]);

/** The text of a query parameter as a boolean, when it is one of the spellings above; anything else unchanged. */
function fromText(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim().toLowerCase();
  return TRUE.has(text) ? true : FALSE.has(text) ? false : value;
}

type QueryBoolean<S extends z.ZodType> = z.ZodPreprocess<S, unknown>;

/**
 * A boolean query parameter (`?probe=true`), optional, or defaulting to `defaultValue`. Its JSON Schema is
 * `{ type: "boolean" }` (with the default): zod documents a preprocessed schema by what it preprocesses into, so
 * the default sits inside the preprocessing.
 */
export function queryBoolean(): QueryBoolean<z.ZodOptional<z.ZodBoolean>>;
export function queryBoolean(defaultValue: boolean): QueryBoolean<z.ZodDefault<z.ZodBoolean>>;
export function queryBoolean(defaultValue?: boolean): QueryBoolean<z.ZodType<boolean | undefined>> {
  const value = z.boolean({ error: "expected true or false" });
  return z.preprocess(fromText, defaultValue === undefined ? value.optional() : value.default(defaultValue));
}
