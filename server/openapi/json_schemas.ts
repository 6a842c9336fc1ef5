/**
 * @module
 * Zod schemas → JSON Schema (draft 2020-12, what OpenAPI 3.1 uses) with every schema that carries a `.meta({ id })`
 * hoisted into one shared set of named components. Each converted root is referenced or inlined; nested named
 * schemas become `$ref`s to `#/components/schemas/<id>`.
 *
 * Two different schemas under one id (or one schema that converts differently as input and as output) would make
 * the documentation lie for one of them, so that is an error rather than a silent overwrite.
 */
import { z } from "zod";

/** A JSON Schema object as plain data. */
export type JsonSchema = { [keyword: string]: unknown };

const COMPONENT_REF = "#/components/schemas/";
const DEFS_REF = "#/$defs/";

/** Collects named components while converting the schemas of routes. */
export class SchemaComponents {
  readonly #byId = new Map<string, JsonSchema>();
  readonly #texts = new Map<string, string>();

  /**
   * The JSON Schema of `schema`: a `$ref` when the schema has an id, its inline form otherwise.
   * @param io `input` for what clients send, `output` for what the gateway answers (they differ for transforms
   *   and defaults; a named schema must convert the same way both times)
   */
  schemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
    const converted = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "throw" }) as JsonSchema;
    const { $defs, $schema: _dialect, ...root } = converted;
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
      this.#add(id, tidy(def) as JsonSchema);
    }
    return tidy(root) as JsonSchema;
  }

  /** `schema` itself, or the component it references (for reading the properties of a named object). */
  resolve(schema: JsonSchema): JsonSchema {
    const name = typeof schema.$ref === "string" ? componentName(schema.$ref) : undefined;
    return name === undefined ? schema : this.#byId.get(name) ?? schema;
  }

  /** The named components, sorted by name so the output does not depend on route order. */
  get components(): Record<string, JsonSchema> {
    const out: Record<string, JsonSchema> = {};
    for (const id of [...this.#byId.keys()].sort()) out[id] = this.#byId.get(id)!;
    return out;
  }

  #add(id: string, def: JsonSchema): void {
    if (id.startsWith("__")) {
      // zod names a recursive schema without an id `__schemaN`, numbered per conversion: unstable, so refuse.
      throw new Error(`a recursive schema has no id (zod called it ${id}); give it .meta({ id })`);
    }
    const text = JSON.stringify(def);
    const seen = this.#texts.get(id);
    if (seen === undefined) {
      this.#byId.set(id, def);
      this.#texts.set(id, text);
    } else if (seen !== text) {
      // Either two schemas share an id, or one converts differently as request input and response output
      // (a .default() or .transform()): give the request variant an id of its own.
      throw new Error(`two different JSON Schemas are named ${id}:\n${seen}\n${text}`);
    }
  }
}

/** `{}`, and `{ type: "null" }`: the two halves of zod's `unknown().nullable()`. */
const isEmpty = (s: unknown) => typeof s === "object" && s !== null && Object.keys(s).length === 0;
const isNull = (s: unknown) =>
  typeof s === "object" && s !== null && Object.keys(s).length === 1 && (s as JsonSchema).type === "null";

/**
 * A deep copy of `value` as the document shows it: `#/$defs/X` references pointed at `#/components/schemas/X`, and
 * `anyOf: [{}, { type: "null" }]` (what zod makes of `unknown().nullable()`) reduced to `{}`, which admits null
 * already — an `anyOf` with an empty member says nothing, and linters flag it.
 */
function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (value === null || typeof value !== "object") return value;
  const out: JsonSchema = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === "anyOf" && Array.isArray(v) && v.length === 2 && v.some(isEmpty) && v.some(isNull)) continue;
    out[key] = key === "$ref" && typeof v === "string" && v.startsWith(DEFS_REF)
      ? COMPONENT_REF + v.slice(DEFS_REF.length)
      : tidy(v);
  }
  return out;
}

/** `#/components/schemas/Message` → `Message`; undefined for any other reference. */
export function componentName(ref: string): string | undefined {
  return ref.startsWith(COMPONENT_REF) ? ref.slice(COMPONENT_REF.length) : undefined;
}
