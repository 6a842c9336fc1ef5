/**
 * @module
 * JSON Schema (the subset `z.toJSONSchema` emits) → TypeScript type declarations, for the SDK's generated types.
 * Types only: the output carries no runtime code and no zod.
 *
 * Mapping rules, chosen for SDK users rather than for round-tripping every keyword:
 * - An object with `minProperties: 1, maxProperties: 1` and only optional members is a Bedrock union ("exactly one
 *   member set"): `OneOf<{ text: string; image: ImageBlock }>`, where reading a member that is not set gives
 *   `undefined`, as in the AWS SDK's types.
 * - Objects that accept unknown members (`additionalProperties: {}`, every Bedrock shape) get no index signature,
 *   so a misspelt field is a compile error; unknown fields the server sends are still there at run time.
 * - A string with string `examples` (the schemas' open enums: known values documented, others accepted) becomes
 *   `"png" | "jpeg" | (string & Record<never, never>)`: editors suggest the known values and any string still
 *   type-checks.
 * - Validation-only keywords (lengths, ranges, formats, patterns) have no type and are left out; a structural
 *   keyword this emitter does not understand (`not`, `if`, `patternProperties`, …) is an error, never a guess.
 */
import { componentName, type JsonSchema } from "./json_schemas.ts";

/** Options of {@link tsType}. */
export interface TsTypeOptions {
  /** Prefix for component references, e.g. `T.` when the types live in another module. */
  refPrefix?: string;
  /** Indentation of the line the type starts on. */
  indent?: string;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Keywords that only constrain values, or only document: they have no TypeScript counterpart. */
const IGNORED: ReadonlySet<string> = new Set([
  "$schema",
  "$id",
  "$comment",
  "title",
  "description",
  "examples",
  "default",
  "deprecated",
  "readOnly",
  "writeOnly",
  "format",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minProperties",
  "maxProperties",
  "contentEncoding",
  "contentMediaType",
  "propertyNames",
]);

/** Keywords this emitter maps. Anything else is refused. */
const MAPPED: ReadonlySet<string> = new Set([
  "$ref",
  "type",
  "const",
  "enum",
  "anyOf",
  "oneOf",
  "allOf",
  "items",
  "prefixItems",
  "properties",
  "required",
  "additionalProperties",
]);

const isSchema = (v: unknown): v is JsonSchema => typeof v === "object" && v !== null && !Array.isArray(v);

/** True for `{}` (or `true`): any value. */
function isAny(v: unknown): boolean {
  if (v === true) return true;
  return isSchema(v) && Object.keys(v).every((k) => IGNORED.has(k));
}

/** A Bedrock union: exactly one of the listed members. */
function isOneMemberUnion(s: JsonSchema): boolean {
  const props = s.properties;
  return s.minProperties === 1 && s.maxProperties === 1 && isSchema(props) && Object.keys(props).length > 0 &&
    (!Array.isArray(s.required) || s.required.length === 0);
}

/** A property name as written in a type literal: bare when it is an identifier, quoted otherwise. */
export function propertyKey(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

const LINE_WIDTH = 120;

/** Breaks `line` at spaces so that each piece fits in `width` characters (a longer word stays whole). */
function wrap(line: string, width: number): string[] {
  const out: string[] = [];
  let current = "";
  for (const word of line.split(" ")) {
    if (current !== "" && current.length + 1 + word.length > width) {
      out.push(current);
      current = word;
    } else current = current === "" ? word : `${current} ${word}`;
  }
  out.push(current);
  return out;
}

/** A JSDoc block for `text` at `indent`, wrapped to the project's line width, or "" when there is nothing to say. */
export function jsDoc(text: unknown, indent: string): string {
  if (typeof text !== "string" || text.trim() === "") return "";
  const width = LINE_WIDTH - indent.length - 3;
  const lines = text.replaceAll("*/", "*\\/").trim().split("\n").flatMap((l) => wrap(l, width));
  if (lines.length === 1 && lines[0].length + 4 <= width) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join("\n")}\n${indent} */\n`;
}

/** Wraps a union or intersection in parentheses where it is an operand (`(A | B)[]`). */
function operand(type: string): string {
  return /[|&]/.test(topLevel(type)) ? `(${type})` : type;
}

/** `type` with everything inside brackets, braces and quotes blanked, to find top-level operators. */
function topLevel(type: string): string {
  let depth = 0;
  let quoted = false;
  let out = "";
  for (let i = 0; i < type.length; i++) {
    const c = type[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
      out += " ";
      continue;
    }
    if (c === '"') quoted = true;
    else if ("{[(<".includes(c)) depth++;
    else if ("}])>".includes(c)) depth--;
    out += depth === 0 && !quoted ? c : " ";
  }
  return out;
}

function union(types: string[]): string {
  const unique = [...new Set(types)];
  if (unique.includes("unknown")) return "unknown";
  return unique.length === 1 ? unique[0] : unique.join(" | ");
}

function checkKeywords(s: JsonSchema): void {
  for (const key of Object.keys(s)) {
    if (!MAPPED.has(key) && !IGNORED.has(key)) {
      throw new Error(`JSON Schema keyword "${key}" has no TypeScript mapping in ts_types.ts: ${JSON.stringify(s)}`);
    }
  }
}

/**
 * The TypeScript type of one JSON Schema, as source text.
 * @param schema the schema
 * @param opts reference prefix and indentation for multi-line object types
 */
export function tsType(schema: unknown, opts: TsTypeOptions = {}): string {
  if (schema === false) return "never";
  if (isAny(schema)) return "unknown";
  if (!isSchema(schema)) throw new Error(`not a JSON Schema: ${JSON.stringify(schema)}`);
  checkKeywords(schema);
  const parts: string[] = [];
  if (typeof schema.$ref === "string") {
    const name = componentName(schema.$ref);
    if (!name) throw new Error(`unsupported $ref ${schema.$ref}`);
    parts.push((opts.refPrefix ?? "") + name);
  }
  if ("const" in schema) parts.push(JSON.stringify(schema.const));
  else if (Array.isArray(schema.enum)) parts.push(union(schema.enum.map((v) => JSON.stringify(v))));
  else if (schema.type !== undefined) parts.push(typeFromTypeKeyword(schema, opts));
  for (const key of ["anyOf", "oneOf"] as const) {
    const list = schema[key];
    if (Array.isArray(list)) parts.push(union(list.map((s) => tsType(s, opts))));
  }
  if (Array.isArray(schema.allOf)) parts.push(...schema.allOf.map((s) => operand(tsType(s, opts))));
  if (parts.length === 0) {
    if (schema.properties !== undefined || schema.additionalProperties !== undefined) {
      return objectType(schema, opts);
    }
    return "unknown";
  }
  return parts.length === 1 ? parts[0] : parts.map(operand).join(" & ");
}

function typeFromTypeKeyword(s: JsonSchema, opts: TsTypeOptions): string {
  const types = Array.isArray(s.type) ? s.type : [s.type];
  return union(types.map((t) => {
    switch (t) {
      case "string": {
        const known = Array.isArray(s.examples) && s.examples.length > 0 &&
            s.examples.every((e) => typeof e === "string")
          ? s.examples as string[]
          : undefined;
        return known
          ? [...known.map((e) => JSON.stringify(e)), "(string & Record<never, never>)"].join(" | ")
          : "string";
      }
      case "number":
      case "integer":
        return "number";
      case "boolean":
        return "boolean";
      case "null":
        return "null";
      case "array":
        return arrayType(s, opts);
      case "object":
        return objectType(s, opts);
      default:
        throw new Error(`unknown JSON Schema type ${JSON.stringify(t)}`);
    }
  }));
}

function arrayType(s: JsonSchema, opts: TsTypeOptions): string {
  if (Array.isArray(s.prefixItems)) {
    const items = s.prefixItems.map((i) => tsType(i, opts));
    if (s.items === false || s.items === undefined && s.maxItems === items.length) return `[${items.join(", ")}]`;
    return `[${items.join(", ")}, ...${operand(tsType(s.items ?? {}, opts))}[]]`;
  }
  return `${operand(tsType(s.items ?? {}, opts))}[]`;
}

function objectType(s: JsonSchema, opts: TsTypeOptions): string {
  const indent = opts.indent ?? "";
  const inner = indent + "  ";
  const props = isSchema(s.properties) ? s.properties as Record<string, unknown> : {};
  const names = Object.keys(props);
  const required = new Set(Array.isArray(s.required) ? s.required as string[] : []);
  const extra = s.additionalProperties;
  if (names.length === 0) {
    if (extra === false) return "Record<string, never>";
    return `{ [key: string]: ${tsType(extra ?? {}, { ...opts, indent })} }`;
  }
  const oneOf = isOneMemberUnion(s);
  const lines = names.map((name) => {
    const prop = props[name];
    const optional = oneOf || required.has(name) ? "" : "?";
    const doc = isSchema(prop) ? jsDoc(prop.description, inner) : "";
    return `${doc}${inner}${propertyKey(name)}${optional}: ${tsType(prop, { ...opts, indent: inner })};`;
  });
  // A schema-typed `additionalProperties` beside named properties (a record with fixed keys) types the rest too.
  if (isSchema(extra) && !isAny(extra)) {
    const all = union([...names.map((n) => tsType(props[n], opts)), tsType(extra, opts)]);
    lines.push(`${inner}[key: string]: ${all}${names.every((n) => required.has(n)) ? "" : " | undefined"};`);
  }
  const body = `{\n${lines.join("\n")}\n${indent}}`;
  return oneOf ? `OneOf<${body}>` : body;
}

/** True when the component is declared as an `interface` (a plain object type) rather than a type alias. */
function isInterface(s: unknown): boolean {
  return isSchema(s) && s.type === "object" && isSchema(s.properties) &&
    Object.keys(s.properties).length > 0 && !isOneMemberUnion(s) && s.$ref === undefined &&
    s.allOf === undefined && s.anyOf === undefined && s.oneOf === undefined;
}

/** The `OneOf` helper every file with Bedrock unions needs. */
export const ONE_OF_HELPER = `/**
 * Exactly one member of \`T\` is set (a Bedrock union, like \`ContentBlock\`): reading any other member gives
 * \`undefined\`, so \`if (block.text !== undefined)\` narrows to the text member.
 */
export type OneOf<T> = {
  [K in keyof T]: { [P in K]: T[P] } & { [P in Exclude<keyof T, K>]?: never };
}[keyof T];
`;

/**
 * One exported declaration per component, in the given order.
 * @param components name → JSON Schema
 */
export function emitDeclarations(components: Record<string, JsonSchema>): string {
  const out: string[] = [];
  for (const [name, schema] of Object.entries(components)) {
    if (!IDENTIFIER.test(name)) throw new Error(`component name ${name} is not a TypeScript identifier`);
    const doc = jsDoc(schema.description ?? (schema.title !== name ? schema.title : undefined), "");
    const type = tsType(schema);
    out.push(
      isInterface(schema) ? `${doc}export interface ${name} ${type}\n` : `${doc}export type ${name} = ${type};\n`,
    );
  }
  return out.join("\n");
}
